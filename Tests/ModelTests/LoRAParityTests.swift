// LoRAs against diffusers: WanPipeline after load_lora_weights / set_adapters on the pipeline fixture's tiny model,
// from the same initial latents, for every case scripts/fixtures/lora.py wrote (PEFT, original Wan and musubi key
// formats, alpha != rank, diff_b, bf16 and fp16 files, metadata alpha, two LoRAs at once, Euler and UniPC).
import Foundation
import Testing
@testable import Model

@Suite struct LoRAParityTests {
    struct Case: Decodable {
        struct LoRA: Decodable {
            let file: String
            let scale: Double
        }
        let name: String
        let prompt: String
        let negative: String
        let width: Int
        let height: Int
        let frames: Int
        let steps: Int
        let guidance: Double
        let scheduler: String
        let shift: Double?
        let seed: UInt64
        let maxSequenceLength: Int
        let loras: [LoRA]

        enum CodingKeys: String, CodingKey {
            case name, prompt, negative, width, height, frames, steps, guidance, scheduler, shift, seed, loras
            case maxSequenceLength = "max_sequence_length"
        }

        /// The job these settings describe, its LoRAs read from the fixture folder.
        var spec: VideoJobSpec {
            var spec = VideoJobSpec(prompt: prompt, width: width, height: height, frames: frames)
            spec.negativePrompt = negative
            spec.steps = steps
            spec.guidanceScale = guidance
            spec.scheduler = SchedulerKind(rawValue: scheduler)
            spec.shift = shift
            spec.seed = seed
            spec.maxSequenceLength = maxSequenceLength
            spec.loras = loras.map { LoRAReference(path: Fixtures.path("lora/\($0.file)"), scale: $0.scale) }
            return spec
        }
    }

    /// Every case in Tests/Fixtures/lora (a `.json` beside its `.safetensors` reference).
    static let cases: [String] = {
        let folder = Fixtures.path("lora")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(".json".count)) }.sorted()
    }()

    @Test func theFixturesAreThere() {
        #expect(Self.cases.count >= 5, "found \(Self.cases)")
    }

    @Test(arguments: cases)
    func videoAndLatentsMatchDiffusers(name: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("lora/\(name).json")))
        let setting = try JSONDecoder().decode(Case.self, from: data)
        let reference = try SafeTensorsFile(path: Fixtures.path("lora/\(name).safetensors"))
        let initial = try reference.tensor(named: "initial_latents").float32()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("lora-\(name)-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        try PipelineParityTests.pipeline.get().generate(setting.spec, initialLatents: initial, into: SafeTensorsVideoSink(path: output))
        let ours = try SafeTensorsFile(path: output)
        for key in ["video", "latents"] {
            let actual = try ours.tensor(named: key).float32()
            let expected = try reference.tensor(named: key).float32()
            #expect(actual.shape == expected.shape, "\(key)")
            let error = Numerics.maxRelativeError(actual, expected)
            #expect(error <= 1e-4, "\(name) \(key): relative error \(error)")
        }
    }

    /// The same job without its LoRAs is far from the reference: the LoRAs were applied, not ignored.
    @Test func withoutTheLoRAsTheLatentsDiffer() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("lora/peft_fewstep.json")))
        var spec = try JSONDecoder().decode(Case.self, from: data).spec
        spec.loras = nil
        let reference = try SafeTensorsFile(path: Fixtures.path("lora/peft_fewstep.safetensors"))
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("lora-none-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        try PipelineParityTests.pipeline.get().generate(
            spec, initialLatents: try reference.tensor(named: "initial_latents").float32(), into: SafeTensorsVideoSink(path: output))
        let error = Numerics.maxRelativeError(
            try SafeTensorsFile(path: output).tensor(named: "latents").float32(),
            try reference.tensor(named: "latents").float32())
        #expect(error > 1e-2, "relative error \(error)")
    }
}
