// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): carry-less folding on AVX-512, the SSE4.2 `crc32`
// instruction, or slicing-by-8 tables, whichever the processor allows.
import Dispatch
import Synchronization
import WireVectorCRC
#if canImport(Glibc)
import Glibc
#endif

/// CRC-32C checksums as used in iSCSI, ext4 and our frame headers and payloads.
///
/// `CRC32C.checksum(bytes)` is the finished value (initial value and final XOR 0xFFFFFFFF applied), so
/// `CRC32C.checksum("123456789")` is `0xE3069283`. For data that arrives in pieces, start with
/// `var crc = CRC32C()`, call `update(_:)` per piece and read `value`.
public struct CRC32C: Sendable {
    /// The running register (not yet inverted).
    var register: UInt32 = 0xFFFF_FFFF

    /// An empty checksum.
    public init() {}

    /// The checksum of everything passed to `update` so far.
    public var value: UInt32 { ~register }

    /// Adds `bytes` to the checksum.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        register = CRC32C.advance(register, bytes)
    }

    /// Adds the bytes of an array slice to the checksum.
    public mutating func update(bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The finished CRC-32C of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        ~advance(0xFFFF_FFFF, bytes)
    }

    /// The finished CRC-32C of an array of bytes.
    public static func checksum(bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// The finished CRC-32C of an array slice of bytes.
    public static func checksum(bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    // MARK: - Tables

    /// Eight 256-entry tables: table k maps a byte to its CRC contribution k bytes further on.
    static let tables: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            table[byte] = crc
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = table[(slice - 1) * 256 + byte]
                table[slice * 256 + byte] = (previous >> 8) ^ table[Int(previous & 0xFF)]
            }
        }
        return table
    }()

    /// Which implementation `checksum` and `update` use on this machine.
    public static let implementation: Implementation = Implementation.detect()

    /// The ways to compute the checksum, fastest first.
    ///
    /// `WIRE_CRC32C_SOFTWARE=1` in the environment forces `.software`, `WIRE_CRC32C_NO_VECTOR=1` rules out
    /// `.vector` (for comparisons; every implementation gives the same values).
    public enum Implementation: String, Sendable, CaseIterable {
        /// AVX-512 carry-less folding (VPCLMULQDQ) with three `crc32` chains beside it, for buffers of a few
        /// hundred bytes and more (about 90 GB/s on one core here); shorter ones as `.hardware`.
        case vector
        /// The x86-64 SSE4.2 `crc32` instruction, eight bytes per instruction (about 33 GB/s here).
        case hardware
        /// Portable slicing-by-8 tables (about 2.4 GB/s on one core).
        case software

        static func detect() -> Implementation {
            #if arch(x86_64) && canImport(Glibc)
            if getenv("WIRE_CRC32C_SOFTWARE") != nil { return .software }
            if CPUFeatures.hasVectorCRC && getenv("WIRE_CRC32C_NO_VECTOR") == nil { return .vector }
            return CPUFeatures.hasSSE42 ? .hardware : .software
            #else
            return .software
            #endif
        }

        /// Whether this processor can run the implementation.
        public var isAvailable: Bool {
            switch self {
            case .vector: return CPUFeatures.hasVectorCRC
            case .hardware: return CPUFeatures.hasSSE42
            case .software: return true
            }
        }
    }

    /// The finished CRC-32C of `bytes` computed by a chosen implementation (tests compare them); one the
    /// processor cannot run falls back to the next.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, using implementation: Implementation) -> UInt32 {
        ~advance(0xFFFF_FFFF, bytes, using: implementation)
    }

    /// Runs the register over `bytes` on this thread with a chosen implementation, or the next one down.
    static func advance(_ start: UInt32, _ bytes: UnsafeRawBufferPointer, using implementation: Implementation) -> UInt32 {
        #if arch(x86_64)
        if implementation == .vector && CPUFeatures.hasVectorCRC { return vectorAdvance(start, bytes) }
        if implementation != .software && CPUFeatures.hasSSE42 { return hardwareAdvance(start, bytes) }
        #endif
        return softwareAdvance(start, bytes)
    }

    /// Buffers at least this long are checksummed in parallel parts (one per core, at most 4).
    static let parallelThresholdBytes = 16 << 20

    /// What checksums those parts. Buffers that large come from memory rather than cache, and from memory
    /// the `crc32` chains read faster than the vector kernel (`bench-wire --crc`, 256 MiB on 2 cores:
    /// 51-53 GB/s against 42-44; on one core 33 against 29-31), while from cache the kernel is 2.7 times
    /// as fast.
    static let largeBufferImplementation: Implementation = implementation == .vector ? .hardware : implementation

    /// Runs the register over `bytes` with the implementation chosen for this machine; large buffers are
    /// split across cores and the parts joined with `shift`.
    static func advance(_ start: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let cores = min(4, CPUFeatures.coreCount)
        guard bytes.count >= parallelThresholdBytes, cores > 1, let base = bytes.baseAddress else {
            return advanceOnThisThread(start, bytes)
        }
        let partBytes = (bytes.count / cores) & ~63
        let registers = Mutex([UInt32](repeating: 0, count: cores))
        let address = UInt(bitPattern: base)
        let total = bytes.count
        DispatchQueue.concurrentPerform(iterations: cores) { part in
            let from = part * partBytes
            let to = part == cores - 1 ? total : from + partBytes
            let pointer = UnsafeRawPointer(bitPattern: address)! + from
            let register = advance(part == 0 ? start : 0, UnsafeRawBufferPointer(start: pointer, count: to - from),
                                   using: largeBufferImplementation)
            registers.withLock { $0[part] = register }
        }
        let parts = registers.withLock { $0 }
        var register = parts[0]
        for part in 1..<cores {
            let length = part == cores - 1 ? total - part * partBytes : partBytes
            register = shift(register, byteCount: UInt64(length)) ^ parts[part]
        }
        return register
    }

    /// Runs the register over `bytes` with the implementation chosen for this machine, on this thread.
    static func advanceOnThisThread(_ start: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        advance(start, bytes, using: implementation)
    }

    /// Runs the register over `bytes`: eight bytes per step, then the tail byte by byte.
    static func softwareAdvance(_ start: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return start }
        return tables.withUnsafeBufferPointer { tablesBuffer -> UInt32 in
            let t = tablesBuffer.baseAddress!
            var crc = start
            var offset = 0
            let count = bytes.count
            while offset + 8 <= count {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                let low = UInt32(truncatingIfNeeded: word) ^ crc
                let high = UInt32(truncatingIfNeeded: word >> 32)
                crc = t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
                offset += 8
            }
            while offset < count {
                let byte = base.load(fromByteOffset: offset, as: UInt8.self)
                crc = (crc >> 8) ^ t[Int((crc ^ UInt32(byte)) & 0xFF)]
                offset += 1
            }
            return crc
        }
    }
}

