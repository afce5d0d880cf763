// `coordinator init-lora`: writes a seeded random LoRA (diffusers/PEFT keys) for a model folder's transformer, for
// benchmarks and cluster tests that need a LoRA of a real model's shapes.
import Foundation
import Model
import Cluster

/// Writes a LoRA safetensors file whose factors fit every linear layer of a model's blocks.
enum InitLoRACommand: Command {
    static let name = "init-lora"
    static let summary = "write a seeded random LoRA for a model's blocks (benchmarks, tests)"

    static let specs: [OptionSpec] = [
        .value("--model", "DIR", "model folder (or transformer folder) whose shapes the LoRA fits (required)"),
        .value("--rank", "R", "rank of every update (default 32)"),
        .value("--seed", "N", "seed of the factors (default 0)"),
        .value("--dtype", "f32|bf16|f16", "stored dtype (default bf16, as published LoRAs are)"),
        .value("--out", "FILE", "the .safetensors file to write (required)"),
    ]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") {
            print(usageText(
                synopsis: "coordinator init-lora --model DIR --out FILE [--rank R] [--seed N] [--dtype bf16]",
                description: "Writes a LoRA in diffusers/PEFT keys (transformer.blocks.N.<layer>.lora_A/lora_B.weight) "
                    + "for the attention and feed-forward layers of every block, with seeded normal factors scaled so "
                    + "that the update stays small next to the weights. Not a trained LoRA: it has a real one's shapes "
                    + "and cost.",
                specs: specs))
            return 0
        }
        let options = try CommandLineOptions(arguments, specs: specs)
        let config = try Wan21Family.transformerConfig(modelPath: try options.required("--model"))
        let rank = try options.int("--rank", in: 1...4096) ?? 32
        let seed = try options.uint64("--seed") ?? 0
        let dtype = try InitModelCommand.parseDType(options.string("--dtype") ?? "bf16")
        let out = try options.required("--out")
        let tensors = factors(config: config, rank: rank, seed: seed)
        try SafeTensorsWriter.write(tensors, dtype: dtype, to: out)
        let values = tensors.reduce(0) { $0 + $1.tensor.count }
        print("wrote \(out): rank \(rank), \(tensors.count / 2) layers, \(values) values (\(dtype.rawValue))")
        return 0
    }

    /// The factors: down ~ N(0, 1/in), up ~ N(0, 1/rank) times 0.1, per layer of every block.
    static func factors(config: WanTransformerConfig, rank: Int, seed: UInt64) -> [(name: String, tensor: Tensor)] {
        var tensors: [(name: String, tensor: Tensor)] = []
        var stream: UInt64 = 0
        for parameter in (0..<config.numLayers).flatMap(config.blockParameters) where parameter.shape.count == 2 {
            let module = String(parameter.name.dropLast(".weight".count))
            let (outFeatures, inFeatures) = (parameter.shape[0], parameter.shape[1])
            let down = Tensor.randomNormal(
                shape: [rank, inFeatures], seed: seed, stream: stream, standardDeviation: 1 / Float(inFeatures).squareRoot())
            let up = Tensor.randomNormal(
                shape: [outFeatures, rank], seed: seed, stream: stream + 1, standardDeviation: 0.1 / Float(rank).squareRoot())
            stream += 2
            tensors.append(("transformer.\(module).lora_A.weight", down))
            tensors.append(("transformer.\(module).lora_B.weight", up))
        }
        return tensors
    }
}
