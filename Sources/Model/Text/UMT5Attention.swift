// transformers UMT5Attention (encoder self-attention): relative position bias in every layer, no 1/sqrt(d) scaling.
import Foundation

/// Self-attention of one umT5 encoder block, with the block's own relative position bias table.
public struct UMT5Attention: Sendable {
    /// Query projection, `[heads * d_kv, d_model]`, no bias.
    public let query: Linear
    /// Key projection, no bias.
    public let key: Linear
    /// Value projection, no bias.
    public let value: Linear
    /// Output projection, `[d_model, heads * d_kv]`, no bias.
    public let output: Linear
    /// The bias table `[num_buckets, heads]` (`relative_attention_bias.weight`).
    public let relativeAttentionBias: Tensor
    /// Number of heads.
    public let heads: Int

    /// Loads `<prefix>.{q,k,v,o}.weight` and `<prefix>.relative_attention_bias.weight`.
    public init(store: WeightStore, prefix: String, config: UMT5Config) throws {
        let inner = config.innerDimension
        query = try Linear(
            store: store, prefix: prefix + ".q", inFeatures: config.dModel, outFeatures: inner, bias: false)
        key = try Linear(
            store: store, prefix: prefix + ".k", inFeatures: config.dModel, outFeatures: inner, bias: false)
        value = try Linear(
            store: store, prefix: prefix + ".v", inFeatures: config.dModel, outFeatures: inner, bias: false)
        output = try Linear(
            store: store, prefix: prefix + ".o", inFeatures: inner, outFeatures: config.dModel, bias: false)
        relativeAttentionBias = try store.take(
            prefix + ".relative_attention_bias.weight",
            shape: [config.relativeAttentionNumBuckets, config.numHeads]
        ).float32()
        heads = config.numHeads
    }

    /// Attends `x` `[B, L, d_model]` to itself; `keyMask` `[B, L]` holds 1 for tokens and 0 for padding;
    /// `buckets` is the bucket of each relative offset (`UMT5Attention.offsetBuckets`).
    public func callAsFunction(_ x: Tensor, keyMask: Tensor, buckets: [Int]) -> Tensor {
        let length = x.shape[1]
        let bias = positionBias(length: length, offsetBuckets: buckets)
        let attended = Ops.attention(
            query: query(x), key: key(x), value: value(x), heads: heads, scale: 1, keyMask: keyMask, bias: bias)
        return output(attended)
    }

    /// The bias `[heads, L, L]` added to the scores: entry (h, i, j) is the table's row for offset `j - i`, column h.
    public func positionBias(length: Int, offsetBuckets: [Int]) -> Tensor {
        precondition(offsetBuckets.count == 2 * length - 1, "offset buckets must cover -(L-1)...(L-1)")
        let table = relativeAttentionBias
        return Tensor(shape: [heads, length, length]) { buffer in
            table.withUnsafeBufferPointer { rows in
                for head in 0..<heads {
                    for i in 0..<length {
                        let base = (head * length + i) * length
                        for j in 0..<length {
                            buffer[base + j] = rows[offsetBuckets[j - i + length - 1] * heads + head]
                        }
                    }
                }
            }
        }
    }

    // MARK: - Relative position buckets

    /// The bucket of each relative offset `memory - query` in `-(length-1)...(length-1)`, index `offset + length - 1`.
    public static func offsetBuckets(length: Int, numBuckets: Int, maxDistance: Int) -> [Int] {
        (-(length - 1)..<length).map { bucket(relativePosition: $0, numBuckets: numBuckets, maxDistance: maxDistance) }
    }

    /// The bidirectional bucket of a relative position (`memory - query`), as `_relative_position_bucket` computes it.
    ///
    /// Half of the buckets are for positive offsets. In each half, distances below a quarter of `numBuckets` get
    /// a bucket each; larger ones share logarithmically wider buckets up to `maxDistance`, and everything beyond
    /// falls in the last bucket. The logarithm is taken in float32 exactly as the reference does, so the
    /// truncation at bucket boundaries agrees.
    public static func bucket(relativePosition: Int, numBuckets: Int, maxDistance: Int) -> Int {
        let half = numBuckets / 2
        let base = relativePosition > 0 ? half : 0
        let distance = relativePosition.magnitude
        let maxExact = half / 2
        if distance < UInt(maxExact) { return base + Int(distance) }
        let ratio = Float(distance) / Float(maxExact)
        let logScale = Float(Foundation.log(Double(maxDistance) / Double(maxExact)))
        let scaled = (Foundation.log(ratio) / logScale) * Float(half - maxExact)
        let large = scaled >= Float(half) ? half - 1 : min(maxExact + Int(scaled), half - 1)
        return base + large
    }
}
