// Poly1305 (RFC 8439 §2.5): a one-time authenticator, the message as 130-bit numbers evaluated as a
// polynomial in r modulo 2^130 - 5, plus s. Three 64-bit limbs of 44, 44 and 42 bits (radix 2^44); runs of
// eight blocks and more go four at a time through the AVX2 kernel in WireVectorChaCha (radix 2^26) where the
// processor has AVX2.
import WireVectorChaCha

/// The Poly1305 one-time authenticator, incremental: `update` with pieces of any size, then `finalize`.
///
/// A key must authenticate one message only: anyone who sees two tags under the same key can forge tags.
/// Derive a fresh key per message, e.g. from ChaCha20 block 0 under a per-message nonce (RFC 8439 §2.6),
/// as `ChaCha20Poly1305` does.
public struct Poly1305: Sendable {
    /// Key size in bytes (r, then s).
    public static let keyByteCount = 32
    /// Tag size in bytes.
    public static let tagByteCount = 16

    static let mask44: UInt64 = (1 << 44) - 1
    static let mask42: UInt64 = (1 << 42) - 1

    /// The clamped r, and r^2 modulo 2^130 - 5 (for two blocks per step).
    let r: Multiplier, rSquared: Multiplier
    /// The key's second half, added at the end.
    let pad: (UInt64, UInt64)
    /// The accumulator h, partly reduced (each limb may exceed its width by a little).
    var h0: UInt64 = 0, h1: UInt64 = 0, h2: UInt64 = 0
    /// Bytes of an unfinished 16-byte block, the first `pendingCount` of them meaningful.
    var pending: (UInt64, UInt64) = (0, 0)
    var pendingCount = 0

    /// An authenticator for one message under the 32-byte one-time `key`.
    public init(key: [UInt8]) throws(CryptoError) {
        guard key.count == Poly1305.keyByteCount else {
            throw .wrongLength(.poly1305Key, expectedBytes: Poly1305.keyByteCount, seenBytes: key.count)
        }
        self = key.withUnsafeBytes { Poly1305(key: $0.baseAddress!) }
    }

