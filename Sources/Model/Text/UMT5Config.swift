// transformers UMT5Config: the `text_encoder/config.json` of a Wan checkpoint, read strictly.
import Foundation

/// The shape of a umT5 encoder, as `transformers` writes it to `text_encoder/config.json`.
///
/// Keys missing from the file take `transformers`' `UMT5Config` defaults. Values this implementation cannot run
/// (a decoder, a feed-forward other than gated GELU, a model type other than `umt5`) are refused by `validate()`
/// with an error that names the key and the value.
public struct UMT5Config: Codable, Sendable, Equatable {
    /// Rows of the token embedding table.
    public var vocabSize: Int
    /// Width of the hidden states.
    public var dModel: Int
    /// Width of one attention head.
    public var dKV: Int
    /// Inner width of the feed-forward network.
    public var dFF: Int
    /// Number of encoder blocks.
    public var numLayers: Int
    /// Number of attention heads.
    public var numHeads: Int
    /// Number of relative-position buckets (split between the two directions).
    public var relativeAttentionNumBuckets: Int
    /// Relative distance from which on all positions share the last bucket.
    public var relativeAttentionMaxDistance: Int
    /// The feed-forward kind, `gated-<activation>` or `<activation>`; only `gated-gelu` is implemented.
    public var feedForwardProj: String
    /// Epsilon of the RMS layer norms.
    public var layerNormEpsilon: Double
    /// The activation as the file states it (`transformers` derives it from `feedForwardProj`), if present.
    public var denseActFn: String?
    /// Whether the feed-forward is gated as the file states it (derived from `feedForwardProj`), if present.
    public var isGatedAct: Bool?
    /// Whether the decoder's output embedding is tied; irrelevant to the encoder, kept for the file's sake.
    public var tieWordEmbeddings: Bool?
    /// Whether the stack is a decoder (causal); an encoder checkpoint has `false`.
    public var isDecoder: Bool
    /// The `model_type`, `umt5` when present.
    public var modelType: String?
    /// The padding token id.
    public var padTokenID: Int?

