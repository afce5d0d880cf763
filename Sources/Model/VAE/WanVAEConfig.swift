// The configuration of diffusers AutoencoderKLWan (`vae/config.json`), limited to the Wan2.1 architecture.
import Foundation

/// `vae/config.json` of a Wan VAE, with the checkpoint's snake_case field names.
///
/// Only the Wan2.1 architecture is implemented: `is_residual` must be false, `patch_size` null (or 1),
/// `attn_scales` empty, 3 input and output channels. Anything else is refused by `validate()` with an error that
/// names the field and its value. Unknown fields (other than `_`-prefixed bookkeeping) are refused too.
public struct WanVAEConfig: Codable, Sendable, Equatable {
    /// Channels of the encoder's first level (and of the decoder's unless `decoderBaseDim` is set).
    public var baseDim: Int
    /// Channels of the decoder's last level; nil means `baseDim`.
    public var decoderBaseDim: Int?
    /// Latent channels.
    public var zDim: Int
    /// Channel multiplier of each level; `dimMult.count - 1` spatial 2x down/upsamplings.
    public var dimMult: [Int]
    /// Residual blocks per encoder level (the decoder uses one more).
    public var numResBlocks: Int
    /// Encoder levels with attention; must be empty (as in Wan2.1).
    public var attnScales: [Double]
    /// Which encoder downsamplings also halve time (`temperal` is the checkpoint's spelling).
    public var temperalDownsample: [Bool]
    /// Dropout probability (unused at inference).
    public var dropout: Double
    /// Per-channel latent mean the pipeline normalises with.
    public var latentsMean: [Double]
    /// Per-channel latent standard deviation the pipeline normalises with.
    public var latentsStd: [Double]
    /// Wan2.2's residual down/up blocks; must be false.
    public var isResidual: Bool
    /// Video channels in.
    public var inChannels: Int
    /// Video channels out.
    public var outChannels: Int
    /// Wan2.2's pixel patchification; must be nil or 1.
    public var patchSize: Int?
    /// Frames per latent frame (after the first), if stated; must equal 2^(temporal downsamplings).
    public var scaleFactorTemporal: Int?
    /// Pixels per latent pixel, if stated; must equal 2^(dimMult.count - 1).
    public var scaleFactorSpatial: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case baseDim = "base_dim"
        case decoderBaseDim = "decoder_base_dim"
        case zDim = "z_dim"
        case dimMult = "dim_mult"
        case numResBlocks = "num_res_blocks"
        case attnScales = "attn_scales"
        case temperalDownsample = "temperal_downsample"
        case dropout
        case latentsMean = "latents_mean"
        case latentsStd = "latents_std"
        case isResidual = "is_residual"
        case inChannels = "in_channels"
        case outChannels = "out_channels"
        case patchSize = "patch_size"
        case scaleFactorTemporal = "scale_factor_temporal"
        case scaleFactorSpatial = "scale_factor_spatial"
    }

    /// The largest accepted `config.json`.
    public static let maximumConfigBytes = 1_000_000

    /// Creates a configuration; missing values take diffusers' defaults.
    public init(
        baseDim: Int = 96, decoderBaseDim: Int? = nil, zDim: Int = 16, dimMult: [Int] = [1, 2, 4, 4],
        numResBlocks: Int = 2, attnScales: [Double] = [], temperalDownsample: [Bool] = [false, true, true],
        dropout: Double = 0, latentsMean: [Double] = WanVAEConfig.wanLatentsMean,
        latentsStd: [Double] = WanVAEConfig.wanLatentsStd, isResidual: Bool = false, inChannels: Int = 3,
        outChannels: Int = 3, patchSize: Int? = nil, scaleFactorTemporal: Int? = 4, scaleFactorSpatial: Int? = 8
    ) {
        self.baseDim = baseDim
        self.decoderBaseDim = decoderBaseDim
        self.zDim = zDim
        self.dimMult = dimMult
        self.numResBlocks = numResBlocks
        self.attnScales = attnScales
        self.temperalDownsample = temperalDownsample
        self.dropout = dropout
        self.latentsMean = latentsMean
        self.latentsStd = latentsStd
        self.isResidual = isResidual
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.patchSize = patchSize
        self.scaleFactorTemporal = scaleFactorTemporal
        self.scaleFactorSpatial = scaleFactorSpatial
    }

    /// Decodes a configuration, refusing fields it does not know (except `_`-prefixed bookkeeping such as
    /// `_class_name`, which must be "AutoencoderKLWan" when present).
    public init(from decoder: any Decoder) throws {
        let any = try decoder.container(keyedBy: AnyConfigKey.self)
        let known = Set(CodingKeys.allCases.map(\.stringValue))
        for key in any.allKeys.map(\.stringValue).sorted() where !known.contains(key) && !key.hasPrefix("_") {
            throw WanVAEError.unsupportedConfig(field: key, value: "(present)", reason: "unknown field")
        }
        if let className = try? any.decodeIfPresent(String.self, forKey: AnyConfigKey("_class_name")),
            className != "AutoencoderKLWan"
        {
            throw WanVAEError.unsupportedConfig(
                field: "_class_name", value: "\"\(className)\"", reason: "expected \"AutoencoderKLWan\"")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = WanVAEConfig()
        baseDim = try c.decodeIfPresent(Int.self, forKey: .baseDim) ?? defaults.baseDim
        decoderBaseDim = try c.decodeIfPresent(Int.self, forKey: .decoderBaseDim)
        zDim = try c.decodeIfPresent(Int.self, forKey: .zDim) ?? defaults.zDim
        dimMult = try c.decodeIfPresent([Int].self, forKey: .dimMult) ?? defaults.dimMult
        numResBlocks = try c.decodeIfPresent(Int.self, forKey: .numResBlocks) ?? defaults.numResBlocks
        attnScales = try c.decodeIfPresent([Double].self, forKey: .attnScales) ?? []
        temperalDownsample =
            try c.decodeIfPresent([Bool].self, forKey: .temperalDownsample) ?? defaults.temperalDownsample
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? 0
        latentsMean = try c.decodeIfPresent([Double].self, forKey: .latentsMean) ?? defaults.latentsMean
        latentsStd = try c.decodeIfPresent([Double].self, forKey: .latentsStd) ?? defaults.latentsStd
        isResidual = try c.decodeIfPresent(Bool.self, forKey: .isResidual) ?? false
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? 3
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? 3
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize)
        // diffusers defaults these to 4 and 8 when absent; absent here means "derive from the structure".
        scaleFactorTemporal = try c.decodeIfPresent(Int.self, forKey: .scaleFactorTemporal)
        scaleFactorSpatial = try c.decodeIfPresent(Int.self, forKey: .scaleFactorSpatial)
    }

    /// Encodes every field (nil as JSON null) plus `_class_name`, as diffusers' `save_config` does.
    public func encode(to encoder: any Encoder) throws {
        var any = encoder.container(keyedBy: AnyConfigKey.self)
        try any.encode("AutoencoderKLWan", forKey: AnyConfigKey("_class_name"))
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(baseDim, forKey: .baseDim)
        try c.encode(decoderBaseDim, forKey: .decoderBaseDim)
        try c.encode(zDim, forKey: .zDim)
        try c.encode(dimMult, forKey: .dimMult)
        try c.encode(numResBlocks, forKey: .numResBlocks)
        try c.encode(attnScales, forKey: .attnScales)
        try c.encode(temperalDownsample, forKey: .temperalDownsample)
        try c.encode(dropout, forKey: .dropout)
        try c.encode(latentsMean, forKey: .latentsMean)
        try c.encode(latentsStd, forKey: .latentsStd)
        try c.encode(isResidual, forKey: .isResidual)
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(outChannels, forKey: .outChannels)
        try c.encode(patchSize, forKey: .patchSize)
        try c.encode(scaleFactorTemporal, forKey: .scaleFactorTemporal)
        try c.encode(scaleFactorSpatial, forKey: .scaleFactorSpatial)
    }

    // MARK: - Derived values

    /// Channels of the decoder's last level.
    public var decoderDim: Int { decoderBaseDim ?? baseDim }

    /// Video frames per latent frame after the first one: 2^(number of temporal downsamplings).
    public var temporalCompression: Int { 1 << temperalDownsample.filter { $0 }.count }

    /// Video pixels per latent pixel along each side: 2^(dimMult.count - 1).
    public var spatialCompression: Int { 1 << (dimMult.count - 1) }

    /// The number of video frames `latentFrames` latent frames decode to: 1 + (latentFrames - 1) * compression.
    public func videoFrames(latentFrames: Int) -> Int { 1 + (latentFrames - 1) * temporalCompression }

    // MARK: - Validation

    /// Checks every field against what this implementation supports; the error names the field and value.
    public func validate() throws(WanVAEError) {
        func refuse(_ field: String, _ value: Any, _ reason: String) -> WanVAEError {
            .unsupportedConfig(field: field, value: "\(value)", reason: reason)
        }
        if isResidual {
            throw refuse("is_residual", true, "Wan2.2 residual blocks are not implemented (Wan2.1: false)")
        }
        if let patchSize, patchSize != 1 {
            throw refuse("patch_size", patchSize, "Wan2.2 patchification is not implemented (Wan2.1: null)")
        }
        if !attnScales.isEmpty {
            throw refuse("attn_scales", attnScales, "encoder attention levels are not implemented (Wan2.1: [])")
        }
        if inChannels != 3 { throw refuse("in_channels", inChannels, "only 3 (RGB) is supported") }
        if outChannels != 3 { throw refuse("out_channels", outChannels, "only 3 (RGB) is supported") }
        guard (1...4096).contains(baseDim) else { throw refuse("base_dim", baseDim, "must be in 1...4096") }
        if let decoderBaseDim, !(1...4096).contains(decoderBaseDim) {
            throw refuse("decoder_base_dim", decoderBaseDim, "must be in 1...4096")
        }
        guard (1...1024).contains(zDim) else { throw refuse("z_dim", zDim, "must be in 1...1024") }
        guard (1...8).contains(dimMult.count) else {
            throw refuse("dim_mult", dimMult, "must have 1...8 levels")
        }
        guard dimMult.allSatisfy({ (1...64).contains($0) }) else {
            throw refuse("dim_mult", dimMult, "every multiplier must be in 1...64")
        }
        guard (0...16).contains(numResBlocks) else { throw refuse("num_res_blocks", numResBlocks, "must be in 0...16") }
        guard temperalDownsample.count == dimMult.count - 1 else {
            throw refuse(
                "temperal_downsample", temperalDownsample,
                "needs one entry per downsampling (\(dimMult.count - 1) for dim_mult \(dimMult))")
        }
        guard temperalDownsample.filter({ $0 }).count <= 2 else {
            throw refuse(
                "temperal_downsample", temperalDownsample,
                "at most 2 temporal downsamplings (the encoder takes 4 frames per chunk)")
        }
        guard dropout.isFinite, (0...1).contains(dropout) else { throw refuse("dropout", dropout, "must be in [0, 1]") }
        guard latentsMean.count == zDim, latentsMean.allSatisfy(\.isFinite) else {
            throw refuse("latents_mean", "\(latentsMean.count) values", "needs z_dim = \(zDim) finite values")
        }
        guard latentsStd.count == zDim, latentsStd.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw refuse("latents_std", "\(latentsStd.count) values", "needs z_dim = \(zDim) finite positive values")
        }
        if let scaleFactorTemporal, scaleFactorTemporal != temporalCompression {
            throw refuse(
                "scale_factor_temporal", scaleFactorTemporal,
                "the structure (temperal_downsample \(temperalDownsample)) compresses time by \(temporalCompression)")
        }
        if let scaleFactorSpatial, scaleFactorSpatial != spatialCompression {
            throw refuse(
                "scale_factor_spatial", scaleFactorSpatial,
                "the structure (dim_mult \(dimMult)) compresses space by \(spatialCompression)")
        }
    }

    // MARK: - Files

    /// Reads and validates `config.json` in `directory`.
    public static func load(directory: String) throws -> WanVAEConfig {
        let path = (directory as NSString).appendingPathComponent("config.json")
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw WanVAEError.unreadableConfig(path: path, reason: "cannot open the file")
        }
        defer { try? handle.close() }
        let data = try handle.read(upToCount: maximumConfigBytes + 1) ?? Data()
        guard data.count <= maximumConfigBytes else {
            throw WanVAEError.unreadableConfig(path: path, reason: "larger than \(maximumConfigBytes) bytes")
        }
        let config: WanVAEConfig
        do {
            config = try JSONDecoder().decode(WanVAEConfig.self, from: data)
        } catch let error as WanVAEError {
            throw error
        } catch {
            throw WanVAEError.unreadableConfig(path: path, reason: "not a valid AutoencoderKLWan config: \(error)")
        }
        try config.validate()
        return config
    }

    /// The configuration as pretty-printed JSON with sorted keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    // MARK: - Presets

    /// The published Wan2.1 VAE (base_dim 96, z_dim 16, dim_mult [1, 2, 4, 4], two residual blocks per level).
    public static let wan21 = WanVAEConfig()

    /// A tiny Wan2.1-shaped VAE for tests and demos (4x time, 8x space compression like the real one).
    public static func tiny(zDim: Int = 16, baseDim: Int = 8) -> WanVAEConfig {
        WanVAEConfig(
            baseDim: baseDim, zDim: zDim, dimMult: [1, 2, 2, 2], numResBlocks: 1,
            latentsMean: zDim == 16 ? wanLatentsMean : Array(repeating: 0, count: zDim),
            latentsStd: zDim == 16 ? wanLatentsStd : Array(repeating: 1, count: zDim))
    }

    /// diffusers' default `latents_mean` (the statistics of the published Wan2.1 VAE).
    public static let wanLatentsMean: [Double] = [
        -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
        0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
    ]

    /// diffusers' default `latents_std` (the statistics of the published Wan2.1 VAE).
    public static let wanLatentsStd: [Double] = [
        2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
        3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160,
    ]
}

/// Any JSON object key, for finding unknown config fields.
struct AnyConfigKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
