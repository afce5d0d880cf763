// Model folders written from presets: loadable, deterministic, sharded when large, refusing non-empty folders.
import Foundation
import Testing

@testable import Model

/// A fresh temporary folder path (not created).
private func presetTemporaryFolder(_ label: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
}

@Suite("Model presets")
struct ModelPresetTests {
    @Test("the tiny preset writes a loadable, complete diffusers folder")
    func tinyFolder() throws {
        let folder = presetTemporaryFolder("preset-tiny")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try ModelFolderWriter.write(ModelFolderOptions(preset: .tiny, seed: 3), to: folder)
        for file in [
            "model_index.json", "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors",
            "scheduler/scheduler_config.json",
        ] {
            #expect(FileManager.default.fileExists(atPath: folder + "/" + file), "\(file)")
        }
        let model = try WanTransformer.load(folder)  // strict: every key present, none extra
        #expect(model.config == ModelPreset.tiny.transformer)
        let scheduler =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: folder + "/scheduler/scheduler_config.json")))
            as! [String: Any]
        #expect(scheduler["prediction_type"] as? String == "flow_prediction")
        #expect(scheduler["use_flow_sigmas"] as? Bool == true)
        #expect(scheduler["flow_shift"] as? Double == 3.0)
        #expect(scheduler["solver_order"] as? Int == 2)
        #expect(scheduler["num_train_timesteps"] as? Int == 1000)
        // A forward pass gives finite, non-trivial numbers.
        let grid = (frames: 2, height: 4, width: 6)
        let latent = Tensor.randomNormal(shape: [1, 16, grid.frames, grid.height, grid.width], seed: 1, stream: 1)
        let text = Tensor.randomNormal(shape: [1, 5, 32], seed: 1, stream: 2)
        let sample = try model(
            hiddenStates: latent, timestep: Tensor(shape: [1], scalars: [900]), encoderHiddenStates: text)
        #expect(sample.shape == [1, 16, 2, 4, 6])
        #expect(sample.scalars.allSatisfy { $0.isFinite })
        #expect(sample.scalars.contains { abs($0) > 0.01 })
    }

    @Test("weights are a function of the seed and the key")
    func deterministicWeights() throws {
        let spec = ModelPreset.tiny.transformer.blockParameters(1).first { $0.name == "blocks.1.attn1.to_q.weight" }!
        let a = TransformerComponentWriter.parameter(spec, seed: 5)
        let b = TransformerComponentWriter.parameter(spec, seed: 5)
        let c = TransformerComponentWriter.parameter(spec, seed: 6)
        #expect(a == b && a != c)
        let serial = Tensor.randomNormal(
            shape: spec.shape, seed: 5, stream: KeyedRandom.stream(named: spec.name),
            standardDeviation: spec.initialization.standardDeviation)
        #expect(a == serial)
        // PyTorch's default scale: std 1 / sqrt(3 * fan_in).
        let std = (a.scalars.map { $0 * $0 }.reduce(0, +) / Float(a.count)).squareRoot()
        #expect(abs(std - 1 / (3 * 32 as Float).squareRoot()) < 0.02)
    }

    @Test("large components are sharded with an index that loads")
    func sharded() throws {
        let folder = presetTemporaryFolder("preset-sharded")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let single = presetTemporaryFolder("preset-single")
        defer { try? FileManager.default.removeItem(atPath: single) }
        try ModelFolderWriter.write(
            ModelFolderOptions(preset: .tiny, seed: 3, dtype: .bfloat16, maxShardBytes: 30_000),
            to: folder)
        try ModelFolderWriter.write(ModelFolderOptions(preset: .tiny, seed: 3, dtype: .bfloat16), to: single)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder + "/transformer")
        #expect(files.contains("diffusion_pytorch_model.safetensors.index.json"))
        #expect(files.filter { $0.hasSuffix(".safetensors") }.count > 1)
        let shardedModel = try WanTransformer.load(folder)
        let singleModel = try WanTransformer.load(single)
        let latent = Tensor.randomNormal(shape: [1, 16, 1, 2, 2], seed: 1, stream: 1)
        let text = Tensor.randomNormal(shape: [1, 3, 32], seed: 1, stream: 2)
        let t = Tensor(shape: [1], scalars: [10])
        #expect(
            try shardedModel(hiddenStates: latent, timestep: t, encoderHiddenStates: text)
                == singleModel(hiddenStates: latent, timestep: t, encoderHiddenStates: text))
    }

    @Test("a non-empty folder is refused unless forced; unknown presets are named")
    func refusals() throws {
        let folder = presetTemporaryFolder("preset-refuse")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/keep.txt"))
        #expect(throws: PresetError.outputNotEmpty(folder)) {
            try ModelFolderWriter.write(ModelFolderOptions(preset: .tiny, seed: 0), to: folder)
        }
        try ModelFolderWriter.write(ModelFolderOptions(preset: .tiny, seed: 0), to: folder, force: true)
        #expect(FileManager.default.fileExists(atPath: folder + "/keep.txt"))
        #expect(throws: PresetError.unknownPreset("huge", known: ["tiny", "bench", "wan-1.3b"])) {
            _ = try ModelPreset.named("huge")
        }
    }

    @Test("preset sizes: bench is two 1.3B layers, wan-1.3b has the real parameter count")
    func sizes() {
        let real = ModelPreset.wan13b.transformer
        // Wan2.1-T2V-1.3B: 1,418,996,800 parameters (diffusers checkpoint).
        #expect(real.parameterCount == 1_418_996_800)
        #expect(ModelPreset.bench.transformer.innerDim == 1536 && ModelPreset.bench.transformer.numLayers == 2)
    }
}
