// The job options of `generate` and `submit`: loop lengths and partial pins from the command line.
import Model
import Testing

@testable import Coordinator
import Cluster

@Suite("Job options")
struct JobOptionsTests {
    /// The demo model's defaults: 64x64, 17 frames.
    static var defaults: GenerationDefaults {
        var defaults = GenerationDefaults()
        defaults.width = 64
        defaults.height = 64
        defaults.frames = 17
        return defaults
    }

    /// A 64x64 grey picture or clip of `count` frames, whatever the path.
    static func media(count: Int) -> @Sendable (String) throws -> [RGBFrame] {
        { _ in Array(repeating: RGBFrame(width: 64, height: 64, pixels: [UInt8](repeating: 128, count: 64 * 64 * 3)), count: count) }
    }

    static func spec(_ arguments: [String], mediaFrames: Int = 1) throws -> VideoJobSpec {
        let options = try CommandLineOptions(
            JobOptions.normalize(["--prompt", "a kite"] + arguments), specs: GenerateCommand.specs)
        let spec = try JobOptions.request(from: options)
            .resolve(defaults: defaults, media: JobRequest.MediaSource(path: { $0 }, load: media(count: mediaFrames)))
        try spec.validate()
        return spec
    }

    static func error(_ arguments: [String], mediaFrames: Int = 1) -> String {
        do {
            _ = try spec(arguments, mediaFrames: mediaFrames)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func loopLengthsAreMultiplesOfFour() throws {
        // The default 17 frames (1 + 4 x 4) become the loop of the same duration, 16; two seconds are 32 frames.
        #expect(try Self.spec(["--loop"]).frames == 16)
        #expect(try Self.spec(["--loop", "--duration", "2"]).frames == 32)
        #expect(try Self.spec(["--duration", "2"]).frames == 33)
        let explicit = try Self.spec(["--loop", "--frames", "24"])
        #expect(explicit.frames == 24 && explicit.latentFrames == 6 && explicit.timeline == .looping)
        // An explicit count that is not 4k is refused, never changed.
        #expect(Self.error(["--loop", "--frames", "33"]).contains("try 32 or 36"))
        // An extension that loops ends on a multiple of 4 too: 9 frames + 1 s (16 frames) -> 28.
        let extended = try Self.spec(["--loop", "--extend-forward", "clip.y4m", "--duration", "1"], mediaFrames: 9)
        #expect(extended.frames == 28 && extended.pins?.map(\.latentFrame) == [0, 1])
    }

    @Test func pinStrengthMakesPartialPinsThatAreNotPastedBack() throws {
        let full = try Self.spec(["--image", "still.png"])
        #expect(full.pins == [LatentPin(latentFrame: 0)] && full.passesMediaThrough)
        let partial = try Self.spec(["--image", "still.png", "--pin-strength", "0.4"])
        #expect(partial.pins == [LatentPin(latentFrame: 0, strength: 0.4)])
        #expect(!partial.passesMediaThrough)
        let connect = try Self.spec(["--connect", "a.y4m", "b.y4m", "--duration", "1", "--pin-strength", "0.5"], mediaFrames: 9)
        #expect(connect.pins?.map(\.strength) == [0.5, 0.5])
        #expect(Self.error(["--pin-strength", "0.5"]).contains("goes with --image"))
        #expect(Self.error(["--edit", "clip.y4m", "--pin-strength", "0.5"], mediaFrames: 9).contains("goes with --image"))
        #expect(Self.error(["--image", "still.png", "--pin-strength", "0"]).contains("above 0"))
        #expect(Self.error(["--image", "still.png", "--pin-strength", "1.5"]).contains("--pin-strength"))
    }
}
