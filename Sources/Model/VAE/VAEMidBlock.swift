// diffusers WanMidBlock: residual block, spatial attention, residual block.

/// The middle of the VAE's encoder and decoder.
struct VAEMidBlock: Sendable {
    let first: VAEResidualBlock
    let attention: VAEAttentionBlock
    let second: VAEResidualBlock

    init(_ weights: VAEParameterSource, _ prefix: String, channels: Int) throws {
        first = try VAEResidualBlock(weights, "\(prefix).resnets.0", inChannels: channels, outChannels: channels)
        attention = try VAEAttentionBlock(weights, "\(prefix).attentions.0", channels: channels)
        second = try VAEResidualBlock(weights, "\(prefix).resnets.1", inChannels: channels, outChannels: channels)
    }

    func callAsFunction(_ x: Tensor, cache: inout VAEFeatureCache) -> Tensor {
        let h = first(x, cache: &cache)
        return second(attention(h), cache: &cache)
    }
}
