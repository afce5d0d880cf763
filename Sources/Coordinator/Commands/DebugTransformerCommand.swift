// `coordinator debug transformer`: one forward pass of the Wan transformer on tensors from a safetensors file.
import Foundation
import Model
import Cluster

/// Runs diffusers WanTransformer3DModel's forward on `hidden_states`, `timestep`, `encoder_hidden_states` read from
/// a safetensors file and writes `sample`.
enum DebugTransformerCommand: Command {
    static let name = "transformer"
    static let summary = "WanTransformer3DModel forward: hidden_states, timestep, encoder_hidden_states -> sample"

    static let specs: [OptionSpec] = [
        .value("--model", "DIR", "a model folder, or its transformer/ subfolder"),
        .value(
            "--input", "IN.safetensors",
            "hidden_states F32 [B,C,F,H,W], timestep F32 [B] or [B,tokens], "
                + "encoder_hidden_states F32 [B,L,text_dim]"),
        .value("--output", "OUT.safetensors", "where to write sample F32 [B,out_channels,F,H,W]"),
        .value("--threads", "N", "compute threads (default: all cores)"),
    ]

    /// The tensors the input file must hold, and their ranks.
    static let inputRanks: [(name: String, ranks: [Int])] = [
        ("hidden_states", [5]), ("timestep", [1, 2]), ("encoder_hidden_states", [3]),
    ]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(
                usageText(
                    synopsis:
                        "coordinator debug transformer --model DIR --input IN.safetensors --output OUT.safetensors "
                        + "[--threads N]",
                    description: "Runs the Wan video transformer (diffusers WanTransformer3DModel, text-to-video) once "
                        + "and writes its output.", specs: specs))
            return 0
        }
        let options = try CommandLineOptions(arguments, specs: specs)
        let modelPath = try options.required("--model")
        let inputPath = try options.required("--input")
        let outputPath = try options.required("--output")
        if let threads = try options.int("--threads", in: 1...1024) { Compute.setThreadCount(threads) }

        let inputs = try readInputs(inputPath)
        let start = Date()
        let model = try WanTransformer.load(modelPath)
        let loaded = Date()
        let sample = try model(
            hiddenStates: inputs["hidden_states"]!, timestep: inputs["timestep"]!,
            encoderHiddenStates: inputs["encoder_hidden_states"]!)
        let finished = Date()
        try SafeTensorsWriter.write([(name: "sample", tensor: sample)], dtype: .float32, to: outputPath)
        printError(
            String(
                format: "debug transformer: sample %@ written to %@ (load %.2f s, forward %.2f s, %d threads)",
                "\(sample.shape)", outputPath, loaded.timeIntervalSince(start), finished.timeIntervalSince(loaded),
                Compute.threadCount))
        return 0
    }

    /// Reads and checks the input file: exactly the three tensors, float32, with the right ranks.
    static func readInputs(_ path: String) throws -> [String: Tensor] {
        let file = try SafeTensorsFile(path: path)
        let expected = Set(inputRanks.map(\.name))
        let unknown = file.names.filter { !expected.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw TransformerError.invalidInput(
                "\(path) has unexpected tensor(s) \(unknown); expected exactly "
                    + inputRanks.map(\.name).joined(separator: ", "))
        }
        var tensors: [String: Tensor] = [:]
        for (name, ranks) in inputRanks {
            guard file.names.contains(name) else {
                throw TransformerError.invalidInput("\(path) has no tensor \"\(name)\"")
            }
            let stored = try file.tensor(named: name)
            guard stored.dtype == .float32 else {
                throw TransformerError.invalidInput("\(path): \"\(name)\" is \(stored.dtype.rawValue), expected F32")
            }
            guard ranks.contains(stored.shape.count) else {
                throw TransformerError.invalidInput(
                    "\(path): \"\(name)\" has shape \(stored.shape), expected rank "
                        + ranks.map(String.init).joined(separator: " or "))
            }
            tensors[name] = stored.float32()
        }
        return tensors
    }
}
