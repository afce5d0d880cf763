// Strict loading of Wan VAE folders (config fields, weight keys and shapes), the random writer, latent normalisation.
import Foundation
import Testing
@testable import Model

@Suite struct VAELoadingTests {
    /// A fresh temporary folder.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "vae-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The tiny fixture's config.json as a JSON object.
    static func tinyConfigObject() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: VAEFixtures.modelDirectory("tiny") + "/config.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func writeConfig(_ object: [String: Any], to directory: String) throws {
        let data = try JSONSerialization.data(withJSONObject: object)
        try data.write(to: URL(fileURLWithPath: directory + "/config.json"))
    }

    /// (field, JSON value) pairs that must be refused, naming the field.
    static let refusedFields: [(String, String)] = [
        ("is_residual", "true"), ("patch_size", "2"), ("attn_scales", "[0.5]"), ("in_channels", "12"),
        ("out_channels", "12"), ("temperal_downsample", "[true]"), ("latents_std", "[1.0, 1.0]"),
        ("scale_factor_spatial", "16"), ("scale_factor_temporal", "8"), ("z_dim", "0"), ("dim_mult", "[1, 0, 2, 2]"),
        ("temperal_downsample", "[true, true, true]"), ("made_up_field", "1"), ("_class_name", "\"AutoencoderKL\""),
    ]

    @Test(arguments: refusedFields.indices)
    func configRefusesUnsupportedValuesNamingTheField(index: Int) throws {
        let (field, value) = Self.refusedFields[index]
        var object = try Self.tinyConfigObject()
        object[field] = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.writeConfig(object, to: directory)
        do {
            _ = try WanVAEConfig.load(directory: directory)
            Issue.record("\(field) = \(value) was accepted")
        } catch let error as WanVAEError {
            guard case .unsupportedConfig(let named, _, _) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(named == field)
            #expect(error.description.contains(field))
        }
    }

    @Test func configRefusesGarbageAndOversizedFiles() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data("{\"base_dim\": \"many\"}".utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
        #expect(throws: WanVAEError.self) { _ = try WanVAEConfig.load(directory: directory) }
        try Data(repeating: 32, count: WanVAEConfig.maximumConfigBytes + 1)
            .write(to: URL(fileURLWithPath: directory + "/config.json"))
        #expect(throws: WanVAEError.self) { _ = try WanVAEConfig.load(directory: directory) }
        #expect(throws: WanVAEError.self) { _ = try WanVAEConfig.load(directory: directory + "/missing") }
    }

    /// The config.json published with the Wan2.1 Diffusers checkpoints (fields as released) is accepted.
    @Test func publishedWan21ConfigIsAccepted() throws {
        let text = """
            {"_class_name": "AutoencoderKLWan", "_diffusers_version": "0.33.0.dev0", "attn_scales": [],
             "base_dim": 96, "dim_mult": [1, 2, 4, 4], "dropout": 0.0,
             "latents_mean": [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715,
                              0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921],
             "latents_std": [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652,
                             1.5579, 1.6382, 1.1253, 2.8251, 1.916],
             "num_res_blocks": 2, "temperal_downsample": [false, true, true], "z_dim": 16}
            """
        let config = try JSONDecoder().decode(WanVAEConfig.self, from: Data(text.utf8))
        try config.validate()
        #expect(config == WanVAEConfig(scaleFactorTemporal: nil, scaleFactorSpatial: nil))
        #expect(config.temporalCompression == 4 && config.spatialCompression == 8)
        #expect(config.videoFrames(latentFrames: 21) == 81)
    }

    /// Copies the tiny fixture with its weights changed by `edit`, and expects loading to fail with a
    /// CheckpointError whose message contains `mention`.
    func expectWeightsRefused(mention: String, _ edit: (inout [(name: String, tensor: Tensor)]) -> Void) throws {
        let source = try SafeTensorsFile(
            path: VAEFixtures.modelDirectory("tiny") + "/diffusion_pytorch_model.safetensors")
        var tensors = try source.names.map { (name: $0, tensor: try source.tensor(named: $0).float32()) }
        edit(&tensors)
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.writeConfig(try Self.tinyConfigObject(), to: directory)
        try SafeTensorsWriter.write(tensors, to: directory + "/diffusion_pytorch_model.safetensors")
        do {
            _ = try WanVAE(directory: directory)
            Issue.record("edited weights (\(mention)) were accepted")
        } catch let error as CheckpointError {
            #expect(error.description.contains(mention), "\(error)")
        }
    }

    @Test func missingWeightIsRefused() throws {
        try expectWeightsRefused(mention: "decoder.mid_block.attentions.0.proj.bias") { tensors in
            tensors.removeAll { $0.name == "decoder.mid_block.attentions.0.proj.bias" }
        }
    }

    @Test func unusedWeightIsRefused() throws {
        try expectWeightsRefused(mention: "decoder.extra.weight") { tensors in
            tensors.append((name: "decoder.extra.weight", tensor: Tensor(zeros: [2])))
        }
    }

    @Test func wrongShapeIsRefused() throws {
        try expectWeightsRefused(mention: "decoder.norm_out.gamma") { tensors in
            let index = tensors.firstIndex { $0.name == "decoder.norm_out.gamma" }!
            tensors[index].tensor = Tensor(zeros: [6, 1, 1])
        }
    }

    @Test func randomWriterMatchesTheDiffusersLayoutAndLoads() throws {
        let config = try WanVAEConfig.load(directory: VAEFixtures.modelDirectory("tiny"))
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try WanVAE.writeRandom(config: config, seed: 7, to: directory)
        let written = try SafeTensorsFile(path: directory + "/diffusion_pytorch_model.safetensors")
        let reference = try SafeTensorsFile(
            path: VAEFixtures.modelDirectory("tiny") + "/diffusion_pytorch_model.safetensors")
        #expect(written.names == reference.names)
        for name in reference.names {
            #expect(try written.tensor(named: name).shape == reference.tensor(named: name).shape, "\(name)")
        }
        #expect(try WanVAEConfig.load(directory: directory) == config)
        let vae = try WanVAE(directory: directory)
        let video = try vae.decode(Tensor.randomNormal(shape: [1, 4, 2, 2, 2], seed: 1, stream: 2))
        #expect(video.shape == [1, 3, 5, 16, 16])
        #expect(video.scalars.allSatisfy { $0.isFinite && abs($0) <= 1 })
        // Same seed, same weights; another seed, other weights.
        let again = try WanVAE.random(config: config, seed: 7).weights
        let other = try WanVAE.random(config: config, seed: 8).weights
        let first = try written.tensor(named: again[0].name).float32()
        #expect(first == again[0].tensor && first != other[0].tensor)
    }

    @Test func tinyPresetIsValidWithWanCompression() throws {
        let config = WanVAEConfig.tiny()
        try config.validate()
        #expect(config.zDim == 16 && config.temporalCompression == 4 && config.spatialCompression == 8)
        try WanVAEConfig.wan21.validate()
    }

    @Test func latentNormalisationFollowsThePipelines() throws {
        let config = try WanVAEConfig.load(directory: VAEFixtures.modelDirectory("tiny"))  // mean .1 -.2 .3 -.4
        let latents = Tensor(shape: [1, 4, 1, 1, 2], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
        let raw = try config.denormalizeLatents(latents)
        let stds: [Float] = [1.5, 0.5, 2.0, 1.25], means: [Float] = [0.1, -0.2, 0.3, -0.4]
        for index in 0..<8 {
            let channel = index / 2
            #expect(abs(raw.scalars[index] - (latents.scalars[index] * stds[channel] + means[channel])) < 1e-6)
        }
        let back = try config.normalizeLatents(raw)
        #expect(Numerics.maxRelativeError(back, latents) < 1e-6)
        #expect(throws: WanVAEError.self) { _ = try config.denormalizeLatents(Tensor(zeros: [1, 3, 1, 1, 1])) }
    }
}
