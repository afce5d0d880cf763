// vae/: config.json and seeded random weights of diffusers AutoencoderKLWan for a model preset.
import Foundation

/// Writes the VAE of a preset: `config.json` and `diffusion_pytorch_model.safetensors` (one file; the Wan2.1 VAE
/// is 0.5 GB in float32).
///
/// The `tiny` preset gets `WanVAEConfig.tiny` (base_dim 8, Wan2.1's 4x/8x compression), every other preset the
/// real Wan2.1 VAE shape; z_dim is always the transformer's `in_channels`. Weights: see `RandomVAEParameters`.
public struct VAEComponentWriter: ModelComponentWriter {
    /// Creates the writer.
    public init() {}
    /// The subfolder.
    public var component: String { "vae" }
    /// The model_index entry.
    public var modelIndexEntry: (library: String, className: String) { ("diffusers", "AutoencoderKLWan") }

    /// The VAE configuration of `preset`.
    public static func config(for preset: ModelPreset) -> WanVAEConfig {
        let zDim = preset.transformer.inChannels
        if preset.name == "tiny" { return WanVAEConfig.tiny(zDim: zDim) }
        var config = WanVAEConfig.wan21
        if zDim != config.zDim {
            config.zDim = zDim
            config.latentsMean = Array(repeating: 0, count: zDim)
            config.latentsStd = Array(repeating: 1, count: zDim)
        }
        return config
    }

    /// Writes the config and the weights.
    public func write(_ options: ModelFolderOptions, to directory: String, progress: (String) -> Void) throws {
        let config = VAEComponentWriter.config(for: options.preset)
        try WanVAE.writeRandom(config: config, seed: options.seed, to: directory, dtype: options.dtype)
        progress(
            "  diffusion_pytorch_model.safetensors: AutoencoderKLWan base_dim \(config.baseDim), z_dim \(config.zDim)")
    }
}
