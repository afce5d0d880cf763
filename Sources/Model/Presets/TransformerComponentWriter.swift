// transformer/: config.json and seeded random weights of diffusers WanTransformer3DModel, sharded when large.
import Foundation

/// Writes the transformer of a preset: `config.json` and `diffusion_pytorch_model.safetensors` (or shards plus
/// `diffusion_pytorch_model.safetensors.index.json` when larger than `maxShardBytes`).
///
/// Weight `key` is `Tensor.randomNormal` values (stream `KeyedRandom.stream(named: key)`, the preset's seed) times
/// the standard deviation of PyTorch's default initialisation; norm weights are ones and norm biases zeros.
public struct TransformerComponentWriter: ModelComponentWriter {
    /// Creates the writer.
    public init() {}
    /// The subfolder.
    public var component: String { "transformer" }
    /// The model_index entry.
    public var modelIndexEntry: (library: String, className: String) { ("diffusers", "WanTransformer3DModel") }

    /// The value of a parameter under `seed`.
    public static func parameter(_ spec: ParameterSpec, seed: UInt64) -> Tensor {
        switch spec.initialization {
        case .ones: return Tensor(repeating: 1, shape: spec.shape)
        case .zeros: return Tensor(zeros: spec.shape)
        case .fanIn, .scaledNormal:
            return parallelRandomNormal(
                shape: spec.shape, seed: seed, stream: KeyedRandom.stream(named: spec.name),
                standardDeviation: spec.initialization.standardDeviation)
        }
    }

    /// The same values as `Tensor.randomNormal`, drawn on all threads.
    static func parallelRandomNormal(shape: [Int], seed: UInt64, stream: UInt64, standardDeviation: Float) -> Tensor {
        let count = Tensor.elementCount(of: shape)
        let chunk = 1 << 16
        return Tensor(shape: shape) { buffer in
            let base = buffer.baseAddress!
            Compute.parallelFor((count + chunk - 1) / chunk) { part in
                for index in (part * chunk)..<min(count, (part + 1) * chunk) {
                    base[index] =
                        standardDeviation * KeyedRandom.normal(seed: seed, stream: stream, index: UInt64(index))
                }
            }
        }
    }

    /// Writes the config and the weights.
    public func write(_ options: ModelFolderOptions, to directory: String, progress: (String) -> Void) throws {
        let config = options.preset.transformer
        try config.validate()
        try config.jsonData().write(to: URL(fileURLWithPath: directory + "/config.json"), options: .atomic)
        let specs = config.allParameters
        // Group parameters into shards of at most maxShardBytes (a parameter never straddles shards).
        var shards: [[ParameterSpec]] = [[]]
        var shardBytes = 0
        for spec in specs {
            let bytes = spec.count * options.dtype.byteSize
            if shardBytes + bytes > options.maxShardBytes && !shards[shards.count - 1].isEmpty {
                shards.append([])
                shardBytes = 0
            }
            shards[shards.count - 1].append(spec)
            shardBytes += bytes
        }
        let stem = "diffusion_pytorch_model"
        let totalBytes = specs.reduce(0) { $0 + $1.count * options.dtype.byteSize }
        var weightMap: [(String, String)] = []
        var writtenBytes = 0
        for (index, shard) in shards.enumerated() {
            let fileName =
                shards.count == 1
                ? "\(stem).safetensors"
                : String(format: "\(stem)-%05d-of-%05d.safetensors", index + 1, shards.count)
            let tensors = shard.map {
                (name: $0.name, tensor: TransformerComponentWriter.parameter($0, seed: options.seed))
            }
            try SafeTensorsWriter.write(
                tensors, dtype: options.dtype, metadata: ["format": "pt"], to: directory + "/" + fileName)
            weightMap += shard.map { ($0.name, fileName) }
            writtenBytes += shard.reduce(0) { $0 + $1.count * options.dtype.byteSize }
            progress(
                String(
                    format: "  %@: %d tensors, %.1f of %.1f MB", fileName, shard.count, Double(writtenBytes) / 1e6,
                    Double(totalBytes) / 1e6))
        }
        if shards.count > 1 {
            let entries = weightMap.sorted { $0.0 < $1.0 }.map { "    \"\($0.0)\": \"\($0.1)\"" }
            let index =
                "{\n  \"metadata\": {\n    \"total_size\": \(totalBytes)\n  },\n  \"weight_map\": {\n"
                + entries.joined(separator: ",\n") + "\n  }\n}\n"
            try ModelFolderWriter.writeFile(index, to: directory + "/\(stem).safetensors.index.json")
        }
    }
}
