// Eight-lane (AVX2) versions of FastMath's exp, tanh-GELU and row reductions, for the softmax and activation loops.

/// The same formulas as the scalar `FastMath` functions, written on `SIMD8<Float>` so that every step is one packed
/// instruction: each lane performs exactly the scalar function's operations in the same order (Swift does not fuse
/// a * b + c into an FMA), so a lane's result is bit-identical to the scalar function's. Only concrete `SIMD8<Float>`
/// arithmetic, comparisons and `replacing(with:where:)` are used; in optimised builds they become single AVX
/// instructions (vmaxps, vblendvps, vpslld), unlike the generic whole-vector helpers.
extension FastMath {
    /// Eight floats.
    @usableFromInline typealias Vector = SIMD8<Float>

    /// Eight floats read from `pointer` (any alignment).
    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>) -> Vector {
        UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
    }

    /// Writes eight floats at `pointer` (any alignment).
    @inline(__always)
    static func store(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector.self)
    }

    /// `expNonPositive` in every lane.
    @inline(__always)
    static func expNonPositive(_ x: Vector) -> Vector {
        let floor = Vector(repeating: -87.33)
        let clamped = floor.replacing(with: x, where: x .> floor)
        return expCore(clamped)
    }

    /// e^x for x >= 0 (or NaN) in every lane, as the scalar `exp` computes it there: above 88 the result is e^88
    /// (about 1.65e38) rather than +infinity, which the callers (tanh) map to the same value.
    @inline(__always)
    static func expNonNegative(_ x: Vector) -> Vector {
        let ceiling = Vector(repeating: 88)
        return expCore(x.replacing(with: ceiling, where: x .> ceiling))
    }

    /// The range reduction and polynomial of `exp` for an already clamped argument.
    @inline(__always)
    static func expCore(_ clamped: Vector) -> Vector {
        let magic = Vector(repeating: 12_582_912)
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        var r = clamped - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        var p = Vector(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let er = p * (r * r) + r + 1
        let bits = (unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- Float(12_582_912).bitPattern) &<< 23
            &+ 0x3F80_0000
        return er * unsafeBitCast(bits, to: Vector.self)
    }

    /// `geluTanh` in every lane (bit-identical to the scalar function for finite and infinite inputs; NaN stays NaN).
    @inline(__always)
    static func geluTanh(_ x: Vector) -> Vector {
        let inner = 0.797_884_56 * (x + 0.044_715 * x * x * x)
        let absolute = unsafeBitCast(unsafeBitCast(inner, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Vector.self)
        let t = 1 - 2 / (expNonNegative(2 * absolute) + 1)
        let signed = t.replacing(with: -t, where: inner .< 0)
        return 0.5 * x * (1 + signed)
    }

    /// `destination[i] = geluTanh(source[i])` for `count` values (the arrays may be the same).
    @inline(__always)
    static func geluTanh(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>, count: Int) {
        var index = 0
        while index + 8 <= count {
            store(geluTanh(load(source + index)), destination + index)
            index += 8
        }
        while index < count {
            destination[index] = geluTanh(source[index])
            index += 1
        }
    }

    /// The largest of `count` values (-infinity when empty): lane i takes every eighth value from i, as `maximum`.
    @inline(__always)
    static func maximumVector(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = Vector(repeating: -.infinity)
        var index = 0
        while index + 8 <= count {
            let v = load(values + index)
            lanes = lanes.replacing(with: v, where: v .> lanes)
            index += 8
        }
        var result = max(max(max(lanes[0], lanes[1]), max(lanes[2], lanes[3])),
                         max(max(lanes[4], lanes[5]), max(lanes[6], lanes[7])))
        while index < count {
            result = values[index] > result ? values[index] : result
            index += 1
        }
        return result
    }

    /// Replaces each of `count` values v by expNonPositive(v - shift) and returns their sum, added in the order of
    /// `sum` (eight interleaved partial sums, combined pairwise, then the tail): the same values and total as
    /// `apply` with `expNonPositive` followed by `sum`, in one pass.
    @inline(__always)
    static func exponentiateAndSum(_ values: UnsafeMutablePointer<Float>, count: Int, subtracting shift: Float) -> Float {
        var partial = Vector(repeating: 0)
        let shiftVector = Vector(repeating: shift)
        var index = 0
        while index + 8 <= count {
            let e = expNonPositive(load(values + index) - shiftVector)
            store(e, values + index)
            partial += e
            index += 8
        }
        var result = ((partial[0] + partial[1]) + (partial[2] + partial[3]))
            + ((partial[4] + partial[5]) + (partial[6] + partial[7]))
        while index < count {
            let e = expNonPositive(values[index] - shift)
            values[index] = e
            result += e
            index += 1
        }
        return result
    }

    /// Multiplies `count` values in place by `factor`.
    @inline(__always)
    static func scale(_ values: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        let factorVector = Vector(repeating: factor)
        var index = 0
        while index + 8 <= count {
            store(load(values + index) * factorVector, values + index)
            index += 8
        }
        while index < count {
            values[index] *= factor
            index += 1
        }
    }

    /// `destination[i] = source[i] * factor` for `count` values.
    @inline(__always)
    static func scale(
        _ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, count: Int, by factor: Float
    ) {
        let factorVector = Vector(repeating: factor)
        var index = 0
        while index + 8 <= count {
            store(load(source + index) * factorVector, destination + index)
            index += 8
        }
        while index < count {
            destination[index] = source[index] * factor
            index += 1
        }
    }

    /// `values[i] += addend[i]` for `count` values.
    @inline(__always)
    static func add(_ addend: UnsafePointer<Float>, to values: UnsafeMutablePointer<Float>, count: Int) {
        var index = 0
        while index + 8 <= count {
            store(load(values + index) + load(addend + index), values + index)
            index += 8
        }
        while index < count {
            values[index] += addend[index]
            index += 1
        }
    }
}
