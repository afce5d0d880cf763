// torch.nn.Linear: y = x W^T + b, through one cblas_sgemm over all tokens.

/// A fully connected layer with PyTorch's weight layout ([out, in]).
///
/// float32 weights are read straight from the (memory-mapped) checkpoint; float16/bfloat16 weights stay
/// 16-bit and are widened per call, a block of output rows at a time, so the widened copy stays small.
public struct Linear: Sendable {
    /// The weight, [out, in].
    public let weight: StoredTensor
    /// The bias, [out], if any.
    public let bias: StoredTensor?
    /// Widened bias values (small, kept as float32).
    private let biasValues: [Float]?

    /// Elements of a widened weight block (16 MB of float32).
    static let widenBlockElements = 1 << 22

    /// A layer from stored tensors; `weight` must be [out, in] and `bias` [out].
    public init(weight: StoredTensor, bias: StoredTensor?) {
        precondition(weight.shape.count == 2, "Linear weight \(weight.name) must be [out, in], got \(weight.shape)")
        precondition(bias == nil || bias!.shape == [weight.shape[0]], "Linear bias \(bias!.name) \(bias!.shape) does not fit weight \(weight.shape)")
        self.weight = weight
        self.bias = bias
        self.biasValues = bias?.float32().scalars
    }

    /// Takes `<prefix>.weight` [outFeatures, inFeatures] (and `<prefix>.bias` [outFeatures]) from `store`.
    public init(store: WeightStore, prefix: String, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        let weight = try store.take(prefix + ".weight", shape: [outFeatures, inFeatures])
        let biasTensor = bias ? try store.take(prefix + ".bias", shape: [outFeatures]) : nil
        self.init(weight: weight, bias: biasTensor)
    }

    /// Input width.
    public var inFeatures: Int { weight.shape[1] }
    /// Output width.
    public var outFeatures: Int { weight.shape[0] }

    /// x [..., in] -> [..., out].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let inputWidth = inFeatures, outputWidth = outFeatures
        precondition(x.rank >= 1 && x.shape[x.rank - 1] == inputWidth, "Linear \(weight.name): input \(x.shape) does not end in \(inputWidth)")
        let rows = inputWidth == 0 ? 0 : x.count / inputWidth
        var outputShape = x.shape
        outputShape[x.rank - 1] = outputWidth
        return Tensor(shape: outputShape) { output in
            guard let out = output.baseAddress, rows > 0, outputWidth > 0 else { return }
            // Start from the bias (beta = 1) or zero.
            if let biasValues {
                for row in 0..<rows { (out + row * outputWidth).update(from: biasValues, count: outputWidth) }
            } else {
                out.initialize(repeating: 0, count: rows * outputWidth)
            }
            if inputWidth == 0 { return }
            x.withUnsafeBufferPointer { input in
                let a = input.baseAddress!
                let direct: Void? = weight.withFloat32PointerIfStored { w in
                    Ops.sgemm(
                        transposeA: false, transposeB: true, m: rows, n: outputWidth, k: inputWidth,
                        a: a, lda: inputWidth, b: w, ldb: inputWidth, beta: 1, c: out, ldc: outputWidth)
                }
                if direct != nil { return }
                let blockRows = max(1, min(outputWidth, Linear.widenBlockElements / inputWidth))
                let block = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * inputWidth)
                defer { block.deallocate() }
                var start = 0
                while start < outputWidth {
                    let count = min(blockRows, outputWidth - start)
                    weight.widen(elements: (start * inputWidth)..<((start + count) * inputWidth), into: block)
                    Ops.sgemm(
                        transposeA: false, transposeB: true, m: rows, n: count, k: inputWidth,
                        a: a, lda: inputWidth, b: block, ldb: inputWidth, beta: 1, c: out + start, ldc: outputWidth)
                    start += count
                }
            }
        }
    }
}
