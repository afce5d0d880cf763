// Numeric helpers shared by the scheduler ports: numpy.linspace, the shift formulas, elementwise float32 updates.
import Foundation

enum SchedulerMath {
    // MARK: - Tables (float64, as numpy computes them)

    /// `numpy.linspace(start, stop, count)` in float64, element for element (i * step + start, last = stop).
    static func linspace(_ start: Double, _ stop: Double, count: Int) -> [Double] {
        guard count > 0 else { return [] }
        let divisions = count - 1
        let delta = stop - start
        guard divisions > 0 else { return [0 * delta + start] }
        let step = delta / Double(divisions)
        var values = [Double](repeating: 0, count: count)
        for index in 0..<count {
            if step == 0 {
                values[index] = Double(index) / Double(divisions) * delta + start
            } else {
                values[index] = Double(index) * step + start
            }
        }
        values[count - 1] = stop
        return values
    }

    /// The flow-matching shift `shift * s / (1 + (shift - 1) * s)` in float64 (numpy arrays).
    static func shifted(_ sigmas: [Double], shift: Double) -> [Double] {
        sigmas.map { sigma in shift * sigma / (1 + (shift - 1) * sigma) }
    }

    /// diffusers `stretch_shift_to_terminal`: rescales `1 - s` so the last value becomes `terminal`.
    static func stretchedToTerminal(_ sigmas: [Double], terminal: Double) -> [Double] {
        guard let last = sigmas.last else { return sigmas }
        let scaleFactor = (1 - last) / (1 - terminal)
        return sigmas.map { sigma in 1 - (1 - sigma) / scaleFactor }
    }

    // MARK: - Small dense solve (float32, as torch.linalg.solve on 0-dim float32 entries)

    /// Solves `matrix * x = rhs` for a small square float32 system by LU with partial pivoting (LAPACK getrf/getrs
    /// order: pivot on the largest magnitude, scale the column by the pivot's reciprocal).
    static func solve(_ matrix: [[Float]], _ rhs: [Float]) -> [Float] {
        let n = rhs.count
        var a = matrix
        var b = rhs
        for column in 0..<n {
            var pivot = column
            for row in (column + 1)..<max(column + 1, n) where abs(a[row][column]) > abs(a[pivot][column]) {
                pivot = row
            }
            if pivot != column {
                a.swapAt(pivot, column)
                b.swapAt(pivot, column)
            }
            let reciprocal = 1 / a[column][column]
            for row in (column + 1)..<max(column + 1, n) {
                a[row][column] *= reciprocal
                for k in (column + 1)..<n {
                    a[row][k] -= a[row][column] * a[column][k]
                }
            }
        }
        for row in 0..<n {
            for k in 0..<row {
                b[row] -= a[row][k] * b[k]
            }
        }
        for row in stride(from: n - 1, through: 0, by: -1) {
            for k in (row + 1)..<max(row + 1, n) {
                b[row] -= a[row][k] * b[k]
            }
            b[row] /= a[row][row]
        }
        return b
    }

    // MARK: - Elementwise float32 updates (each product and sum rounded as torch rounds it)

    /// `a * x + b * y`, elementwise, where the products are rounded before the sum.
    static func combine(_ a: Float, _ x: [Float], _ b: Float, _ y: [Float]) -> [Float] {
        precondition(x.count == y.count)
        return [Float](unsafeUninitializedCapacity: x.count) { out, initialized in
            x.withUnsafeBufferPointer { x in
                y.withUnsafeBufferPointer { y in
                    for index in 0..<x.count {
                        let left = a * x[index]
                        let right = b * y[index]
                        out[index] = left + right
                    }
                }
            }
            initialized = x.count
        }
    }

    /// `a * x - b * y`, elementwise, where the products are rounded before the difference.
    static func scaledDifference(_ a: Float, _ x: [Float], _ b: Float, _ y: [Float]) -> [Float] {
        precondition(x.count == y.count)
        return [Float](unsafeUninitializedCapacity: x.count) { out, initialized in
            x.withUnsafeBufferPointer { x in
                y.withUnsafeBufferPointer { y in
                    for index in 0..<x.count {
                        let left = a * x[index]
                        let right = b * y[index]
                        out[index] = left - right
                    }
                }
            }
            initialized = x.count
        }
    }

    /// `x - a * y`, elementwise.
    static func subtractScaled(_ x: [Float], _ a: Float, _ y: [Float]) -> [Float] {
        precondition(x.count == y.count)
        return [Float](unsafeUninitializedCapacity: x.count) { out, initialized in
            x.withUnsafeBufferPointer { x in
                y.withUnsafeBufferPointer { y in
                    for index in 0..<x.count {
                        let product = a * y[index]
                        out[index] = x[index] - product
                    }
                }
            }
            initialized = x.count
        }
    }

    /// `x + a * y`, elementwise.
    static func addScaled(_ x: [Float], _ a: Float, _ y: [Float]) -> [Float] {
        precondition(x.count == y.count)
        return [Float](unsafeUninitializedCapacity: x.count) { out, initialized in
            x.withUnsafeBufferPointer { x in
                y.withUnsafeBufferPointer { y in
                    for index in 0..<x.count {
                        let product = a * y[index]
                        out[index] = x[index] + product
                    }
                }
            }
            initialized = x.count
        }
    }

    /// `(x - y) / d`, elementwise.
    static func differenceOver(_ x: [Float], _ y: [Float], _ divisor: Float) -> [Float] {
        precondition(x.count == y.count)
        return [Float](unsafeUninitializedCapacity: x.count) { out, initialized in
            x.withUnsafeBufferPointer { x in
                y.withUnsafeBufferPointer { y in
                    for index in 0..<x.count {
                        let difference = x[index] - y[index]
                        out[index] = difference / divisor
                    }
                }
            }
            initialized = x.count
        }
    }

    /// The flow-matching forward process `sigma * noise + (1 - sigma) * clean` (diffusers `scale_noise` /
    /// `add_noise` with flow sigmas), in float32.
    static func noised(clean: [Float], noise: [Float], sigma: Float) -> [Float] {
        combine(sigma, noise, 1 - sigma, clean)
    }
}