// MARK: - Combining registers

extension CRC32C {
    /// The register after `byteCount` zero bytes starting from `register`: multiplication by x^(8 n)
    /// modulo the polynomial, in the reflected bit order. Lets independently computed parts be joined:
    /// register(A || B) = shift(register(A), |B|) ^ register-from-zero(B).
    static func shift(_ register: UInt32, byteCount: UInt64) -> UInt32 {
        multiply(power(ofZeroBytes: byteCount), register)
    }

    /// x^(8 n) modulo the polynomial: what `shift` multiplies by for `n` bytes.
    static func power(ofZeroBytes byteCount: UInt64) -> UInt32 {
        var power: UInt32 = 1 << 31  // x^0
        var remaining = byteCount
        var index = 3  // 8 n = n << 3
        while remaining != 0 {
            if remaining & 1 != 0 { power = multiply(powersOfXSquared[index & 31], power) }
            remaining >>= 1
            index += 1
        }
        return power
    }

    /// x^(2^k) modulo the polynomial, k = 0..<32.
    static let powersOfXSquared: [UInt32] = {
        var table: [UInt32] = []
        var power: UInt32 = 1 << 30  // x^1
        for _ in 0..<32 {
            table.append(power)
            power = multiply(power, power)
        }
        return table
    }()

    /// a * b modulo the polynomial (reflected: bit 31 is x^0).
    static func multiply(_ a: UInt32, _ b: UInt32) -> UInt32 {
        var mask: UInt32 = 1 << 31
        var product: UInt32 = 0
        var multiplier = b
        while mask != 0 {
            if a & mask != 0 {
                product ^= multiplier
                if a & (mask &- 1) == 0 { break }
            }
            mask >>= 1
            multiplier = multiplier & 1 != 0 ? (multiplier >> 1) ^ 0x82F6_3B78 : multiplier >> 1
        }
        return product
    }
}

// MARK: - The SSE4.2 instruction without a C target

#if arch(x86_64)
// Swift cannot name CPU intrinsics, but an `@_extern(c)` declaration whose symbol is an LLVM intrinsic name
// becomes a call to that intrinsic (the Wire target is built with `-enable-experimental-feature Extern` and
// `-Xcc -mcrc32`, which enables the instruction for code generation). The optimiser's instruction selector
// rejects the call because Swift declares it with side effects; the unoptimised selector accepts it, so the
// loop lives in an `@_optimize(none)` function. It is only called after `CPUFeatures.hasSSE42` said yes.
@_extern(c, "llvm.x86.sse42.crc32.64.64")
func _wireCRC32CStep64(_ crc: UInt64, _ word: UInt64) -> UInt64

