// diffusers WanDecoder3d (Wan2.1 form, WanUpBlock): conv_in, middle block, up blocks, RMS norm, SiLU, conv_out.

/// The VAE decoder, run one chunk (one latent frame) at a time with a feature cache.
struct WanVAEDecoder: Sendable {
    /// One up block: residual blocks, then an optional 2x upsampler.
    struct UpBlock: Sendable {
        let resnets: [VAEResidualBlock]
        let upsampler: VAEResample?
    }

    let convIn: CausalConv3d
    let middle: VAEMidBlock
    let upBlocks: [UpBlock]
    let normOut: VAERMSNorm
    let convOut: CausalConv3d

    /// Builds the decoder under `prefix` ("decoder") for a validated `config`.
    init(_ weights: VAEParameterSource, _ prefix: String, config: WanVAEConfig) throws {
        let dim = config.decoderDim
        let mult = config.dimMult
        let dims = ([mult[mult.count - 1]] + mult.reversed()).map { dim * $0 }
        let temporalUpsample = Array(config.temperalDownsample.reversed())
        convIn = try CausalConv3d(
            weights, "\(prefix).conv_in", inChannels: config.zDim, outChannels: dims[0], kernel: [3, 3, 3],
            padding: [1, 1, 1])
        middle = try VAEMidBlock(weights, "\(prefix).mid_block", channels: dims[0])
        var blocks: [UpBlock] = []
        for level in 0..<mult.count {
            // Wan2.1: every level after the first receives the previous upsampler's halved channels.
            var inDim = level > 0 ? dims[level] / 2 : dims[level]
            let outDim = dims[level + 1]
            var resnets: [VAEResidualBlock] = []
            for index in 0..<(config.numResBlocks + 1) {
                resnets.append(
                    try VAEResidualBlock(
                        weights, "\(prefix).up_blocks.\(level).resnets.\(index)", inChannels: inDim,
                        outChannels: outDim))
                inDim = outDim
            }
            var upsampler: VAEResample?
            if level != mult.count - 1 {
                upsampler = try VAEResample(
                    weights, "\(prefix).up_blocks.\(level).upsamplers.0", dim: outDim,
                    mode: temporalUpsample[level] ? .upsample3d : .upsample2d)
            }
            blocks.append(UpBlock(resnets: resnets, upsampler: upsampler))
        }
        upBlocks = blocks
        normOut = try VAERMSNorm(weights, "\(prefix).norm_out", channels: dims[dims.count - 1], images: false)
        convOut = try CausalConv3d(
            weights, "\(prefix).conv_out", inChannels: dims[dims.count - 1], outChannels: config.outChannels,
            kernel: [3, 3, 3], padding: [1, 1, 1])
    }

    /// Decodes one chunk x [z, T, h, w] (after post_quant_conv) into frames [3, T', H, W] (not clamped).
    func callAsFunction(_ x: Tensor, cache: inout VAEFeatureCache) -> Tensor {
        cache.startChunk()
        var h = convIn(x, cache: &cache)
        h = middle(h, cache: &cache)
        for block in upBlocks {
            for resnet in block.resnets { h = resnet(h, cache: &cache) }
            if let upsampler = block.upsampler { h = upsampler(h, cache: &cache) }
        }
        return convOut(normOut(h, silu: true), cache: &cache)
    }
}
