// transformers UMT5EncoderModel and diffusers Wan prompt embeddings against PyTorch fixtures (scripts/fixtures/umt5.py)
import Foundation
import Testing

@testable import Model

/// Integer rows of a fixture tensor [B, L] stored as F32.
func umt5IntegerRows(_ tensor: Tensor) -> [[Int]] {
    let width = tensor.shape[1]
    return (0..<tensor.shape[0]).map { row in (0..<width).map { Int(tensor.scalars[row * width + $0]) } }
}

/// A fresh temporary folder (created).
func umt5TemporaryFolder(_ label: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("umt5-\(label)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("umT5 encoder parity")
struct UMT5EncoderTests {
    @Test("last_hidden_state and Wan prompt embeddings match PyTorch", arguments: ["small", "sharded_bf16", "long"])
    func parity(name: String) throws {
        let encoder = try UMT5Encoder(directory: Fixtures.path("umt5/\(name)/text_encoder"))
        let io = try SafeTensorsFile(path: Fixtures.path("umt5/\(name)/io.safetensors"))
        let ids = umt5IntegerRows(try io.tensor(named: "input_ids").float32())
        let mask = umt5IntegerRows(try io.tensor(named: "attention_mask").float32())
        let expected = try io.tensor(named: "last_hidden_state").float32()
        let hidden = try encoder(inputIDs: ids, attentionMask: mask)
        #expect(hidden.shape == expected.shape)
        let error = Numerics.maxRelativeError(hidden, expected)
        #expect(error <= 1e-4, "last_hidden_state relative error \(error)")

        let expectedEmbeds = try io.tensor(named: "prompt_embeds").float32()
        let embeds = try encoder.wanPromptEmbeddings(
            inputIDs: ids, attentionMask: mask, maxSequenceLength: expectedEmbeds.shape[1])
        #expect(embeds.shape == expectedEmbeds.shape)
        let embedsError = Numerics.maxRelativeError(embeds, expectedEmbeds)
        #expect(embedsError <= 1e-4, "prompt_embeds relative error \(embedsError)")
        // Beyond each prompt's length the embeddings are exactly zero, before it exactly the encoder output.
        let (length, width) = (embeds.shape[1], embeds.shape[2])
        for (row, rowMask) in mask.enumerated() {
            let tokens = rowMask.reduce(0, +)
            let start = row * length * width
            #expect(embeds.scalars[(start + tokens * width)..<(start + length * width)].allSatisfy { $0 == 0 })
            #expect(
                embeds.scalars[start..<(start + tokens * width)] == hidden.scalars[start..<(start + tokens * width)])
        }
    }

    @Test("prompt embeddings pad to a longer max_sequence_length and refuse a shorter one")
    func promptPadding() throws {
        let hidden = Tensor(shape: [1, 3, 2], scalars: [1, 2, 3, 4, 5, 6])
        let padded = try UMT5Encoder.keepingPromptLengths(hidden, lengths: [2], maxSequenceLength: 5)
        #expect(padded == Tensor(shape: [1, 5, 2], scalars: [1, 2, 3, 4, 0, 0, 0, 0, 0, 0]))
        #expect(throws: UMT5Error.self) {
            try UMT5Encoder.keepingPromptLengths(hidden, lengths: [2], maxSequenceLength: 2)
        }
        #expect(throws: UMT5Error.self) {
            try UMT5Encoder.keepingPromptLengths(hidden, lengths: [4], maxSequenceLength: 3)
        }
    }

    @Test("relative position buckets equal transformers' for every offset")
    func buckets() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("umt5/buckets.safetensors"))
        let positions = try file.tensor(named: "relative_position").float32().scalars.map { Int($0) }
        let tables = file.names.filter { $0.hasPrefix("buckets_") }
        #expect(tables.count == 5)
        for name in tables {
            let parts = name.split(separator: "_")
            let (numBuckets, maxDistance) = (Int(parts[1])!, Int(parts[2])!)
            let expected = try file.tensor(named: name).float32().scalars.map { Int($0) }
            let actual = positions.map {
                UMT5Attention.bucket(relativePosition: $0, numBuckets: numBuckets, maxDistance: maxDistance)
            }
            #expect(actual == expected, "\(name)")
        }
        // The offset table used by the encoder is the same function.
        let offsets = UMT5Attention.offsetBuckets(length: 4, numBuckets: 32, maxDistance: 128)
        #expect(
            offsets == (-3...3).map { UMT5Attention.bucket(relativePosition: $0, numBuckets: 32, maxDistance: 128) })
    }

    @Test("bad inputs are refused with errors naming them")
    func inputValidation() throws {
        let encoder = try UMT5Encoder(directory: Fixtures.path("umt5/small/text_encoder"))
        func refuses(_ ids: [[Int]], _ mask: [[Int]], _ fragment: String) {
            do {
                _ = try encoder(inputIDs: ids, attentionMask: mask)
                Issue.record("accepted \(ids) \(mask)")
            } catch {
                #expect(error.description.contains(fragment), "\(error.description)")
            }
        }
        refuses([], [], "empty")
        refuses([[]], [[]], "empty")
        refuses([[1, 2]], [[1, 1], [1, 1]], "2 rows")
        refuses([[1, 2], [1]], [[1, 1], [1]], "row 1")
        refuses([[1, 100]], [[1, 1]], "token id 100")
        refuses([[-1, 1]], [[1, 1]], "token id -1")
        refuses([[1, 2]], [[1, 2]], "value 2")
        refuses([[1, 2]], [[0, 0]], "no token")
    }
}

