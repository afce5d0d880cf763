// The trained demo model (models/demo, made by scripts/train_demo_model.py) through our text-to-video
// pipeline: it follows its prompts, long clips show no window seams, and it matches diffusers' WanPipeline.
import Foundation
import Testing
@testable import Model

/// Runs when the trained model is in the checkout (`models/demo/model_index.json`); until a model that passes
/// the evaluation is committed there, the suite is skipped.
@Suite(.serialized, .enabled(if: DemoClipMeasure.modelIsPresent, "models/demo is not in this checkout"))
struct DemoModelTests {
    static let pipeline = Result { try VideoGenerator(folder: try ModelFolder(path: DemoClipMeasure.modelPath)) }

    /// Fixed prompt/seed pairs: every colour and motion twice, every background at least twice.
    static let pairs: [(colour: String, motion: String, background: String, seed: UInt64)] = [
        ("red", "right", "black", 1), ("green", "left", "white", 2), ("blue", "up", "gray", 3),
        ("yellow", "down", "black", 4), ("red", "up", "white", 5), ("green", "down", "gray", 6),
        ("blue", "left", "black", 7), ("yellow", "right", "gray", 8),
    ]

    /// How a clip is sampled: the model's default, or its 4-step distillation LoRA's recipe.
    enum Recipe: String, CaseIterable, Sendable {
        /// 20 UniPC steps, guidance 5 (`generation_defaults.json`).
        case twentySteps
        /// `models/demo/distill_4step_lora.safetensors` with 4 Euler steps at shift 5, guidance off.
        case fourStepLoRA
    }

    /// The 4-step distillation LoRA trained from the 20-step model (scripts/train_demo_model.py --distill-lora).
    static let distillLoRA = DemoClipMeasure.modelPath + "/distill_4step_lora.safetensors"

    /// The demo's native clip: 64x64, 17 frames (5 latent frames), sampled by `recipe`.
    static func spec(prompt: String, seed: UInt64, frames: Int = 17, recipe: Recipe = .twentySteps) -> VideoJobSpec {
        var spec = VideoJobSpec(prompt: prompt, width: 64, height: 64, frames: frames)
        spec.seed = seed
        switch recipe {
        case .twentySteps:
            spec.steps = 20
            spec.guidanceScale = 5
        case .fourStepLoRA:
            spec.steps = 4
            spec.guidanceScale = 1
            spec.scheduler = .euler
            spec.shift = 5
            spec.loras = [LoRAReference(path: distillLoRA)]
        }
        return spec
    }

    // MARK: - Prompt following

    /// Generates the eight fixed pairs by `recipe` and measures each clip; at least 7 must pass, with the 20-step
    /// default and with the 4-step LoRA alike. With `DEMO_CONTACT_SHEET=<path.png>` in the environment the default
    /// recipe also writes their contact sheet.
    @Test(arguments: Recipe.allCases) func followsItsPrompts(recipe: Recipe) throws {
        let pipeline = try Self.pipeline.get()
        var passed = 0
        var rows: [[RGBFrame]] = []
        for pair in Self.pairs {
            let prompt = DemoClipMeasure.caption(colour: pair.colour, motion: pair.motion, background: pair.background)
            let sink = DemoVideoCollector()
            try pipeline.generate(Self.spec(prompt: prompt, seed: pair.seed, recipe: recipe), into: sink)
            let result = DemoClipMeasure.measure(sink.video)
            let ok = DemoClipMeasure.passes(result, colour: pair.colour, motion: pair.motion, background: pair.background)
            passed += ok ? 1 : 0
            print("demo \(recipe) \(ok ? "PASS" : "FAIL") seed \(pair.seed) '\(prompt)': \(result)")
            let frames = sink.rgbFrames
            rows.append(ContactSheet.evenlySpacedIndices(frameCount: frames.count, count: 9).map {
                Self.enlarged(frames[$0], by: 2)
            })
        }
        print("demo prompt following (\(recipe)): \(passed)/\(Self.pairs.count) pairs pass")
        #expect(Self.pairs.count == 8)
        #expect(passed >= 7, "\(passed) of \(Self.pairs.count) pairs pass; at least 7 must")
        if recipe == .twentySteps, let path = ProcessInfo.processInfo.environment["DEMO_CONTACT_SHEET"], !path.isEmpty {
            try PNGWriter.write(try ContactSheet.grid(rows: rows), to: path)
            print("demo contact sheet: \(path)")
        }
    }

    /// A measurement that must fail: a clip whose prompt asked for something else.
    @Test func theMeasureRejectsTheWrongPrompt() throws {
        let sink = DemoVideoCollector()
        let prompt = DemoClipMeasure.caption(colour: "red", motion: "right", background: "black")
        try Self.pipeline.get().generate(Self.spec(prompt: prompt, seed: 1), into: sink)
        let result = DemoClipMeasure.measure(sink.video)
        #expect(!DemoClipMeasure.passes(result, colour: "blue", motion: "right", background: "black"))
        #expect(!DemoClipMeasure.passes(result, colour: "red", motion: "left", background: "black"))
        #expect(!DemoClipMeasure.passes(result, colour: "red", motion: "right", background: "white"))
    }

