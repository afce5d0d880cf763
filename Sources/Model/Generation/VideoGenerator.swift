// The generation algorithm over any model family (diffusers WanPipeline.__call__, with long videos cut into windows):
// job preparation, the transformer pieces of each unit, the decode. `generate` runs the units here; the cluster's
// coordinator dispatches them to workers, through the same type.

/// A unit after the entry piece: the expert whose blocks run it and the state they take.
public struct EnteredUnit: Sendable {
    /// The index of the expert (`VideoModelFamily.experts`) that denoises this unit.
    public let expert: Int
    /// The activations and conditioning for the expert's blocks.
    public let state: TransformerStageState
}

/// Generates videos with one model family: in this process (`generate`), or piece by piece for a cluster
/// (`encodeTexts`, `prepare`, `entry`, `exit`, `decode`).
public final class VideoGenerator: Sendable {
    /// The model family (with the job's LoRAs on it, for a generator made by `forJob`).
    public let family: any VideoModelFamily
    /// The LoRAs this generator's family carries, as a job names them (nil: none).
    public let jobLoRAs: [LoRAReference]?
    /// Those LoRAs' adapters, per module: what a cluster's stages get their share of.
    public let loras: LoRAStack

    /// The noise stream of the initial latent.
    public static let initialNoiseStream = KeyedRandom.stream(named: "initial-latents")

    /// The family without LoRAs, which `forJob` adapts.
    private let baseFamily: any VideoModelFamily

    /// A generator over `family` (without LoRAs).
    public init(family: any VideoModelFamily) {
        self.family = family
        baseFamily = family
        jobLoRAs = nil
        loras = .none
    }

    private init(base: any VideoModelFamily, jobLoRAs: [LoRAReference], loras: LoRAStack) {
        family = base.adapted(by: loras)
        baseFamily = base
        self.jobLoRAs = jobLoRAs
        self.loras = loras
    }

    /// The generator for `spec`: this one when it already carries the job's LoRAs (or the job has none), else a
    /// copy whose family carries them, read and checked against the model here, before any denoising.
    public func forJob(_ spec: VideoJobSpec) throws -> VideoGenerator {
        let wanted = (spec.loras ?? []).isEmpty ? nil : spec.loras
        if wanted == jobLoRAs { return self }
        guard let wanted else { return VideoGenerator(family: baseFamily) }
        let stack = try LoRAStack.load(wanted)
        try baseFamily.check(stack)
        return VideoGenerator(base: baseFamily, jobLoRAs: wanted, loras: stack)
    }

    /// A generator over the Wan2.1 model in `folder`, loaded whole (our only family so far).
    public convenience init(folder: ModelFolder) throws {
        self.init(family: try Wan21Family(folder: folder))
    }

    // MARK: - Preparing a job

    /// The initial noise of a job, keyed by (seed, latent position).
    public func initialNoise(for spec: VideoJobSpec) -> Tensor {
        Tensor.randomNormal(shape: family.layout.latentShape(for: spec), seed: spec.seed, stream: Self.initialNoiseStream)
    }

    /// The job's prompts (the negative one only with guidance), encoded and projected by every expert.
    public func encodeTexts(for spec: VideoJobSpec) throws -> JobTexts {
        try family.layout.check(spec)
        var encoded: [GuidanceBranch: Tensor] = [
            .conditional: try family.encodePrompt(spec.prompt, maxSequenceLength: spec.maxSequenceLength)
        ]
        if spec.usesGuidance {
            encoded[.unconditional] = try family.encodePrompt(
                spec.negativePrompt, maxSequenceLength: spec.maxSequenceLength)
        }
        return JobTexts(projected: try family.experts.map { expert in
            try encoded.mapValues { try expert.projectText($0) }
        })
    }

