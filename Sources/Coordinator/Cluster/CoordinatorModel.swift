// The parts of a Wan model the coordinator runs itself: tokenizer, text encoder, the transformer's entry and exit
// pieces, the scheduler and the VAE. The transformer blocks run on the workers.
import Foundation
import Model
import Cluster

/// The coordinator's share of the model, loaded once by `serve`.
///
/// The entry piece (patch + condition embedding) and the exit piece (output norm, projection, unpatchify) are a
/// few linear layers: a tiny share of a step's compute next to the blocks, so they stay here and the stages only
/// ever exchange `[tokens, dim]` activations.
final class CoordinatorModel: Sendable {
    let folder: ModelFolder
    let tokenizer: Tokenizer
    let textEncoder: UMT5Encoder
    /// The transformer without blocks: entry and exit pieces only.
    let transformer: WanTransformer
    let vae: WanVAE
    let schedulerConfiguration: SchedulerConfiguration
    let defaults: GenerationDefaults
    /// SHA-256 of the transformer config, checked by every worker.
    let configHash: [UInt8]
    /// Bytes of one block's weights as stored.
    let bytesPerLayer: Int

    init(path: String) throws {
        folder = try ModelFolder(path: path)
        tokenizer = try Tokenizer(path: folder.component("tokenizer/tokenizer.json"))
        textEncoder = try UMT5Encoder(directory: folder.component("text_encoder"))
        transformer = try WanTransformer.load(folder.component("transformer"), layers: 0..<0)
        vae = try WanVAE(directory: folder.component("vae"))
        schedulerConfiguration = try SchedulerConfiguration(contentsOf: folder.component("scheduler"))
        defaults = try folder.generationDefaults()
        configHash = try StageTensors.configHash(transformer.config)
        bytesPerLayer = try Self.layerBytes(folder.component("transformer"), config: transformer.config)
        guard transformer.config.inChannels == vae.config.zDim, transformer.config.outChannels == vae.config.zDim else {
            throw ClusterError("transformer channels do not match the VAE's z_dim \(vae.config.zDim)")
        }
        guard transformer.config.textDim == textEncoder.config.dModel else {
            throw ClusterError("transformer text_dim does not match the text encoder's d_model")
        }
    }

    /// Bytes of block 0's weights as stored (every block has the same shapes).
    static func layerBytes(_ directory: String, config: WanTransformerConfig) throws -> Int {
        let store = try WeightStore(directory: WanTransformer.transformerDirectory(directory))
        return try config.blockParameters(0).reduce(0) { total, parameter in
            total + parameter.count * (try store.take(parameter.name, shape: parameter.shape)).dtype.byteSize
        }
    }

    // MARK: - Job pieces (the same computations as WanVideoPipeline)

    /// Refuses sizes this model cannot patch.
    func check(_ spec: VideoJobSpec) throws {
        try spec.validate()
        let scale = vae.config.spatialCompression * transformer.config.patchSize[1]
        guard spec.width % scale == 0, spec.height % scale == 0 else {
            throw ClusterError("width and height must be multiples of \(scale) for this model, got \(spec.width)x\(spec.height)")
        }
    }

    /// Text embeddings [1, L, text_dim] of a prompt, as `WanVideoPipeline.encodePrompt`.
    func encodePrompt(_ prompt: String, maxSequenceLength: Int) throws -> Tensor {
        let encoding = try tokenizer.encode(UMT5PromptCleaner.clean(prompt), maxSequenceLength: maxSequenceLength)
        return try textEncoder.wanPromptEmbeddings(
            inputIDs: [encoding.inputIDs], attentionMask: [encoding.attentionMask], maxSequenceLength: maxSequenceLength)
    }

    /// The projected text a stage's cross-attention reads: the condition embedder's text branch.
    func projectText(_ embeddings: Tensor) throws -> Tensor {
        guard let embedder = transformer.conditionEmbedder else { throw ClusterError("no entry piece loaded") }
        return embedder.embedText(embeddings)
    }

    func latentShape(for spec: VideoJobSpec) -> [Int] {
        let scale = vae.config.spatialCompression
        return [1, transformer.config.inChannels, spec.latentFrames, spec.height / scale, spec.width / scale]
    }

    func scheduler(for spec: VideoJobSpec) throws -> any DiffusionScheduler {
        try schedulerConfiguration.overriding(kind: spec.scheduler, shift: spec.shift).makeScheduler(stepCount: spec.steps)
    }

    func windowPlan(for spec: VideoJobSpec) throws -> WindowPlan {
        try spec.windowPlan()
    }

    /// The conditioning of an image- or video-prompted job from its stored media, as
    /// `WanVideoPipeline.prepareConditioning` (nothing to do for text-to-video).
    func prepareConditioning(for spec: VideoJobSpec) throws -> PreparedConditioning {
        let noise = Tensor.randomNormal(
            shape: latentShape(for: spec), seed: spec.seed, stream: WanVideoPipeline.initialNoiseStream)
        return try JobConditioning.prepare(
            spec: spec, vae: vae, noise: noise, scheduler: try scheduler(for: spec), load: MediaLoader.load(path:))
    }

