// `coordinator init-model`: writes a diffusers-layout model folder with seeded random weights from a preset.
import Foundation
import Model
import Cluster

/// Writes a model folder (`model_index.json`, `transformer/`, `scheduler/`, ...) for a named preset.
enum InitModelCommand: Command {
    static let name = "init-model"
    static let summary = "write a model folder with seeded random weights (presets: tiny, bench, wan-1.3b)"

    static let specs: [OptionSpec] = [
        .value("--preset", "NAME", "model size: " + ModelPreset.all.map(\.name).joined(separator: ", ")),
        .value("--seed", "N", "seed of the random weights (default 0)"),
        .value("--out", "DIR", "the folder to write (must be empty or absent unless --force)"),
        .value("--dtype", "f32|bf16|f16", "stored weight dtype (default: f32 for tiny/bench, bf16 for wan-1.3b)"),
        .value("--threads", "N", "threads for drawing the weights (default: all cores)"),
        .flag("--force", "overwrite the components in a non-empty folder"),
    ]

    static func usage() -> String {
        let presets = ModelPreset.all.map { "  \($0.name): \($0.summary)" }.joined(separator: "\n")
        return usageText(
            synopsis: "coordinator init-model --preset NAME --out DIR [--seed N] [--dtype f32|bf16|f16] [--force]",
            description: "Writes a diffusers-layout model folder with seeded random weights (the same seed gives the "
                + "same bytes).\nPresets:\n" + presets,
            specs: specs)
    }

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(usage())
            return 0
        }
        let options = try CommandLineOptions(arguments, specs: specs)
        let preset = try ModelPreset.named(try options.required("--preset"))
        let output = try options.required("--out")
        let seed = try options.uint64("--seed") ?? 0
        var dtype: DType?
        if let text = options.string("--dtype") {
            dtype = try parseDType(text)
        }
        if let threads = try options.int("--threads", in: 1...1024) { Compute.setThreadCount(threads) }
        let folderOptions = ModelFolderOptions(preset: preset, seed: seed, dtype: dtype)
        let parameters = preset.transformer.parameterCount
        printError(
            "init-model: preset \(preset.name), \(parameters) transformer parameters, seed \(seed), "
                + "dtype \(folderOptions.dtype.rawValue) -> \(output)")
        let start = Date()
        try ModelFolderWriter.write(folderOptions, to: output, force: options.flag("--force")) { line in
            printError("init-model: " + line)
        }
        printError(String(format: "init-model: done in %.1f s", Date().timeIntervalSince(start)))
        return 0
    }

    /// The dtype named on the command line.
    static func parseDType(_ text: String) throws(CommandLineError) -> DType {
        switch text.lowercased() {
        case "f32", "float32": return .float32
        case "bf16", "bfloat16": return .bfloat16
        case "f16", "float16": return .float16
        default: throw CommandLineError("option '--dtype' expects f32, bf16 or f16, got '\(text)'")
        }
    }
}
