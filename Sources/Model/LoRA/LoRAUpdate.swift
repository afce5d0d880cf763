// One module's low-rank update as PEFT's LoraLayer holds it after diffusers' WanLoraLoaderMixin.load_lora_weights:
// lora_A, lora_B (with the optional lora_B bias that `.diff_b` keys become) and the adapter's scaling.

/// A low-rank update of one linear module of the transformer, in diffusers' module naming.
///
/// The module's output becomes `base(x) + scale * (up(down(x)) + bias)`, PEFT's `lora_B(lora_A(x)) * scaling` with
/// `lora_bias`. `down` and `up` hold the values PEFT's layers hold after loading (already multiplied by the split
/// `alpha / rank` factors that diffusers' converters apply to non-diffusers files), widened to float32.
public struct LoRAUpdate: Sendable, Equatable {
    /// The module, as diffusers names it: `blocks.3.attn1.to_q`, `condition_embedder.time_proj`, `proj_out`.
    public let module: String
    /// `lora_A.weight`, `[rank, in]`.
    public let down: Tensor
    /// `lora_B.weight`, `[out, rank]`.
    public let up: Tensor
    /// `lora_B.bias`, `[out]`, when the file has one (a `.diff_b` key).
    public let bias: Tensor?
    /// The scaling the file itself asks for (`lora_alpha / r` from a PEFT file's metadata; 1 otherwise).
    public let scale: Float
    /// The dtype the factors are stored in, which holds their values exactly (they come from the file, rounded to
    /// it after any alpha scaling, as PyTorch rounds them).
    public let factorDType: DType

    /// An update; the shapes must agree (`down` `[r, in]`, `up` `[out, r]`, `bias` `[out]`), and `factorDType` must
    /// hold the factors' values exactly.
    public init(module: String, down: Tensor, up: Tensor, bias: Tensor?, scale: Float, factorDType: DType = .float32) {
        precondition(down.rank == 2 && up.rank == 2 && up.shape[1] == down.shape[0], "LoRA \(module): \(down.shape) x \(up.shape)")
        self.module = module
        self.down = down
        self.up = up
        self.bias = bias
        self.scale = scale
        self.factorDType = factorDType
    }

    /// The rank.
    public var rank: Int { down.shape[0] }
    /// The module's input width.
    public var inFeatures: Int { down.shape[1] }
    /// The module's output width.
    public var outFeatures: Int { up.shape[0] }
    /// Float32 values held (down, up and bias).
    public var valueCount: Int { down.count + up.count + (bias?.count ?? 0) }
}
