// diffusers WanTransformerBlock: modulated self-attention with rotary embedding, cross-attention to the text
// (optional affine norm2), modulated tanh-GELU feed-forward, gated residuals.

/// One transformer block of the Wan model (`blocks.<i>.*`).
///
/// In float32 every `.float()` / `.type_as()` of diffusers is the identity, so the block is:
/// `x += attn1(norm1(x) * (1 + scale) + shift) * gate`, `x += attn2(norm2(x), text)`,
/// `x += ffn(norm3(x) * (1 + c_scale) + c_shift) * c_gate`, with (shift, scale, gate, c_shift, c_scale, c_gate)
/// = `scale_shift_table + timestep projection`.
public struct WanTransformerBlock: Sendable {
    /// Model width.
    public let dim: Int
    let eps: Float
    let scaleShiftTable: Tensor
    var selfAttention: WanAttention
    var crossAttention: WanAttention
    let crossNormWeight: Tensor?
    let crossNormBias: Tensor?
    var feedForward: WanFeedForward

    /// Takes the `<prefix>.*` weights (prefix `blocks.<i>`) from `store`.
    public init(store: WeightStore, prefix: String, config: WanTransformerConfig) throws {
        let dim = config.innerDim
        self.dim = dim
        eps = Float(config.eps)
        scaleShiftTable = try store.take(prefix + ".scale_shift_table", shape: [1, 6, dim]).float32().reshaped([6 * dim]
        )
        selfAttention = try WanAttention(
            store: store, prefix: prefix + ".attn1", dim: dim, heads: config.numAttentionHeads, eps: eps)
        crossAttention = try WanAttention(
            store: store, prefix: prefix + ".attn2", dim: dim, heads: config.numAttentionHeads, eps: eps)
        if config.crossAttnNorm {
            crossNormWeight = try store.take(prefix + ".norm2.weight", shape: [dim]).float32()
            crossNormBias = try store.take(prefix + ".norm2.bias", shape: [dim]).float32()
        } else {
            crossNormWeight = nil
            crossNormBias = nil
        }
        feedForward = try WanFeedForward(store: store, prefix: prefix + ".ffn", dim: dim, innerDim: config.ffnDim)
    }

    /// Runs the block on `hiddenStates` `[B, N, dim]` with the projected text `[B, L, dim]`, the timestep
    /// projection (`[rows, 6 * dim]`: one row per sample, or per distinct timestep with `tokenTimestepRows`
    /// naming each token's row) and the rotary tables of the N tokens.
    public func callAsFunction(
        _ hiddenStates: Tensor, text: Tensor, timestepProjection: Tensor, tokenTimestepRows: [Int32]? = nil,
        rotary: WanRotaryTables
    ) -> Tensor {
        self(
            hiddenStates, text: text, timestepProjection: timestepProjection, tokenTimestepRows: tokenTimestepRows,
            rotary: rotary, textKeysValues: nil)
    }

    /// The cross-attention's keys and values over the projected text `[B, L, dim]`: what the block computes from
    /// the text at every call, to compute once per prompt and pass back as `textKeysValues`.
    public func textKeysValues(_ text: Tensor) -> WanAttention.KeysValues {
        crossAttention.keysValues(context: text)
    }

    /// Runs the block as `callAsFunction(_:text:...)` does, with the cross-attention's keys and values over `text`
    /// taken from `textKeysValues` when given (they must come from `textKeysValues(text)`; the result is then the
    /// same bytes as recomputing them).
    public func callAsFunction(
        _ hiddenStates: Tensor, text: Tensor, timestepProjection: Tensor, tokenTimestepRows: [Int32]?,
        rotary: WanRotaryTables, textKeysValues: WanAttention.KeysValues?
    ) -> Tensor {
        let modulation = WanModulation(
            table: scaleShiftTable, projection: timestepProjection, tokenRows: tokenTimestepRows, dim: dim,
            sharedProjection: false)
        // 1. Self-attention.
        var normed = OpProfile.measure("norm1 layerNorm") { Ops.layerNorm(hiddenStates, weight: nil, bias: nil, eps: eps) }
        normed = OpProfile.measure("modulate (shift, scale)") { modulation.modulate(normed, shift: 0, scale: 1) }
        let attended = selfAttention(normed, rotary: rotary)
        var x = OpProfile.measure("gated residual") { modulation.gatedAdd(hiddenStates, attended, gate: 2) }
        // 2. Cross-attention.
        if crossNormWeight != nil {
            normed = OpProfile.measure("norm2 layerNorm (affine)") {
                Ops.layerNorm(x, weight: crossNormWeight, bias: crossNormBias, eps: eps)
            }
        } else {
            normed = x
        }
        let crossAttended = crossAttention(normed, keysValues: textKeysValues ?? self.textKeysValues(text))
        x = OpProfile.measure("residual add") { Ops.add(x, crossAttended) }
        // 3. Feed-forward.
        normed = OpProfile.measure("norm3 layerNorm") { Ops.layerNorm(x, weight: nil, bias: nil, eps: eps) }
        normed = OpProfile.measure("modulate (shift, scale)") { modulation.modulate(normed, shift: 3, scale: 4) }
        let fed = feedForward(normed)
        return OpProfile.measure("gated residual") { modulation.gatedAdd(x, fed, gate: 5) }
    }
}
