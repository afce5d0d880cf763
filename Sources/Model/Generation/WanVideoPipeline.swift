// Text-to-video end to end in one process (diffusers WanPipeline), with long videos cut into windows.
import Foundation

/// What a generation is doing, for progress bars.
public enum GenerationProgress: Sendable {
    /// Tokenizing and encoding the prompts.
    case encodingText
    /// One transformer pass finished: `unitsDone` of `unitsPerStep` in step `step` of `steps`.
    case unit(step: Int, steps: Int, unitsDone: Int, unitsPerStep: Int)
    /// The scheduler took step `step` (1-based) of `steps`.
    case stepFinished(step: Int, steps: Int)
    /// `framesDone` of `frames` video frames are decoded.
    case decoding(framesDone: Int, frames: Int)
}

/// Receives the decoded video as it streams out of the VAE.
public protocol VideoSink: AnyObject {
    /// A chunk of decoded frames, [1, 3, F, H, W] with values in [-1, 1].
    func consume(_ chunk: Tensor) throws
    /// Called once after the last chunk, with the final latent as the denoising loop left it.
    func finish(latents: Tensor) throws
}

/// The Wan2.1 text-to-video pipeline: tokenizer, umT5, transformer, VAE and scheduler from one model folder.
public final class WanVideoPipeline: Sendable {
    /// The model folder.
    public let folder: ModelFolder
    /// The prompt tokenizer.
    public let tokenizer: Tokenizer
    /// The umT5 text encoder.
    public let textEncoder: UMT5Encoder
    /// The diffusion transformer.
    public let transformer: WanTransformer
    /// The video VAE.
    public let vae: WanVAE
    /// The scheduler configuration from `scheduler/scheduler_config.json`.
    public let schedulerConfiguration: SchedulerConfiguration

    /// The noise stream of the initial latent.
    public static let initialNoiseStream = KeyedRandom.stream(named: "initial-latents")

    /// Loads every component of `folder`.
    public init(folder: ModelFolder) throws {
        self.folder = folder
        tokenizer = try Tokenizer(path: folder.component("tokenizer/tokenizer.json"))
        textEncoder = try UMT5Encoder(directory: folder.component("text_encoder"))
        transformer = try WanTransformer.load(folder.component("transformer"))
        vae = try WanVAE(directory: folder.component("vae"))
        schedulerConfiguration = try SchedulerConfiguration(contentsOf: folder.component("scheduler"))
        guard transformer.config.inChannels == vae.config.zDim, transformer.config.outChannels == vae.config.zDim else {
            throw ModelFolderError(
                description: "transformer channels (\(transformer.config.inChannels) in, \(transformer.config.outChannels) out) do not match the VAE's z_dim \(vae.config.zDim)")
        }
        guard transformer.config.textDim == textEncoder.config.dModel else {
            throw ModelFolderError(
                description: "transformer text_dim \(transformer.config.textDim) does not match the text encoder's d_model \(textEncoder.config.dModel)")
        }
    }

    // MARK: - Pieces

    /// The latent shape of a job: [1, channels, latent frames, height / 8, width / 8].
    public func latentShape(for spec: VideoJobSpec) -> [Int] {
        let scale = vae.config.spatialCompression
        return [1, transformer.config.inChannels, spec.latentFrames, spec.height / scale, spec.width / scale]
    }

    /// The initial noise of a job, keyed by (seed, latent position).
    public func initialNoise(for spec: VideoJobSpec) -> Tensor {
        Tensor.randomNormal(shape: latentShape(for: spec), seed: spec.seed, stream: Self.initialNoiseStream)
    }

    /// The scheduler a job uses: the model's, with the job's `--scheduler` and `--shift` applied.
    public func scheduler(for spec: VideoJobSpec) throws -> any DiffusionScheduler {
        try schedulerConfiguration.overriding(kind: spec.scheduler, shift: spec.shift).makeScheduler(stepCount: spec.steps)
    }

    /// Text embeddings [1, L, text_dim] of a prompt as the Wan pipeline makes them.
    public func encodePrompt(_ prompt: String, maxSequenceLength: Int) throws -> Tensor {
        let encoding = try tokenizer.encode(UMT5PromptCleaner.clean(prompt), maxSequenceLength: maxSequenceLength)
        return try textEncoder.wanPromptEmbeddings(
            inputIDs: [encoding.inputIDs], attentionMask: [encoding.attentionMask], maxSequenceLength: maxSequenceLength)
    }

