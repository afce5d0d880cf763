// Poly1305 (RFC 8439 §2.5) four blocks at a time on AVX2: lane j of five SIMD4<UInt64> limb vectors (radix
// 2^26) accumulates blocks j, j + 4, j + 8, ... by Horner's rule in r^4; at the end lane j is multiplied by
// r^(4 - j) and the lanes are added. Products are 32 x 32 -> 64 bits (`vpmuludq`), so limbs stay below 2^32.
//
// Compiled with `-Xcc -mavx2` like the ChaCha20 kernel; Wire's Poly1305 calls it only when
// `VectorChaCha20.isSupported`. Pointers only cross the module boundary.

/// The AVX2 Poly1305 kernel.
public enum VectorPoly1305 {
    /// Blocks per step; `absorb` takes a multiple of this, at least two steps.
    public static let blocksPerStep = 4

    typealias V = SIMD4<UInt64>

    /// h = (...((h + m0) r + m1) r + ...) r over `blockCount` full 16-byte blocks (each with 2^128 added).
    ///
    /// `accumulator` holds h as five radix-2^26 limbs (each below 2^27), updated in place, the result's limbs
    /// below 2^27 again. `powers` holds r, r^2, r^3 and r^4 as five radix-2^26 limbs each (below 2^26),
    /// in that order (20 words). `blockCount` is a multiple of 4 and at least 8.
    public static func absorb(accumulator: UnsafeMutablePointer<UInt64>, powers: UnsafePointer<UInt64>,
                              blocks: UnsafeRawPointer, blockCount: Int)
    {
        precondition(blockCount % blocksPerStep == 0 && blockCount >= 2 * blocksPerStep,
                     "VectorPoly1305 takes whole steps of 4 blocks, at least 2")
        // r^4 in every lane, and 5 r^4 for the products that pass 2^130.
        let r4 = Limbs(splat: powers + 15)
        let s4 = r4.timesFive()
        var h = Limbs(blocks: blocks)
        h.l0 &+= V(accumulator[0], 0, 0, 0)
        h.l1 &+= V(accumulator[1], 0, 0, 0)
        h.l2 &+= V(accumulator[2], 0, 0, 0)
        h.l3 &+= V(accumulator[3], 0, 0, 0)
        h.l4 &+= V(accumulator[4], 0, 0, 0)
        var offset = 64
        while offset < blockCount * 16 {
            h = h.multiplied(by: r4, s4).carried()
            h.add(Limbs(blocks: blocks + offset))
            offset += 64
        }
        // Lane j times r^(4 - j): lane 0 by r^4, lane 1 by r^3, lane 2 by r^2, lane 3 by r.
        let last = Limbs(lanes: powers + 15, powers + 10, powers + 5, powers)
        h = h.multiplied(by: last, last.timesFive()).carried()
        let sums = (h.l0.wrappedSum(), h.l1.wrappedSum(), h.l2.wrappedSum(), h.l3.wrappedSum(), h.l4.wrappedSum())
        var value = sums.0
        accumulator[0] = value & mask26
        value = sums.1 &+ value >> 26
        accumulator[1] = value & mask26
        value = sums.2 &+ value >> 26
        accumulator[2] = value & mask26
        value = sums.3 &+ value >> 26
        accumulator[3] = value & mask26
        value = sums.4 &+ value >> 26
        accumulator[4] = value & mask26
        accumulator[0] &+= (value >> 26) &* 5
        accumulator[1] &+= accumulator[0] >> 26
        accumulator[0] &= mask26
    }

    static let mask26: UInt64 = (1 << 26) - 1
}

/// Five radix-2^26 limbs of four numbers, one number per lane.
struct Limbs {
    typealias V = SIMD4<UInt64>
    var l0: V, l1: V, l2: V, l3: V, l4: V

    init(_ l0: V, _ l1: V, _ l2: V, _ l3: V, _ l4: V) {
        (self.l0, self.l1, self.l2, self.l3, self.l4) = (l0, l1, l2, l3, l4)
    }

