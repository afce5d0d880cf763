// Planning figures of WanTransformerBlock (diffusers): stored bytes, activation, workspace and text bytes, and the
// FLOPs of one block on one micro-batch. The cluster planner and `generate`'s memory check both read these.

/// How much memory and compute one transformer block needs, per micro-batch of a given size.
///
/// Every family in scope (Wan2.1, Wan2.2 TI2V-5B, each A14B expert) is built of WanTransformerBlocks, so one set of
/// formulas over the block's sizes covers them; see docs/CLUSTER.md for where each term comes from.
public struct TransformerFigures: Sendable, Equatable {
    /// Blocks in the model.
    public let blockCount: Int
    /// Bytes of one block's weights as stored (0 where nobody needs it, e.g. a single-process memory check).
    public let bytesPerBlock: Int
    /// The activations' width (`dim`).
    public let hiddenSize: Int
    /// The feed-forward hidden width.
    public let feedForwardSize: Int
    /// One attention head's width.
    public let headSize: Int

    /// The figures of a Wan transformer with `config`, whose blocks weigh `bytesPerBlock` each as stored.
    public init(config: WanTransformerConfig, bytesPerBlock: Int) {
        blockCount = config.numLayers
        self.bytesPerBlock = bytesPerBlock
        hiddenSize = config.innerDim
        feedForwardSize = config.ffnDim
        headSize = config.attentionHeadDim
    }

    /// Bytes of 32-bit floats.
    static let floatBytes = 4

    /// A micro-batch's hidden states, plus the wire copy they travel in.
    public func activationBytes(tokens: Int) -> Int {
        2 * tokens * hiddenSize * Self.floatBytes
    }

    /// Scratch of one block on a micro-batch: norm, q, k, v, attention output, projection and residual copies, the
    /// FFN hidden layer, cross-attention keys and values over the text, the rotary tables.
    public func workspaceBytes(tokens: Int, textLength: Int) -> Int {
        Self.floatBytes
            * (tokens * (8 * hiddenSize + feedForwardSize) + 2 * textLength * hiddenSize + tokens * headSize)
    }

    /// One guidance branch's projected text, which every stage keeps for the job.
    public func textBytes(textLength: Int) -> Int {
        textLength * hiddenSize * Self.floatBytes
    }

    /// Bytes one block keeps per prompt in the transformer's prompt cache: the cross-attention keys and values over
    /// the text (`WanTransformer.promptCacheBytes`), resident for as long as the transformer lives.
    public func promptCacheBytesPerBlock(textLength: Int) -> Int {
        2 * textLength * hiddenSize * Self.floatBytes
    }

    /// Floating-point operations of one block on `tokens` tokens with `textLength` text tokens: the matrix products
    /// of self-attention (q, k, v, out projections; scores and values), cross-attention and the feed-forward.
    public func flopsPerBlock(tokens: Int, textLength: Int) -> Double {
        let t = Double(tokens), d = Double(hiddenSize), f = Double(feedForwardSize), l = Double(textLength)
        let selfAttention = 4 * 2 * t * d * d + 2 * 2 * t * t * d
        let crossAttention = 2 * 2 * t * d * d + 2 * 2 * l * d * d + 2 * 2 * t * l * d
        let feedForward = 2 * 2 * t * d * f
        return selfAttention + crossAttention + feedForward
    }
}
