// torch.nn.Linear: y = x W^T + b, through one cblas_sgemm over all tokens.

/// A fully connected layer with PyTorch's weight layout ([out, in]).
///
/// float32 weights are read straight from the (memory-mapped) checkpoint; float16/bfloat16 weights stay
/// 16-bit and are widened per call, one column block of the sgemm grid at a time, so the widened copy stays
/// small. Both paths run the same fixed grid of sgemm blocks, so a 16-bit weight gives exactly the result
/// of its widened float32 copy.
public struct Linear: Sendable {
    /// The weight, [out, in].
    public let weight: StoredTensor
    /// The bias, [out], if any.
    public let bias: StoredTensor?
    /// Widened bias values (small, kept as float32).
    private let biasValues: [Float]?
    /// LoRA updates applied beside the base product, in order (none for the checkpoint's own layer).
    public private(set) var adapters: [LowRankAdapter] = []

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

    /// This layer with `adapters` (replacing any it had); each must fit the layer's widths.
    public func adapted(_ adapters: [LowRankAdapter]) -> Linear {
        for adapter in adapters {
            precondition(
                adapter.inFeatures == inFeatures && adapter.outFeatures == outFeatures,
                "LoRA \(adapter.source) [\(adapter.outFeatures), \(adapter.inFeatures)] does not fit \(weight.name) \(weight.shape)")
        }
        var copy = self
        copy.adapters = adapters
        return copy
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
                defer { for adapter in adapters { adapter.accumulate(input: a, rows: rows, into: out) } }
                let direct: Void? = weight.withFloat32PointerIfStored { w in
                    Ops.parallelSgemm(
                        transposeA: false, transposeB: true, m: rows, n: outputWidth, k: inputWidth,
                        a: a, lda: inputWidth, b: w, ldb: inputWidth, beta: 1, c: out, ldc: outputWidth)
                }
                if direct != nil { return }
                // The same blocks as the float32 grid: one column block of weights widened at a time, its row
                // blocks in parallel.
                let grid = Ops.gemmLayout(m: rows, n: outputWidth, k: inputWidth)
                let block = UnsafeMutablePointer<Float>.allocate(capacity: min(grid.columnBlock, outputWidth) * inputWidth)
                defer { block.deallocate() }
                for column in 0..<grid.columns {
                    let start = column * grid.columnBlock
                    let count = min(grid.columnBlock, outputWidth - start)
                    Linear.widenInParallel(weight, rows: start..<(start + count), width: inputWidth, into: block)
                    Compute.parallelFor(grid.rows) { rowBlock in
                        let first = rowBlock * grid.rowBlock
                        let blockCount = min(grid.rowBlock, rows - first)
                        Ops.sgemm(
                            transposeA: false, transposeB: true, m: blockCount, n: count, k: inputWidth,
                            a: a + first * inputWidth, lda: inputWidth, b: block, ldb: inputWidth, beta: 1,
                            c: out + first * outputWidth + start, ldc: outputWidth)
                    }
                }
            }
        }
    }

    /// Widens weight rows `rows` ([*, width]) into `destination`, in parallel over fixed chunks.
    static func widenInParallel(_ weight: StoredTensor, rows: Range<Int>, width: Int, into destination: UnsafeMutablePointer<Float>) {
        let chunkRows = max(1, (1 << 16) / max(width, 1))
        let chunks = (rows.count + chunkRows - 1) / chunkRows
        Compute.parallelFor(chunks) { chunk in
            let first = rows.lowerBound + chunk * chunkRows
            let last = min(rows.upperBound, first + chunkRows)
            weight.widen(elements: (first * width)..<(last * width), into: destination + (first - rows.lowerBound) * width)
        }
    }
}
