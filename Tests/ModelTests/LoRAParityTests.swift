// LoRAs against diffusers: WanPipeline after load_lora_weights / set_adapters on the pipeline fixture's tiny model,
// from the same initial latents, for every case scripts/fixtures/lora.py wrote (PEFT, original Wan and musubi key
// formats, alpha != rank, diff_b, bf16 and fp16 files, metadata alpha, two LoRAs at once, Euler and UniPC).
import Foundation
import Testing
@testable import Model

@Suite struct LoRAParityTests {
    /// A case: the pipeline fixture's fields (`PipelineParityTests.Case`) plus the LoRAs diffusers loaded.
    struct Case: Decodable {
        struct LoRA: Decodable {
            let file: String
            let scale: Double
        }
        let loras: [LoRA]

        /// The job: the pipeline case's settings with these LoRAs read from the fixture folder.
        static func spec(from data: Data) throws -> VideoJobSpec {
            var spec = try JSONDecoder().decode(PipelineParityTests.Case.self, from: data).spec
            spec.loras = try JSONDecoder().decode(Case.self, from: data).loras.map {
                LoRAReference(path: Fixtures.path("lora/\($0.file)"), scale: $0.scale)
            }
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
        let spec = try Case.spec(from: data)
        let reference = try SafeTensorsFile(path: Fixtures.path("lora/\(name).safetensors"))
        let initial = try reference.tensor(named: "initial_latents").float32()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("lora-\(name)-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        try PipelineParityTests.pipeline.get().generate(spec, initialLatents: initial, into: SafeTensorsVideoSink(path: output))
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
        var spec = try Case.spec(from: data)
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
