// ChaCha20 (RFC 8439 §2.3) eight blocks at a time on AVX2: lane j of each of the sixteen SIMD8<UInt32> state
// vectors is word i of block j, so one vector instruction works on a word of eight blocks.
//
// This module is compiled with `-Xcc -mavx2` (Package.swift), which lets the compiler use 256-bit AVX2
// instructions anywhere in it; Wire's ChaCha20 calls it only when `VectorChaCha20.isSupported`. Nothing
// crosses the module boundary in a vector register (pointers only), because callers are built without AVX.
#if canImport(Glibc)
import Glibc
#endif

/// The AVX2 ChaCha20 keystream kernel.
public enum VectorChaCha20 {
    /// Blocks computed per step; `xorKeystream` takes a multiple of this.
    public static let blocksPerStep = 8

    /// Whether this processor (and kernel) run AVX2: the `avx2` flag of /proc/cpuinfo on x86-64 Linux.
    public static let isSupported: Bool = {
        #if arch(x86_64) && canImport(Glibc)
        if getenv("WIRE_CHACHA20_PORTABLE") != nil { return false }
        guard let file = fopen("/proc/cpuinfo", "r") else { return false }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 8192)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("flags") else { continue }
            return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains("avx2")
        }
        return false
        #else
        return false
        #endif
    }()

    /// Writes `source` XOR `blockCount` blocks of keystream to `destination` (which may equal `source`).
    ///
    /// `state` points at the 16 native-endian words of the first block's input (word 12 is its counter);
    /// the counter must not wrap within `blockCount` blocks (the caller checks). `blockCount` is a multiple of
    /// `blocksPerStep`. Little-endian processors only.
    public static func xorKeystream(state: UnsafeRawPointer, source: UnsafeRawPointer,
                                    destination: UnsafeMutableRawPointer, blockCount: Int)
    {
        precondition(blockCount % blocksPerStep == 0, "VectorChaCha20 takes whole steps of 8 blocks")
        var input = EightBlocks()
        for index in 0..<16 {
            input[index] = SIMD8(repeating: state.load(fromByteOffset: 4 * index, as: UInt32.self))
        }
        input.x12 &+= SIMD8(0, 1, 2, 3, 4, 5, 6, 7)
        var offset = 0
        while offset < blockCount * 64 {
            var x = input
            for _ in 0..<10 { x.doubleRound() }
            x.add(input)
            x.xorTransposed(source + offset, destination + offset)
            input.x12 &+= SIMD8(repeating: 8)
            offset += 8 * 64
        }
    }
}

/// The sixteen state words of eight blocks, word i of block j in lane j of `x`i.
struct EightBlocks {
    typealias V = SIMD8<UInt32>
    var x0 = V(), x1 = V(), x2 = V(), x3 = V(), x4 = V(), x5 = V(), x6 = V(), x7 = V()
    var x8 = V(), x9 = V(), x10 = V(), x11 = V(), x12 = V(), x13 = V(), x14 = V(), x15 = V()

    subscript(index: Int) -> V {
        get { withUnsafeBytes(of: self) { $0.load(fromByteOffset: 32 * index, as: V.self) } }
        set { withUnsafeMutableBytes(of: &self) { $0.storeBytes(of: newValue, toByteOffset: 32 * index, as: V.self) } }
    }

    @inline(__always)
    static func rotate(_ x: V, _ bits: UInt32) -> V { (x &<< bits) | (x &>> (32 - bits)) }

    @inline(__always)
    static func quarterRound(_ a: inout V, _ b: inout V, _ c: inout V, _ d: inout V) {
        a &+= b; d ^= a; d = rotate(d, 16)
        c &+= d; b ^= c; b = rotate(b, 12)
        a &+= b; d ^= a; d = rotate(d, 8)
        c &+= d; b ^= c; b = rotate(b, 7)
    }

    /// A column round then a diagonal round.
    @inline(__always)
    mutating func doubleRound() {
        EightBlocks.quarterRound(&x0, &x4, &x8, &x12)
        EightBlocks.quarterRound(&x1, &x5, &x9, &x13)
        EightBlocks.quarterRound(&x2, &x6, &x10, &x14)
        EightBlocks.quarterRound(&x3, &x7, &x11, &x15)
        EightBlocks.quarterRound(&x0, &x5, &x10, &x15)
        EightBlocks.quarterRound(&x1, &x6, &x11, &x12)
        EightBlocks.quarterRound(&x2, &x7, &x8, &x13)
        EightBlocks.quarterRound(&x3, &x4, &x9, &x14)
    }