@Suite("umT5 loading")
struct UMT5LoadingTests {
    /// Copies the `small` fixture's config and writes `tensors` as its weights.
    func folder(with tensors: [(name: String, tensor: Tensor)]) throws -> String {
        let folder = try umt5TemporaryFolder("load")
        try FileManager.default.copyItem(
            atPath: Fixtures.path("umt5/small/text_encoder/config.json"), toPath: folder + "/config.json")
        try SafeTensorsWriter.write(tensors, to: folder + "/model.safetensors")
        return folder
    }

    /// Every tensor of the `small` fixture.
    func fixtureTensors() throws -> [(name: String, tensor: Tensor)] {
        let file = try SafeTensorsFile(path: Fixtures.path("umt5/small/text_encoder/model.safetensors"))
        return try file.names.map { (name: $0, tensor: try file.tensor(named: $0).float32()) }
    }

    @Test("a missing key is refused, naming it")
    func missingKey() throws {
        let key = "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"
        let folder = try folder(with: try fixtureTensors().filter { $0.name != key })
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(throws: CheckpointError.missingKey(key: key, file: "model.safetensors")) {
            _ = try UMT5Encoder(directory: folder)
        }
    }

    @Test("an unused key is refused, naming it")
    func extraKey() throws {
        let folder = try folder(
            with: try fixtureTensors() + [(name: "lm_head.weight", tensor: Tensor(zeros: [100, 32]))])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            _ = try UMT5Encoder(directory: folder)
            Issue.record("loaded a checkpoint with an extra key")
        } catch let error as CheckpointError {
            #expect(error.description.contains("lm_head.weight"), "\(error.description)")
        }
    }

    @Test("a wrongly shaped tensor is refused with both shapes")
    func wrongShape() throws {
        let key = "encoder.block.0.layer.1.DenseReluDense.wi_1.weight"
        let tensors = try fixtureTensors().map { $0.name == key ? (name: key, tensor: Tensor(zeros: [47, 32])) : $0 }
        let folder = try folder(with: tensors)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(
            throws: CheckpointError.shapeMismatch(
                key: key, file: "model.safetensors", expected: [48, 32], found: [47, 32])
        ) {
            _ = try UMT5Encoder(directory: folder)
        }
    }

    @Test("the embedding may be stored as shared.weight, encoder.embed_tokens.weight, or both (shared wins)")
    func embeddingAliases() throws {
        let tensors = try fixtureTensors()
        let shared = tensors.first { $0.name == "shared.weight" }!.tensor
        let ids = [[5, 7, 1]]
        let mask = [[1, 1, 1]]
        let reference = try UMT5Encoder(directory: Fixtures.path("umt5/small/text_encoder"))(
            inputIDs: ids, attentionMask: mask)

        let aliasOnly = try folder(
            with: tensors.map {
                $0.name == "shared.weight" ? (name: "encoder.embed_tokens.weight", tensor: $0.tensor) : $0
            })
        defer { try? FileManager.default.removeItem(atPath: aliasOnly) }
        #expect(try UMT5Encoder(directory: aliasOnly)(inputIDs: ids, attentionMask: mask) == reference)

        let both = try folder(
            with: tensors + [(name: "encoder.embed_tokens.weight", tensor: Tensor(zeros: shared.shape))])
        defer { try? FileManager.default.removeItem(atPath: both) }
        #expect(try UMT5Encoder(directory: both)(inputIDs: ids, attentionMask: mask) == reference)

        let neither = try folder(with: tensors.filter { $0.name != "shared.weight" })
        defer { try? FileManager.default.removeItem(atPath: neither) }
        #expect(throws: UMT5Error.missingEmbedding(directory: neither)) { _ = try UMT5Encoder(directory: neither) }
    }
}

