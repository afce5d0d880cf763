// transformers UMT5EncoderModel (UMT5Stack as an encoder): embedding, blocks, final RMS norm -> last_hidden_state.
import Foundation

/// The umT5 text encoder of a Wan checkpoint (`text_encoder/`), loaded strictly from its safetensors.
///
/// Checkpoint keys are `transformers`' names. The token embedding is `shared.weight`; `UMT5EncoderModel` ties
/// `encoder.embed_tokens.weight` to it, so a file may hold either key or both. When both are present,
/// `shared.weight` is used (as `transformers` does: tying overwrites the alias) and the alias is only
/// checked for shape. Every other key must be one this model uses, with the exact shape.
public struct UMT5Encoder: Sendable {
    /// The configuration the weights were loaded for.
    public let config: UMT5Config
    /// The token embedding table `[vocab_size, d_model]`, kept as stored (rows are widened on lookup).
    public let embedding: StoredTensor
    /// The encoder blocks, each with its own relative position bias.
    public let blocks: [UMT5Block]
    /// Weight of the final RMS norm (`encoder.final_layer_norm.weight`).
    public let finalNorm: Tensor

    /// Loads `config.json` and `model.safetensors` (or `model.safetensors.index.json` and its shards) from a
    /// `text_encoder/` folder, refusing missing, unused or wrongly shaped tensors.
    public init(directory: String) throws {
        let config = try UMT5Config.load(directory: directory)
        let store = try WeightStore(directory: directory, fileStem: "model")
        try self.init(config: config, store: store, directory: directory)
        try store.verifyAllUsed()
    }

    /// Takes every weight of `config`'s encoder from `store`; the caller verifies that nothing is left unused.
    public init(config: UMT5Config, store: WeightStore, directory: String = "(store)") throws {
        try config.validate()
        self.config = config
        let shape = [config.vocabSize, config.dModel]
        let shared = try store.takeOptional("shared.weight", shape: shape)
        let alias = try store.takeOptional("encoder.embed_tokens.weight", shape: shape)
        guard let table = shared ?? alias else { throw UMT5Error.missingEmbedding(directory: directory) }
        embedding = table
        blocks = try (0..<config.numLayers).map { try UMT5Block(store: store, index: $0, config: config) }
        finalNorm = try store.take("encoder.final_layer_norm.weight", shape: [config.dModel]).float32()
    }

    // MARK: - Running

    /// `last_hidden_state` `[B, L, d_model]` for token ids `[B][L]` and their attention mask (1 = token, 0 = padding).
    ///
    /// Every position gets an output, padding included (padded queries still attend to the real tokens), exactly
    /// as `UMT5EncoderModel` returns it. Ids must be in `0..<vocab_size`, mask values 0 or 1, and every row must
    /// attend to at least one token.
    public func callAsFunction(inputIDs: [[Int]], attentionMask: [[Int]]) throws(UMT5Error) -> Tensor {
        let (batch, length) = try validate(inputIDs: inputIDs, attentionMask: attentionMask)
        let keyMask = Tensor(shape: [batch, length], scalars: attentionMask.flatMap { $0.map(Float.init) })
        let buckets = UMT5Attention.offsetBuckets(
            length: length, numBuckets: config.relativeAttentionNumBuckets,
            maxDistance: config.relativeAttentionMaxDistance)
        var hidden = embed(inputIDs.flatMap { $0 }).reshaped([batch, length, config.dModel])
        for block in blocks {
            hidden = block(hidden, keyMask: keyMask, buckets: buckets)
        }
        return Ops.rmsNorm(hidden, weight: finalNorm, eps: Float(config.layerNormEpsilon))
    }

    /// Checks the inputs' shapes and values; returns (batch, length).
    func validate(inputIDs: [[Int]], attentionMask: [[Int]]) throws(UMT5Error) -> (Int, Int) {
        guard let length = inputIDs.first?.count, length > 0 else {
            throw .invalidInput(what: "input_ids", reason: "is empty; expected at least one row of one token")
        }
        guard attentionMask.count == inputIDs.count else {
            throw .invalidInput(
                what: "attention_mask",
                reason: "has \(attentionMask.count) rows but input_ids has \(inputIDs.count)")
        }
        for (row, (ids, mask)) in zip(inputIDs, attentionMask).enumerated() {
            guard ids.count == length, mask.count == length else {
                throw .invalidInput(
                    what: "row \(row)",
                    reason: "has \(ids.count) ids and \(mask.count) mask values; expected \(length) of each")
            }
            if let bad = ids.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
                throw .invalidInput(
                    what: "input_ids row \(row)",
                    reason: "token id \(bad) is outside 0..<\(config.vocabSize)")
            }
            if let bad = mask.first(where: { $0 != 0 && $0 != 1 }) {
                throw .invalidInput(what: "attention_mask row \(row)", reason: "value \(bad) is neither 0 nor 1")
            }
            guard mask.contains(1) else {
                throw .invalidInput(what: "attention_mask row \(row)", reason: "attends to no token (all zeros)")
            }
        }
        return (inputIDs.count, length)
    }

    /// The embedding rows of `ids` (already checked to be in range), `[ids.count, d_model]`; only these rows of
    /// the table are read and widened.
    func embed(_ ids: [Int]) -> Tensor {
        let width = config.dModel
        return Tensor(shape: [ids.count, width]) { buffer in
            for (position, id) in ids.enumerated() {
                embedding.widen(elements: id * width..<(id + 1) * width, into: buffer.baseAddress! + position * width)
            }
        }
    }
}