    /// An authenticator under the 32 bytes at `key`.
    init(key: UnsafeRawPointer) {
        let t0 = UInt64(littleEndian: key.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) & 0x0fff_fffc_0fff_ffff
        let t1 = UInt64(littleEndian: key.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) & 0x0fff_fffc_0fff_fffc
        r = Multiplier(t0 & Poly1305.mask44, (t0 >> 44 | t1 << 20) & Poly1305.mask44, t1 >> 24 & Poly1305.mask42)
        rSquared = Multiplier(Poly1305.carry(Poly1305.multiply(h: (r.r0, r.r1, r.r2), by: r)))
        pad = (UInt64(littleEndian: key.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
               UInt64(littleEndian: key.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
    }

    /// The tag of `message` under the one-time `key`.
    public static func authenticationCode(for message: [UInt8], key: [UInt8]) throws(CryptoError) -> [UInt8] {
        var mac = try Poly1305(key: key)
        mac.update(message)
        return mac.finalize()
    }

    /// Adds the bytes of an array to the message.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Adds `bytes` to the message.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var input = bytes.baseAddress, bytes.count > 0 else { return }
        var count = bytes.count
        if pendingCount > 0 {
            let take = min(count, 16 - pendingCount)
            withUnsafeMutableBytes(of: &pending) {
                $0.baseAddress!.advanced(by: pendingCount).copyMemory(from: input, byteCount: take)
            }
            pendingCount += take
            input += take
            count -= take
            guard pendingCount == 16 else { return }
            let block = pending
            withUnsafeBytes(of: block) { absorb($0.baseAddress!, blockCount: 1, highBit: 1 << 40) }
            pendingCount = 0
        }
        let blocks = count / 16
        if blocks > 0 { absorb(input, blockCount: blocks, highBit: 1 << 40) }
        let rest = count - blocks * 16
        if rest > 0 {
            pending = (0, 0)
            withUnsafeMutableBytes(of: &pending) {
                $0.baseAddress!.copyMemory(from: input + blocks * 16, byteCount: rest)
            }
            pendingCount = rest
        }
    }

    /// Adds zero bytes up to the next multiple of 16 bytes of message (RFC 8439's pad16).
    mutating func padToBlock() {
        guard pendingCount > 0 else { return }
        let block = pending  // the bytes past `pendingCount` are already zero
        withUnsafeBytes(of: block) { absorb($0.baseAddress!, blockCount: 1, highBit: 1 << 40) }
        pendingCount = 0
    }

    /// Finishes the message and returns the 16-byte tag.
    public consuming func finalize() -> [UInt8] {
        if pendingCount > 0 {
            var block = pending
            withUnsafeMutableBytes(of: &block) { $0[pendingCount] = 1 }
            withUnsafeBytes(of: block) { absorb($0.baseAddress!, blockCount: 1, highBit: 0) }
        }
        let (t0, t1) = reducedAccumulator()
        let (sum0, carry) = t0.addingReportingOverflow(pad.0)
        let sum1 = t1 &+ pad.1 &+ (carry ? 1 : 0)
        return withUnsafeBytes(of: (sum0.littleEndian, sum1.littleEndian)) { Array($0) }
    }

    /// h fully reduced modulo 2^130 - 5, as its low 128 bits.
    func reducedAccumulator() -> (UInt64, UInt64) {
        var (h0, h1, h2) = (self.h0, self.h1, self.h2)
        var carry = h1 >> 44; h1 &= Poly1305.mask44; h2 += carry
        carry = h2 >> 42; h2 &= Poly1305.mask42; h0 += carry * 5
        carry = h0 >> 44; h0 &= Poly1305.mask44; h1 += carry
        carry = h1 >> 44; h1 &= Poly1305.mask44; h2 += carry
        carry = h2 >> 42; h2 &= Poly1305.mask42; h0 += carry * 5
        carry = h0 >> 44; h0 &= Poly1305.mask44; h1 += carry
        // g = h + 5 - 2^130; if it does not go negative, h >= p and g is the reduced value.
        var g0 = h0 + 5
        carry = g0 >> 44; g0 &= Poly1305.mask44
        var g1 = h1 + carry
        carry = g1 >> 44; g1 &= Poly1305.mask44
        var g2 = h2 &+ carry &- (1 << 42)
        let useG = (g2 >> 63) &- 1  // all ones when g2 did not borrow, without a branch
        g0 &= useG; g1 &= useG; g2 &= useG
        h0 = h0 & ~useG | g0
        h1 = h1 & ~useG | g1
        h2 = h2 & ~useG | g2
        return (h0 | h1 << 44, h1 >> 20 | h2 << 24)
    }

    /// h = (h + block + highBit 2^128) r modulo 2^130 - 5 for each 16-byte block at `blocks`.
    ///
    /// Two blocks per step as h = (h + m1) r^2 + m2 r: the same eighteen multiplications as two steps of
    /// one block, but the two products do not wait for each other, so the multiplier is kept busy instead
    /// of waiting on one long chain of multiply, add and carry.
    mutating func absorb(_ blocks: UnsafeRawPointer, blockCount: Int, highBit: UInt64) {
        let (r, rSquared) = (self.r, self.rSquared)
        var h = (h0, h1, h2)
        var offset = 0
        var remaining = blockCount
        #if _endian(little)
        if ChaCha20.usesVectorKernel, blockCount >= 2 * VectorPoly1305.blocksPerStep {
            let vectorBlocks = blockCount - blockCount % VectorPoly1305.blocksPerStep
            h = absorbFourAtATime(h, blocks, blockCount: vectorBlocks)
            offset = vectorBlocks * 16
            remaining -= vectorBlocks
        }
        #endif
        while remaining >= 2 {
            let first = Poly1305.limbs(blocks, offset, highBit)
            let second = Poly1305.limbs(blocks, offset + 16, highBit)
            let x = Poly1305.multiply(h: (h.0 &+ first.0, h.1 &+ first.1, h.2 &+ first.2), by: rSquared)
            let y = Poly1305.multiply(h: second, by: r)
            h = Poly1305.carry((x.0 &+ y.0, x.1 &+ y.1, x.2 &+ y.2))
            offset += 32
            remaining -= 2
        }
        if remaining == 1 {
            let block = Poly1305.limbs(blocks, offset, highBit)
            h = Poly1305.carry(Poly1305.multiply(h: (h.0 &+ block.0, h.1 &+ block.1, h.2 &+ block.2), by: r))
        }
        (h0, h1, h2) = h
    }

    /// `absorb` for a multiple of four blocks in the AVX2 kernel (`VectorPoly1305`, radix 2^26), which takes
    /// h and r, r^2, r^3, r^4 in five 26-bit limbs.
    func absorbFourAtATime(_ h: (UInt64, UInt64, UInt64), _ blocks: UnsafeRawPointer, blockCount: Int)
        -> (UInt64, UInt64, UInt64)
    {
        let rCubed = Poly1305.carry(Poly1305.multiply(h: (rSquared.r0, rSquared.r1, rSquared.r2), by: r))
        let rFourth = Poly1305.carry(Poly1305.multiply(h: (rSquared.r0, rSquared.r1, rSquared.r2), by: rSquared))
        let powers = [(r.r0, r.r1, r.r2), (rSquared.r0, rSquared.r1, rSquared.r2), rCubed, rFourth]
            .flatMap(Poly1305.radix26)
        var accumulator = Poly1305.radix26(h)
        powers.withUnsafeBufferPointer { powers in
            VectorPoly1305.absorb(accumulator: &accumulator, powers: powers.baseAddress!, blocks: blocks,
                                  blockCount: blockCount)
        }
        return Poly1305.radix44(accumulator)
    }

    /// Limbs of 44, 44 and 42 bits (the middle one may be a little over) as five limbs of 26 bits.
    static func radix26(_ h: (UInt64, UInt64, UInt64)) -> [UInt64] {
        let mask26: UInt64 = (1 << 26) - 1
        let h1 = h.1 & mask44
        let h2 = h.2 &+ h.1 >> 44
        return [h.0 & mask26, (h.0 >> 26 | h1 << 18) & mask26, h1 >> 8 & mask26, (h1 >> 34 | h2 << 10) & mask26,
                h2 >> 16]
    }

    /// Five limbs of 26 bits (each below 2^27) as limbs of 44, 44 and 43 bits.
    static func radix44(_ limbs: [UInt64]) -> (UInt64, UInt64, UInt64) {
        let low = UInt128(limbs[0]) &+ UInt128(limbs[1]) << 26 &+ UInt128(limbs[2]) << 52 &+ UInt128(limbs[3]) << 78
        return (UInt64(truncatingIfNeeded: low) & mask44, UInt64(truncatingIfNeeded: low >> 44) & mask44,
                UInt64(truncatingIfNeeded: low >> 88) &+ limbs[4] << 16)
    }

    /// A factor in limbs with 20 times its upper two limbs (their products pass 2^130 and wrap times 5).
    struct Multiplier: Sendable {
        let r0: UInt64, r1: UInt64, r2: UInt64, s1: UInt64, s2: UInt64

        init(_ r0: UInt64, _ r1: UInt64, _ r2: UInt64) {
            (self.r0, self.r1, self.r2, s1, s2) = (r0, r1, r2, r1 &* 20, r2 &* 20)
        }

        init(_ limbs: (UInt64, UInt64, UInt64)) { self.init(limbs.0, limbs.1, limbs.2) }
    }

    /// The 16-byte block at `offset` as limbs of 44, 44 and 42 bits, plus `highBit` (2^128 in the top limb).
    @inline(__always)
    static func limbs(_ blocks: UnsafeRawPointer, _ offset: Int, _ highBit: UInt64) -> (UInt64, UInt64, UInt64) {
        let t0 = UInt64(littleEndian: blocks.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        let t1 = UInt64(littleEndian: blocks.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
        return (t0 & mask44, (t0 >> 44 | t1 << 20) & mask44, (t1 >> 24 & mask42) | highBit)
    }

    /// h r as three 128-bit column sums (limbs up to about 2^46 keep every sum below 2^100).
    @inline(__always)
    static func multiply(h: (UInt64, UInt64, UInt64), by r: Multiplier) -> (UInt128, UInt128, UInt128) {
        (wide(h.0, r.r0) &+ wide(h.1, r.s2) &+ wide(h.2, r.s1),
         wide(h.0, r.r1) &+ wide(h.1, r.r0) &+ wide(h.2, r.s2),
         wide(h.0, r.r2) &+ wide(h.1, r.r1) &+ wide(h.2, r.r0))
    }

    /// Column sums back to limbs of 44, 44 and 42 bits (the middle one may be one bit over), folding what
    /// passes 2^130 back in times 5.
    @inline(__always)
    static func carry(_ d: (UInt128, UInt128, UInt128)) -> (UInt64, UInt64, UInt64) {
        var h0 = UInt64(truncatingIfNeeded: d.0) & mask44
        let d1 = d.1 &+ d.0 >> 44
        var h1 = UInt64(truncatingIfNeeded: d1) & mask44
        let d2 = d.2 &+ d1 >> 44
        let h2 = UInt64(truncatingIfNeeded: d2) & mask42
        h0 &+= UInt64(truncatingIfNeeded: d2 >> 42) &* 5
        h1 &+= h0 >> 44
        h0 &= mask44
        return (h0, h1, h2)
    }

    @inline(__always)
    static func wide(_ a: UInt64, _ b: UInt64) -> UInt128 { UInt128(a) &* UInt128(b) }
}
