// The model-family seam: a family with another latent layout (4 channels, 4x spatial compression, 2x2x2 patches)
// runs through the generic `VideoGenerator` with the same numbers as a loop driven by hand with the whole forward
// pass; the Wan2.2 TI2V-5B layout's figures; the planning figures of a block.
import Foundation
import Testing

@testable import Model

/// A VAE that averages 4x4 pixel blocks into 4 channels and decodes by repeating each latent value: simple enough
/// to check by hand, real enough that a wrong layout or timeline gives other numbers.
private struct PoolingAutoencoder: VideoAutoencoder {
    static let scale = 4
    static let channels = 4

    func encodeLatents(_ video: Tensor, timeline: ClipTimeline) throws -> Tensor {
        let (frames, height, width) = (video.shape[2], video.shape[3], video.shape[4])
        let latentFrames = timeline.latentFrames(videoFrames: frames)
        let (h, w) = (height / Self.scale, width / Self.scale)
        return Tensor(shape: [1, Self.channels, latentFrames, h, w]) { out in
            video.withUnsafeBufferPointer { pixels in
                for latent in 0..<latentFrames {
                    let span = timeline.videoSpan(ofLatentFrame: latent)
                    for y in 0..<h {
                        for x in 0..<w {
                            var sum: Float = 0
                            for frame in span {
                                for channel in 0..<3 {
                                    for dy in 0..<Self.scale {
                                        for dx in 0..<Self.scale {
                                            let row = y * Self.scale + dy, column = x * Self.scale + dx
                                            sum += pixels[((channel * frames + frame) * height + row) * width + column]
                                        }
                                    }
                                }
                            }
                            let mean = sum / Float(span.count * 3 * Self.scale * Self.scale)
                            for channel in 0..<Self.channels {
                                out[((channel * latentFrames + latent) * h + y) * w + x] = mean * Float(channel + 1) / 4
                            }
                        }
                    }
                }
            }
        }
    }

    func decodeClip(
        _ latents: Tensor, timeline: ClipTimeline, into sink: VideoSink, progress: (Int, Int) -> Void
    ) throws {
        let (latentFrames, h, w) = (latents.shape[2], latents.shape[3], latents.shape[4])
        let (height, width) = (h * Self.scale, w * Self.scale)
        let frames = timeline.videoFrames(latentFrames: latentFrames)
        for latent in 0..<latentFrames {
            let count = timeline.videoSpan(ofLatentFrame: latent).count
            let chunk = Tensor(shape: [1, 3, count, height, width]) { out in
                latents.withUnsafeBufferPointer { values in
                    for channel in 0..<3 {
                        for frame in 0..<count {
                            for row in 0..<height {
                                for column in 0..<width {
                                    let value = values[((channel * latentFrames + latent) * h + row / Self.scale) * w + column / Self.scale]
                                    out[((channel * count + frame) * height + row) * width + column] = max(-1, min(1, value))
                                }
                            }
                        }
                    }
                }
            }
            try sink.consume(chunk)
            progress(timeline.videoFrames(latentFrames: latent + 1), frames)
        }
        try sink.finish(latents: latents)
    }

    func decodingBytes(width: Int, height: Int, frames: Int) -> Int { 4 * 3 * 4 * width * height }
    func encodingBytes(width: Int, height: Int) -> Int { 4 * 3 * 4 * width * height }
}

/// A family around the `patch_t2_batch2` fixture transformer (in 4, text 16, patch 2x2x2) with prompts embedded
/// from their bytes.
private struct PoolingFamily: VideoModelFamily {
    let transformer: WanTransformer
    let layout: LatentLayout
    let figures: TransformerFigures
    let defaults = GenerationDefaults()

    init() throws {
        transformer = try WanTransformer.load(Fixtures.path("transformer/patch_t2_batch2"))
        layout = try LatentLayout(
            channels: PoolingAutoencoder.channels, spatialCompression: PoolingAutoencoder.scale,
            patchSize: transformer.config.patchSize)
        figures = TransformerFigures(config: transformer.config, bytesPerBlock: 0)
    }

