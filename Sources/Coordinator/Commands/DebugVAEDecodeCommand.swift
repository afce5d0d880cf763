// `coordinator debug vae-decode`: AutoencoderKLWan.decode on a raw latent from a safetensors file.
import Foundation
import Model
import Cluster

/// Runs the Wan VAE decoder (diffusers `AutoencoderKLWan.decode(latents).sample`) on `latents` read from a file.
enum DebugVAEDecodeCommand: Command {
    static let name = "vae-decode"
    static let summary = "AutoencoderKLWan.decode: latents [B,z,F,h,w] -> sample [B,3,F',H,W]"

    static let specs: [OptionSpec] = [
        .value("--model", "DIR", "a model folder, or its vae/ subfolder"),
        .value("--input", "IN.safetensors", "latents [B,z_dim,F,h,w]: the raw VAE latent (after the pipeline's "
            + "latents_mean/latents_std un-normalisation)"),
        .value("--output", "OUT.safetensors", "where to write sample F32 [B,3,1+4(F-1),8h,8w] in [-1,1]"),
        .flag("--discard", "decode chunk by chunk and keep nothing, instead of --output (memory measurements)"),
        .value("--threads", "N", "compute threads (default: all cores)"),
    ]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(usageText(
                synopsis: "coordinator debug vae-decode --model DIR --input IN.safetensors "
                    + "(--output OUT.safetensors | --discard) [--threads N]",
                description: "Decodes a latent video with the Wan VAE, latent frame by latent frame with its feature "
                    + "cache, and writes exactly what diffusers' AutoencoderKLWan.decode returns.", specs: specs))
            return 0
        }
        let options = try CommandLineOptions(arguments, specs: specs)
        let modelPath = try options.required("--model")
        let inputPath = try options.required("--input")
        let discard = options.flag("--discard")
        let outputPath = options.string("--output")
        guard discard != (outputPath != nil) else {
            throw CommandLineError("give exactly one of '--output' and '--discard'")
        }
        if let threads = try options.int("--threads", in: 1...1024) { Compute.setThreadCount(threads) }

        let latents = try readVAEInput(inputPath, tensorName: "latents")
        let start = Date()
        let vae = try WanVAE(directory: vaeDirectory(modelPath), parts: .decoderOnly)
        let loaded = Date()
        var frames = 0
        var shape: [Int] = []
        if let outputPath {
            let sample = try vae.decode(latents)
            frames = sample.shape[2]
            shape = sample.shape
            try SafeTensorsWriter.write([(name: "sample", tensor: sample)], dtype: .float32, to: outputPath)
        } else {
            try vae.decode(latents) { chunk in
                frames += chunk.shape[2]
                shape = chunk.shape
            }
            shape[2] = frames
        }
        let finished = Date()
        let peak = ResourceUsage.peakResidentBytes.map { String(format: "%.1f MiB", Double($0) / 1_048_576) } ?? "n/a"
        printError(String(
            format: "debug vae-decode: sample %@ %@ (load %.2f s, decode %.2f s for %d latent frames, peak memory %@, "
                + "%d threads)",
            "\(shape)", outputPath.map { "written to \($0)" } ?? "discarded", loaded.timeIntervalSince(start),
            finished.timeIntervalSince(loaded), latents.shape[2], peak, Compute.threadCount))
        return 0
    }
}

/// The VAE folder of a model folder (`DIR/vae` when it has a config.json, else `DIR` itself).
func vaeDirectory(_ path: String) -> String {
    let nested = (path as NSString).appendingPathComponent("vae")
    return FileManager.default.fileExists(atPath: (nested as NSString).appendingPathComponent("config.json"))
        ? nested : path
}

/// Reads tensor `tensorName` (rank 5) from a safetensors file; other tensors in it (a fixture's expected output)
/// are ignored.
func readVAEInput(_ path: String, tensorName: String) throws -> Tensor {
    let file = try SafeTensorsFile(path: path)
    guard file.names.contains(tensorName) else {
        throw CommandLineError("\(path) holds \(file.names); expected a tensor \"\(tensorName)\"")
    }
    let stored = try file.tensor(named: tensorName)
    guard stored.shape.count == 5 else {
        throw CommandLineError("\(path): \"\(tensorName)\" has shape \(stored.shape), expected rank 5")
    }
    return stored.float32()
}
