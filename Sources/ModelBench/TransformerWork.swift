// The matrix products of one WanTransformer3DModel forward pass, counted analytically (FLOPs = 2 x M x N x K).

import Model

/// One kind of matrix product in the forward pass: its shape and how many times it runs.
struct MatmulClass {
    /// What it is ("self-attention q/k/v/o projections").
    let label: String
    /// Rows of the output.
    let m: Int
    /// Columns of the output.
    let n: Int
    /// The shared dimension.
    let k: Int
    /// How many such products the forward pass does.
    let count: Int

    /// Floating-point operations of all of them.
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) * Double(count) }
}

/// The matrix products of the forward pass of `config` over `tokens` tokens and `textLength` text tokens (batch 1).
///
/// Attention is counted as its two products per head (scores Q K^T and the weighted sum P V); the softmax and the
/// elementwise work are not counted.
func transformerMatmuls(_ config: WanTransformerConfig, tokens: Int, textLength: Int) -> [MatmulClass] {
    let dim = config.innerDim
    let layers = config.numLayers
    let heads = config.numAttentionHeads
    let headDim = config.attentionHeadDim
    return [
        MatmulClass(label: "patch embedding", m: tokens, n: dim, k: config.patchInputSize, count: 1),
        MatmulClass(label: "text embedding 1", m: textLength, n: dim, k: config.textDim, count: 1),
        MatmulClass(label: "text embedding 2", m: textLength, n: dim, k: dim, count: 1),
        MatmulClass(label: "token projections (q,k,v,o self; q,o cross)", m: tokens, n: dim, k: dim, count: 6 * layers),
        MatmulClass(label: "text k,v projections", m: textLength, n: dim, k: dim, count: 2 * layers),
        MatmulClass(label: "ffn up", m: tokens, n: config.ffnDim, k: dim, count: layers),
        MatmulClass(label: "ffn down", m: tokens, n: dim, k: config.ffnDim, count: layers),
        MatmulClass(label: "self-attention scores", m: tokens, n: tokens, k: headDim, count: heads * layers),
        MatmulClass(label: "self-attention values", m: tokens, n: headDim, k: tokens, count: heads * layers),
        MatmulClass(label: "cross-attention scores", m: tokens, n: textLength, k: headDim, count: heads * layers),
        MatmulClass(label: "cross-attention values", m: tokens, n: headDim, k: textLength, count: heads * layers),
        MatmulClass(label: "output projection", m: tokens, n: config.patchOutputSize, k: dim, count: 1),
    ]
}
