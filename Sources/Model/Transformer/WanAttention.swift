// diffusers WanAttention with WanAttnProcessor (text-to-video): q/k/v projections, RMSNorm across heads on q and
// k, rotary embedding (self-attention), scaled dot-product attention, output projection.

/// One attention layer of a Wan block: self-attention (`attn1`, with rotary embedding) or cross-attention to the
/// text (`attn2`).
public struct WanAttention: Sendable {
    /// Number of heads.
    public let heads: Int
    var toQ: Linear
    var toK: Linear
    var toV: Linear
    var toOut: Linear
    let normQ: Tensor
    let normK: Tensor
    let eps: Float

    /// Takes `<prefix>.to_q/to_k/to_v/to_out.0` and `<prefix>.norm_q/norm_k` weights from `store`.
    public init(store: WeightStore, prefix: String, dim: Int, heads: Int, eps: Float) throws {
        self.heads = heads
        self.eps = eps
        toQ = try Linear(store: store, prefix: prefix + ".to_q", inFeatures: dim, outFeatures: dim)
        toK = try Linear(store: store, prefix: prefix + ".to_k", inFeatures: dim, outFeatures: dim)
        toV = try Linear(store: store, prefix: prefix + ".to_v", inFeatures: dim, outFeatures: dim)
        toOut = try Linear(store: store, prefix: prefix + ".to_out.0", inFeatures: dim, outFeatures: dim)
        normQ = try store.take(prefix + ".norm_q.weight", shape: [dim]).float32()
        normK = try store.take(prefix + ".norm_k.weight", shape: [dim]).float32()
    }

    /// The keys (projected, RMS-normed) and values (projected) of a context, `[B, L, dim]` each.
    public struct KeysValues: Sendable {
        /// `norm_k(to_k(context))`.
        public let keys: Tensor
        /// `to_v(context)`.
        public let values: Tensor
    }

    /// The keys and values of `context` `[B, L, dim]` (for cross-attention, where they depend only on the text).
    public func keysValues(context: Tensor) -> KeysValues {
        let projected = OpProfile.measure("cross k,v projections") { toK(context) }
        let keys = OpProfile.measure("cross q/k rmsNorm") { Ops.rmsNorm(projected, weight: normK, eps: eps) }
        return KeysValues(keys: keys, values: OpProfile.measure("cross k,v projections") { toV(context) })
    }

    /// Attends from `hiddenStates` `[B, N, dim]` to a context whose keys and values are `keysValues` (from
    /// `keysValues(context:)`): the same result as `callAsFunction(hiddenStates, context:)` with that context.
    public func callAsFunction(_ hiddenStates: Tensor, keysValues: KeysValues) -> Tensor {
        var query = OpProfile.measure("cross q projection") { toQ(hiddenStates) }
        query = OpProfile.measure("cross q/k rmsNorm") { Ops.rmsNorm(query, weight: normQ, eps: eps) }
        let attended = OpProfile.measure("cross-attention core (scores, softmax, values)") {
            Ops.attention(query: query, key: keysValues.keys, value: keysValues.values, heads: heads)
        }
        return OpProfile.measure("cross out projection") { toOut(attended) }
    }

    /// Attends from `hiddenStates` `[B, N, dim]` to `context` (`[B, L, dim]`; `nil` for self-attention),
    /// rotating queries and keys by `rotary` when given.
    public func callAsFunction(_ hiddenStates: Tensor, context: Tensor? = nil, rotary: WanRotaryTables? = nil)
        -> Tensor
    {
        let source = context ?? hiddenStates
        let kind = context == nil ? "self" : "cross"
        var query = OpProfile.measure("\(kind) q projection") { toQ(hiddenStates) }
        query = OpProfile.measure("\(kind) q/k rmsNorm") { Ops.rmsNorm(query, weight: normQ, eps: eps) }
        var key = OpProfile.measure("\(kind) k,v projections") { toK(source) }
        key = OpProfile.measure("\(kind) q/k rmsNorm") { Ops.rmsNorm(key, weight: normK, eps: eps) }
        let value = OpProfile.measure("\(kind) k,v projections") { toV(source) }
        if let rotary {
            query = OpProfile.measure("rope apply") { WanRotaryPosEmbed.apply(query, tables: rotary) }
            key = OpProfile.measure("rope apply") { WanRotaryPosEmbed.apply(key, tables: rotary) }
        }
        let attended = OpProfile.measure("\(kind)-attention core (scores, softmax, values)") {
            Ops.attention(query: query, key: key, value: value, heads: heads)
        }
        return OpProfile.measure("\(kind) out projection") { toOut(attended) }
    }
}
