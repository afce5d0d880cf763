// CRC-32C on AVX-512 with VPCLMULQDQ: carry-less folding over 512-bit vectors, with three SSE4.2 `crc32`
// chains interleaved on another execution port. Wire's CRC32C calls it only after a CPU check.
//
// This module is compiled with `-parse-stdlib`, which gives Swift code the `Builtin` module and so the LLVM
// intrinsics `Builtin.int_x86_pclmulqdq_512` and `Builtin.int_x86_sse42_crc32_64_64` (with the attributes
// LLVM gives them, so the optimiser can select them), and with the AVX-512F, VPCLMULQDQ, PCLMUL and CRC32
// target features (Package.swift). Any code in this module may use those instructions, which is why it holds
// nothing else and why nothing here runs on a processor without them.
import Swift

#if arch(x86_64)

/// What `VectorCRC32C.fold` leaves for the caller to finish with ordinary code.
///
/// The input is `folded` (16 bytes), then `chainByteCount` bytes three times (registers `chains`, each from 0),
/// then the unprocessed tail:
/// * the first `foldedByteCount` bytes, with the starting register applied, are congruent (as a message,
///   modulo the CRC polynomial) to the 16 bytes of `folded` in memory order (`low` first, little-endian);
///   their register is therefore the CRC register from 0 over those 16 bytes;
/// * the next three runs of `chainByteCount` bytes each have their own register from 0 in `chains`.
///
/// So the register over `foldedByteCount + 3 * chainByteCount` bytes is: the register of `folded`'s 16
/// bytes, advanced over `chainByteCount` zero bytes and XORed with each chain's register in turn.
public struct FoldedCRC32C: Sendable {
    /// The folded remainder: its first eight bytes.
    public var low: UInt64
    /// The folded remainder: its last eight bytes.
    public var high: UInt64
    /// Input bytes the folded remainder stands for.
    public var foldedByteCount: Int
    /// Registers (from 0, not inverted) of the three runs after the folded bytes.
    public var chains: (UInt64, UInt64, UInt64)
    /// Bytes in each of the three runs.
    public var chainByteCount: Int

    /// Input bytes covered: the caller finishes the rest.
    public var byteCount: Int { foldedByteCount + 3 * chainByteCount }
}

/// The vector CRC-32C kernel (reflected polynomial 0x82F63B78).
public enum VectorCRC32C {
    /// The shortest input `fold` accepts.
    public static let minimumByteCount = iterationBytes

    /// Vector bytes per loop iteration: four 512-bit registers.
    static let blockBytes = 256
    /// Eight-byte words each `crc32` chain takes per loop iteration: with four folds of 64 bytes, the `crc32`
    /// port and the carry-less multiplier are both kept busy (about 90 GB/s here against 66 for folding alone).
    static let chainWordsPerBlock = 4
    /// Input bytes per loop iteration.
    static let iterationBytes = blockBytes + 3 * 8 * chainWordsPerBlock

    /// Folds as much of `count` bytes at `bytes` as whole loop iterations cover, starting from `register`
    /// (the CRC register before these bytes, not inverted). `count` must be at least `minimumByteCount`.
    /// The processor must have AVX-512F, VPCLMULQDQ and SSE4.2.
    public static func fold(register: UInt32, bytes: UnsafeRawPointer, count: Int) -> FoldedCRC32C {
        precondition(count >= minimumByteCount, "VectorCRC32C.fold needs at least \(minimumByteCount) bytes")
        let constants = FoldConstants.shared
        let iterations = count / iterationBytes
        let foldedByteCount = iterations * blockBytes
        let chainWords = iterations * chainWordsPerBlock
        let firstChain = (bytes + foldedByteCount).assumingMemoryBound(to: UInt64.self)
        let secondChain = firstChain + chainWords
        let thirdChain = secondChain + chainWords
        var chain0: UInt64 = 0
        var chain1: UInt64 = 0
        var chain2: UInt64 = 0
        var word = 0

        var x0 = load(bytes, 0)
        var x1 = load(bytes, 64)
        var x2 = load(bytes, 128)
        var x3 = load(bytes, 192)
        x0[0] ^= UInt64(register)  // the starting register enters as an XOR into the first four bytes
        var offset = blockBytes
        let k = constants.by256
        while offset < foldedByteCount {
            x0 = fold(x0, k) ^ load(bytes, offset)
            x1 = fold(x1, k) ^ load(bytes, offset + 64)
            x2 = fold(x2, k) ^ load(bytes, offset + 128)
            x3 = fold(x3, k) ^ load(bytes, offset + 192)
            offset += blockBytes
            for _ in 0..<chainWordsPerBlock {
                chain0 = crc32(chain0, firstChain[word])
                chain1 = crc32(chain1, secondChain[word])
                chain2 = crc32(chain2, thirdChain[word])
                word += 1
            }
        }
        while word < chainWords {
            chain0 = crc32(chain0, firstChain[word])
            chain1 = crc32(chain1, secondChain[word])
            chain2 = crc32(chain2, thirdChain[word])
            word += 1
        }
        // Four registers into one, then its four 128-bit lanes into the last.
        let y = fold(x0, constants.by192) ^ fold(x1, constants.by128) ^ fold(x2, constants.by64) ^ x3
        var z = fold(y, constants.lanes)
        z[6] ^= y[6]
        z[7] ^= y[7]
        return FoldedCRC32C(low: z[0] ^ z[2] ^ z[4] ^ z[6], high: z[1] ^ z[3] ^ z[5] ^ z[7],
                            foldedByteCount: foldedByteCount, chains: (chain0, chain1, chain2),
                            chainByteCount: chainWords * 8)
    }

