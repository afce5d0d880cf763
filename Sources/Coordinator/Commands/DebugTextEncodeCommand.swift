// `coordinator debug text-encode`: transformers UMT5EncoderModel on token ids from a safetensors file.
import Foundation
import Model
import Cluster

/// Runs the umT5 text encoder (`UMT5EncoderModel(input_ids, attention_mask).last_hidden_state`) on ids from a file.
///
/// Our safetensors reader has no integer dtypes, so `input_ids` and `attention_mask` are read as floating-point
/// tensors (F32, F16 or BF16) holding integers: every value must be integral and within range (ids in
/// `0..<vocab_size`, exactly representable; mask values 0 or 1), or the command names the tensor, the position and
/// the value. `numpy`/`torch` users write them with `ids.to(torch.float32)`.
enum DebugTextEncodeCommand: Command {
    static let name = "text-encode"
    static let summary = "UMT5EncoderModel: input_ids, attention_mask [B,L] -> last_hidden_state [B,L,d_model]"

    static let specs: [OptionSpec] = [
        .value("--model", "DIR", "a model folder, or its text_encoder/ subfolder"),
        .value(
            "--input", "IN.safetensors", "input_ids and attention_mask [B,L], F32 holding integers (no I64 support)"),
        .value("--output", "OUT.safetensors", "where to write last_hidden_state F32 [B,L,d_model]"),
        .flag("--wan", "also write prompt_embeds: Wan's embeddings, zero beyond each prompt's length"),
        .value("--threads", "N", "compute threads (default: all cores)"),
    ]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(
                usageText(
                    synopsis:
                        "coordinator debug text-encode --model DIR --input IN.safetensors --output OUT.safetensors "
                        + "[--wan] [--threads N]",
                    description: "Encodes token ids with the umT5 text encoder and writes exactly what transformers' "
                        + "UMT5EncoderModel returns as last_hidden_state (padded positions included). Ids and mask are "
                        + "read as float tensors holding integers, since the safetensors reader has no I64.",
                    specs: specs))
            return 0
        }
        let options = try CommandLineOptions(arguments, specs: specs)
        let modelPath = try options.required("--model")
        let inputPath = try options.required("--input")
        let outputPath = try options.required("--output")
        if let threads = try options.int("--threads", in: 1...1024) { Compute.setThreadCount(threads) }

        let start = Date()
        let encoder = try UMT5Encoder(directory: textEncoderDirectory(modelPath))
        let loaded = Date()
        let input = try SafeTensorsFile(path: inputPath)
        let ids = try integerRows(input, "input_ids", inputPath, allowed: 0...(encoder.config.vocabSize - 1))
        let mask = try integerRows(input, "attention_mask", inputPath, allowed: 0...1)
        guard mask.count == ids.count, mask.first?.count == ids.first?.count else {
            throw CommandLineError("\(inputPath): attention_mask must have the shape of input_ids")
        }
        let hidden = try encoder(inputIDs: ids, attentionMask: mask)
        var outputs = [(name: "last_hidden_state", tensor: hidden)]
        if options.flag("--wan") {
            let lengths = mask.map { $0.reduce(0, +) }
            let embeds = try UMT5Encoder.keepingPromptLengths(
                hidden, lengths: lengths, maxSequenceLength: hidden.shape[1])
            outputs.append((name: "prompt_embeds", tensor: embeds))
        }
        try SafeTensorsWriter.write(outputs, dtype: .float32, to: outputPath)
        let finished = Date()
        printError(
            String(
                format:
                    "debug text-encode: last_hidden_state %@ written to %@ (load %.2f s, encode %.2f s, %d threads)",
                "\(hidden.shape)", outputPath, loaded.timeIntervalSince(start), finished.timeIntervalSince(loaded),
                Compute.threadCount))
        return 0
    }

    /// The text encoder folder of a model folder (`DIR/text_encoder` when it has a config.json, else `DIR`).
    static func textEncoderDirectory(_ path: String) -> String {
        let nested = (path as NSString).appendingPathComponent("text_encoder")
        return FileManager.default.fileExists(atPath: (nested as NSString).appendingPathComponent("config.json"))
            ? nested : path
    }

    /// Tensor `name` of `file` as rows of integers: rank 2, non-empty, every value integral and in `allowed`.
    static func integerRows(
        _ file: SafeTensorsFile, _ name: String, _ path: String, allowed: ClosedRange<Int>
    ) throws -> [[Int]] {
        guard file.names.contains(name) else {
            throw CommandLineError("\(path) holds \(file.names); expected a tensor \"\(name)\"")
        }
        let stored = try file.tensor(named: name)
        guard stored.shape.count == 2, stored.shape[0] >= 1, stored.shape[1] >= 1 else {
            throw CommandLineError("\(path): \"\(name)\" has shape \(stored.shape), expected [B >= 1, L >= 1]")
        }
        // Integers above 2^24 are not all representable in float32; refuse rather than read a neighbour's id.
        guard allowed.upperBound <= 1 << 24 else {
            throw CommandLineError("\(name): values up to \(allowed.upperBound) cannot be held exactly in float32")
        }
        let values = stored.float32()
        let width = stored.shape[1]
        var rows: [[Int]] = []
        rows.reserveCapacity(stored.shape[0])
        for row in 0..<stored.shape[0] {
            var integers: [Int] = []
            integers.reserveCapacity(width)
            for column in 0..<width {
                let value = values.scalars[row * width + column]
                guard value.isFinite, value.rounded() == value, let integer = Int(exactly: value),
                    allowed.contains(integer)
                else {
                    throw CommandLineError(
                        "\(path): \"\(name)\"[\(row), \(column)] = \(value) is not an integer in "
                            + "\(allowed.lowerBound)...\(allowed.upperBound)")
                }
                integers.append(integer)
            }
            rows.append(integers)
        }
        return rows
    }
}
