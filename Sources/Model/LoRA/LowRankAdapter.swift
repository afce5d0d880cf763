// PEFT's LoraLayer forward for one adapter on a torch.nn.Linear: result + lora_B(lora_A(x)) * scaling, computed
// beside the base product instead of merged into the weight (docs/CLUSTER.md, "LoRAs", says why).

/// One LoRA's update of one linear layer, as the layer applies it: `out += scale * ((x down^T) up^T + bias)`.
public struct LowRankAdapter: Sendable, Equatable {
    /// The LoRA file it came from (for messages).
    public let source: String
    /// `[rank, in]`.
    public let down: Tensor
    /// `[out, rank]`.
    public let up: Tensor
    /// `[out]`, when the LoRA has a bias delta.
    public let bias: Tensor?
    /// The job's scale for the LoRA times the file's own scaling.
    public let scale: Float

    /// An adapter; `down` `[r, in]`, `up` `[out, r]`, `bias` `[out]`.
    public init(source: String, down: Tensor, up: Tensor, bias: Tensor?, scale: Float) {
        precondition(down.rank == 2 && up.rank == 2 && up.shape[1] == down.shape[0], "LoRA \(source): \(down.shape) x \(up.shape)")
        precondition(bias == nil || bias!.shape == [up.shape[0]], "LoRA \(source): bias \(bias!.shape)")
        self.source = source
        self.down = down
        self.up = up
        self.bias = bias
        self.scale = scale
    }

    /// The rank.
    public var rank: Int { down.shape[0] }
    /// Input width.
    public var inFeatures: Int { down.shape[1] }
    /// Output width.
    public var outFeatures: Int { up.shape[0] }
    /// Bytes of float32 values held.
    public var byteCount: Int { 4 * (down.count + up.count + (bias?.count ?? 0)) }

    /// Adds this adapter's term to `output` (`rows x outFeatures`) for `input` (`rows x inFeatures`): two products
    /// on the fixed sgemm grid, so the result does not depend on the thread count.
    func accumulate(input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        let rank = self.rank, inputWidth = inFeatures, outputWidth = outFeatures
        guard rows > 0, rank > 0 else { return }
        let hidden = UnsafeMutablePointer<Float>.allocate(capacity: rows * rank)
        defer { hidden.deallocate() }
        down.withUnsafeBufferPointer { down in
            Ops.parallelSgemm(
                transposeA: false, transposeB: true, m: rows, n: rank, k: inputWidth, a: input, lda: inputWidth,
                b: down.baseAddress!, ldb: inputWidth, beta: 0, c: hidden, ldc: rank)
        }
        up.withUnsafeBufferPointer { up in
            Ops.parallelSgemm(
                transposeA: false, transposeB: true, m: rows, n: outputWidth, k: rank, alpha: scale, a: hidden,
                lda: rank, b: up.baseAddress!, ldb: rank, beta: 1, c: output, ldc: outputWidth)
        }
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
