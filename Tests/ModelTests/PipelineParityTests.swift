// End-to-end parity: our text-to-video pipeline against diffusers' WanPipeline on a tiny random model,
// from the same initial latents (fixtures by scripts/fixtures/pipeline.py).
import Foundation
import Testing
@testable import Model

@Suite struct PipelineParityTests {
    struct Case: Decodable {
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

        enum CodingKeys: String, CodingKey {
            case name, prompt, negative, width, height, frames, steps, guidance, scheduler, shift, seed
            case maxSequenceLength = "max_sequence_length"
        }

        /// The job these settings describe.
        var spec: VideoJobSpec {
            var spec = VideoJobSpec(prompt: prompt, width: width, height: height, frames: frames)
            spec.negativePrompt = negative
            spec.steps = steps
            spec.guidanceScale = guidance
            spec.scheduler = SchedulerKind(rawValue: scheduler)
            spec.shift = shift
            spec.seed = seed
            spec.maxSequenceLength = maxSequenceLength
            return spec
        }
    }

    static let pipeline = Result { try VideoGenerator(folder: try ModelFolder(path: Fixtures.path("pipeline/model"))) }

    @Test(arguments: ["unipc_cfg", "euler_single_frame", "unipc_five_frames"])
    func videoAndLatentsMatchTheReference(name: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("pipeline/\(name).json")))
        let setting = try JSONDecoder().decode(Case.self, from: data)
        let spec = setting.spec
        let reference = try SafeTensorsFile(path: Fixtures.path("pipeline/\(name).safetensors"))
        let initial = try reference.tensor(named: "initial_latents").float32()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("parity-\(name)-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        try Self.pipeline.get().generate(spec, initialLatents: initial, into: SafeTensorsVideoSink(path: output))
        let ours = try SafeTensorsFile(path: output)
        for key in ["video", "latents"] {
            let actual = try ours.tensor(named: key).float32()
            let expected = try reference.tensor(named: key).float32()
            #expect(actual.shape == expected.shape, "\(key)")
            let error = Numerics.maxRelativeError(actual, expected)
            #expect(error <= 1e-4, "\(name) \(key): relative error \(error)")
        }
    }

    @Test func anIncompleteModelFolderIsNamed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("incomplete-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            _ = try ModelFolder(path: directory.path)
            Issue.record("an empty folder was accepted")
        } catch {
            #expect("\(error)".contains("transformer/config.json"))
        }
    }
}
