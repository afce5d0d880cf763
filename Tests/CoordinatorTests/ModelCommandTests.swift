// `coordinator init-model` and `coordinator debug transformer` run end to end on fixtures and temporary folders.
import Foundation
import Model
import Testing

@testable import Coordinator
import Cluster

/// `Tests/Fixtures/<relative>`.
private func fixturePath(_ relative: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(relative).path
}

private func scratchPath(_ label: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
}

@Suite("Model commands")
struct ModelCommandTests {
    @Test("debug transformer reproduces the diffusers fixture from the model folder and from transformer/")
    func debugTransformer() throws {
        let folder = fixturePath("transformer/batch2_pertoken")
        let expected = try SafeTensorsFile(path: folder + "/output.safetensors").tensor(named: "sample").float32()
        for model in [folder, folder + "/transformer"] {
            let output = scratchPath("debug-transformer") + ".safetensors"
            defer { try? FileManager.default.removeItem(atPath: output) }
            let status = try DebugTransformerCommand.run([
                "--model", model, "--input", folder + "/input.safetensors", "--output", output, "--threads", "1",
            ])
            #expect(status == 0)
            let file = try SafeTensorsFile(path: output)
            #expect(file.names == ["sample"])
            let stored = try file.tensor(named: "sample")
            #expect(stored.dtype == .float32 && stored.shape == expected.shape)
            let sample = stored.float32()
            var worst: Float = 0
            let scale = expected.scalars.map(abs).max()!
            for (a, e) in zip(sample.scalars, expected.scalars) { worst = max(worst, abs(a - e) / scale) }
            #expect(worst <= 1e-4)
        }
    }

    @Test("debug transformer names a bad input tensor")
    func debugTransformerBadInput() throws {
        let folder = fixturePath("transformer/frames3_nonsquare")
        let input = scratchPath("debug-input") + ".safetensors"
        defer { try? FileManager.default.removeItem(atPath: input) }
        let file = try SafeTensorsFile(path: folder + "/input.safetensors")
        var tensors = try file.names.map { (name: $0, tensor: try file.tensor(named: $0).float32()) }
        tensors.append((name: "mask", tensor: Tensor(zeros: [1])))
        try SafeTensorsWriter.write(tensors, to: input)
        #expect {
            _ = try DebugTransformerCommand.run(["--model", folder, "--input", input, "--output", input + ".out"])
        } throws: { "\($0)".contains("unexpected tensor(s) [\"mask\"]") }
        try SafeTensorsWriter.write(tensors.filter { $0.name != "mask" }, dtype: .bfloat16, to: input)
        #expect {
            _ = try DebugTransformerCommand.run(["--model", folder, "--input", input, "--output", input + ".out"])
        } throws: { "\($0)".contains("is BF16, expected F32") }
        try SafeTensorsWriter.write(tensors.filter { $0.name != "mask" && $0.name != "timestep" }, to: input)
        #expect {
            _ = try DebugTransformerCommand.run(["--model", folder, "--input", input, "--output", input + ".out"])
        } throws: { "\($0)".contains("no tensor \"timestep\"") }
    }

    @Test("init-model writes a tiny model and refuses a non-empty folder without --force")
    func initModel() throws {
        let folder = scratchPath("init-model")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(try InitModelCommand.run(["--preset", "tiny", "--seed", "4", "--out", folder]) == 0)
        let first = try Data(
            contentsOf: URL(fileURLWithPath: folder + "/transformer/diffusion_pytorch_model.safetensors"))
        #expect(throws: PresetError.outputNotEmpty(folder)) {
            _ = try InitModelCommand.run(["--preset", "tiny", "--seed", "4", "--out", folder])
        }
        #expect(try InitModelCommand.run(["--preset", "tiny", "--seed", "4", "--out", folder, "--force"]) == 0)
        let second = try Data(
            contentsOf: URL(fileURLWithPath: folder + "/transformer/diffusion_pytorch_model.safetensors"))
        #expect(first == second)
        _ = try WanTransformer.load(folder)
        #expect(throws: CommandLineError.self) {
            _ = try InitModelCommand.run(["--preset", "tiny", "--out", folder, "--dtype", "int8"])
        }
    }
}