    /// The JSON keys, exactly as `transformers` writes them.
    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case dModel = "d_model"
        case dKV = "d_kv"
        case dFF = "d_ff"
        case numLayers = "num_layers"
        case numHeads = "num_heads"
        case relativeAttentionNumBuckets = "relative_attention_num_buckets"
        case relativeAttentionMaxDistance = "relative_attention_max_distance"
        case feedForwardProj = "feed_forward_proj"
        case layerNormEpsilon = "layer_norm_epsilon"
        case denseActFn = "dense_act_fn"
        case isGatedAct = "is_gated_act"
        case tieWordEmbeddings = "tie_word_embeddings"
        case isDecoder = "is_decoder"
        case modelType = "model_type"
        case padTokenID = "pad_token_id"
        case architectures
    }

    /// Creates a configuration; the defaults are `transformers`' `UMT5Config` defaults.
    public init(
        vocabSize: Int = 250_112, dModel: Int = 512, dKV: Int = 64, dFF: Int = 1024, numLayers: Int = 8,
        numHeads: Int = 6, relativeAttentionNumBuckets: Int = 32, relativeAttentionMaxDistance: Int = 128,
        feedForwardProj: String = "gated-gelu", layerNormEpsilon: Double = 1e-6
    ) {
        self.vocabSize = vocabSize
        self.dModel = dModel
        self.dKV = dKV
        self.dFF = dFF
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.relativeAttentionNumBuckets = relativeAttentionNumBuckets
        self.relativeAttentionMaxDistance = relativeAttentionMaxDistance
        self.feedForwardProj = feedForwardProj
        self.layerNormEpsilon = layerNormEpsilon
        self.denseActFn = nil
        self.isGatedAct = nil
        self.tieWordEmbeddings = nil
        self.isDecoder = false
        self.modelType = nil
        self.padTokenID = nil
    }

    /// Decodes a `config.json`, taking `transformers`' defaults for missing keys. Call `validate()` before use.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = UMT5Config()
        vocabSize = try container.decodeIfPresent(Int.self, forKey: .vocabSize) ?? defaults.vocabSize
        dModel = try container.decodeIfPresent(Int.self, forKey: .dModel) ?? defaults.dModel
        dKV = try container.decodeIfPresent(Int.self, forKey: .dKV) ?? defaults.dKV
        dFF = try container.decodeIfPresent(Int.self, forKey: .dFF) ?? defaults.dFF
        numLayers = try container.decodeIfPresent(Int.self, forKey: .numLayers) ?? defaults.numLayers
        numHeads = try container.decodeIfPresent(Int.self, forKey: .numHeads) ?? defaults.numHeads
        relativeAttentionNumBuckets =
            try container.decodeIfPresent(Int.self, forKey: .relativeAttentionNumBuckets)
            ?? defaults.relativeAttentionNumBuckets
        relativeAttentionMaxDistance =
            try container.decodeIfPresent(Int.self, forKey: .relativeAttentionMaxDistance)
            ?? defaults.relativeAttentionMaxDistance
        feedForwardProj =
            try container.decodeIfPresent(String.self, forKey: .feedForwardProj) ?? defaults.feedForwardProj
        layerNormEpsilon =
            try container.decodeIfPresent(Double.self, forKey: .layerNormEpsilon) ?? defaults.layerNormEpsilon
        denseActFn = try container.decodeIfPresent(String.self, forKey: .denseActFn)
        isGatedAct = try container.decodeIfPresent(Bool.self, forKey: .isGatedAct)
        tieWordEmbeddings = try container.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings)
        isDecoder = try container.decodeIfPresent(Bool.self, forKey: .isDecoder) ?? false
        modelType = try container.decodeIfPresent(String.self, forKey: .modelType)
        padTokenID = try container.decodeIfPresent(Int.self, forKey: .padTokenID)
    }

    /// Writes the keys `transformers` needs to load the folder as a `UMT5EncoderModel`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(["UMT5EncoderModel"], forKey: .architectures)
        try container.encode(vocabSize, forKey: .vocabSize)
        try container.encode(dModel, forKey: .dModel)
        try container.encode(dKV, forKey: .dKV)
        try container.encode(dFF, forKey: .dFF)
        try container.encode(numLayers, forKey: .numLayers)
        try container.encode(numHeads, forKey: .numHeads)
        try container.encode(relativeAttentionNumBuckets, forKey: .relativeAttentionNumBuckets)
        try container.encode(relativeAttentionMaxDistance, forKey: .relativeAttentionMaxDistance)
        try container.encode(feedForwardProj, forKey: .feedForwardProj)
        try container.encode(layerNormEpsilon, forKey: .layerNormEpsilon)
        let activation = try? feedForward()
        try container.encodeIfPresent(denseActFn ?? activation?.activation, forKey: .denseActFn)
        try container.encodeIfPresent(isGatedAct ?? activation?.gated, forKey: .isGatedAct)
        try container.encode(tieWordEmbeddings ?? true, forKey: .tieWordEmbeddings)
        try container.encode(isDecoder, forKey: .isDecoder)
        try container.encode(modelType ?? "umt5", forKey: .modelType)
        try container.encode(padTokenID ?? 0, forKey: .padTokenID)
    }

    // MARK: - Reading and checking

    /// Reads and validates `config.json` in `directory` (a `text_encoder/` folder).
    public static func load(directory: String) throws -> UMT5Config {
        let path = (directory as NSString).appendingPathComponent("config.json")
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw UMT5Error.unreadableConfig(path: path, reason: "\(error.localizedDescription)")
        }
        guard data.count <= 1 << 20 else {
            throw UMT5Error.unreadableConfig(path: path, reason: "file is \(data.count) bytes, more than 1 MiB")
        }
        let config: UMT5Config
        do {
            config = try JSONDecoder().decode(UMT5Config.self, from: data)
        } catch {
            throw UMT5Error.unreadableConfig(path: path, reason: "\(error)")
        }
        try config.validate()
        return config
    }

    /// The feed-forward as `transformers` derives it from `feed_forward_proj`: activation name and gating.
    ///
    /// `gated-gelu` means the tanh-approximated GELU (`gelu_new`), as `UMT5Config.__post_init__` states.
    public func feedForward() throws(UMT5Error) -> (activation: String, gated: Bool) {
        let parts = feedForwardProj.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 1 || (parts.count == 2 && parts[0] == "gated") else {
            throw .unsupportedConfig(
                key: "feed_forward_proj", value: feedForwardProj,
                reason: "expected 'gated-ACT' or 'ACT'")
        }
        let gated = parts.count == 2
        let activation = feedForwardProj == "gated-gelu" ? "gelu_new" : parts[parts.count - 1]
        return (activation, gated)
    }

    /// Checks every value this implementation relies on; the error names the key and the value.
    public func validate() throws(UMT5Error) {
        func positive(_ value: Int, _ key: String, max limit: Int) throws(UMT5Error) {
            guard value >= 1 && value <= limit else {
                throw .unsupportedConfig(key: key, value: "\(value)", reason: "expected 1...\(limit)")
            }
        }
        try positive(vocabSize, "vocab_size", max: 1 << 24)
        try positive(dModel, "d_model", max: 1 << 16)
        try positive(dKV, "d_kv", max: 1 << 12)
        try positive(dFF, "d_ff", max: 1 << 18)
        try positive(numLayers, "num_layers", max: 1024)
        try positive(numHeads, "num_heads", max: 1024)
        try positive(relativeAttentionMaxDistance, "relative_attention_max_distance", max: 1 << 20)
        guard relativeAttentionNumBuckets >= 4 && relativeAttentionNumBuckets <= 1 << 16 else {
            throw .unsupportedConfig(
                key: "relative_attention_num_buckets", value: "\(relativeAttentionNumBuckets)",
                reason: "expected 4...65536 (half per direction, half of those exact)")
        }
        let maxExact = relativeAttentionNumBuckets / 2 / 2
        guard relativeAttentionMaxDistance > maxExact else {
            throw .unsupportedConfig(
                key: "relative_attention_max_distance", value: "\(relativeAttentionMaxDistance)",
                reason: "must exceed the \(maxExact) exactly-bucketed distances, or the logarithmic buckets divide by 0"
            )
        }
        guard layerNormEpsilon.isFinite && layerNormEpsilon >= 0 else {
            throw .unsupportedConfig(
                key: "layer_norm_epsilon", value: "\(layerNormEpsilon)",
                reason: "expected a finite non-negative number")
        }
        guard !isDecoder else {
            throw .unsupportedConfig(key: "is_decoder", value: "true", reason: "only the umT5 encoder is implemented")
        }
        if let modelType, modelType != "umt5" {
            throw .unsupportedConfig(
                key: "model_type", value: modelType,
                reason: "expected 'umt5' (T5 proper has a position bias in its first layer only)")
        }
        let (activation, gated) = try feedForward()
        guard gated && activation == "gelu_new" else {
            throw .unsupportedConfig(
                key: "feed_forward_proj", value: feedForwardProj,
                reason: "only 'gated-gelu' (gelu_new, the tanh approximation) is implemented")
        }
        // transformers recomputes these two from feed_forward_proj; a file that disagrees was edited by hand.
        if let denseActFn, denseActFn != activation {
            throw .unsupportedConfig(
                key: "dense_act_fn", value: denseActFn,
                reason: "disagrees with feed_forward_proj '\(feedForwardProj)', which means '\(activation)'")
        }
        if let isGatedAct, isGatedAct != gated {
            throw .unsupportedConfig(
                key: "is_gated_act", value: "\(isGatedAct)",
                reason: "disagrees with feed_forward_proj '\(feedForwardProj)'")
        }
    }

    /// Width of all heads together (`num_heads * d_kv`), which need not equal `d_model`.
    public var innerDimension: Int { numHeads * dKV }

    // MARK: - Presets

    /// A tiny encoder for tests and the built-in demo model (a few thousand parameters plus the embedding).
    public static func tiny(vocabSize: Int = 256) -> UMT5Config {
        UMT5Config(vocabSize: vocabSize, dModel: 32, dKV: 8, dFF: 64, numLayers: 2, numHeads: 4)
    }

    /// The umT5-xxl encoder that Wan2.1 uses (about 5.7 billion parameters), for reference: its shapes are those
    /// of `Wan-AI/Wan2.1-T2V-*-Diffusers/text_encoder`. Far too large to write as random weights in memory.
    public static let umt5XXL = UMT5Config(
        vocabSize: 256_384, dModel: 4096, dKV: 64, dFF: 10240, numLayers: 24, numHeads: 64,
        relativeAttentionNumBuckets: 32, relativeAttentionMaxDistance: 128)
}
