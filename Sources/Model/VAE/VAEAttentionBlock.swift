// diffusers WanAttentionBlock: single-head self-attention over each frame's pixels, with a residual connection.

/// Spatial self-attention of the VAE's middle block; each frame attends within itself only.
struct VAEAttentionBlock: Sendable {
    let channels: Int
    let norm: VAERMSNorm
    /// The 1x1 Conv2d making queries, keys and values ([3C, C, 1, 1]).
    let toQKV: VAEConvolution
    /// The 1x1 Conv2d output projection ([C, C, 1, 1]).
    let projection: VAEConvolution

    init(_ weights: VAEParameterSource, _ prefix: String, channels: Int) throws {
        self.channels = channels
        norm = try VAERMSNorm(weights, "\(prefix).norm", channels: channels, images: true)
        toQKV = VAEConvolution(
            weight: try weights.tensor("\(prefix).to_qkv.weight", shape: [3 * channels, channels, 1, 1]),
            bias: try weights.tensor("\(prefix).to_qkv.bias", shape: [3 * channels]))
        projection = VAEConvolution(
            weight: try weights.tensor("\(prefix).proj.weight", shape: [channels, channels, 1, 1]),
            bias: try weights.tensor("\(prefix).proj.bias", shape: [channels]))
    }

    /// x [C, T, H, W] -> x + proj(attention(norm(x))) per frame.
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (time, pixels) = (x.shape[1], x.shape[2] * x.shape[3])
        let qkv = toQKV(norm(x))  // [3C, T, H, W]
        // Scores and values: 2 x 2 x T x HW x HW x C operations.
        let work = 4 * Double(time) * Double(pixels) * Double(pixels) * Double(channels)
        let channelFirst = OpProfile.measure("mid-block attention (permutes, scores, softmax, values)", flops: work) {
            let tokens = Ops.permute(qkv.reshaped([3 * channels, time, pixels]), [1, 2, 0])  // [T, HW, 3C]
            let attended = Ops.attention(
                query: Ops.slice(tokens, axis: 2, range: 0..<channels),
                key: Ops.slice(tokens, axis: 2, range: channels..<(2 * channels)),
                value: Ops.slice(tokens, axis: 2, range: (2 * channels)..<(3 * channels)), heads: 1)
            return Ops.permute(attended, [2, 0, 1]).reshaped(x.shape)  // [C, T, H, W]
        }
        return VAEKernels.residualAdd(projection(channelFirst), x)
    }
}