@_optimize(none) @inline(never)
func _wireCRC32CWords(_ start: UInt64, _ words: UnsafePointer<UInt64>, _ count: Int) -> UInt64 {
    var crc = start
    var index = 0
    while index < count {
        crc = _wireCRC32CStep64(crc, words[index])
        index += 1
    }
    return crc
}

/// Three independent `crc32` chains over three equal parts: the instruction has a latency of three cycles
/// but a throughput of one per cycle, so three chains run about three times as fast as one.
@_optimize(none) @inline(never)
func _wireCRC32CWords3(_ start: UInt64, _ words: UnsafePointer<UInt64>, _ count: Int) -> (UInt64, UInt64, UInt64) {
    var first = start
    var second: UInt64 = 0
    var third: UInt64 = 0
    let middle = words + count
    let last = words + 2 * count
    var index = 0
    while index < count {
        first = _wireCRC32CStep64(first, words[index])
        second = _wireCRC32CStep64(second, middle[index])
        third = _wireCRC32CStep64(third, last[index])
        index += 1
    }
    return (first, second, third)
}

extension CRC32C {
    /// Buffers at least this long are split into three interleaved chains.
    static let interleaveThresholdBytes = 64 << 10

    /// Runs the register over `bytes` with the `crc32` instruction over aligned 8-byte words.
    static func hardwareAdvance(_ start: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return start }
        let misalignment = Int(bitPattern: base) & 7
        let head = min(bytes.count, misalignment == 0 ? 0 : 8 - misalignment)
        var crc = softwareAdvance(start, UnsafeRawBufferPointer(start: base, count: head))
        let words = (bytes.count - head) / 8
        var aligned = (base + head).assumingMemoryBound(to: UInt64.self)
        var remainingWords = words
        if words * 8 >= interleaveThresholdBytes {
            let part = words / 3
            let (first, second, third) = _wireCRC32CWords3(UInt64(crc), aligned, part)
            let partBytes = UInt64(part * 8)
            let firstTwo = shift(UInt32(truncatingIfNeeded: first), byteCount: partBytes) ^ UInt32(truncatingIfNeeded: second)
            crc = shift(firstTwo, byteCount: partBytes) ^ UInt32(truncatingIfNeeded: third)
            aligned += 3 * part
            remainingWords -= 3 * part
        }
        if remainingWords > 0 {
            crc = UInt32(truncatingIfNeeded: _wireCRC32CWords(UInt64(crc), aligned, remainingWords))
        }
        let done = head + words * 8
        return softwareAdvance(crc, UnsafeRawBufferPointer(start: base + done, count: bytes.count - done))
    }
}
#endif

#if arch(x86_64)
extension CRC32C {
    /// Runs the register over `bytes` with `VectorCRC32C` (short buffers with the `crc32` instruction): the
    /// kernel folds the bulk into 16 bytes plus three chain registers, joined here, then the tail.
    static func vectorAdvance(_ start: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count >= VectorCRC32C.minimumByteCount else {
            return hardwareAdvance(start, bytes)
        }
        let parts = VectorCRC32C.fold(register: start, bytes: base, count: bytes.count)
        var register = withUnsafeBytes(of: (parts.low.littleEndian, parts.high.littleEndian)) { hardwareAdvance(0, $0) }
        let chainPower = power(ofZeroBytes: UInt64(parts.chainByteCount))
        for chain in [parts.chains.0, parts.chains.1, parts.chains.2] {
            register = multiply(chainPower, register) ^ UInt32(truncatingIfNeeded: chain)
        }
        return hardwareAdvance(register, UnsafeRawBufferPointer(rebasing: bytes[parts.byteCount...]))
    }
}
#endif

/// CPU features read once from /proc/cpuinfo (Linux).
enum CPUFeatures {
    /// Online processors.
    static let coreCount: Int = {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }()

    /// Whether the processor has SSE4.2 (and so the `crc32` instruction).
    static let hasSSE42: Bool = flags.contains("sse4_2")

    /// Whether the processor (and the kernel, which lists AVX-512 only when it saves its registers) can run
    /// `VectorCRC32C`: AVX-512F, VPCLMULQDQ, PCLMULQDQ and SSE4.2.
    static let hasVectorCRC: Bool = ["avx512f", "vpclmulqdq", "pclmulqdq", "sse4_2"].allSatisfy(flags.contains)

    /// The words of the first `flags` line of /proc/cpuinfo (empty elsewhere).
    static let flags: Set<Substring> = {
        #if arch(x86_64) && canImport(Glibc)
        guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 8192)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("flags") { return Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })) }
        }
        return []
        #else
        return []
        #endif
    }()
}
