// PEFT's LoraLayer forward for one adapter on a torch.nn.Linear: result + lora_B(lora_A(x)) * scaling, computed
// beside the base product instead of merged into the weight (docs/CLUSTER.md, "LoRAs", says why).

/// One LoRA's update of one linear layer, as the layer applies it: `out += scale * ((x down^T) up^T + bias)`.
///
/// The factors stay in the dtype they came in (bf16 for most published LoRAs, which holds them exactly) and are
/// widened per call, like a 16-bit weight of `Linear`: the adapter then costs its file's size, not twice it.
public struct LowRankAdapter: Sendable, Equatable {
    /// The LoRA file it came from (for messages).
    public let source: String
    /// `[rank, in]`, as stored.
    public let storedDown: StoredTensor
    /// `[out, rank]`, as stored.
    public let storedUp: StoredTensor
    /// `[out]`, when the LoRA has a bias delta.
    public let bias: Tensor?
    /// The job's scale for the LoRA times the file's own scaling.
    public let scale: Float

    /// An adapter; `down` `[r, in]`, `up` `[out, r]`, `bias` `[out]`; the factors are kept in `factorDType`, which
    /// must hold their values exactly (checked).
    public init(source: String, down: Tensor, up: Tensor, bias: Tensor?, scale: Float, factorDType: DType = .float32) {
        precondition(down.rank == 2 && up.rank == 2 && up.shape[1] == down.shape[0], "LoRA \(source): \(down.shape) x \(up.shape)")
        precondition(bias == nil || bias!.shape == [up.shape[0]], "LoRA \(source): bias \(bias!.shape)")
        storedDown = StoredTensor(name: "down", tensor: down, dtype: factorDType)
        storedUp = StoredTensor(name: "up", tensor: up, dtype: factorDType)
        precondition(
            factorDType == .float32 || (storedDown.float32() == down && storedUp.float32() == up),
            "LoRA \(source): factors are not exact in \(factorDType)")
        self.source = source
        self.bias = bias
        self.scale = scale
    }

    /// The dtype the factors are kept in.
    public var factorDType: DType { storedDown.dtype }
    /// `[rank, in]`, widened.
    public var down: Tensor { storedDown.float32() }
    /// `[out, rank]`, widened.
    public var up: Tensor { storedUp.float32() }
    /// The rank.
    public var rank: Int { storedDown.shape[0] }
    /// Input width.
    public var inFeatures: Int { storedDown.shape[1] }
    /// Output width.
    public var outFeatures: Int { storedUp.shape[0] }
    /// Bytes held: the factors as stored, the bias in float32.
    public var byteCount: Int { storedDown.byteCount + storedUp.byteCount + 4 * (bias?.count ?? 0) }

    /// Equal values, dtype and scale (the source name is only for messages).
    public static func == (left: LowRankAdapter, right: LowRankAdapter) -> Bool {
        left.factorDType == right.factorDType && left.scale == right.scale && left.bias == right.bias
            && left.down == right.down && left.up == right.up
    }

    /// Adds this adapter's term to `output` (`rows x outFeatures`) for `input` (`rows x inFeatures`): two products
    /// on the fixed sgemm grid, so the result does not depend on the thread count.
    func accumulate(input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        let rank = self.rank, inputWidth = inFeatures, outputWidth = outFeatures
        guard rows > 0, rank > 0 else { return }
        let factors = UnsafeMutablePointer<Float>.allocate(capacity: rank * (inputWidth + outputWidth))
        let hidden = UnsafeMutablePointer<Float>.allocate(capacity: rows * rank)
        defer {
            factors.deallocate()
            hidden.deallocate()
        }
        let down = factors, up = factors + rank * inputWidth
        storedDown.widen(elements: 0..<(rank * inputWidth), into: down)
        storedUp.widen(elements: 0..<(outputWidth * rank), into: up)
        Ops.parallelSgemm(
            transposeA: false, transposeB: true, m: rows, n: rank, k: inputWidth, a: input, lda: inputWidth,
            b: down, ldb: inputWidth, beta: 0, c: hidden, ldc: rank)
        Ops.parallelSgemm(
            transposeA: false, transposeB: true, m: rows, n: outputWidth, k: rank, alpha: scale, a: hidden,
            lda: rank, b: up, ldb: rank, beta: 1, c: output, ldc: outputWidth)
        guard let bias else { return }
        bias.withUnsafeBufferPointer { bias in
            let values = bias.baseAddress!, scale = self.scale
            Compute.parallelFor(rows) { row in
                let destination = output + row * outputWidth
                for column in 0..<outputWidth { destination[column] += scale * values[column] }
            }
        }
    }
}
