// diffusers WanTransformer3DModel's config.json (transformer/config.json), decoded and checked.
import Foundation

/// The configuration of a Wan video transformer, as diffusers stores it in `transformer/config.json`.
///
/// Keys missing from the file take diffusers' defaults for `WanTransformer3DModel.__init__`. Options this engine
/// does not implement (image conditioning through `image_dim` / `added_kv_proj_dim`, `pos_embed_seq_len`) are
/// refused by `validate()` with an error that names them.
public struct WanTransformerConfig: Codable, Sendable, Equatable {
    /// Patch extent over (frames, height, width); the patch embedding is a Conv3d with kernel = stride = this.
    public var patchSize: [Int]
    /// Attention heads per layer.
    public var numAttentionHeads: Int
    /// Channels per head.
    public var attentionHeadDim: Int
    /// Latent channels in.
    public var inChannels: Int
    /// Latent channels out (`null` or 0 in the file means `inChannels`, as in diffusers).
    public var outChannels: Int
    /// Width of the text encoder's hidden states.
    public var textDim: Int
    /// Width of the sinusoidal timestep embedding.
    public var freqDim: Int
    /// Inner width of each feed-forward network.
    public var ffnDim: Int
    /// Number of transformer blocks.
    public var numLayers: Int
    /// Whether cross-attention is preceded by an affine LayerNorm (`norm2`).
    public var crossAttnNorm: Bool
    /// The query/key normalisation; only `"rms_norm_across_heads"` exists in the Wan family.
    public var qkNorm: String?
    /// Epsilon of every LayerNorm and RMSNorm.
    public var eps: Double
    /// Image-conditioning width (image-to-video models); not supported, must be absent or null.
    public var imageDim: Int?
    /// Added key/value projection width (image-to-video models); not supported, must be absent or null.
    public var addedKvProjDim: Int?
    /// Positions in the rotary tables; each of frames, height and width after patching must fit.
    public var ropeMaxSeqLen: Int
    /// Learned image position embedding length (FLF2V models); not supported, must be absent or null.
    public var posEmbedSeqLen: Int?

    /// The checkpoint's snake_case key names.
    public enum CodingKeys: String, CodingKey {
        case patchSize = "patch_size"
        case numAttentionHeads = "num_attention_heads"
        case attentionHeadDim = "attention_head_dim"
        case inChannels = "in_channels"
        case outChannels = "out_channels"
        case textDim = "text_dim"
        case freqDim = "freq_dim"
        case ffnDim = "ffn_dim"
        case numLayers = "num_layers"
        case crossAttnNorm = "cross_attn_norm"
        case qkNorm = "qk_norm"
        case eps
        case imageDim = "image_dim"
        case addedKvProjDim = "added_kv_proj_dim"
        case ropeMaxSeqLen = "rope_max_seq_len"
        case posEmbedSeqLen = "pos_embed_seq_len"
    }

    /// The class-name key diffusers writes before the fields.
    private enum HeaderKeys: String, CodingKey {
        case className = "_class_name"
    }

    /// The only query/key normalisation diffusers' Wan attention implements.
    public static let supportedQKNorm = "rms_norm_across_heads"

    /// Creates a configuration; defaults are diffusers' `WanTransformer3DModel` defaults.
    public init(
        patchSize: [Int] = [1, 2, 2], numAttentionHeads: Int = 40, attentionHeadDim: Int = 128, inChannels: Int = 16,
        outChannels: Int = 16, textDim: Int = 4096, freqDim: Int = 256, ffnDim: Int = 13824, numLayers: Int = 40,
        crossAttnNorm: Bool = true, qkNorm: String? = WanTransformerConfig.supportedQKNorm, eps: Double = 1e-6,
        imageDim: Int? = nil, addedKvProjDim: Int? = nil, ropeMaxSeqLen: Int = 1024, posEmbedSeqLen: Int? = nil
    ) {
        self.patchSize = patchSize
        self.numAttentionHeads = numAttentionHeads
        self.attentionHeadDim = attentionHeadDim
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.textDim = textDim
        self.freqDim = freqDim
        self.ffnDim = ffnDim
        self.numLayers = numLayers
        self.crossAttnNorm = crossAttnNorm
        self.qkNorm = qkNorm
        self.eps = eps
        self.imageDim = imageDim
        self.addedKvProjDim = addedKvProjDim
        self.ropeMaxSeqLen = ropeMaxSeqLen
        self.posEmbedSeqLen = posEmbedSeqLen
    }

