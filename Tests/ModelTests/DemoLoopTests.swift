// Seamless loops with the trained demo model (models/demo): the clip's last frame leads into its first as any
// frame leads into the next, and the same latents decoded as an ordinary clip show the cut the loop removes.
import Foundation
import Testing
@testable import Model

@Suite(.serialized, .enabled(if: DemoClipMeasure.modelIsPresent, "models/demo is not in this checkout"))
struct DemoLoopTests {
    static let prompt = "a blue circle moving up on a white background"
    static let seeds: [UInt64] = [1, 2, 3, 4]

    /// Two seconds at 16 fps, as a loop (8 latent frames, four frames each), in three wrapping windows.
    static func spec(seed: UInt64) -> VideoJobSpec {
        var spec = VideoJobSpec(prompt: prompt, width: 64, height: 64, frames: 32)
        spec.looping = true
        spec.windowFrames = 5
        spec.windowOverlap = 2
        spec.steps = 20
        spec.guidanceScale = 5
        spec.seed = seed
        return spec
    }

    /// Mean absolute difference of two 8-bit RGB frames.
    static func difference(_ a: RGBFrame, _ b: RGBFrame) -> Double {
        zip(a.pixels, b.pixels).reduce(0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(a.pixels.count)
    }

    /// The last-to-first difference and the frame-to-frame differences of a clip.
    static func seamAndSteps(_ frames: [RGBFrame]) -> (seam: Double, steps: [Double]) {
        (difference(frames[frames.count - 1], frames[0]),
         (0..<(frames.count - 1)).map { difference(frames[$0], frames[$0 + 1]) })
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    @Test func theLastFrameLeadsIntoTheFirstLikeAnyOtherFrame() throws {
        let pipeline = try DemoModelTests.pipeline.get()
        var seams: [Double] = [], medians: [Double] = [], cutSeams: [Double] = [], cutMedians: [Double] = []
        for seed in Self.seeds {
            let spec = Self.spec(seed: seed)
            try spec.validate()
            let sink = DemoVideoCollector()
            try pipeline.generate(spec, into: sink)
            let frames = sink.rgbFrames
            #expect(frames.count == 32)
            let (seam, steps) = Self.seamAndSteps(frames)
            seams.append(seam)
            medians.append(Self.median(steps))
            // Within the range of the clip's own frame-to-frame steps.
            #expect(seam <= steps.max()!, "seed \(seed): seam \(seam), steps up to \(steps.max()!)")

            // The control: the same latents decoded as an ordinary clip (latent frame 0 as the causal VAE's single
            // first frame, no warm-up), the way loops were decoded before. Its last-to-first step is a visible cut.
            let latents = try #require(sink.latents)
            let ordinary = DemoVideoCollector()
            try pipeline.decode(latents, timeline: .ordinary, into: ordinary)
            let (cutSeam, cutSteps) = Self.seamAndSteps(ordinary.rgbFrames)
            cutSeams.append(cutSeam)
            cutMedians.append(Self.median(cutSteps))
            print(String(
                format: "demo loop seed %d: seam %.2f, frame-to-frame median %.2f (%.2f...%.2f); decoded as an ordinary clip: seam %.2f, median %.2f",
                seed, seam, Self.median(steps), steps.min()!, steps.max()!, cutSeam, Self.median(cutSteps)))
        }
        let mean = { (values: [Double]) in values.reduce(0, +) / Double(values.count) }
        print(String(format: "demo loop: mean seam %.2f vs mean median step %.2f; ordinary decode %.2f vs %.2f",
                     mean(seams), mean(medians), mean(cutSeams), mean(cutMedians)))
        // A typical step: on average the seam is within a quarter of the median frame-to-frame difference.
        #expect(mean(seams) <= 1.25 * mean(medians))
        // The measure sees a cut where there is one.
        #expect(mean(cutSeams) > 2 * mean(cutMedians))
    }
}