    // MARK: - Instructions

    @inline(__always)
    static func load(_ base: UnsafeRawPointer, _ offset: Int) -> SIMD8<UInt64> {
        base.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt64>.self)
    }

    /// Each 128-bit lane of `x` moved `d` bits further along the message, modulo the polynomial, where `k`
    /// holds the lane's pair of constants for `d` (see `FoldConstants`).
    @inline(__always)
    static func fold(_ x: SIMD8<UInt64>, _ k: SIMD8<UInt64>) -> SIMD8<UInt64> {
        var low = SIMD8<UInt64>()
        low._storage._value = Builtin.int_x86_pclmulqdq_512(x._storage._value, k._storage._value, Int8(0x00)._value)
        var high = SIMD8<UInt64>()
        high._storage._value = Builtin.int_x86_pclmulqdq_512(x._storage._value, k._storage._value, Int8(0x11)._value)
        return low ^ high
    }

    /// One SSE4.2 `crc32` step over eight bytes.
    @inline(__always)
    static func crc32(_ register: UInt64, _ word: UInt64) -> UInt64 {
        UInt64(Builtin.int_x86_sse42_crc32_64_64(register._value, word._value))
    }
}

/// The folding constants, computed once.
///
/// Bits are reflected: in a 64-bit word loaded from the message, bit i is the coefficient of x^(63 - i), and
/// a carry-less product of two such words, read the same way over 128 bits, is x times the product of their
/// polynomials. A 128-bit lane whose halves are A0 (first) and A1 stands for A0 x^64 + A1. Moving it d bits
/// further on means multiplying by x^d, so the lane is replaced by clmul(A0, x^(d+63)) + clmul(A1, x^(d-1)),
/// each constant reduced modulo the polynomial (degree below 32, so it sits in a word's upper half).
struct FoldConstants: Sendable {
    /// Per lane: the lane 256 bytes further on (the main loop).
    let by256: SIMD8<UInt64>
    /// Per lane: 192, 128 and 64 bytes further on (four registers into the last).
    let by192: SIMD8<UInt64>
    let by128: SIMD8<UInt64>
    let by64: SIMD8<UInt64>
    /// Lanes 0, 1 and 2 of a register moved onto lane 3 (48, 32 and 16 bytes); lane 3 multiplied by zero.
    let lanes: SIMD8<UInt64>

    static let shared = FoldConstants()

    init() {
        func every(_ bytes: Int) -> SIMD8<UInt64> {
            let (a, b) = FoldConstants.pair(bits: 8 * bytes)
            return SIMD8(a, b, a, b, a, b, a, b)
        }
        by256 = every(256)
        by192 = every(192)
        by128 = every(128)
        by64 = every(64)
        let (a, b) = FoldConstants.pair(bits: 384)
        let (c, d) = FoldConstants.pair(bits: 256)
        let (e, f) = FoldConstants.pair(bits: 128)
        lanes = SIMD8(a, b, c, d, e, f, 0, 0)
    }

    /// The two constants that move a 128-bit lane `bits` further on.
    static func pair(bits: Int) -> (UInt64, UInt64) {
        (xPower(bits + 63), xPower(bits - 1))
    }

    /// x^n modulo the polynomial as a reflected 64-bit word (in its upper half).
    static func xPower(_ n: Int) -> UInt64 {
        var register: UInt32 = 1 << 31  // x^0, bit 31 being x^0 in the 32-bit reflected form
        var step = 0
        while step < n {
            register = register & 1 != 0 ? (register >> 1) ^ 0x82F6_3B78 : register >> 1
            step += 1
        }
        return UInt64(register) << 32
    }
}

#endif
