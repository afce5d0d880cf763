// transformers UMT5Block (encoder): UMT5LayerSelfAttention then UMT5LayerFF with UMT5DenseGatedActDense.

/// The gated-GELU feed-forward (`UMT5DenseGatedActDense`): `wo(gelu_new(wi_0 x) * wi_1 x)`.
public struct UMT5FeedForward: Sendable {
    /// The gate projection, activated with the tanh-approximated GELU.
    public let gate: Linear
    /// The linear projection multiplied by the activated gate.
    public let up: Linear
    /// The projection back to `d_model`.
    public let down: Linear

    /// Loads `<prefix>.{wi_0,wi_1,wo}.weight`.
    public init(store: WeightStore, prefix: String, config: UMT5Config) throws {
        gate = try Linear(
            store: store, prefix: prefix + ".wi_0", inFeatures: config.dModel, outFeatures: config.dFF,
            bias: false)
        up = try Linear(
            store: store, prefix: prefix + ".wi_1", inFeatures: config.dModel, outFeatures: config.dFF,
            bias: false)
        down = try Linear(
            store: store, prefix: prefix + ".wo", inFeatures: config.dFF, outFeatures: config.dModel,
            bias: false)
    }

    /// Applies the feed-forward to `x` `[..., d_model]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        down(Ops.multiply(Ops.geluTanh(gate(x)), up(x)))
    }
}

/// One encoder block: pre-norm self-attention and pre-norm feed-forward, each added to the residual stream.
public struct UMT5Block: Sendable {
    /// Weight of the RMS norm before attention (`layer.0.layer_norm.weight`).
    public let attentionNorm: Tensor
    /// The self-attention with this block's relative position bias.
    public let attention: UMT5Attention
    /// Weight of the RMS norm before the feed-forward (`layer.1.layer_norm.weight`).
    public let feedForwardNorm: Tensor
    /// The gated-GELU feed-forward.
    public let feedForward: UMT5FeedForward
    /// Epsilon of both norms.
    public let epsilon: Float

    /// Loads block `index` (`encoder.block.<index>.*`).
    public init(store: WeightStore, index: Int, config: UMT5Config) throws {
        let prefix = "encoder.block.\(index).layer"
        attentionNorm = try store.take(prefix + ".0.layer_norm.weight", shape: [config.dModel]).float32()
        attention = try UMT5Attention(store: store, prefix: prefix + ".0.SelfAttention", config: config)
        feedForwardNorm = try store.take(prefix + ".1.layer_norm.weight", shape: [config.dModel]).float32()
        feedForward = try UMT5FeedForward(store: store, prefix: prefix + ".1.DenseReluDense", config: config)
        epsilon = Float(config.layerNormEpsilon)
    }

    /// Runs the block on `x` `[B, L, d_model]` (see `UMT5Attention.callAsFunction` for the other arguments).
    public func callAsFunction(_ x: Tensor, keyMask: Tensor, buckets: [Int]) -> Tensor {
        let attended = attention(
            Ops.rmsNorm(x, weight: attentionNorm, eps: epsilon), keyMask: keyMask, buckets: buckets)
        let hidden = Ops.add(x, attended)
        return Ops.add(hidden, feedForward(Ops.rmsNorm(hidden, weight: feedForwardNorm, eps: epsilon)))
    }
}
