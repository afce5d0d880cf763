// ChaCha20 (RFC 8439 §2.3-2.4): the block function and the keystream XOR with a 32-bit block counter and a
// 96-bit nonce. Eight blocks at a time on AVX2 processors (WireVectorChaCha), one at a time elsewhere.
import WireVectorChaCha

/// The ChaCha20 stream cipher: XORs a keystream into bytes, encrypting or decrypting alike.
///
/// A value carries its position in the keystream, so a message may be processed in pieces of any size and
/// gives the same bytes as one call over the whole. Under one key and nonce at most 2^32 blocks (256 GiB)
/// exist; asking for more throws `CryptoError.keystreamExhausted` before any byte is changed.
public struct ChaCha20: Sendable {
    /// Key size in bytes.
    public static let keyByteCount = 32
    /// Nonce size in bytes.
    public static let nonceByteCount = 12
    /// Keystream block size in bytes.
    public static let blockByteCount = 64

    /// Whether whole blocks go through the AVX2 kernel (eight blocks per step) on this machine; otherwise
    /// the portable one-block function runs. `WIRE_CHACHA20_PORTABLE=1` in the environment forces the latter.
    public static var usesVectorKernel: Bool {
        #if _endian(little)
        return VectorChaCha20.isSupported
        #else
        return false
        #endif
    }

    /// The 16-word state of the next block: constants, key, counter (word 12), nonce.
    var state: ChaCha20State
    /// Blocks of keystream left before the counter would wrap (2^32 minus the initial counter).
    var remainingBlocks: UInt64
    /// Unused keystream of the last block, at `leftoverOffset..<64`.
    var leftover = ChaCha20Block()
    /// Where the unused part of `leftover` starts; 64 when there is none.
    var leftoverOffset = ChaCha20.blockByteCount

    /// A cipher positioned at block `counter` of the keystream of `key` (32 bytes) and `nonce` (12 bytes).
    public init(key: [UInt8], nonce: [UInt8], counter: UInt32 = 0) throws(CryptoError) {
        state = try ChaCha20State(key: key, nonce: nonce, counter: counter)
        remainingBlocks = (1 << 32) - UInt64(counter)
    }

    /// The 64-byte keystream block number `counter` of `key` and `nonce` (RFC 8439 §2.3).
    public static func block(key: [UInt8], counter: UInt32, nonce: [UInt8]) throws(CryptoError) -> [UInt8] {
        let block = try ChaCha20State(key: key, nonce: nonce, counter: counter).block()
        return withUnsafeBytes(of: block.bytes) { Array($0) }
    }

    /// XORs the next `buffer.count` bytes of keystream into `buffer` in place.
    public mutating func apply(to buffer: UnsafeMutableRawBufferPointer) throws(CryptoError) {
        try apply(from: UnsafeRawBufferPointer(buffer), to: buffer)
    }

    /// XORs the next `bytes.count` bytes of keystream into `bytes`.
    public mutating func apply(to bytes: inout [UInt8]) throws(CryptoError) {
        try bytes.withCryptoBytes { (buffer) throws(CryptoError) in try apply(to: buffer) }
    }

    /// Writes `source` XOR the next `source.count` bytes of keystream to `destination`, which must have the
    /// same count and may be the same memory (then the call works in place).
    public mutating func apply(from source: UnsafeRawBufferPointer, to destination: UnsafeMutableRawBufferPointer)
        throws(CryptoError)
    {
        precondition(source.count == destination.count, "ChaCha20.apply: source and destination differ in length")
        let count = source.count
        guard count > 0, let input = source.baseAddress, let output = destination.baseAddress else { return }
        let newBlocks = try reserve(byteCount: count)
        let fromLeftover = min(count, ChaCha20.blockByteCount - leftoverOffset)
        leftover.xor(from: leftoverOffset, count: fromLeftover, input, output)
        leftoverOffset += fromLeftover
        var offset = fromLeftover
        let wholeBlocks = (count - offset) / ChaCha20.blockByteCount
        if wholeBlocks > 0 {
            ChaCha20.xorWholeBlocks(state: &state, input + offset, output + offset, blockCount: wholeBlocks)
            offset += wholeBlocks * ChaCha20.blockByteCount
        }
        if offset < count {
            leftover = state.block()
            state.advance(blocks: 1)
            leftover.xor(from: 0, count: count - offset, input + offset, output + offset)
            leftoverOffset = count - offset
        }
        remainingBlocks -= newBlocks
    }

    /// The new 64-byte blocks of keystream that `byteCount` more bytes need; throws `.keystreamExhausted`
    /// when more are needed than remain under this key and nonce.
    func reserve(byteCount: Int) throws(CryptoError) -> UInt64 {
        let fromLeftover = min(byteCount, ChaCha20.blockByteCount - leftoverOffset)
        let newBlocks = UInt64((byteCount - fromLeftover + ChaCha20.blockByteCount - 1) / ChaCha20.blockByteCount)
        guard newBlocks <= remainingBlocks else {
            throw .keystreamExhausted(requestedBlocks: newBlocks, remainingBlocks: remainingBlocks)
        }
        return newBlocks
    }

