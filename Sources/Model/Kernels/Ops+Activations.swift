// Activations, softmax and normalisations over the last dimension (torch silu, gelu, softmax, layer_norm, RMSNorm).
import Foundation

// MARK: - Activations

extension Ops {
    /// x * sigmoid(x) elementwise (torch.nn.functional.silu).
    public static func silu(_ x: Tensor) -> Tensor {
        vectorMap(x) { FastMath.silu($0) }
    }

    /// 0.5 x (1 + erf(x / sqrt 2)) elementwise: the exact GELU (torch.nn.functional.gelu).
    public static func gelu(_ x: Tensor) -> Tensor {
        map(x) { value in 0.5 * value * (1 + erff(value * 0.707_106_781_186_547_5)) }
    }

    /// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) elementwise: GELU with the tanh approximation
    /// (torch gelu(approximate="tanh"), transformers gelu_new).
    public static func geluTanh(_ x: Tensor) -> Tensor {
        Tensor(shape: x.shape) { output in
            x.withUnsafeBufferPointer { input in
                let source = input.baseAddress, destination = output.baseAddress
                let count = x.count
                let blockSize = 1 << 16
                Compute.parallelFor((count + blockSize - 1) / blockSize) { block in
                    let start = block * blockSize
                    FastMath.geluTanh(source! + start, destination! + start, count: min(blockSize, count - start))
                }
            }
        }
    }

    /// A vectorisable function applied to every element, in parallel over fixed blocks.
    @inline(__always)
    static func vectorMap(_ x: Tensor, _ function: (Float) -> Float) -> Tensor {
        Tensor(shape: x.shape) { output in
            x.withUnsafeBufferPointer { input in
                let source = input.baseAddress, destination = output.baseAddress
                let count = x.count
                let blockSize = 1 << 16
                Compute.parallelFor((count + blockSize - 1) / blockSize) { block in
                    let start = block * blockSize
                    FastMath.apply(source! + start, destination! + start, count: min(blockSize, count - start), function)
                }
            }
        }
    }

    /// `body(row, input, output)` for every last-dimension row of `x`, in parallel over fixed blocks of rows.
    @inline(__always)
    static func mapRows(
        _ x: Tensor, _ body: (_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, _ width: Int) -> Void
    ) -> Tensor {
        precondition(x.rank >= 1, "a last-dimension operation needs rank >= 1, got \(x.shape)")
        let width = x.shape[x.rank - 1]
        let rows = width == 0 ? 0 : x.count / width
        return Tensor(shape: x.shape) { output in
            x.withUnsafeBufferPointer { input in
                let source = input.baseAddress, destination = output.baseAddress
                let rowsPerBlock = max(1, (1 << 15) / max(width, 1))
                Compute.parallelFor((rows + rowsPerBlock - 1) / rowsPerBlock) { block in
                    for row in (block * rowsPerBlock)..<min(rows, (block + 1) * rowsPerBlock) {
                        body(source! + row * width, destination! + row * width, width)
                    }
                }
            }
        }
    }
}

// MARK: - Softmax and normalisations

extension Ops {
    /// Softmax over the last dimension (torch.softmax(x, dim=-1)). A row of all -infinity gives NaN, as in torch.
    public static func softmax(_ x: Tensor) -> Tensor {
        mapRows(x) { input, output, width in
            let shift = FastMath.maximum(input, count: width)
            FastMath.apply(input, output, count: width) { FastMath.exp($0 - shift) }
            let total = FastMath.sum(output, count: width)
            let inverse = 1 / total
            for index in 0..<width { output[index] *= inverse }
        }
    }

    /// LayerNorm over the last dimension: (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance
    /// (torch.nn.functional.layer_norm). Mean and variance are accumulated in Double.
    public static func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
        let width = x.shape.last ?? 0
        precondition(weight == nil || weight!.count == width, "layerNorm weight \(weight!.shape) does not fit \(x.shape)")
        precondition(bias == nil || bias!.count == width, "layerNorm bias \(bias!.shape) does not fit \(x.shape)")
        let weightValues = weight?.scalars
        let biasValues = bias?.scalars
        return mapRows(x) { input, output, width in
            var sum = 0.0
            for index in 0..<width { sum += Double(input[index]) }
            let mean = sum / Double(width)
            var squares = 0.0
            for index in 0..<width {
                let centred = Double(input[index]) - mean
                squares += centred * centred
            }
            let variance = squares / Double(width)
            let inverse = Float(1 / (variance + Double(eps)).squareRoot())
            let meanFloat = Float(mean)
            for index in 0..<width { output[index] = (input[index] - meanFloat) * inverse }
            if let weightValues {
                for index in 0..<width { output[index] *= weightValues[index] }
            }
            if let biasValues {
                for index in 0..<width { output[index] += biasValues[index] }
            }
        }
    }

    /// RMSNorm over the last dimension: x * rsqrt(mean(x^2) + eps) * weight (torch.nn.RMSNorm, diffusers
    /// RMSNorm). The mean of squares is accumulated in Double.
    public static func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) -> Tensor {
        let width = x.shape.last ?? 0
        precondition(weight == nil || weight!.count == width, "rmsNorm weight \(weight!.shape) does not fit \(x.shape)")
        let weightValues = weight?.scalars
        return mapRows(x) { input, output, width in
            var squares = 0.0
            for index in 0..<width { squares += Double(input[index]) * Double(input[index]) }
            let inverse = Float(1 / (squares / Double(width) + Double(eps)).squareRoot())
            for index in 0..<width { output[index] = input[index] * inverse }
            if let weightValues {
                for index in 0..<width { output[index] *= weightValues[index] }
            }
        }
    }
}