    /// The denoising loop of a job, starting from `initialLatents` (or the job's keyed noise) at `beginIndex`,
    /// holding `conditioning`'s pinned frames.
    public func makeLoop(
        for spec: VideoJobSpec, initialLatents: Tensor? = nil, beginIndex: Int = 0,
        conditioning: LatentConditioning? = nil
    ) throws -> DenoisingLoop {
        let shape = latentShape(for: spec)
        let latents = initialLatents ?? initialNoise(for: spec)
        guard latents.shape == shape else {
            throw ModelFolderError(description: "initial latents have shape \(latents.shape); this job needs \(shape)")
        }
        let scheduler = try scheduler(for: spec)
        return try DenoisingLoop(
            plan: try spec.windowPlan(), guidanceScale: Float(spec.guidanceScale), scheduler: scheduler,
            latents: latents, schedulerState: try scheduler.initialState(beginIndex: beginIndex),
            conditioning: conditioning)
    }

    /// The conditioning of an image- or video-prompted job: its media loaded by `load` (default: from files),
    /// VAE-encoded where pinned or edited.
    public func prepareConditioning(
        for spec: VideoJobSpec, noise: Tensor? = nil, load: (String) throws -> [RGBFrame] = MediaLoader.load(path:)
    ) throws -> PreparedConditioning {
        let noise = noise ?? initialNoise(for: spec)
        guard noise.shape == latentShape(for: spec) else {
            throw ModelFolderError(description: "initial latents have shape \(noise.shape); this job needs \(latentShape(for: spec))")
        }
        return try JobConditioning.prepare(
            spec: spec, vae: vae, noise: noise, scheduler: try scheduler(for: spec),
            load: load)
    }

    /// One transformer pass.
    public func run(_ input: WorkUnitInput, text: Tensor) throws -> Tensor {
        try transformer(
            hiddenStates: input.hiddenStates, timestep: input.timestepTensor(patchSize: transformer.config.patchSize),
            encoderHiddenStates: text)
    }

    /// Decodes a final latent on its timeline into `sink`, chunk by chunk.
    public func decode(
        _ latents: Tensor, timeline: ClipTimeline = .ordinary, into sink: VideoSink,
        progress: (GenerationProgress) -> Void = { _ in }
    ) throws {
        try vae.decodeClip(latents, timeline: timeline, into: sink) { done, frames in
            progress(.decoding(framesDone: done, frames: frames))
        }
    }

    // MARK: - The whole job

    /// Runs a job end to end into `sink`: text-to-video, or prompted with images and videos (media read from files).
    public func generate(
        _ spec: VideoJobSpec, initialLatents: Tensor? = nil, into sink: VideoSink,
        progress: (GenerationProgress) -> Void = { _ in }
    ) throws {
        try generate(spec, initialLatents: initialLatents, into: sink, load: MediaLoader.load(path:), progress: progress)
    }

    /// Runs a job end to end into `sink`, with the media of an image or video prompt read by `load`.
    public func generate(
        _ spec: VideoJobSpec, initialLatents: Tensor? = nil, into sink: VideoSink,
        load: (String) throws -> [RGBFrame], progress: (GenerationProgress) -> Void = { _ in }
    ) throws {
        try spec.validate()
        let scale = vae.config.spatialCompression * transformer.config.patchSize[1]
        guard spec.width % scale == 0, spec.height % scale == 0 else {
            throw JobSpecError(field: "width", message: "and height must be multiples of \(scale) for this model, got \(spec.width)x\(spec.height)")
        }
        progress(.encodingText)
        let conditional = try encodePrompt(spec.prompt, maxSequenceLength: spec.maxSequenceLength)
        let prepared = try prepareConditioning(for: spec, noise: initialLatents, load: load)
        var loop = try makeLoop(
            for: spec, initialLatents: prepared.initialLatents, beginIndex: prepared.beginIndex,
            conditioning: prepared.conditioning)
        let sink = prepared.passthrough.isEmpty ? sink : PassthroughVideoSink(sink, frames: prepared.passthrough)
        let unconditional = loop.usesGuidance
            ? try encodePrompt(spec.negativePrompt, maxSequenceLength: spec.maxSequenceLength) : conditional
        while !loop.isFinished {
            let units = loop.pendingUnits()
            var results: [WorkUnitID: Tensor] = [:]
            for (done, unit) in units.enumerated() {
                let text = unit.branch == .conditional ? conditional : unconditional
                results[unit] = try run(try loop.input(for: unit), text: text)
                progress(.unit(step: loop.stepIndex, steps: spec.steps, unitsDone: done + 1, unitsPerStep: units.count))
            }
            try loop.advance(with: results)
            progress(.stepFinished(step: loop.stepIndex, steps: spec.steps))
        }
        try decode(loop.latents, timeline: spec.timeline, into: sink, progress: progress)
    }
}
