// LoRA files that must be refused before any denoising, each with an error naming the file and the key; and the
// key conversions that must hold whatever the fixture cases cover.
import Foundation
import Testing
@testable import Model

@Suite struct LoRAFileTests {
    /// A fresh file path under the temporary folder.
    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("lora-test-\(getpid())-\(name)").path
    }

    /// Writes `tensors` to a temporary file and returns its path.
    static func write(_ name: String, _ tensors: [(String, Tensor)], dtype: DType = .float32, metadata: [String: String] = [:]) throws -> String {
        let path = temporaryPath(name)
        try SafeTensorsWriter.write(tensors.map { (name: $0.0, tensor: $0.1) }, dtype: dtype, metadata: metadata, to: path)
        return path
    }

    static func random(_ shape: [Int], seed: UInt64) -> Tensor {
        Tensor.randomNormal(shape: shape, seed: seed, stream: 1)
    }

    /// The pipeline fixture model's transformer config (dim 24, ffn 48, 2 blocks).
    static func config() throws -> WanTransformerConfig {
        try WanTransformerConfig.load(path: Fixtures.path("pipeline/model/transformer/config.json"))
    }

    /// Loads `path` as the only LoRA of a job and checks it against the fixture model; returns the error text.
    static func refusal(_ path: String, scale: Double = 1) -> String? {
        do {
            try config().check(try LoRAStack.load([LoRAReference(path: path, scale: scale)]))
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func anUnknownKeyIsNamed() throws {
        let path = try Self.write("unknown", [
            ("transformer.blocks.0.attn1.to_q.lora_A.weight", Self.random([2, 24], seed: 1)),
            ("transformer.blocks.0.attn1.to_q.lora_B.weight", Self.random([24, 2], seed: 2)),
            ("unet.mid_block.lora_A.weight", Self.random([2, 24], seed: 3)),
        ])
        defer { unlink(path) }
        let message = try #require(Self.refusal(path))
        #expect(message.contains("unet.mid_block.lora_A.weight") && message.contains("lora-test-"), "\(message)")
    }

    @Test func aLoRAForAnotherArchitectureIsRefused() throws {
        let path = try Self.write("flux", [
            ("transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight", Self.random([2, 24], seed: 1)),
            ("transformer.single_transformer_blocks.0.attn.to_q.lora_B.weight", Self.random([24, 2], seed: 2)),
        ])
        defer { unlink(path) }
        let message = try #require(Self.refusal(path))
        #expect(message.contains("single_transformer_blocks.0.attn.to_q") && message.contains("no such linear layer"), "\(message)")
    }

    @Test func aLoRAForAnotherSizeIsRefused() throws {
        let path = try Self.write("size", [
            ("diffusion_model.blocks.0.self_attn.q.lora_down.weight", Self.random([4, 32], seed: 1)),
            ("diffusion_model.blocks.0.self_attn.q.lora_up.weight", Self.random([32, 4], seed: 2)),
        ])
        defer { unlink(path) }
        let message = try #require(Self.refusal(path))
        #expect(message.contains("blocks.0.attn1.to_q") && message.contains("[32, 32]") && message.contains("[24, 24]"), "\(message)")
    }

    @Test func aBlockTheModelDoesNotHaveIsRefused() throws {
        let path = try Self.write("block", [
            ("lora_unet_blocks_7_ffn_0.lora_down.weight", Self.random([2, 24], seed: 1)),
            ("lora_unet_blocks_7_ffn_0.lora_up.weight", Self.random([48, 2], seed: 2)),
        ])
        defer { unlink(path) }
        let message = try #require(Self.refusal(path))
        #expect(message.contains("blocks.7.ffn.net.0.proj") && message.contains("2 blocks"), "\(message)")
    }

    @Test func aRankMismatchNamesTheUpKey() throws {
        let path = try Self.write("rank", [
            ("transformer.blocks.1.ffn.net.2.lora_A.weight", Self.random([4, 48], seed: 1)),
            ("transformer.blocks.1.ffn.net.2.lora_B.weight", Self.random([24, 3], seed: 2)),
        ])
        defer { unlink(path) }
        let message = try #require(Self.refusal(path))
        #expect(message.contains("transformer.blocks.1.ffn.net.2.lora_B.weight") && message.contains("rank 4"), "\(message)")
    }

    @Test func aMissingFactorIsNamed() throws {
        let path = try Self.write("half", [("transformer.blocks.0.attn2.to_v.lora_A.weight", Self.random([2, 24], seed: 1))])
        defer { unlink(path) }
        let message = try #require(Self.refusal(path))
        #expect(message.contains("to_v.lora_A.weight") && message.contains("no up"), "\(message)")
    }

    @Test func anAlphaThatIsNotOneNumberIsRefused() throws {
        let path = try Self.write("alpha", [
            ("diffusion_model.blocks.0.ffn.0.lora_down.weight", Self.random([2, 24], seed: 1)),
            ("diffusion_model.blocks.0.ffn.0.lora_up.weight", Self.random([48, 2], seed: 2)),
            ("diffusion_model.blocks.0.ffn.0.alpha", Tensor(shape: [2], scalars: [1, 2])),
        ])
        defer { unlink(path) }
        let message = try #require(Self.refusal(path))
        #expect(message.contains("diffusion_model.blocks.0.ffn.0.alpha") && message.contains("one number"), "\(message)")
    }

    @Test func aValueThatIsNotFiniteIsRefused() throws {
        var up = Self.random([24, 2], seed: 2)
        up.scalars[5] = .nan
        let path = try Self.write("nan", [
            ("transformer.blocks.0.attn1.to_k.lora_A.weight", Self.random([2, 24], seed: 1)),
            ("transformer.blocks.0.attn1.to_k.lora_B.weight", up),
        ])
        defer { unlink(path) }
        let message = try #require(Self.refusal(path))
        #expect(message.contains("to_k.lora_B.weight") && message.contains("not a finite number"), "\(message)")
    }

    @Test func aTruncatedFileIsNamed() throws {
        let source = Fixtures.path("lora/peft_rank4.safetensors")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: source))
        bytes.removeLast(100)
        let path = Self.temporaryPath("truncated.safetensors")
        try bytes.write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let message = try #require(Self.refusal(path))
        #expect(message.contains("truncated.safetensors"), "\(message)")
    }

    @Test func aScaleThatIsNotFiniteIsRefused() throws {
        #expect(throws: JobSpecError.self) { try LoRAReference(argument: "x.safetensors:nan") }
        #expect(throws: JobSpecError.self) { try LoRAReference(argument: "x.safetensors:inf") }
        let message = try #require(Self.refusal(Fixtures.path("lora/peft_rank4.safetensors"), scale: .infinity))
        #expect(message.contains("not a finite number"), "\(message)")
        var spec = VideoJobSpec(prompt: "x", width: 32, height: 32, frames: 1)
        spec.loras = [LoRAReference(path: "a.safetensors", scale: .nan)]
        #expect(throws: JobSpecError.self) { try spec.validate() }
    }

    @Test func anArgumentSplitsAtTheLastColonOnlyBeforeANumber() throws {
        #expect(try LoRAReference(argument: "dir/a.safetensors:0.5") == LoRAReference(path: "dir/a.safetensors", scale: 0.5))
        #expect(try LoRAReference(argument: "c:/a.safetensors") == LoRAReference(path: "c:/a.safetensors", scale: 1))
        #expect(try LoRAReference(argument: "a.safetensors:-1") == LoRAReference(path: "a.safetensors", scale: -1))
    }

    /// diffusers' get_alpha_scales: alpha 6 / rank 4 puts 1.5 on down; alpha 0.5 / rank 4 splits as 0.25 and 0.5.
    @Test func alphaIsSplitAsDiffusersSplitsIt() throws {
        let alpha = { (value: Float) in (key: "a", tensor: StoredTensor(name: "a", tensor: Tensor(shape: [], scalars: [value]))) }
        #expect(try LoRAFile.alphaScales(alpha(6), rank: 4, file: "f") == (1.5, 1.0))
        #expect(try LoRAFile.alphaScales(alpha(0.5), rank: 4, file: "f") == (0.25, 0.5))
        #expect(try LoRAFile.alphaScales(alpha(1), rank: 2, file: "f") == (0.5, 1.0))
    }

    /// The scaled factor is rounded to the file's dtype (PyTorch multiplies a bf16 tensor in bf16).
    @Test func alphaScalingRoundsToTheStoredDType() {
        let values = Tensor(shape: [1], scalars: [Float(bitPattern: 0x3F81_0000)])  // 1.0078125, exact in bf16
        let scaled = LoRAFile.scaled(values, by: 1.5, roundingTo: .bfloat16)
        // 1.51171875 is not a bfloat16: halfway between 1.5078125 and 1.515625, it rounds to the even 1.515625.
        #expect(scaled.scalars[0] == 1.515625)
        #expect(LoRAFile.scaled(values, by: 1.5, roundingTo: .float32).scalars[0] == 1.51171875)
    }

    @Test func normDeltasAndWholeWeightDeltasAreDroppedAsDiffusersDrops() throws {
        let file = try LoRAFile(path: Fixtures.path("lora/wan_alpha_diffb.safetensors"))
        #expect(file.format == .wan)
        #expect(file.ignoredKeys.contains { $0.key == "diffusion_model.blocks.0.norm3.diff" })
        #expect(file.updates.contains { $0.module == "proj_out" && $0.bias != nil })
        #expect(file.updates.contains { $0.module == "condition_embedder.time_proj" })
    }

    @Test func aStageShareHoldsOnlyItsBlocks() throws {
        let stack = try LoRAStack.load([LoRAReference(path: Fixtures.path("lora/wan_alpha_diffb.safetensors"))])
        let share = stack.share(blocks: 1..<2, entryAndExit: false)
        #expect(!share.isEmpty)
        #expect(share.adapters.keys.allSatisfy { $0.hasPrefix("blocks.1.") })
        #expect(stack.share(blocks: 0..<0, entryAndExit: true).adapters.keys.contains("proj_out"))
    }
}