    /// The same five limbs at `limbs` in every lane.
    init(splat limbs: UnsafePointer<UInt64>) {
        self.init(V(repeating: limbs[0]), V(repeating: limbs[1]), V(repeating: limbs[2]), V(repeating: limbs[3]),
                  V(repeating: limbs[4]))
    }

    /// Lane j from the five limbs at the j-th pointer.
    init(lanes a: UnsafePointer<UInt64>, _ b: UnsafePointer<UInt64>, _ c: UnsafePointer<UInt64>,
         _ d: UnsafePointer<UInt64>)
    {
        self.init(V(a[0], b[0], c[0], d[0]), V(a[1], b[1], c[1], d[1]), V(a[2], b[2], c[2], d[2]),
                  V(a[3], b[3], c[3], d[3]), V(a[4], b[4], c[4], d[4]))
    }

    /// Four consecutive 16-byte blocks, block j in lane j, with 2^128 added to each.
    @inline(__always)
    init(blocks: UnsafeRawPointer) {
        let first = blocks.loadUnaligned(as: V.self)  // the two words of blocks 0 and 1
        let second = blocks.loadUnaligned(fromByteOffset: 32, as: V.self)  // of blocks 2 and 3
        let low = V(first[0], first[2], second[0], second[2])
        let high = V(first[1], first[3], second[1], second[3])
        let mask = V(repeating: VectorPoly1305.mask26)
        self.init(low & mask, (low &>> 26) & mask, ((low &>> 52) | (high &<< 12)) & mask, (high &>> 14) & mask,
                  (high &>> 40) | V(repeating: 1 << 24))
    }

    @inline(__always)
    func timesFive() -> Limbs { Limbs(l0 &* 5, l1 &* 5, l2 &* 5, l3 &* 5, l4 &* 5) }

    @inline(__always)
    mutating func add(_ other: Limbs) {
        l0 &+= other.l0; l1 &+= other.l1; l2 &+= other.l2; l3 &+= other.l3; l4 &+= other.l4
    }

    /// 32 x 32 -> 64-bit products (the masks tell the compiler the upper halves are zero: one `vpmuludq`).
    @inline(__always)
    static func mul(_ a: V, _ b: V) -> V {
        let low = V(repeating: 0xFFFF_FFFF)
        return (a & low) &* (b & low)
    }

    /// self r as five column sums, where `s` is 5 r (limbs whose product passes 2^130 wrap times 5).
    @inline(__always)
    func multiplied(by r: Limbs, _ s: Limbs) -> Limbs {
        let m = Limbs.mul
        return Limbs(
            m(l0, r.l0) &+ m(l1, s.l4) &+ m(l2, s.l3) &+ m(l3, s.l2) &+ m(l4, s.l1),
            m(l0, r.l1) &+ m(l1, r.l0) &+ m(l2, s.l4) &+ m(l3, s.l3) &+ m(l4, s.l2),
            m(l0, r.l2) &+ m(l1, r.l1) &+ m(l2, r.l0) &+ m(l3, s.l4) &+ m(l4, s.l3),
            m(l0, r.l3) &+ m(l1, r.l2) &+ m(l2, r.l1) &+ m(l3, r.l0) &+ m(l4, s.l4),
            m(l0, r.l4) &+ m(l1, r.l3) &+ m(l2, r.l2) &+ m(l3, r.l1) &+ m(l4, r.l0))
    }

    /// Column sums back to limbs below 2^26 (the second a little over), the carry out of the top times 5.
    @inline(__always)
    func carried() -> Limbs {
        let mask = V(repeating: VectorPoly1305.mask26)
        var d1 = l1 &+ (l0 &>> 26)
        var h0 = l0 & mask
        let d2 = l2 &+ (d1 &>> 26)
        d1 &= mask
        let d3 = l3 &+ (d2 &>> 26)
        let d4 = l4 &+ (d3 &>> 26)
        let top = d4 &>> 26
        h0 &+= top &+ (top &<< 2)
        let h1 = d1 &+ (h0 &>> 26)
        h0 &= mask
        return Limbs(h0, h1, d2 & mask, d3 & mask, d4 & mask)
    }
}