    /// A fresh denoising loop from the job's keyed noise (or its edit start), as `WanVideoPipeline.makeLoop`.
    func makeLoop(for spec: VideoJobSpec, prepared: PreparedConditioning) throws -> DenoisingLoop {
        let scheduler = try scheduler(for: spec)
        return try DenoisingLoop(
            plan: try windowPlan(for: spec), guidanceScale: Float(spec.guidanceScale), scheduler: scheduler,
            latents: prepared.initialLatents, schedulerState: try scheduler.initialState(beginIndex: prepared.beginIndex),
            conditioning: prepared.conditioning)
    }

    /// The entry piece of one pass: `WanTransformer.embed` with the job's projected text computed once.
    func entry(_ input: WorkUnitInput, projectedText: Tensor) throws -> TransformerStageState {
        guard let patchEmbedding = transformer.patchEmbedding, let embedder = transformer.conditionEmbedder else {
            throw ClusterError("no entry piece loaded")
        }
        let grid = try patchEmbedding.grid(ofLatentShape: input.hiddenStates.shape)
        let rotary = try transformer.rotaryTables(for: grid)
        let tokens = try patchEmbedding(input.hiddenStates)
        var timesteps = [input.timestep]
        var rows: [Int32]?
        if input.frameTimesteps != nil {
            // Per-token timesteps (pinned frames at 0): one embedding row per distinct value, as `embed` groups them.
            let grouped = TokenTimesteps.rows(of: input.timestepTensor(patchSize: transformer.config.patchSize).scalars)
            guard grouped.rows.count == grid.tokens else {
                throw ClusterError("per-token timesteps for \(grouped.rows.count) tokens, the grid has \(grid.tokens)")
            }
            timesteps = grouped.distinct
            rows = grouped.rows
        }
        let (embedding, projection) = embedder.embedTimesteps(timesteps)
        return TransformerStageState(
            hiddenStates: tokens, timeEmbedding: embedding, timestepProjection: projection, tokenTimestepRows: rows,
            textEmbeddings: projectedText, rotary: rotary, grid: grid, nextBlock: 0)
    }

    /// The exit piece on the last stage's output.
    func exit(_ state: TransformerStageState, blocksOutput: Tensor) throws -> Tensor {
        let dim = transformer.config.innerDim
        guard blocksOutput.shape == [1, state.grid.tokens, dim] else {
            throw StageProtocolError("the last stage returned hidden_states of shape \(blocksOutput.shape), expected [1, \(state.grid.tokens), \(dim)]")
        }
        var state = state
        state.hiddenStates = blocksOutput
        state.nextBlock = transformer.config.numLayers
        return try transformer.finish(state)
    }

    /// Decodes a final latent on its timeline into `sink`, as `WanVideoPipeline.decode`.
    func decode(_ latents: Tensor, timeline: ClipTimeline, into sink: VideoSink, progress: (Int, Int) -> Void) throws {
        try vae.decodeClip(latents, timeline: timeline, into: sink, progress: progress)
    }

    // MARK: - Planning

    /// The planner's view of a job on this model.
    func planningModel(for spec: VideoJobSpec) throws -> PlanningModel {
        try Self.planningModel(config: transformer.config, bytesPerLayer: bytesPerLayer, spec: spec,
                               spatialCompression: vae.config.spatialCompression)
    }

    /// Bytes per micro-batch and per block from the config and the job's largest window (see docs/CLUSTER.md).
    static func planningModel(
        config: WanTransformerConfig, bytesPerLayer: Int, spec: VideoJobSpec, spatialCompression: Int
    ) throws -> PlanningModel {
        let plan = try spec.windowPlan()
        let windowFrames = plan.windows.map(\.frames.count).max() ?? 1
        let p = config.patchSize
        let tokens = (windowFrames / p[0]) * (spec.height / spatialCompression / p[1]) * (spec.width / spatialCompression / p[2])
        let dim = config.innerDim
        let textLength = spec.maxSequenceLength
        let branches = spec.usesGuidance ? 2 : 1
        let floatBytes = 4
        return PlanningModel(
            layerCount: config.numLayers, bytesPerLayer: bytesPerLayer, entryBytes: 0, exitBytes: 0,
            // A micro-batch's hidden states, plus the wire copy they travel in.
            activationBytes: 2 * tokens * dim * floatBytes,
            // One block: norm, q, k, v, attention output, projection and residual copies, the FFN hidden layer,
            // cross-attention keys and values over the text, the rotary tables.
            workspaceBytes: floatBytes * (tokens * (8 * dim + config.ffnDim) + 2 * textLength * dim + tokens * config.attentionHeadDim),
            jobContextBytes: branches * textLength * dim * floatBytes,
            processOverheadBytes: ClusterConstants.processOverheadBytes,
            unitsPerStep: plan.windows.count * branches,
            flopsPerLayer: SpeedCalibration.blockFlops(config: config, tokens: tokens, textLength: textLength))
    }
}
