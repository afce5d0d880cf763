// Seeded random text_encoder/ folders (config.json + safetensors) in transformers' UMT5EncoderModel layout.
import Foundation

/// One parameter of a umT5 encoder checkpoint: its key, shape and how a random checkpoint initialises it.
public struct UMT5Parameter: Sendable, Equatable {
    /// The checkpoint key (`encoder.block.0.layer.0.SelfAttention.q.weight`).
    public let name: String
    /// The shape.
    public let shape: [Int]
    /// Standard deviation of the normal values; `nil` means all ones (the RMS norm weights).
    public let standardDeviation: Float?
}

extension UMT5Config {
    /// Every parameter of the encoder checkpoint in `transformers`' key names, with the standard deviations of
    /// `UMT5PreTrainedModel._init_weights` (embedding 1, q `(d_model d_kv)^-1/2`, k/v/bias/wi `d_model^-1/2`,
    /// o `(heads d_kv)^-1/2`, wo `d_ff^-1/2`); the embedding is stored once, as `shared.weight`.
    public var parameters: [UMT5Parameter] {
        let model = Float(dModel)
        var result = [UMT5Parameter(name: "shared.weight", shape: [vocabSize, dModel], standardDeviation: 1)]
        for index in 0..<numLayers {
            let attention = "encoder.block.\(index).layer.0.SelfAttention."
            let feedForward = "encoder.block.\(index).layer.1.DenseReluDense."
            result += [
                UMT5Parameter(
                    name: attention + "q.weight", shape: [innerDimension, dModel],
                    standardDeviation: 1 / (model * Float(dKV)).squareRoot()),
                UMT5Parameter(
                    name: attention + "k.weight", shape: [innerDimension, dModel],
                    standardDeviation: 1 / model.squareRoot()),
                UMT5Parameter(
                    name: attention + "v.weight", shape: [innerDimension, dModel],
                    standardDeviation: 1 / model.squareRoot()),
                UMT5Parameter(
                    name: attention + "o.weight", shape: [dModel, innerDimension],
                    standardDeviation: 1 / Float(innerDimension).squareRoot()),
                UMT5Parameter(
                    name: attention + "relative_attention_bias.weight",
                    shape: [relativeAttentionNumBuckets, numHeads], standardDeviation: 1 / model.squareRoot()),
                UMT5Parameter(
                    name: "encoder.block.\(index).layer.0.layer_norm.weight", shape: [dModel],
                    standardDeviation: nil),
                UMT5Parameter(
                    name: feedForward + "wi_0.weight", shape: [dFF, dModel],
                    standardDeviation: 1 / model.squareRoot()),
                UMT5Parameter(
                    name: feedForward + "wi_1.weight", shape: [dFF, dModel],
                    standardDeviation: 1 / model.squareRoot()),
                UMT5Parameter(
                    name: feedForward + "wo.weight", shape: [dModel, dFF],
                    standardDeviation: 1 / Float(dFF).squareRoot()),
                UMT5Parameter(
                    name: "encoder.block.\(index).layer.1.layer_norm.weight", shape: [dModel],
                    standardDeviation: nil),
            ]
        }
        result.append(UMT5Parameter(name: "encoder.final_layer_norm.weight", shape: [dModel], standardDeviation: nil))
        return result
    }

    /// `config.json` as `transformers` can load it (keys sorted, indented).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}

extension UMT5Encoder {
    /// The value of `parameter` under `seed`: normal values from stream `KeyedRandom.stream(named: name)` (the same
    /// numbers as `Tensor.randomNormal`), or ones.
    public static func randomParameter(_ parameter: UMT5Parameter, seed: UInt64) -> Tensor {
        guard let standardDeviation = parameter.standardDeviation else {
            return Tensor(repeating: 1, shape: parameter.shape)
        }
        return TransformerComponentWriter.parallelRandomNormal(
            shape: parameter.shape, seed: seed, stream: KeyedRandom.stream(named: parameter.name),
            standardDeviation: standardDeviation)
    }

