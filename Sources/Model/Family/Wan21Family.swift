// diffusers WanPipeline (Wan2.1 text-to-video) as a model family: umT5 text encoder, one WanTransformer3DModel,
// AutoencoderKLWan and the scheduler, loaded from a diffusers-layout model folder.
import Foundation

/// The Wan2.1 family: one transformer (one expert), a 4x8x8 VAE, umT5 prompts.
public struct Wan21Family: VideoModelFamily {
    /// How much of the transformer to load.
    public enum TransformerPart: Sendable {
        /// Every block, with the entry and exit pieces: one process runs the whole model.
        case whole
        /// The entry and exit pieces only: a cluster's coordinator, whose workers host the blocks.
        case entryAndExit
    }

    /// The model folder.
    public let folder: ModelFolder
    /// The prompt tokenizer.
    public let tokenizer: Tokenizer
    /// The umT5 text encoder.
    public let textEncoder: UMT5Encoder
    /// The diffusion transformer (or its entry and exit pieces).
    public private(set) var transformer: WanTransformer
    /// The video VAE.
    public let vae: WanVAE
    /// The scheduler configuration from `scheduler/scheduler_config.json`.
    public let schedulerConfiguration: SchedulerConfiguration
    /// `generation_defaults.json`, or the Wan2.1 defaults.
    public let defaults: GenerationDefaults
    /// z_dim channels, the VAE's 8x spatial compression, the transformer's patch size.
    public let layout: LatentLayout
    /// The blocks' figures, with block 0's stored bytes.
    public let figures: TransformerFigures

    /// Loads every component of `folder` (the transformer as `part` says) and checks that they fit together.
    public init(folder: ModelFolder, transformer part: TransformerPart = .whole) throws {
        self.folder = folder
        tokenizer = try Tokenizer(path: folder.component("tokenizer/tokenizer.json"))
        textEncoder = try UMT5Encoder(directory: folder.component("text_encoder"))
        let directory = folder.component("transformer")
        transformer = try WanTransformer.load(directory, layers: part == .whole ? nil : 0..<0)
        vae = try WanVAE(directory: folder.component("vae"))
        schedulerConfiguration = try SchedulerConfiguration(contentsOf: folder.component("scheduler"))
        defaults = try folder.generationDefaults()
        let config = transformer.config
        guard config.inChannels == vae.config.zDim, config.outChannels == vae.config.zDim else {
            throw ModelFolderError(
                description: "transformer channels (\(config.inChannels) in, \(config.outChannels) out) do not match the VAE's z_dim \(vae.config.zDim)")
        }
        guard config.textDim == textEncoder.config.dModel else {
            throw ModelFolderError(
                description: "transformer text_dim \(config.textDim) does not match the text encoder's d_model \(textEncoder.config.dModel)")
        }
        layout = try LatentLayout(
            channels: config.inChannels, spatialCompression: vae.config.spatialCompression, patchSize: config.patchSize)
        figures = TransformerFigures(
            config: config, bytesPerBlock: try Self.storedBlockBytes(directory: directory, config: config, blocks: 0..<1))
    }

    /// `vae`.
    public var autoencoder: any VideoAutoencoder { vae }
    /// `transformer`, the one expert.
    public var experts: [any StagedTransformer] { [transformer] }

    /// Wan2.1 has one expert for every timestep.
    public func expert(forTimestep timestep: Float) -> Int { 0 }

    /// `WanPipeline._get_t5_prompt_embeds`: cleaned prompt, umT5 tokens, embeddings zeroed past the prompt.
    public func encodePrompt(_ prompt: String, maxSequenceLength: Int) throws -> Tensor {
        let encoding = try tokenizer.encode(UMT5PromptCleaner.clean(prompt), maxSequenceLength: maxSequenceLength)
        return try textEncoder.wanPromptEmbeddings(
            inputIDs: [encoding.inputIDs], attentionMask: [encoding.attentionMask], maxSequenceLength: maxSequenceLength)
    }

    /// The model's scheduler with the job's `--scheduler` and `--shift` applied.
    public func scheduler(for spec: VideoJobSpec) throws -> any DiffusionScheduler {
        try schedulerConfiguration.overriding(kind: spec.scheduler, shift: spec.shift).makeScheduler(stepCount: spec.steps)
    }

    /// `WanTransformerConfig.check`: the whole model's layers, whichever part is loaded here.
    public func check(_ stack: LoRAStack) throws {
        try transformer.config.check(stack)
    }

    /// The family with `stack`'s adapters on the loaded transformer part.
    public func adapted(by stack: LoRAStack) -> any VideoModelFamily {
        var copy = self
        copy.transformer = transformer.adapted(by: stack)
        return copy
    }

    // MARK: - A worker's stage

    /// The transformer config of the model at `modelPath` (a model folder or a transformer folder): what a worker
    /// checks against the coordinator's before it loads blocks.
    public static func transformerConfig(modelPath: String) throws -> WanTransformerConfig {
        let directory = WanTransformer.transformerDirectory(modelPath)
        return try WanTransformerConfig.load(path: (directory as NSString).appendingPathComponent("config.json"))
    }

    /// Blocks `blocks` of the model at `modelPath`, without the entry and exit pieces: a worker's stage.
    public static func loadBlocks(modelPath: String, blocks: Range<Int>) throws -> any StagedTransformer {
        try WanTransformer.load(modelPath, layers: blocks, includeEntry: false, includeExit: false)
    }

    /// Bytes that blocks `blocks` occupy as stored in the transformer folder `directory` (float32 weights are
    /// mapped, 16-bit ones stay 16-bit): the weight share of a stage's memory.
    public static func storedBlockBytes(directory: String, config: WanTransformerConfig, blocks: Range<Int>) throws -> Int {
        let store = try WeightStore(directory: WanTransformer.transformerDirectory(directory), fileStem: "diffusion_pytorch_model")
        var total = 0
        for block in blocks {
            for parameter in config.blockParameters(block) {
                total += parameter.count * (try store.take(parameter.name, shape: parameter.shape)).dtype.byteSize
            }
        }
        return total
    }
}