    /// The job ready to denoise: its conditioning from the media `load` reads (VAE-encoded where pinned or edited),
    /// starting from `initialLatents` (default: the job's keyed noise).
    public func prepare(
        _ spec: VideoJobSpec, texts: JobTexts, initialLatents: Tensor? = nil,
        load: (String) throws -> [RGBFrame] = MediaLoader.load(path:)
    ) throws -> PreparedJob {
        try family.layout.check(spec)
        let shape = family.layout.latentShape(for: spec)
        let noise = initialLatents ?? initialNoise(for: spec)
        guard noise.shape == shape else {
            throw ModelFolderError(description: "initial latents have shape \(noise.shape); this job needs \(shape)")
        }
        let scheduler = try family.scheduler(for: spec)
        let conditioning = try JobConditioning.prepare(
            spec: spec, vae: family.autoencoder, noise: noise, scheduler: scheduler, load: load)
        return PreparedJob(
            spec: spec, texts: texts, conditioning: conditioning, plan: try spec.windowPlan(), scheduler: scheduler)
    }

    // MARK: - One unit

    /// The entry piece of a unit, on the expert of its timestep.
    public func entry(_ input: WorkUnitInput, job: PreparedJob) throws -> EnteredUnit {
        let expert = family.expert(forTimestep: input.timestep)
        let text = try job.texts.text(expert: expert, branch: input.id.branch)
        return EnteredUnit(expert: expert, state: try family.experts[expert].entry(input, projectedText: text))
    }

    /// The exit piece of a unit whose blocks ran elsewhere and returned `blocksOutput` `[1, tokens, dim]`.
    public func exit(_ unit: EnteredUnit, blocksOutput: Tensor) throws -> Tensor {
        let transformer = family.experts[unit.expert]
        let expected = [1, unit.state.grid.tokens, transformer.hiddenSize]
        guard blocksOutput.shape == expected else {
            throw DenoisingLoopError(
                description: "the last stage returned hidden_states of shape \(blocksOutput.shape), expected \(expected)")
        }
        var state = unit.state
        state.hiddenStates = blocksOutput
        state.nextBlock = transformer.blockCount
        return try transformer.exit(state)
    }

    /// A whole transformer pass of a unit in this process: entry, every block, exit.
    public func run(_ input: WorkUnitInput, job: PreparedJob) throws -> Tensor {
        let unit = try entry(input, job: job)
        let transformer = family.experts[unit.expert]
        return try transformer.exit(try transformer.blocks(0..<transformer.blockCount, unit.state))
    }

    // MARK: - Decoding

    /// Decodes a final latent on its timeline into `sink`, chunk by chunk, writing the `passthrough` frames (output
    /// frame -> the input's own pixels) instead of the decoded ones.
    public func decode(
        _ latents: Tensor, timeline: ClipTimeline = .ordinary, passthrough: [Int: RGBFrame] = [:],
        into sink: VideoSink, progress: (GenerationProgress) -> Void = { _ in }
    ) throws {
        let sink = passthrough.isEmpty ? sink : PassthroughVideoSink(sink, frames: passthrough)
        try family.autoencoder.decodeClip(latents, timeline: timeline, into: sink) { done, frames in
            progress(.decoding(framesDone: done, frames: frames))
        }
    }

    // MARK: - The whole job here

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
        let generator = try forJob(spec)
        if generator !== self {
            return try generator.generate(spec, initialLatents: initialLatents, into: sink, load: load, progress: progress)
        }
        progress(.encodingText)
        let texts = try encodeTexts(for: spec)
        let job = try prepare(spec, texts: texts, initialLatents: initialLatents, load: load)
        var loop = try job.startLoop()
        progress(.denoising)
        while !loop.isFinished {
            let units = loop.pendingUnits()
            var results: [WorkUnitID: Tensor] = [:]
            for (done, unit) in units.enumerated() {
                results[unit] = try run(try loop.input(for: unit), job: job)
                progress(.unit(step: loop.stepIndex, steps: spec.steps, unitsDone: done + 1, unitsPerStep: units.count))
            }
            try loop.advance(with: results)
            progress(.stepFinished(step: loop.stepIndex, steps: spec.steps))
        }
        try decode(
            loop.latents, timeline: spec.timeline, passthrough: job.conditioning.passthrough, into: sink,
            progress: progress)
    }
}