    @inline(__always)
    mutating func add(_ other: EightBlocks) {
        x0 &+= other.x0; x1 &+= other.x1; x2 &+= other.x2; x3 &+= other.x3
        x4 &+= other.x4; x5 &+= other.x5; x6 &+= other.x6; x7 &+= other.x7
        x8 &+= other.x8; x9 &+= other.x9; x10 &+= other.x10; x11 &+= other.x11
        x12 &+= other.x12; x13 &+= other.x13; x14 &+= other.x14; x15 &+= other.x15
    }

    /// Transposes words 0-7 and 8-15 into eight blocks of 64 bytes and XORs them with `source` into
    /// `destination`.
    @inline(__always)
    func xorTransposed(_ source: UnsafeRawPointer, _ destination: UnsafeMutableRawPointer) {
        let low = EightBlocks.transpose(x0, x1, x2, x3, x4, x5, x6, x7)
        let high = EightBlocks.transpose(x8, x9, x10, x11, x12, x13, x14, x15)
        EightBlocks.xorStore(low.0, high.0, source, destination, 0)
        EightBlocks.xorStore(low.1, high.1, source, destination, 1)
        EightBlocks.xorStore(low.2, high.2, source, destination, 2)
        EightBlocks.xorStore(low.3, high.3, source, destination, 3)
        EightBlocks.xorStore(low.4, high.4, source, destination, 4)
        EightBlocks.xorStore(low.5, high.5, source, destination, 5)
        EightBlocks.xorStore(low.6, high.6, source, destination, 6)
        EightBlocks.xorStore(low.7, high.7, source, destination, 7)
    }

    @inline(__always)
    static func xorStore(_ low: V, _ high: V, _ source: UnsafeRawPointer, _ destination: UnsafeMutableRawPointer,
                         _ block: Int)
    {
        let offset = 64 * block
        let first = source.loadUnaligned(fromByteOffset: offset, as: V.self) ^ low
        let second = source.loadUnaligned(fromByteOffset: offset + 32, as: V.self) ^ high
        destination.storeBytes(of: first, toByteOffset: offset, as: V.self)
        destination.storeBytes(of: second, toByteOffset: offset + 32, as: V.self)
    }

    // MARK: - 8 x 8 transpose (unpack 32-bit, unpack 64-bit, swap 128-bit halves)

    @inline(__always) static func low32(_ a: V, _ b: V) -> V { V(a[0], b[0], a[1], b[1], a[4], b[4], a[5], b[5]) }
    @inline(__always) static func high32(_ a: V, _ b: V) -> V { V(a[2], b[2], a[3], b[3], a[6], b[6], a[7], b[7]) }
    @inline(__always) static func low64(_ a: V, _ b: V) -> V { V(a[0], a[1], b[0], b[1], a[4], a[5], b[4], b[5]) }
    @inline(__always) static func high64(_ a: V, _ b: V) -> V { V(a[2], a[3], b[2], b[3], a[6], a[7], b[6], b[7]) }
    @inline(__always) static func low128(_ a: V, _ b: V) -> V { V(a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]) }
    @inline(__always) static func high128(_ a: V, _ b: V) -> V { V(a[4], a[5], a[6], a[7], b[4], b[5], b[6], b[7]) }

    /// Rows `r`i (lane j = element (i, j)) to columns: element j of the result holds lanes j of r0...r7.
    @inline(__always)
    static func transpose(_ r0: V, _ r1: V, _ r2: V, _ r3: V, _ r4: V, _ r5: V, _ r6: V, _ r7: V)
        -> (V, V, V, V, V, V, V, V)
    {
        let a0 = low32(r0, r1), a1 = high32(r0, r1), a2 = low32(r2, r3), a3 = high32(r2, r3)
        let a4 = low32(r4, r5), a5 = high32(r4, r5), a6 = low32(r6, r7), a7 = high32(r6, r7)
        let b0 = low64(a0, a2), b1 = high64(a0, a2), b2 = low64(a1, a3), b3 = high64(a1, a3)
        let b4 = low64(a4, a6), b5 = high64(a4, a6), b6 = low64(a5, a7), b7 = high64(a5, a7)
        return (low128(b0, b4), low128(b1, b5), low128(b2, b6), low128(b3, b7),
                high128(b0, b4), high128(b1, b5), high128(b2, b6), high128(b3, b7))
    }
}