    // MARK: - Long clips

    /// A clip of three temporal windows (11 latent frames in windows of 5 overlapping by 2): the mean
    /// frame-to-frame difference across the window boundaries is at most twice the median elsewhere.
    @Test func longClipSeamsDoNotShow() throws {
        let prompt = DemoClipMeasure.caption(colour: "blue", motion: "right", background: "black")
        var spec = Self.spec(prompt: prompt, seed: 21, frames: 41)
        spec.windowFrames = 5
        spec.windowOverlap = 2
        let plan = try WindowPlan(latentFrames: spec.latentFrames, windowFrames: spec.windowFrames, overlap: spec.windowOverlap)
        #expect(plan.windows.count >= 3)
        let sink = DemoVideoCollector()
        try Self.pipeline.get().generate(spec, into: sink)
        let differences = DemoClipMeasure.frameDifferences(sink.video)
        #expect(differences.count == spec.frames - 1)
        // Latent frame k >= 1 decodes to video frames 4k-3 ... 4k, so entering latent frame s is the change
        // from video frame 4s-4 to 4s-3 (difference index 4s-4), and leaving latent frame e is index 4e.
        var seams = Set<Int>()
        for window in plan.windows {
            if let first = window.frames.first, first > 0 { seams.insert(4 * first - 4) }
            if let last = window.frames.last, last < spec.latentFrames - 1 { seams.insert(4 * last) }
        }
        let across = seams.map { differences[$0] }
        let elsewhere = differences.indices.filter { !seams.contains($0) }.map { differences[$0] }
        let seamMean = across.reduce(0, +) / Float(across.count)
        let median = DemoClipMeasure.median(elsewhere)
        print("demo long clip: \(plan.windows.count) windows, seams at \(seams.sorted()), mean difference across "
              + "seams \(seamMean), median elsewhere \(median)")
        #expect(median > 0.25, "the object should move (median frame difference \(median))")
        #expect(seamMean <= 2 * median, "seams \(seamMean) vs median \(median)")
    }

    // MARK: - Parity with diffusers

    /// The same video and final latent as diffusers' WanPipeline on models/demo from the same initial latents
    /// (Tests/Fixtures/demo, made by scripts/fixtures/demo.py).
    @Test func matchesDiffusersFromTheSameLatents() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("demo/short_clip.json")))
        let setting = try JSONDecoder().decode(PipelineParityTests.Case.self, from: data)
        let spec = setting.spec
        let reference = try SafeTensorsFile(path: Fixtures.path("demo/short_clip.safetensors"))
        let sink = DemoVideoCollector()
        try Self.pipeline.get().generate(
            spec, initialLatents: try reference.tensor(named: "initial_latents").float32(), into: sink)
        // The reference's own final latent decoded by our VAE: the decoder alone, within 1e-4.
        let referenceLatents = try reference.tensor(named: "latents").float32()
        let decodedReference = DemoVideoCollector()
        try Self.pipeline.get().decode(referenceLatents, into: decodedReference)
        // Our latent is within 1e-4 of diffusers'; the video decoded from it inherits that difference through the
        // decoder's gain (measured 1.4e-4 with the current demo VAE), hence 5e-4 for the end-to-end video.
        let checks: [(key: String, actual: Tensor, tolerance: Float)] = [
            ("latents", try #require(sink.latents), 1e-4), ("video", decodedReference.video, 1e-4),
            ("video", sink.video, 5e-4),
        ]
        for (key, actual, tolerance) in checks {
            let expected = try reference.tensor(named: key).float32()
            #expect(actual.shape == expected.shape, "\(key)")
            guard actual.shape == expected.shape else { continue }
            let error = Numerics.maxRelativeError(actual, expected)
            #expect(error <= tolerance, "\(key): relative error \(error), tolerance \(tolerance)")
        }
    }

    // MARK: - Helpers

    /// A frame enlarged `factor` times with nearest-neighbour sampling (64x64 clips are small on a page).
    static func enlarged(_ frame: RGBFrame, by factor: Int) -> RGBFrame {
        let (width, height) = (frame.width * factor, frame.height * factor)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let source = ((y / factor) * frame.width + x / factor) * 3
                let destination = (y * width + x) * 3
                pixels[destination] = frame.pixels[source]
                pixels[destination + 1] = frame.pixels[source + 1]
                pixels[destination + 2] = frame.pixels[source + 2]
            }
        }
        return RGBFrame(width: width, height: height, pixels: pixels)
    }
}
