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
