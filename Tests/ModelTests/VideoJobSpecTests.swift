// Tests of job validation and duration-to-frames conversion.
import Testing
@testable import Model

@Suite struct VideoJobSpecTests {
    @Test func durationBecomesTheSmallestCoveringFrameCount() {
        #expect(VideoJobSpec.frames(forDuration: 5, framesPerSecond: 16) == 81)
        #expect(VideoJobSpec.frames(forDuration: 60, framesPerSecond: 16) == 961)
        #expect(VideoJobSpec.frames(forDuration: 0.01, framesPerSecond: 16) == 1)
        #expect(VideoJobSpec.frames(forDuration: 82.0 / 16, framesPerSecond: 16) == 85)
        for seconds in stride(from: 0.1, through: 20, by: 0.37) {
            let frames = VideoJobSpec.frames(forDuration: seconds, framesPerSecond: 24)
            #expect((frames - 1) % 4 == 0)
            #expect(Double(frames) >= seconds * 24 - 1e-9)
        }
        // A loop plays its frames over and over: 2 s at 16 fps is exactly 32 frames, and never fewer than 8.
        #expect(VideoJobSpec.frames(forDuration: 2, framesPerSecond: 16, looping: true) == 32)
        #expect(VideoJobSpec.frames(forDuration: 2.01, framesPerSecond: 16, looping: true) == 36)
        #expect(VideoJobSpec.frames(forDuration: 0.1, framesPerSecond: 16, looping: true) == 8)
    }

    @Test func loopFramesAreMultiplesOfFourEachLatentFrameFour() throws {
        var spec = VideoJobSpec(prompt: "p", width: 64, height: 64, frames: 32)
        spec.looping = true
        spec.windowFrames = 5
        spec.windowOverlap = 2
        try spec.validate()
        #expect(spec.latentFrames == 8 && spec.timeline == .looping)
        #expect((0..<8).flatMap { Array(spec.pixelSpan(ofLatentFrame: $0)) } == Array(0..<32))
        spec.frames = 33
        #expect(throws: JobSpecError.self) { try spec.validate() }
        do { try spec.validate() } catch {
            #expect(error.field == "frames" && error.message.contains("try 32 or 36"), "\(error)")
        }
        // An ordinary clip keeps the causal VAE's single first frame.
        let ordinary = VideoJobSpec(prompt: "p", width: 64, height: 64, frames: 33)
        #expect(ordinary.latentFrames == 9 && ordinary.pixelSpan(ofLatentFrame: 0) == 0..<1)
        #expect(ordinary.pixelSpan(ofLatentFrame: 8) == 29..<33)
    }

    @Test func validSpecPassesAndLatentFramesFollowTheVAE() throws {
        let spec = VideoJobSpec(prompt: "a red circle", width: 832, height: 480, frames: 81)
        try spec.validate()
        #expect(spec.latentFrames == 21)
        #expect(VideoJobSpec(prompt: "", width: 64, height: 64, frames: 1).latentFrames == 1)
    }

    static let badSpecs: [(edit: @Sendable (inout VideoJobSpec) -> Void, field: String)] = [
        ({ $0.width = 100 }, "width"),
        ({ $0.height = 0 }, "height"),
        ({ $0.frames = 80 }, "frames"),
        ({ $0.frames = 1_000_000 }, "frames"),
        ({ $0.steps = 0 }, "steps"),
        ({ $0.guidanceScale = .nan }, "guidance"),
        ({ $0.shift = -1 }, "shift"),
        ({ $0.windowOverlap = 21 }, "window_overlap"),
        ({ $0.prompt = String(repeating: "x", count: 70_000) }, "prompt"),
        ({ $0.framesPerSecond = 0 }, "fps"),
    ]

    @Test(arguments: badSpecs.indices)
    func badFieldsAreNamed(index: Int) {
        var spec = VideoJobSpec(prompt: "p", width: 64, height: 64, frames: 17)
        Self.badSpecs[index].edit(&spec)
        #expect(throws: JobSpecError.self) { try spec.validate() }
        do {
            try spec.validate()
        } catch {
            #expect(error.field == Self.badSpecs[index].field)
        }
    }
}