    /// Decodes the file's keys, filling absent ones with diffusers' defaults.
    public init(from decoder: any Decoder) throws {
        let defaults = WanTransformerConfig()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try container.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        patchSize = try value(.patchSize, defaults.patchSize)
        numAttentionHeads = try value(.numAttentionHeads, defaults.numAttentionHeads)
        attentionHeadDim = try value(.attentionHeadDim, defaults.attentionHeadDim)
        inChannels = try value(.inChannels, defaults.inChannels)
        // diffusers: `out_channels = out_channels or in_channels`.
        let out: Int? =
            container.contains(.outChannels)
            ? try container.decodeIfPresent(Int.self, forKey: .outChannels) : defaults.outChannels
        outChannels = (out == nil || out == 0) ? inChannels : out!
        textDim = try value(.textDim, defaults.textDim)
        freqDim = try value(.freqDim, defaults.freqDim)
        ffnDim = try value(.ffnDim, defaults.ffnDim)
        numLayers = try value(.numLayers, defaults.numLayers)
        crossAttnNorm = try value(.crossAttnNorm, defaults.crossAttnNorm)
        qkNorm =
            container.contains(.qkNorm)
            ? try container.decodeIfPresent(String.self, forKey: .qkNorm) : defaults.qkNorm
        eps = try value(.eps, defaults.eps)
        imageDim = try container.decodeIfPresent(Int.self, forKey: .imageDim)
        addedKvProjDim = try container.decodeIfPresent(Int.self, forKey: .addedKvProjDim)
        ropeMaxSeqLen = try value(.ropeMaxSeqLen, defaults.ropeMaxSeqLen)
        posEmbedSeqLen = try container.decodeIfPresent(Int.self, forKey: .posEmbedSeqLen)
    }

    /// Encodes every key, nulls included, as diffusers writes the file.
    public func encode(to encoder: any Encoder) throws {
        var header = encoder.container(keyedBy: HeaderKeys.self)
        try header.encode("WanTransformer3DModel", forKey: .className)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(patchSize, forKey: .patchSize)
        try container.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try container.encode(attentionHeadDim, forKey: .attentionHeadDim)
        try container.encode(inChannels, forKey: .inChannels)
        try container.encode(outChannels, forKey: .outChannels)
        try container.encode(textDim, forKey: .textDim)
        try container.encode(freqDim, forKey: .freqDim)
        try container.encode(ffnDim, forKey: .ffnDim)
        try container.encode(numLayers, forKey: .numLayers)
        try container.encode(crossAttnNorm, forKey: .crossAttnNorm)
        try container.encode(qkNorm, forKey: .qkNorm)
        try container.encode(eps, forKey: .eps)
        try container.encode(imageDim, forKey: .imageDim)
        try container.encode(addedKvProjDim, forKey: .addedKvProjDim)
        try container.encode(ropeMaxSeqLen, forKey: .ropeMaxSeqLen)
        try container.encode(posEmbedSeqLen, forKey: .posEmbedSeqLen)
    }

    // MARK: - Derived sizes

    /// The model width: heads x head dimension.
    public var innerDim: Int { numAttentionHeads * attentionHeadDim }
    /// Patch extent over frames.
    public var patchFrames: Int { patchSize[0] }
    /// Patch extent over height.
    public var patchHeight: Int { patchSize[1] }
    /// Patch extent over width.
    public var patchWidth: Int { patchSize[2] }
    /// Elements of one input patch: in_channels x the patch volume.
    public var patchInputSize: Int { inChannels * patchSize.reduce(1, *) }
    /// Elements of one output patch: out_channels x the patch volume.
    public var patchOutputSize: Int { outChannels * patchSize.reduce(1, *) }