@Suite("umT5 config")
struct UMT5ConfigTests {
    /// The text_encoder/config.json of Wan-AI/Wan2.1-T2V-1.3B-Diffusers (written by transformers 4.x).
    static let wanConfig = """
        {"architectures": ["UMT5EncoderModel"], "classifier_dropout": 0.0, "d_ff": 10240, "d_kv": 64,
         "d_model": 4096, "decoder_start_token_id": 0, "dense_act_fn": "gelu_new", "dropout_rate": 0.1,
         "eos_token_id": 1, "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0,
         "is_encoder_decoder": true, "is_gated_act": true, "layer_norm_epsilon": 1e-06, "model_type": "umt5",
         "num_decoder_layers": 24, "num_heads": 64, "num_layers": 24, "output_past": true, "pad_token_id": 0,
         "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32, "scalable_attention": true,
         "tie_word_embeddings": false, "torch_dtype": "float32", "transformers_version": "4.49.0.dev0",
         "use_cache": true, "vocab_size": 256384}
        """

    func decode(_ text: String) throws -> UMT5Config {
        try JSONDecoder().decode(UMT5Config.self, from: Data(text.utf8))
    }

    @Test("Wan's config decodes to the umT5-xxl preset's shape")
    func wanConfigDecodes() throws {
        let config = try decode(Self.wanConfig)
        try config.validate()
        let xxl = UMT5Config.umt5XXL
        #expect(config.vocabSize == xxl.vocabSize && config.dModel == xxl.dModel && config.dKV == xxl.dKV)
        #expect(config.dFF == xxl.dFF && config.numLayers == xxl.numLayers && config.numHeads == xxl.numHeads)
        #expect(config.relativeAttentionNumBuckets == 32 && config.relativeAttentionMaxDistance == 128)
        #expect(config.layerNormEpsilon == 1e-6)
        #expect(try config.feedForward() == ("gelu_new", true))
        #expect(config.parameters.count == 1 + 24 * 10 + 1)
    }

    @Test("missing keys take transformers' defaults; written configs read back equal")
    func defaultsAndRoundTrip() throws {
        let config = try decode("{}")
        #expect(config == UMT5Config())
        let tiny = UMT5Config.tiny()
        let back = try JSONDecoder().decode(UMT5Config.self, from: try tiny.jsonData())
        try back.validate()
        #expect(back.dModel == tiny.dModel && back.vocabSize == tiny.vocabSize && back.feedForwardProj == "gated-gelu")
        #expect(back.denseActFn == "gelu_new" && back.isGatedAct == true)
    }

