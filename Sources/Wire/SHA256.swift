// SHA-256 (FIPS 180-4), incremental; the block function runs on the SHA extensions where the processor has them
// (WireVectorSHA), in portable Swift elsewhere.
import WireVectorSHA
#if canImport(Glibc)
import Glibc
#endif

/// The SHA-256 hash function.
///
/// `SHA256.hash(bytes)` returns the 32-byte digest; for data in pieces use `update(_:)` then `finalize()`.
public struct SHA256: Sendable {
    /// The digest size in bytes.
    public static let digestByteCount = 32
    /// The block size in bytes (used by HMAC).
    public static let blockByteCount = 64

    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )
    private var pending: [UInt8] = []
    private var totalByteCount: UInt64 = 0
    /// Whether blocks go through the SHA extensions (tests turn it off to compare with the portable code).
    let usesSHAExtensions: Bool

    /// A hash over no bytes yet.
    public init() { self.init(usesSHAExtensions: SHA256.hasSHAExtensions) }

    /// A hash over no bytes yet that uses the SHA extensions only if `usesSHAExtensions` and the processor
    /// has them.
    init(usesSHAExtensions: Bool) {
        self.usesSHAExtensions = usesSHAExtensions && SHA256.hasSHAExtensions
        pending.reserveCapacity(SHA256.blockByteCount)
    }

    /// Whether this processor has the SHA extensions and SSE4.1 (`sha_ni` and `sse4_1` in /proc/cpuinfo) and
    /// `WIRE_SHA256_PORTABLE` is not set in the environment.
    public static let hasSHAExtensions: Bool = {
        #if arch(x86_64) && canImport(Glibc)
        return ["sha_ni", "sse4_1"].allSatisfy(CPUFeatures.flags.contains) && getenv("WIRE_SHA256_PORTABLE") == nil
        #else
        return false
        #endif
    }()

    /// The digest of `bytes`.
    public static func hash<S: Sequence>(_ bytes: S) -> [UInt8] where S.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(Array(bytes))
        return hasher.finalize()
    }

    /// Adds `bytes` to the hash.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Adds raw bytes to the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        totalByteCount &+= UInt64(bytes.count)
        var offset = 0
        if !pending.isEmpty {
            let take = min(SHA256.blockByteCount - pending.count, bytes.count)
            pending.append(contentsOf: bytes[0..<take])
            offset = take
            if pending.count == SHA256.blockByteCount {
                pending.withUnsafeBytes { compress($0.baseAddress!, blockCount: 1) }
                pending.removeAll(keepingCapacity: true)
            }
        }
        let blocks = (bytes.count - offset) / SHA256.blockByteCount
        if blocks > 0 {
            compress(bytes.baseAddress! + offset, blockCount: blocks)
            offset += blocks * SHA256.blockByteCount
        }
        if offset < bytes.count { pending.append(contentsOf: bytes[offset...]) }
    }

    /// Pads, finishes and returns the 32-byte digest.
    public mutating func finalize() -> [UInt8] {
        let bitCount = totalByteCount &* 8
        var padding: [UInt8] = [0x80]
        let afterOne = (pending.count + 1) % SHA256.blockByteCount
        let zeros = afterOne <= 56 ? 56 - afterOne : 120 - afterOne
        padding.append(contentsOf: repeatElement(0, count: zeros))
        for shift in stride(from: 56, through: 0, by: -8) { padding.append(UInt8(truncatingIfNeeded: bitCount >> UInt64(shift))) }
        let savedCount = totalByteCount
        update(padding)
        totalByteCount = savedCount
        precondition(pending.isEmpty, "SHA-256 padding must end on a block boundary")
        var digest: [UInt8] = []
        digest.reserveCapacity(32)
        for word in [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7] {
            digest.append(contentsOf: [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: word >> UInt32($0)) })
        }
        return digest
    }

    // MARK: - Compression

    private static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    @inline(__always) private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

    /// Runs the block function over `blockCount` blocks at `blocks`.
    private mutating func compress(_ blocks: UnsafeRawPointer, blockCount: Int) {
        #if arch(x86_64)
        if usesSHAExtensions {
            withUnsafeMutableBytes(of: &state) {
                VectorSHA256.compress(state: $0.baseAddress!.assumingMemoryBound(to: UInt32.self), blocks: blocks,
                                      blockCount: blockCount)
            }
            return
        }
        #endif
        for index in 0..<blockCount { compress(blocks + index * SHA256.blockByteCount) }
    }

    private mutating func compress(_ block: UnsafeRawPointer) {
        var w = [UInt32](repeating: 0, count: 64)
        for t in 0..<16 {
            w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: t * 4, as: UInt32.self))
        }
        for t in 16..<64 {
            let s0 = SHA256.rotr(w[t - 15], 7) ^ SHA256.rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
            let s1 = SHA256.rotr(w[t - 2], 17) ^ SHA256.rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
            w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, h) = state
        for t in 0..<64 {
            let sum1 = SHA256.rotr(e, 6) ^ SHA256.rotr(e, 11) ^ SHA256.rotr(e, 25)
            let choose = (e & f) ^ (~e & g)
            let temp1 = h &+ sum1 &+ choose &+ SHA256.roundConstants[t] &+ w[t]
            let sum0 = SHA256.rotr(a, 2) ^ SHA256.rotr(a, 13) ^ SHA256.rotr(a, 22)
            let majority = (a & b) ^ (a & c) ^ (b & c)
            let temp2 = sum0 &+ majority
            h = g; g = f; f = e; e = d &+ temp1; d = c; c = b; b = a; a = temp1 &+ temp2
        }
        state = (
            state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d,
            state.4 &+ e, state.5 &+ f, state.6 &+ g, state.7 &+ h
        )
    }
}
