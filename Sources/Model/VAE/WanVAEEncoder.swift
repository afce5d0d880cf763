// diffusers WanEncoder3d (Wan2.1 form): conv_in, residual blocks and downsamplers, middle block, norm, SiLU, conv_out.

/// The VAE encoder, run one chunk of frames (1, then 4 at a time) with a feature cache.
struct WanVAEEncoder: Sendable {
    /// One entry of `down_blocks` (a flat list in the checkpoint).
    enum Layer: Sendable {
        case residual(VAEResidualBlock)
        case resample(VAEResample)
    }

    let convIn: CausalConv3d
    let layers: [Layer]
    let middle: VAEMidBlock
    let normOut: VAERMSNorm
    let convOut: CausalConv3d

    /// Builds the encoder under `prefix` ("encoder") for a validated `config`; it outputs 2 * z_dim channels.
    init(_ weights: VAEParameterSource, _ prefix: String, config: WanVAEConfig) throws {
        let dims = ([1] + config.dimMult).map { config.baseDim * $0 }
        convIn = try CausalConv3d(
            weights, "\(prefix).conv_in", inChannels: config.inChannels, outChannels: dims[0], kernel: [3, 3, 3],
            padding: [1, 1, 1])
        var list: [Layer] = []
        for level in 0..<config.dimMult.count {
            var inDim = dims[level]
            let outDim = dims[level + 1]
            for _ in 0..<config.numResBlocks {
                list.append(
                    .residual(
                        try VAEResidualBlock(
                            weights, "\(prefix).down_blocks.\(list.count)", inChannels: inDim, outChannels: outDim)))
                inDim = outDim
            }
            if level != config.dimMult.count - 1 {
                list.append(
                    .resample(
                        try VAEResample(
                            weights, "\(prefix).down_blocks.\(list.count)", dim: outDim,
                            mode: config.temperalDownsample[level] ? .downsample3d : .downsample2d)))
            }
        }
        layers = list
        let last = dims[dims.count - 1]
        middle = try VAEMidBlock(weights, "\(prefix).mid_block", channels: last)
        normOut = try VAERMSNorm(weights, "\(prefix).norm_out", channels: last, images: false)
        convOut = try CausalConv3d(
            weights, "\(prefix).conv_out", inChannels: last, outChannels: 2 * config.zDim, kernel: [3, 3, 3],
            padding: [1, 1, 1])
    }

    /// Encodes one chunk of frames x [3, T, H, W] into [2z, T', h, w].
    func callAsFunction(_ x: Tensor, cache: inout VAEFeatureCache) -> Tensor {
        cache.startChunk()
        var h = convIn(x, cache: &cache)
        for layer in layers {
            switch layer {
            case .residual(let block): h = block(h, cache: &cache)
            case .resample(let resample): h = resample(h, cache: &cache)
            }
        }
        h = middle(h, cache: &cache)
        return convOut(normOut(h, silu: true), cache: &cache)
    }
}
