// diffusers WanTimeTextImageEmbedding (text-to-video part): Timesteps(flip_sin_to_cos=True, shift 0) ->
// TimestepEmbedding (linear, SiLU, linear) -> SiLU -> time_proj to 6 x dim, and PixArtAlphaTextProjection
// (linear, tanh-GELU, linear) for the text.
import Foundation

/// Embeds diffusion timesteps into the blocks' modulation and projects text encoder states to the model width.
public struct WanConditionEmbedder: Sendable {
    /// Width of the sinusoidal timestep embedding.
    public let freqDim: Int
    /// Model width.
    public let dim: Int
    var timeLinear1: Linear
    var timeLinear2: Linear
    var timeProjection: Linear
    var textLinear1: Linear
    var textLinear2: Linear

    /// Takes the `condition_embedder.*` weights from `store`.
    public init(store: WeightStore, config: WanTransformerConfig, prefix: String = "condition_embedder.") throws {
        let dim = config.innerDim
        freqDim = config.freqDim
        self.dim = dim
        timeLinear1 = try Linear(
            store: store, prefix: prefix + "time_embedder.linear_1", inFeatures: config.freqDim, outFeatures: dim)
        timeLinear2 = try Linear(
            store: store, prefix: prefix + "time_embedder.linear_2", inFeatures: dim, outFeatures: dim)
        timeProjection = try Linear(store: store, prefix: prefix + "time_proj", inFeatures: dim, outFeatures: 6 * dim)
        textLinear1 = try Linear(
            store: store, prefix: prefix + "text_embedder.linear_1", inFeatures: config.textDim, outFeatures: dim)
        textLinear2 = try Linear(
            store: store, prefix: prefix + "text_embedder.linear_2", inFeatures: dim, outFeatures: dim)
    }

    /// diffusers `get_timestep_embedding(t, channels, flip_sin_to_cos=True, downscale_freq_shift=0)`:
    /// `[cos(t * f_i), sin(t * f_i)]` with `f_i = exp(-ln(10000) * i / half)`, computed in float32 as PyTorch does.
    public static func timestepSinusoid(_ timesteps: [Float], channels: Int) -> Tensor {
        let half = channels / 2
        var frequencies = [Float](repeating: 0, count: half)
        let logPeriod = Float(-Foundation.log(10000.0))
        for i in 0..<half {
            let exponent = (logPeriod * Float(i)) / Float(half)
            frequencies[i] = Foundation.exp(exponent)
        }
        var values = [Float](repeating: 0, count: timesteps.count * channels)  // odd channel counts: zero padding
        for (row, timestep) in timesteps.enumerated() {
            for i in 0..<half {
                let angle = timestep * frequencies[i]
                values[row * channels + i] = Foundation.cos(angle)
                values[row * channels + half + i] = Foundation.sin(angle)
            }
        }
        return Tensor(shape: [timesteps.count, channels], scalars: values)
    }

    /// The time embedding `temb` (`[n, dim]`) and the blocks' modulation projection (`[n, 6 * dim]`) for `n`
    /// timesteps.
    public func embedTimesteps(_ timesteps: [Float]) -> (embedding: Tensor, projection: Tensor) {
        let sinusoid = WanConditionEmbedder.timestepSinusoid(timesteps, channels: freqDim)
        let embedding = timeLinear2(Ops.silu(timeLinear1(sinusoid)))
        let projection = timeProjection(Ops.silu(embedding))
        return (embedding, projection)
    }

    /// Projects text encoder states `[B, L, text_dim]` to `[B, L, dim]`.
    public func embedText(_ encoderHiddenStates: Tensor) -> Tensor {
        textLinear2(Ops.geluTanh(textLinear1(encoderHiddenStates)))
    }
}