    /// Writes a seeded random `text_encoder/` folder: `config.json` and `model.safetensors`, or shards
    /// `model-0000i-of-0000n.safetensors` plus `model.safetensors.index.json` when the weights exceed
    /// `maxShardBytes`. Only one shard's tensors are in memory at a time.
    public static func writeRandom(
        config: UMT5Config, seed: UInt64, to directory: String, dtype: DType = .float32,
        maxShardBytes: Int = 2 << 30, progress: (String) -> Void = { _ in }
    ) throws {
        try config.validate()
        try config.jsonData().write(
            to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("config.json")), options: .atomic)
        var shards: [[UMT5Parameter]] = [[]]
        var shardBytes = 0
        for parameter in config.parameters {
            let bytes = Tensor.elementCount(of: parameter.shape) * dtype.byteSize
            if shardBytes + bytes > maxShardBytes && !shards[shards.count - 1].isEmpty {
                shards.append([])
                shardBytes = 0
            }
            shards[shards.count - 1].append(parameter)
            shardBytes += bytes
        }
        var weightMap: [(String, String)] = []
        var totalBytes = 0
        for (index, shard) in shards.enumerated() {
            let fileName =
                shards.count == 1
                ? "model.safetensors" : String(format: "model-%05d-of-%05d.safetensors", index + 1, shards.count)
            let tensors = shard.map { (name: $0.name, tensor: randomParameter($0, seed: seed)) }
            try SafeTensorsWriter.write(
                tensors, dtype: dtype, metadata: ["format": "pt"],
                to: (directory as NSString).appendingPathComponent(fileName))
            weightMap += shard.map { ($0.name, fileName) }
            totalBytes += shard.reduce(0) { $0 + Tensor.elementCount(of: $1.shape) * dtype.byteSize }
            progress("  \(fileName): \(shard.count) tensors")
        }
        guard shards.count > 1 else { return }
        let entries = weightMap.sorted { $0.0 < $1.0 }.map {
            "    \(JSONValue.quoted($0.0)): \(JSONValue.quoted($0.1))"
        }
        let index =
            "{\n  \"metadata\": {\n    \"total_size\": \(totalBytes)\n  },\n  \"weight_map\": {\n"
            + entries.joined(separator: ",\n") + "\n  }\n}\n"
        try Data(index.utf8).write(
            to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("model.safetensors.index.json")),
            options: .atomic)
    }
}

/// Writes the `text_encoder/` of a model preset (see `ModelFolderWriter`).
///
/// The `tiny` preset gets `UMT5Config.tiny` with `d_model` equal to the transformer's `text_dim`; `bench` gets two
/// layers of the umT5-xxl shape (the 256384 x 4096 embedding is still 1 billion parameters); every other preset
/// the whole umT5-xxl shape Wan2.1 uses (5.7 billion parameters), always with `d_model` = `text_dim`.
public struct UMT5ComponentWriter: ModelComponentWriter {
    /// Creates the writer.
    public init() {}
    /// The subfolder.
    public var component: String { "text_encoder" }
    /// The model_index entry.
    public var modelIndexEntry: (library: String, className: String) { ("transformers", "UMT5EncoderModel") }

    /// The text encoder configuration of `preset`.
    public static func config(for preset: ModelPreset) -> UMT5Config {
        var config = preset.name == "tiny" ? UMT5Config.tiny() : UMT5Config.umt5XXL
        if preset.name == "bench" {
            // One slice of the real encoder's shape, with a vocabulary the size of the generated tokenizer's:
            // the real 256,384-row embedding alone would be a billion random parameters.
            config.numLayers = 2
            config.vocabSize = 256
        }
        config.dModel = preset.transformer.textDim
        return config
    }

    /// Writes the config and the weights.
    public func write(_ options: ModelFolderOptions, to directory: String, progress: (String) -> Void) throws {
        let config = UMT5ComponentWriter.config(for: options.preset)
        try UMT5Encoder.writeRandom(
            config: config, seed: options.seed, to: directory, dtype: options.dtype,
            maxShardBytes: options.maxShardBytes, progress: progress)
    }
}
