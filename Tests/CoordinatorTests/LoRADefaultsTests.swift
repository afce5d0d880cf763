// A model folder that carries its distillation LoRA and recipe in generation_defaults.json: a request with only a
// prompt runs the recipe with the LoRA, exactly as diffusers does with it (the peft_fewstep fixture), and
// `--lora none` turns the folder's LoRA off.
import Foundation
import Model
import Testing

@testable import Coordinator
import Cluster

@Suite("LoRA defaults in a model folder")
struct LoRADefaultsTests {
    /// `Tests/Fixtures/<relative>`.
    static func fixture(_ relative: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent(relative).path
    }

    /// The pipeline fixture model's components (linked) with a LoRA and the 4-step recipe as its defaults.
    static func folderWithRecipe() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lora-defaults-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for component in ["transformer", "vae", "text_encoder", "tokenizer", "scheduler", "model_index.json"] {
            try FileManager.default.createSymbolicLink(atPath: folder + "/" + component, withDestinationPath: fixture("pipeline/model/" + component))
        }
        try FileManager.default.copyItem(atPath: fixture("lora/peft_rank4.safetensors"), toPath: folder + "/distill.safetensors")
        let defaults = """
            {"width": 32, "height": 32, "frames": 5, "steps": 4, "guidance": 1.0, "scheduler": "euler", "shift": 5.0,
             "loras": [{"path": "distill.safetensors", "scale": 1.0}]}
            """
        try defaults.write(toFile: folder + "/generation_defaults.json", atomically: true, encoding: .utf8)
        return folder
    }

    static func spec(_ arguments: [String], folder: ModelFolder) throws -> VideoJobSpec {
        let options = try CommandLineOptions(
            ["--prompt", "a red circle moving to the right", "--max-sequence-length", "16"] + arguments,
            specs: GenerateCommand.specs)
        return try JobOptions.request(from: options).resolve(defaults: try folder.generationDefaults())
    }

    @Test func theFolderRecipeRunsWithItsLoRAAsDiffusersDoes() throws {
        let path = try Self.folderWithRecipe()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let folder = try ModelFolder(path: path)
        let spec = try Self.spec([], folder: folder)
        #expect(spec.steps == 4 && spec.guidanceScale == 1 && spec.scheduler == .euler && spec.shift == 5)
        #expect(spec.loras == [LoRAReference(path: path + "/distill.safetensors", scale: 1)])
        let reference = try SafeTensorsFile(path: Self.fixture("lora/peft_fewstep.safetensors"))
        let output = path + "/out.safetensors"
        try VideoGenerator(folder: folder).generate(
            spec, initialLatents: try reference.tensor(named: "initial_latents").float32(), into: SafeTensorsVideoSink(path: output))
        let actual = try SafeTensorsFile(path: output).tensor(named: "latents").float32()
        let expected = try reference.tensor(named: "latents").float32()
        let scale = expected.scalars.map(abs).max() ?? 1
        let error = zip(actual.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(actual.shape == expected.shape && error <= 1e-4 * scale, "max error \(error) of \(scale)")
    }

    @Test func loraNoneTurnsTheFolderLoRAOff() throws {
        let path = try Self.folderWithRecipe()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let folder = try ModelFolder(path: path)
        #expect(try Self.spec(["--lora", "none"], folder: folder).loras == nil)
        let other = try Self.spec(["--lora", "x.safetensors:0.5"], folder: folder)
        #expect(other.loras == [LoRAReference(path: "x.safetensors", scale: 0.5)])
        #expect(throws: (any Error).self) { try Self.spec(["--lora", "none", "--lora", "x.safetensors"], folder: folder) }
    }
}
