// Named model configurations that `coordinator init-model` writes with seeded random weights.

/// A named model size: the configs of its components and the scheduler settings its pipeline ships with.
///
/// Component writers (see `ModelFolderWriter`) read the preset; a component whose config is not a field here (the
/// VAE, the text encoder) chooses its config from `name`.
public struct ModelPreset: Sendable {
    /// The preset's name on the command line.
    public let name: String
    /// One line for help text.
    public let summary: String
    /// The transformer's config.
    public let transformer: WanTransformerConfig
    /// The UniPC scheduler's `flow_shift` (3.0 for 480p Wan2.1 pipelines, 5.0 for 720p).
    public let flowShift: Double
    /// Weight dtype used when the command line does not choose one.
    public let defaultDType: DType

    /// Creates a preset.
    public init(
        name: String, summary: String, transformer: WanTransformerConfig, flowShift: Double, defaultDType: DType
    ) {
        self.name = name
        self.summary = summary
        self.transformer = transformer
        self.flowShift = flowShift
        self.defaultDType = defaultDType
    }

    /// A model for tests: two heads of 16, two layers, text width 32.
    public static let tiny = ModelPreset(
        name: "tiny", summary: "test-sized: dim 32 (2 heads of 16), 2 layers, ffn 64, text_dim 32",
        transformer: WanTransformerConfig(
            patchSize: [1, 2, 2], numAttentionHeads: 2, attentionHeadDim: 16, inChannels: 16, outChannels: 16,
            textDim: 32, freqDim: 32, ffnDim: 64, numLayers: 2, crossAttnNorm: true),
        flowShift: 3.0, defaultDType: .float32)

    /// Two layers of the real 1.3B model's shape, for benchmarks.
    public static let bench = ModelPreset(
        name: "bench", summary: "benchmark: two layers of Wan2.1-T2V-1.3B (dim 1536, 12 heads of 128, ffn 8960)",
        transformer: WanTransformerConfig(
            patchSize: [1, 2, 2], numAttentionHeads: 12, attentionHeadDim: 128, inChannels: 16, outChannels: 16,
            textDim: 4096, freqDim: 256, ffnDim: 8960, numLayers: 2, crossAttnNorm: true),
        flowShift: 3.0, defaultDType: .float32)

    /// The shapes of Wan2.1-T2V-1.3B (random weights).
    public static let wan13b = ModelPreset(
        name: "wan-1.3b", summary: "the shapes of Wan2.1-T2V-1.3B: dim 1536, 30 layers (random weights)",
        transformer: WanTransformerConfig(
            patchSize: [1, 2, 2], numAttentionHeads: 12, attentionHeadDim: 128, inChannels: 16, outChannels: 16,
            textDim: 4096, freqDim: 256, ffnDim: 8960, numLayers: 30, crossAttnNorm: true),
        flowShift: 3.0, defaultDType: .bfloat16)

    /// Every preset, in the order help lists them.
    public static let all: [ModelPreset] = [tiny, bench, wan13b]

    /// The preset called `name`, or an error listing the known ones.
    public static func named(_ name: String) throws(PresetError) -> ModelPreset {
        guard let preset = all.first(where: { $0.name == name }) else {
            throw .unknownPreset(name, known: all.map(\.name))
        }
        return preset
    }
}

/// Why a model folder could not be written.
public enum PresetError: Error, CustomStringConvertible, Equatable {
    /// No preset has this name.
    case unknownPreset(String, known: [String])
    /// The output folder exists and is not empty.
    case outputNotEmpty(String)
    /// A file or folder could not be written.
    case io(String)

    /// The message for the user.
    public var description: String {
        switch self {
        case .unknownPreset(let name, let known):
            return "unknown preset '\(name)'; known presets: \(known.joined(separator: ", "))"
        case .outputNotEmpty(let path):
            return "output folder \(path) is not empty; choose another or pass --force to overwrite"
        case .io(let message):
            return message
        }
    }
}
