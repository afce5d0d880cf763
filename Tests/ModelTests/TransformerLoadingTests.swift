// Strict loading of Wan transformer checkpoints and configs: missing, extra and misshapen tensors, unsupported
// options.
import Foundation
import Testing

@testable import Model

/// A temporary copy of a fixture transformer folder whose weights went through `edit`.
private func editedTransformerFolder(_ edit: (inout [(name: String, tensor: Tensor)]) -> Void) throws -> String {
    let source = Fixtures.path("transformer/frames3_nonsquare/transformer")
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("transformer-loading-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: source + "/config.json", toPath: folder + "/config.json")
    let file = try SafeTensorsFile(path: source + "/diffusion_pytorch_model.safetensors")
    var tensors = try file.names.sorted().map { (name: $0, tensor: try file.tensor(named: $0).float32()) }
    edit(&tensors)
    try SafeTensorsWriter.write(tensors, to: folder + "/diffusion_pytorch_model.safetensors")
    return folder
}

/// The error thrown by loading `folder`, or nil.
private func loadingError(_ folder: String, layers: Range<Int>? = nil, entry: Bool = true, exit: Bool = true) -> (
    any Error
)? {
    do {
        _ = try WanTransformer.load(folder, layers: layers, includeEntry: entry, includeExit: exit)
        return nil
    } catch {
        return error
    }
}

@Suite("WanTransformer loading")
struct TransformerLoadingTests {
    @Test("a missing tensor is named")
    func missingKey() throws {
        let folder = try editedTransformerFolder { $0.removeAll { $0.name == "blocks.1.attn2.norm_k.weight" } }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let error = loadingError(folder) as? CheckpointError
        #expect(error == .missingKey(key: "blocks.1.attn2.norm_k.weight", file: "diffusion_pytorch_model.safetensors"))
        // A stage that does not host block 1 does not need it.
        #expect(loadingError(folder, layers: 0..<1, entry: true, exit: true) == nil)
    }

    @Test("an extra tensor is named")
    func extraKey() throws {
        let folder = try editedTransformerFolder {
            $0.append((name: "blocks.0.attn1.norm_added_q.weight", tensor: Tensor(zeros: [24])))
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let error = loadingError(folder) as? CheckpointError
        #expect(
            error
                == .unusedKeys(
                    keys: ["blocks.0.attn1.norm_added_q.weight"],
                    files: ["diffusion_pytorch_model.safetensors"]))
        // The stage hosting block 0 sees it too; a stage without block 0 does not.
        #expect(loadingError(folder, layers: 0..<1, entry: false, exit: false) != nil)
        #expect(loadingError(folder, layers: 1..<2, entry: false, exit: true) == nil)
    }

    @Test("a wrongly shaped tensor is named with both shapes")
    func wrongShape() throws {
        let folder = try editedTransformerFolder { tensors in
            let index = tensors.firstIndex { $0.name == "blocks.0.ffn.net.0.proj.weight" }!
            tensors[index].tensor = Tensor(zeros: [41, 24])
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let error = loadingError(folder) as? CheckpointError
        #expect(
            error
                == .shapeMismatch(
                    key: "blocks.0.ffn.net.0.proj.weight", file: "diffusion_pytorch_model.safetensors",
                    expected: [40, 24], found: [41, 24]))
        #expect(error?.description.contains("[40, 24]") == true)
    }

    @Test("a truncated weights file is refused")
    func truncatedFile() throws {
        let folder = try editedTransformerFolder { _ in }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/diffusion_pytorch_model.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 100).write(to: URL(fileURLWithPath: path))
        let error = loadingError(folder)
        #expect(error is CheckpointError)
        #expect("\(error!)".contains("diffusion_pytorch_model.safetensors"))
    }

    @Test("a layer range outside the model is refused")
    func badLayerRange() {
        let folder = Fixtures.path("transformer/frames3_nonsquare")
        #expect(loadingError(folder, layers: 1..<3) is TransformerError)
    }
}

@Suite("WanTransformerConfig")
struct TransformerConfigTests {
    func decode(_ json: String) throws -> WanTransformerConfig {
        try JSONDecoder().decode(WanTransformerConfig.self, from: Data(json.utf8))
    }

    func validationMessage(_ json: String) throws -> String {
        do {
            try decode(json).validate()
            return "valid"
        } catch {
            return "\(error)"
        }
    }

    @Test("missing keys take diffusers' defaults; null out_channels means in_channels")
    func defaults() throws {
        let config = try decode(#"{"in_channels": 36, "out_channels": null, "num_layers": 2}"#)
        #expect(config.outChannels == 36)
        #expect(config.numAttentionHeads == 40 && config.attentionHeadDim == 128 && config.ffnDim == 13824)
        #expect(config.patchSize == [1, 2, 2] && config.ropeMaxSeqLen == 1024 && config.eps == 1e-6)
        #expect(config.crossAttnNorm && config.qkNorm == "rms_norm_across_heads")
        try config.validate()
    }

    @Test("unsupported options are refused by name")
    func unsupported() throws {
        #expect(try validationMessage(#"{"image_dim": 1280}"#).contains("image_dim = 1280"))
        #expect(try validationMessage(#"{"added_kv_proj_dim": 5120}"#).contains("added_kv_proj_dim = 5120"))
        #expect(try validationMessage(#"{"pos_embed_seq_len": 514}"#).contains("pos_embed_seq_len = 514"))
        #expect(try validationMessage(#"{"qk_norm": "rms_norm"}"#).contains("qk_norm = \"rms_norm\""))
        #expect(try validationMessage(#"{"qk_norm": null}"#).contains("qk_norm = null"))
        #expect(try validationMessage(#"{"patch_size": [1, 2]}"#).contains("patch_size"))
        #expect(try validationMessage(#"{"attention_head_dim": 7}"#).contains("attention_head_dim"))
        #expect(try validationMessage(#"{"num_layers": -1}"#).contains("num_layers"))
        #expect(try validationMessage(#"{"image_dim": null, "added_kv_proj_dim": null}"#) == "valid")
    }

    @Test("round trip through the file format, with _class_name")
    func roundTrip() throws {
        let config = WanTransformerConfig(numAttentionHeads: 2, attentionHeadDim: 8, textDim: 12, numLayers: 3)
        let data = try config.jsonData()
        #expect(String(decoding: data, as: UTF8.self).contains(#""_class_name" : "WanTransformer3DModel""#))
        #expect(try JSONDecoder().decode(WanTransformerConfig.self, from: data) == config)
        // The fixture configs written by diffusers decode to what the fixtures used.
        let fixture = try WanTransformerConfig.load(
            path: Fixtures.path("transformer/batch2_pertoken/transformer/config.json"))
        #expect(fixture.numAttentionHeads == 3 && fixture.outChannels == 3 && !fixture.crossAttnNorm)
    }
}
