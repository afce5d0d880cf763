// Vectorisable exp and the activations built on it (compare Sleef's expf as PyTorch's CPU kernels use it).

/// Elementary functions written as branch-free scalar code that LLVM's loop and SLP vectorisers turn into
/// packed SIMD instructions when applied over arrays (Swift's generic SIMD-type operations such as
/// `pointwiseMax` or lane masks are not inlined and run lane by lane, so they are avoided here).
///
/// `exp` reduces x = n ln2 + r with |r| <= ln2 / 2 (Cody-Waite, ln2 split in two), evaluates a degree-7
/// polynomial for e^r (Cephes' expf coefficients) and scales by 2^n through the exponent bits. Measured
/// relative error stays below 3e-7 (about 2 ulp) over the finite range. Below -87.33 the result is 0 (true
/// values there are below 1.2e-38); above 88 it is +infinity; NaN stays NaN.
@usableFromInline
enum FastMath {
    /// e^x.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let clamped = min(max(x, -87.33), 88.0)
        let magic: Float = 12_582_912  // 1.5 * 2^23: adding it rounds to an integer held in the low bits
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        var r = clamped - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let er = p * (r * r) + r + 1
        let exponentBits = (shifted.bitPattern &- magic.bitPattern) &<< 23 &+ 0x3F80_0000
        var result = er * Float(bitPattern: exponentBits)
        result = x < -87.33 ? 0 : result
        result = x > 88.0 ? .infinity : result
        result = x != x ? x : result
        return result
    }

    /// e^x for x <= 0 or -infinity (attention scores minus their running maximum), without the special-value
    /// selects of `exp`: below -87.33 it returns e^-87.33 (about 1.2e-38) instead of 0.
    @inline(__always)
    static func expNonPositive(_ x: Float) -> Float {
        let clamped = max(x, -87.33)
        let magic: Float = 12_582_912
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        var r = clamped - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let er = p * (r * r) + r + 1
        let exponentBits = (shifted.bitPattern &- magic.bitPattern) &<< 23 &+ 0x3F80_0000
        return er * Float(bitPattern: exponentBits)
    }

    /// x / (1 + e^-x).
    @inline(__always)
    static func silu(_ x: Float) -> Float {
        x / (1 + exp(-x))
    }

    /// tanh(x) as sign(x) (1 - 2 / (e^{2|x|} + 1)); absolute error about 1e-7.
    @inline(__always)
    static func tanh(_ x: Float) -> Float {
        let t = 1 - 2 / (exp(2 * abs(x)) + 1)
        let signed = x < 0 ? -t : t
        return x != x ? x : signed
    }

    /// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    @inline(__always)
    static func geluTanh(_ x: Float) -> Float {
        let inner = 0.797_884_56 * (x + 0.044_715 * x * x * x)
        return 0.5 * x * (1 + tanh(inner))
    }

    /// Applies `function` to `count` values from `source` into `destination` (which may equal `source`).
    @inline(__always)
    static func apply(
        _ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>, count: Int,
        _ function: (Float) -> Float
    ) {
        for index in 0..<count { destination[index] = function(source[index]) }
    }

    /// The largest of `count` values (-infinity when empty), in 8 interleaved lanes.
    @inline(__always)
    static func maximum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var m0 = -Float.infinity, m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0, m7 = m0
        var index = 0
        while index + 8 <= count {
            let v = values + index
            m0 = v[0] > m0 ? v[0] : m0
            m1 = v[1] > m1 ? v[1] : m1
            m2 = v[2] > m2 ? v[2] : m2
            m3 = v[3] > m3 ? v[3] : m3
            m4 = v[4] > m4 ? v[4] : m4
            m5 = v[5] > m5 ? v[5] : m5
            m6 = v[6] > m6 ? v[6] : m6
            m7 = v[7] > m7 ? v[7] : m7
            index += 8
        }
        var result = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
        while index < count {
            result = values[index] > result ? values[index] : result
            index += 1
        }
        return result
    }

    /// The sum of `count` values in one fixed order: 8 interleaved partial sums, combined pairwise, then the tail.
    @inline(__always)
    static func sum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var s4: Float = 0, s5: Float = 0, s6: Float = 0, s7: Float = 0
        var index = 0
        while index + 8 <= count {
            let v = values + index
            s0 += v[0]
            s1 += v[1]
            s2 += v[2]
            s3 += v[3]
            s4 += v[4]
            s5 += v[5]
            s6 += v[6]
            s7 += v[7]
            index += 8
        }
        var result = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
        while index < count {
            result += values[index]
            index += 1
        }
        return result
    }
}