    // MARK: - Validation

    /// Upper bounds that keep a hostile config from asking for absurd allocations.
    public enum Limits {
        /// Largest accepted width of any layer.
        public static let maxWidth = 1 << 16
        /// Largest accepted number of blocks.
        public static let maxLayers = 1024
        /// Largest accepted patch extent.
        public static let maxPatch = 64
        /// Largest accepted rotary table length.
        public static let maxRopeLength = 1 << 20
    }

    /// Checks every value is usable and every option is supported; the error names the key and the value.
    public func validate() throws(TransformerError) {
        func positive(_ name: String, _ value: Int, max: Int = Limits.maxWidth) throws(TransformerError) {
            guard value > 0, value <= max else {
                throw .invalidConfig("\(name) must be in 1...\(max), got \(value)")
            }
        }
        if let imageDim {
            throw .unsupported(
                "image_dim = \(imageDim) (image-to-video conditioning) is not supported; only text-to-video")
        }
        if let addedKvProjDim {
            throw .unsupported(
                "added_kv_proj_dim = \(addedKvProjDim) (image-to-video conditioning) is not supported; "
                    + "only text-to-video")
        }
        if let posEmbedSeqLen {
            throw .unsupported("pos_embed_seq_len = \(posEmbedSeqLen) (image position embedding) is not supported")
        }
        guard qkNorm == WanTransformerConfig.supportedQKNorm else {
            throw .unsupported(
                "qk_norm = \(qkNorm.map { "\"\($0)\"" } ?? "null") is not supported; "
                    + "only \"\(WanTransformerConfig.supportedQKNorm)\"")
        }
        guard patchSize.count == 3 else {
            throw .invalidConfig("patch_size must have 3 entries (frames, height, width), got \(patchSize)")
        }
        for value in patchSize { try positive("patch_size entry", value, max: Limits.maxPatch) }
        try positive("num_attention_heads", numAttentionHeads)
        try positive("attention_head_dim", attentionHeadDim)
        guard attentionHeadDim % 2 == 0 else {
            throw .invalidConfig("attention_head_dim must be even (rotary pairs), got \(attentionHeadDim)")
        }
        try positive("num_attention_heads x attention_head_dim", innerDim)
        try positive("in_channels", inChannels)
        try positive("out_channels", outChannels)
        try positive("text_dim", textDim)
        try positive("freq_dim", freqDim)
        try positive("ffn_dim", ffnDim)
        try positive("num_layers", numLayers, max: Limits.maxLayers)
        try positive("rope_max_seq_len", ropeMaxSeqLen, max: Limits.maxRopeLength)
        guard eps.isFinite, eps > 0 else { throw .invalidConfig("eps must be a positive number, got \(eps)") }
    }

    /// Reads and validates `config.json` at `path`.
    public static func load(path: String) throws -> WanTransformerConfig {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TransformerError.io("cannot read transformer config \(path): \(error.localizedDescription)")
        }
        guard data.count <= 1 << 20 else {
            throw TransformerError.invalidConfig("\(path) is \(data.count) bytes; a config is at most 1 MiB")
        }
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let className = object["_class_name"] as? String, className != "WanTransformer3DModel"
        {
            throw TransformerError.unsupported("\(path) describes a \(className), not a WanTransformer3DModel")
        }
        let config: WanTransformerConfig
        do {
            config = try JSONDecoder().decode(WanTransformerConfig.self, from: data)
        } catch {
            throw TransformerError.invalidConfig("\(path): \(error)")
        }
        do {
            try config.validate()
        } catch {
            throw error.prefixed(path)
        }
        return config
    }

    /// The file's JSON: `_class_name` and every key in sorted order, as diffusers writes it.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self) + Data("\n".utf8)
    }
}
