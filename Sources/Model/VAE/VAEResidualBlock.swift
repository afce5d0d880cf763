// diffusers WanResidualBlock: (RMS norm, SiLU, causal 3x3x3 conv) twice, plus a 1x1x1 shortcut when channels change.

/// The VAE's residual block; its two causal convolutions use the feature cache.
struct VAEResidualBlock: Sendable {
    let norm1: VAERMSNorm
    let conv1: CausalConv3d
    let norm2: VAERMSNorm
    let conv2: CausalConv3d
    /// The 1x1x1 projection of the input when `inChannels != outChannels`.
    let shortcut: CausalConv3d?

    init(_ weights: VAEParameterSource, _ prefix: String, inChannels: Int, outChannels: Int) throws {
        norm1 = try VAERMSNorm(weights, "\(prefix).norm1", channels: inChannels, images: false)
        conv1 = try CausalConv3d(
            weights, "\(prefix).conv1", inChannels: inChannels, outChannels: outChannels, kernel: [3, 3, 3],
            padding: [1, 1, 1])
        norm2 = try VAERMSNorm(weights, "\(prefix).norm2", channels: outChannels, images: false)
        conv2 = try CausalConv3d(
            weights, "\(prefix).conv2", inChannels: outChannels, outChannels: outChannels, kernel: [3, 3, 3],
            padding: [1, 1, 1])
        shortcut =
            inChannels == outChannels
            ? nil
            : try CausalConv3d(
                weights, "\(prefix).conv_shortcut", inChannels: inChannels, outChannels: outChannels,
                kernel: [1, 1, 1])
    }

    /// x [C_in, T, H, W] -> [C_out, T, H, W].
    func callAsFunction(_ x: Tensor, cache: inout VAEFeatureCache) -> Tensor {
        let identity = shortcut.map { $0(x) } ?? x
        var h = conv1(norm1(x, silu: true), cache: &cache)
        h = conv2(norm2(h, silu: true), cache: &cache)  // dropout is the identity at inference
        return VAEKernels.residualAdd(h, identity)
    }
}
