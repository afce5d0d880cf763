// Writes a complete, seeded random Wan VAE folder (config.json + diffusion_pytorch_model.safetensors).
import Foundation

extension WanVAE {
    /// Makes a VAE with seeded random weights for `config` (see `RandomVAEParameters` for the distributions;
    /// every weight is drawn from the `KeyedRandom` stream named after its checkpoint key).
    public static func random(
        config: WanVAEConfig, seed: UInt64
    ) throws -> (vae: WanVAE, weights: [(name: String, tensor: Tensor)]) {
        let parameters = RandomVAEParameters(seed: seed)
        let vae = try WanVAE(config: config, parameters: parameters)
        return (vae, parameters.made)
    }

    /// Writes `config.json` and `diffusion_pytorch_model.safetensors` (in `dtype`) for a seeded random VAE into
    /// `directory` (created if needed), in the diffusers layout `WanVAE(directory:)` and AutoencoderKLWan load.
    public static func writeRandom(
        config: WanVAEConfig, seed: UInt64, to directory: String, dtype: DType = .float32
    ) throws {
        let (_, weights) = try random(config: config, seed: seed)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configURL = URL(fileURLWithPath: directory).appendingPathComponent("config.json")
        try config.jsonData().write(to: configURL, options: .atomic)
        try SafeTensorsWriter.write(
            weights, dtype: dtype, metadata: ["format": "pt"],
            to: (directory as NSString).appendingPathComponent("diffusion_pytorch_model.safetensors"))
    }
}