    var autoencoder: any VideoAutoencoder { PoolingAutoencoder() }
    var experts: [any StagedTransformer] { [transformer] }
    func expert(forTimestep timestep: Float) -> Int { 0 }

    func encodePrompt(_ prompt: String, maxSequenceLength: Int) throws -> Tensor {
        let bytes = Array(prompt.utf8.prefix(maxSequenceLength))
        let width = transformer.config.textDim
        // Zero past the prompt, as the Wan pipeline zeroes the embeddings beyond a prompt's length.
        var values = [Float](repeating: 0, count: maxSequenceLength * width)
        for (position, byte) in bytes.enumerated() {
            for feature in 0..<width { values[position * width + feature] = sin(Float(byte) * Float(feature + 1) / 97) }
        }
        return Tensor(shape: [1, maxSequenceLength, width], scalars: values)
    }

    func scheduler(for spec: VideoJobSpec) throws -> any DiffusionScheduler {
        try SchedulerConfiguration.wanDefault().overriding(kind: spec.scheduler, shift: spec.shift)
            .makeScheduler(stepCount: spec.steps)
    }
}

/// Keeps the decoded chunks and the final latent.
private final class CollectingSink: VideoSink {
    var chunks: [Tensor] = []
    var latents: Tensor?
    func consume(_ chunk: Tensor) throws { chunks.append(chunk) }
    func finish(latents: Tensor) throws { self.latents = latents }
}

@Suite struct ModelFamilyTests {
    /// 21 frames = 6 latent frames at 32x32 (8x8 latent, 4x4 tokens per token frame), two windows of 4 latent frames
    /// overlapping by 2, guidance on: two branches of two windows per step.
    private static func spec() -> VideoJobSpec {
        var spec = VideoJobSpec(prompt: "a pooled square", width: 32, height: 32, frames: 21)
        spec.negativePrompt = "blur"
        spec.steps = 3
        spec.guidanceScale = 4
        spec.seed = 7
        spec.maxSequenceLength = 6
        spec.windowFrames = 4
        spec.windowOverlap = 2
        return spec
    }

    @Test func anotherLayoutRunsTheGenericPathLikeAHandDrivenLoop() throws {
        let family = try PoolingFamily()
        let spec = Self.spec()
        let sink = CollectingSink()
        try VideoGenerator(family: family).generate(spec, into: sink)

        // By hand: the layout's latent, keyed noise, the whole forward pass per unit with the branch's prompt.
        let shape = [1, 4, 6, 8, 8]
        #expect(family.layout.latentShape(for: spec) == shape)
        let scheduler = try family.scheduler(for: spec)
        var loop = try DenoisingLoop(
            plan: try spec.windowPlan(), guidanceScale: 4, scheduler: scheduler,
            latents: Tensor.randomNormal(shape: shape, seed: 7, stream: VideoGenerator.initialNoiseStream),
            schedulerState: try scheduler.initialState(beginIndex: 0))
        #expect(loop.plan.windows.count == 2)
        let prompts: [GuidanceBranch: Tensor] = [
            .conditional: try family.encodePrompt(spec.prompt, maxSequenceLength: 6),
            .unconditional: try family.encodePrompt("blur", maxSequenceLength: 6),
        ]
        while !loop.isFinished {
            var results: [WorkUnitID: Tensor] = [:]
            for unit in loop.pendingUnits() {
                let input = try loop.input(for: unit)
                results[unit] = try family.transformer(
                    hiddenStates: input.hiddenStates, timestep: Tensor(shape: [1], scalars: [input.timestep]),
                    encoderHiddenStates: prompts[unit.branch]!)
            }
            try loop.advance(with: results)
        }
        let latents = try #require(sink.latents)
        #expect(latents.shape == shape)
        #expect(latents.scalars == loop.latents.scalars)
        // The decode streamed through the family's VAE: 1 + 4 * 5 frames at the job's size.
        #expect(sink.chunks.map { $0.shape[2] } == [1, 4, 4, 4, 4, 4])
        #expect(sink.chunks.allSatisfy { $0.shape[3] == 32 && $0.shape[4] == 32 })
    }