    @Test(
        "unsupported values are refused, naming the key",
        arguments: [
            ("{\"feed_forward_proj\": \"relu\"}", "feed_forward_proj"),
            ("{\"feed_forward_proj\": \"gated-silu\"}", "feed_forward_proj"),
            ("{\"feed_forward_proj\": \"gated-gelu-x\"}", "feed_forward_proj"),
            ("{\"dense_act_fn\": \"relu\"}", "dense_act_fn"),
            ("{\"is_gated_act\": false}", "is_gated_act"),
            ("{\"is_decoder\": true}", "is_decoder"),
            ("{\"model_type\": \"t5\"}", "model_type"),
            ("{\"d_model\": 0}", "d_model"),
            ("{\"num_heads\": -3}", "num_heads"),
            ("{\"relative_attention_num_buckets\": 2}", "relative_attention_num_buckets"),
            (
                "{\"relative_attention_num_buckets\": 32, \"relative_attention_max_distance\": 8}",
                "relative_attention_max_distance"
            ),
            ("{\"layer_norm_epsilon\": -1}", "layer_norm_epsilon"),
        ])
    func refusals(json: String, key: String) throws {
        let config = try decode(json)
        do {
            try config.validate()
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.description.contains(key), "\(error.description)")
        }
    }

    @Test("an unreadable config.json names the file")
    func unreadable() throws {
        let folder = try umt5TemporaryFolder("config")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data("{\"d_model\": \"wide\"}".utf8).write(to: URL(fileURLWithPath: folder + "/config.json"))
        do {
            _ = try UMT5Config.load(directory: folder)
            Issue.record("accepted a bad config")
        } catch let error as UMT5Error {
            #expect(error.description.contains(folder + "/config.json"))
        }
    }
}

@Suite("umT5 random weights")
struct UMT5RandomWeightsTests {
    @Test("a seeded random folder loads strictly, runs, and depends only on the seed; shards load the same")
    func randomFolder() throws {
        let single = try umt5TemporaryFolder("random")
        let sharded = try umt5TemporaryFolder("random-sharded")
        defer {
            try? FileManager.default.removeItem(atPath: single)
            try? FileManager.default.removeItem(atPath: sharded)
        }
        let config = UMT5Config.tiny(vocabSize: 50)
        try UMT5Encoder.writeRandom(config: config, seed: 7, to: single)
        try UMT5Encoder.writeRandom(config: config, seed: 7, to: sharded, dtype: .float32, maxShardBytes: 10_000)
        let files = try FileManager.default.contentsOfDirectory(atPath: sharded)
        #expect(files.contains("model.safetensors.index.json"))
        #expect(files.filter { $0.hasSuffix(".safetensors") }.count > 1)
        let ids = [[3, 9, 1, 0], [4, 1, 0, 0]]
        let mask = [[1, 1, 1, 0], [1, 1, 0, 0]]
        let a = try UMT5Encoder(directory: single)(inputIDs: ids, attentionMask: mask)
        let b = try UMT5Encoder(directory: sharded)(inputIDs: ids, attentionMask: mask)
        #expect(a == b)
        #expect(a.scalars.allSatisfy(\.isFinite) && a.scalars.contains { abs($0) > 0.1 })
        // Weight `key` is Tensor.randomNormal on the stream named by the key.
        let parameter = config.parameters.first { $0.name == "encoder.block.1.layer.0.SelfAttention.k.weight" }!
        let stored = try SafeTensorsFile(path: single + "/model.safetensors").tensor(named: parameter.name).float32()
        #expect(
            stored
                == Tensor.randomNormal(
                    shape: parameter.shape, seed: 7, stream: KeyedRandom.stream(named: parameter.name),
                    standardDeviation: 1 / Float(32).squareRoot()))
        #expect(UMT5Encoder.randomParameter(parameter, seed: 8) != stored)
    }

    @Test("init-model presets get a text encoder whose width is the transformer's text_dim")
    func presetConfigs() throws {
        for preset in ModelPreset.all {
            let config = UMT5ComponentWriter.config(for: preset)
            try config.validate()
            #expect(config.dModel == preset.transformer.textDim, "\(preset.name)")
        }
        #expect(UMT5ComponentWriter.config(for: .tiny).vocabSize == UMT5Config.tiny().vocabSize)
        #expect(UMT5ComponentWriter().modelIndexEntry == ("transformers", "UMT5EncoderModel"))
    }
}
