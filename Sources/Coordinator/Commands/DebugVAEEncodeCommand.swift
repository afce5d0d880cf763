// `coordinator debug vae-encode`: AutoencoderKLWan.encode(...).latent_dist.mean on a video from a safetensors file.
import Foundation
import Model
import Cluster

/// Runs the Wan VAE encoder on `sample` [B, 3, F, H, W] read from a file and writes the posterior mean.
enum DebugVAEEncodeCommand: Command {
    static let name = "vae-encode"
    static let summary = "AutoencoderKLWan.encode: sample [B,3,F,H,W] -> latent_mean [B,z,F',h,w]"

    static let specs: [OptionSpec] = [
        .value("--model", "DIR", "a model folder, or its vae/ subfolder"),
        .value("--input", "IN.safetensors", "sample [B,3,F,H,W] in [-1,1]; H and W multiples of 8"),
        .value("--output", "OUT.safetensors", "where to write latent_mean F32 [B,z_dim,1+(F-1)/4,H/8,W/8]"),
        .value("--threads", "N", "compute threads (default: all cores)"),
    ]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(usageText(
                synopsis: "coordinator debug vae-encode --model DIR --input IN.safetensors --output OUT.safetensors "
                    + "[--threads N]",
                description: "Encodes a video with the Wan VAE (frames in chunks of 1, 4, 4, ...) and writes the "
                    + "raw posterior mean, as diffusers' AutoencoderKLWan.encode(x).latent_dist.mean.", specs: specs))
            return 0
        }
        let options = try CommandLineOptions(arguments, specs: specs)
        let modelPath = try options.required("--model")
        let inputPath = try options.required("--input")
        let outputPath = try options.required("--output")
        if let threads = try options.int("--threads", in: 1...1024) { Compute.setThreadCount(threads) }

        let sample = try readVAEInput(inputPath, tensorName: "sample")
        let start = Date()
        let vae = try WanVAE(directory: vaeDirectory(modelPath))
        let loaded = Date()
        let mean = try vae.encode(sample)
        let finished = Date()
        try SafeTensorsWriter.write([(name: "latent_mean", tensor: mean)], dtype: .float32, to: outputPath)
        printError(String(
            format: "debug vae-encode: latent_mean %@ written to %@ (load %.2f s, encode %.2f s, %d threads)",
            "\(mean.shape)", outputPath, loaded.timeIntervalSince(start), finished.timeIntervalSince(loaded),
            Compute.threadCount))
        return 0
    }
}