    /// XORs `blockCount` whole blocks of keystream and moves the counter past them.
    static func xorWholeBlocks(state: inout ChaCha20State, _ input: UnsafeRawPointer,
                               _ output: UnsafeMutableRawPointer, blockCount: Int)
    {
        var done = 0
        #if _endian(little)
        if ChaCha20.usesVectorKernel, blockCount >= VectorChaCha20.blocksPerStep {
            let vectorBlocks = blockCount - blockCount % VectorChaCha20.blocksPerStep
            withUnsafeBytes(of: state.words) {
                VectorChaCha20.xorKeystream(state: $0.baseAddress!, source: input, destination: output,
                                            blockCount: vectorBlocks)
            }
            state.advance(blocks: vectorBlocks)
            done = vectorBlocks
        }
        #endif
        while done < blockCount {
            let offset = done * ChaCha20.blockByteCount
            state.block().xor(from: 0, count: ChaCha20.blockByteCount, input + offset, output + offset)
            state.advance(blocks: 1)
            done += 1
        }
    }
}

// MARK: - State and block function

/// ChaCha20's 16-word input: "expand 32-byte k", the key, the block counter and the nonce.
struct ChaCha20State: Sendable {
    typealias Words = (
        UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
        UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32
    )
    var words: Words

    init(key: [UInt8], nonce: [UInt8], counter: UInt32) throws(CryptoError) {
        guard key.count == ChaCha20.keyByteCount else {
            throw .wrongLength(.chaCha20Key, expectedBytes: ChaCha20.keyByteCount, seenBytes: key.count)
        }
        guard nonce.count == ChaCha20.nonceByteCount else {
            throw .wrongLength(.chaCha20Nonce, expectedBytes: ChaCha20.nonceByteCount, seenBytes: nonce.count)
        }
        func word(_ bytes: [UInt8], _ index: Int) -> UInt32 {
            UInt32(bytes[4 * index]) | UInt32(bytes[4 * index + 1]) << 8 | UInt32(bytes[4 * index + 2]) << 16
                | UInt32(bytes[4 * index + 3]) << 24
        }
        words = (
            0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574,
            word(key, 0), word(key, 1), word(key, 2), word(key, 3),
            word(key, 4), word(key, 5), word(key, 6), word(key, 7),
            counter, word(nonce, 0), word(nonce, 1), word(nonce, 2)
        )
    }

    /// Moves the block counter on (modulo 2^32; `ChaCha20` refuses to go past the last block).
    mutating func advance(blocks: Int) { words.12 &+= UInt32(truncatingIfNeeded: blocks) }

    @inline(__always)
    static func quarterRound(_ a: inout UInt32, _ b: inout UInt32, _ c: inout UInt32, _ d: inout UInt32) {
        a &+= b; d ^= a; d = d << 16 | d >> 16
        c &+= d; b ^= c; b = b << 12 | b >> 20
        a &+= b; d ^= a; d = d << 8 | d >> 24
        c &+= d; b ^= c; b = b << 7 | b >> 25
    }

    /// The block function (RFC 8439 §2.3): 20 rounds, then the input added word by word.
    func block() -> ChaCha20Block {
        var x = words
        for _ in 0..<10 {
            ChaCha20State.quarterRound(&x.0, &x.4, &x.8, &x.12)
            ChaCha20State.quarterRound(&x.1, &x.5, &x.9, &x.13)
            ChaCha20State.quarterRound(&x.2, &x.6, &x.10, &x.14)
            ChaCha20State.quarterRound(&x.3, &x.7, &x.11, &x.15)
            ChaCha20State.quarterRound(&x.0, &x.5, &x.10, &x.15)
            ChaCha20State.quarterRound(&x.1, &x.6, &x.11, &x.12)
            ChaCha20State.quarterRound(&x.2, &x.7, &x.8, &x.13)
            ChaCha20State.quarterRound(&x.3, &x.4, &x.9, &x.14)
        }
        let w = words
        return ChaCha20Block(bytes: (
            (x.0 &+ w.0).littleEndian, (x.1 &+ w.1).littleEndian, (x.2 &+ w.2).littleEndian,
            (x.3 &+ w.3).littleEndian, (x.4 &+ w.4).littleEndian, (x.5 &+ w.5).littleEndian,
            (x.6 &+ w.6).littleEndian, (x.7 &+ w.7).littleEndian, (x.8 &+ w.8).littleEndian,
            (x.9 &+ w.9).littleEndian, (x.10 &+ w.10).littleEndian, (x.11 &+ w.11).littleEndian,
            (x.12 &+ w.12).littleEndian, (x.13 &+ w.13).littleEndian, (x.14 &+ w.14).littleEndian,
            (x.15 &+ w.15).littleEndian
        ))
    }
}

/// One 64-byte keystream block, its words stored little-endian so the tuple's memory is the byte string.
struct ChaCha20Block: Sendable {
    var bytes: ChaCha20State.Words = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    /// Writes `input[i] ^ self[start + i]` to `output[i]` for `i` in `0..<count`.
    func xor(from start: Int, count: Int, _ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer) {
        guard count > 0 else { return }
        withUnsafeBytes(of: bytes) { keystream in
            var index = 0
            while index + 8 <= count {
                let word = input.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    ^ keystream.loadUnaligned(fromByteOffset: start + index, as: UInt64.self)
                output.storeBytes(of: word, toByteOffset: index, as: UInt64.self)
                index += 8
            }
            while index < count {
                output.storeBytes(of: input.load(fromByteOffset: index, as: UInt8.self)
                                  ^ keystream[start + index], toByteOffset: index, as: UInt8.self)
                index += 1
            }
        }
    }
}