    @Test func theGeneratorRefusesSizesTheLayoutCannotPatch() throws {
        // 48 pixels patch into whole tokens of 4 x 2 pixels, not of Wan2.2 TI2V-5B's 16 x 2.
        var spec = Self.spec()
        spec.width = 48
        let family = try PoolingFamily()
        #expect(family.layout.pixelMultiple == 8)
        #expect(throws: Never.self) { try family.layout.check(spec) }
        let coarse = try LatentLayout(channels: 48, spatialCompression: 16, patchSize: [1, 2, 2])
        #expect(throws: JobSpecError(field: "width", message: "and height must be multiples of 32 for this model, got 48x32")) {
            try coarse.check(spec)
        }
    }

    @Test func wan22TI2VLayoutFigures() throws {
        // Wan2.2 TI2V-5B: 48-channel VAE compressing 4x16x16, patch 1x2x2; its default 1280x704, 121 frames.
        let layout = try LatentLayout(channels: 48, spatialCompression: 16, patchSize: [1, 2, 2])
        var spec = VideoJobSpec(prompt: "", width: 1280, height: 704, frames: 121)
        spec.windowFrames = 31
        #expect(layout.latentShape(for: spec) == [1, 48, 31, 44, 80])
        #expect(try layout.largestWindowTokens(of: spec) == 31 * 22 * 40)
        #expect(throws: Never.self) { try layout.check(spec) }
        #expect(throws: JobSpecError.self) { try LatentLayout(channels: 48, spatialCompression: 16, patchSize: [2, 2]) }
        #expect(throws: JobSpecError.self) { try LatentLayout(channels: 0, spatialCompression: 16, patchSize: [1, 2, 2]) }
    }

    @Test func blockFlopsCountTheMatrixProducts() {
        var config = ModelPreset.tiny.transformer  // dim 32, ffn 64
        config.numLayers = 1
        // t = 10 tokens, l = 4 text tokens, d = 32, f = 64:
        // self 8td^2 + 4t^2d = 81920 + 12800; cross 4td^2 + 4ld^2 + 4tld = 40960 + 16384 + 5120; ffn 4tdf = 81920.
        #expect(TransformerFigures(config: config, bytesPerBlock: 0).flopsPerBlock(tokens: 10, textLength: 4) == 239_104)
    }

    @Test func expertPiecesMatchTheWholeForwardPass() throws {
        // The entry with a projected text, the blocks and the exit give `callAsFunction`'s numbers, also with
        // per-token timesteps grouped into rows (a token frame covering a pinned and a free latent frame).
        let transformer = try WanTransformer.load(Fixtures.path("transformer/patch_t2_batch2"))
        let hidden = Tensor.randomNormal(shape: [1, 4, 4, 4, 4], seed: 3, stream: 9)
        let text = Tensor.randomNormal(shape: [1, 5, 16], seed: 4, stream: 9)
        for frameTimesteps in [nil, [0, 700, 700, 700] as [Float]] {
            let input = WorkUnitInput(
                id: WorkUnitID(step: 0, window: 0, branch: .conditional), hiddenStates: hidden, timestep: 700,
                frameTimesteps: frameTimesteps)
            let timestep = input.timestepTensor(patchSize: transformer.config.patchSize)
            let whole = try transformer(hiddenStates: hidden, timestep: timestep, encoderHiddenStates: text)
            let state = try transformer.entry(input, projectedText: try transformer.projectText(text))
            let pieces = try transformer.exit(try transformer.blocks(0..<transformer.blockCount, state))
            #expect(pieces.scalars == whole.scalars)
        }
    }
}
