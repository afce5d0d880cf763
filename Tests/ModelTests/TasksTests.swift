// Prompting with images and videos on a generated tiny model: pinned frames come out as given (within the VAE
// round trip, measured independently), extended inputs pass through byte for byte, a loop wraps, a connection
// starts and ends on its inputs, an edit at strength 0 / 1 is the round trip / text-to-video, and a one-frame job
// writes a PNG.
import Foundation
import Testing
@testable import Model

@Suite(.serialized) struct TasksTests {
    // MARK: - Shared model and media

    /// A tiny model folder, written once per process.
    static let folder: Result<String, Error> = Result {
        let temporary = FileManager.default.temporaryDirectory.path
        // Folders of earlier test processes that have ended.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [] where name.hasPrefix("tasks-tests-") {
            guard let pid = Int32(name.dropFirst("tasks-tests-".count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? FileManager.default.removeItem(atPath: temporary + "/" + name) }
        }
        let directory = temporary + "/tasks-tests-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        try ModelFolderWriter.write(ModelFolderOptions(preset: .tiny, seed: 5), to: directory)
        return directory
    }

    static func pipeline() throws -> VideoGenerator {
        try VideoGenerator(folder: try ModelFolder(path: try folder.get()))
    }

    static func path(_ name: String) throws -> String { (try folder.get() as NSString).appendingPathComponent(name) }

    static func spec(frames: Int) -> VideoJobSpec {
        var spec = VideoJobSpec(prompt: "a lighthouse at dusk", width: 32, height: 32, frames: frames)
        spec.steps = 3
        spec.guidanceScale = 3
        spec.maxSequenceLength = 8
        spec.seed = 11
        return spec
    }

    /// A smooth moving picture: diagonal colour ramps that drift with `frame`.
    static func picture(frame: Int, width: Int = 32, height: Int = 32, phase: Int = 0) -> RGBFrame {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let index = (y * width + x) * 3
                pixels[index] = UInt8((x * 6 + frame * 5 + phase) % 256)
                pixels[index + 1] = UInt8((y * 7 + 40 + phase) % 256)
                pixels[index + 2] = UInt8(((x + y) * 3 + 90 + frame * 3) % 256)
            }
        }
        return RGBFrame(width: width, height: height, pixels: pixels)
    }

    static func writeY4M(_ frames: [RGBFrame], to path: String) throws {
        let writer = try Y4MWriter(path: path, width: frames[0].width, height: frames[0].height, framesPerSecond: 16)
        for frame in frames { try writer.write(frame) }
        try writer.finish()
    }

    /// Keeps every decoded chunk and the final latent.
    final class CapturingSink: VideoSink {
        var chunks: [Tensor] = []
        var latents: Tensor?
        func consume(_ chunk: Tensor) throws { chunks.append(chunk) }
        func finish(latents: Tensor) throws { self.latents = latents }
        var video: Tensor { chunks.count == 1 ? chunks[0] : Ops.concatenate(chunks, axis: 2) }
        var frames: [RGBFrame] { chunks.flatMap(DecodedVideo.frames(of:)) }
    }

    /// The video of `frames` as a VAE input [1, 3, F, H, W] in [-1, 1], computed here (not by the code under test).
    static func videoTensor(_ frames: [RGBFrame]) -> Tensor {
        let (count, height, width) = (frames.count, frames[0].height, frames[0].width)
        var values = [Float](repeating: 0, count: 3 * count * height * width)
        for (f, frame) in frames.enumerated() {
            for channel in 0..<3 {
                for index in 0..<(height * width) {
                    values[((channel * count + f) * height * width) + index] = Float(frame.pixels[index * 3 + channel]) / 127.5 - 1
                }
            }
        }
        return Tensor(shape: [1, 3, count, height, width], scalars: values)
    }

    /// An independent VAE (loaded from the folder on its own) round trip of `frames`: decode(encode(video)).
    static func roundTrip(_ frames: [RGBFrame]) throws -> Tensor {
        let vae = try WanVAE(directory: try path("vae"))
        return try vae.decode(try vae.encode(videoTensor(frames)))
    }

    static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// Frames `range` of a [1, 3, F, H, W] video, flattened.
    static func frames(_ video: Tensor, _ range: Range<Int>) -> [Float] {
        Ops.slice(video, axis: 2, range: range).scalars
    }

    // MARK: - Pinned frames

    @Test func animatedImageKeepsItsLatentAndComesOutWithinTheRoundTrip() throws {
        let pipeline = try Self.pipeline()
        let image = Self.picture(frame: 0)
        let imagePath = try Self.path("still-input.png")
        try PNGWriter.write(image, to: imagePath)
        var spec = Self.spec(frames: 9)
        try MediaTask.animate(image: imagePath).configure(&spec)
        try spec.validate()
        let sink = CapturingSink()
        try pipeline.generate(spec, into: sink)
        let latents = try #require(sink.latents)
        // The pinned latent is the input's own encoding, held through every step.
        let vae = try WanVAE(directory: try Self.path("vae"))
        let known = try vae.config.normalizeLatents(try vae.encode(Self.videoTensor([image])))
        #expect(Self.frames(latents, 0..<1) == known.scalars, "latent frame 0 is held at the image's latent")
        // Decoded without pass-through, frame 0 is the image within the measured VAE round-trip error.
        let roundTrip = try Self.roundTrip([image])
        let roundTripError = Self.maxAbsDifference(roundTrip.scalars, Self.videoTensor([image]).scalars)
        let decoded = try vae.decode(try vae.config.denormalizeLatents(latents))
        let pinnedError = Self.maxAbsDifference(Self.frames(decoded, 0..<1), Self.videoTensor([image]).scalars)
        print("animate: VAE round-trip max error \(roundTripError), pinned frame max error \(pinnedError) (of 2)")
        #expect(pinnedError <= roundTripError * 1.01 + 1e-4)
        // The causal decoder's frame 0 depends on latent 0 alone: it is the independent round trip itself.
        #expect(Self.maxAbsDifference(Self.frames(decoded, 0..<1), roundTrip.scalars) <= 1e-5)
        // With pass-through, the written frame 0 is the image's own pixels.
        #expect(sink.frames[0] == image)
        #expect(sink.frames.count == 9)
    }

    @Test func extendedVideoPassesThroughByteForByte() throws {
        let pipeline = try Self.pipeline()
        let inputPath = try Self.path("extend-input.y4m")
        try Self.writeY4M((0..<9).map { Self.picture(frame: $0) }, to: inputPath)
        let input = try MediaLoader.load(path: inputPath)  // what the job reads (Y4M is Y'CbCr: not our RGB exactly)
        for forward in [true, false] {
            var spec = Self.spec(frames: 1)
            let task: MediaTask = forward
                ? .extendForward(video: inputPath, frames: 9, addedFrames: 8)
                : .extendBackward(video: inputPath, frames: 9, addedFrames: 8)
            try task.configure(&spec)
            try spec.validate()
            #expect(spec.frames == 17)
            #expect(spec.pins?.map(\.latentFrame) == (forward ? [0, 1, 2] : [3, 4]))
            let out = try Self.path("extended-\(forward).y4m")
            let sink = try VideoOutputKind.y4m.makeSink(path: out, width: 32, height: 32, frames: 17, fps: 16)
            let capture = CapturingSink()
            try pipeline.generate(spec, into: sink)
            try pipeline.generate(spec, into: capture)
            // The output file's frames over the input's span are the input file's frames, byte for byte.
            let inputBytes = try Self.y4mFrameBytes(inputPath)
            let outputBytes = try Self.y4mFrameBytes(out)
            #expect(outputBytes.count == 17)
            let start = forward ? 0 : 8
            #expect(Array(outputBytes[start..<(start + 9)]) == inputBytes)
            // The decoded latent over the pinned span is the input within the VAE round trip.
            let latents = try #require(capture.latents)
            let vae = try WanVAE(directory: try Self.path("vae"))
            let decoded = try vae.decode(try vae.config.denormalizeLatents(latents))
            let span = forward ? 0..<9 : 9..<17
            let pinnedError = Self.maxAbsDifference(
                Self.frames(decoded, span), Self.videoTensor(Array(input[(span.lowerBound - start)..<(span.upperBound - start)])).scalars)
            let roundTrip = try Self.roundTrip(input)
            let roundTripError = Self.maxAbsDifference(roundTrip.scalars, Self.videoTensor(input).scalars)
            print("extend \(forward ? "forward" : "backward"): VAE round-trip max error \(roundTripError), pinned span max error \(pinnedError)")
            #expect(pinnedError <= roundTripError * 1.5 + 0.05)
            if forward {
                // Frames 0..<9 depend only on the pinned latents 0...2: they are the independent round trip.
                let sameAsRoundTrip = Self.maxAbsDifference(Self.frames(decoded, 0..<9), roundTrip.scalars)
                print("extend forward: decoded pinned span vs independent round trip max difference \(sameAsRoundTrip)")
                #expect(sameAsRoundTrip <= 1e-4)
            }
        }
    }

    /// The frame payloads of a 4:4:4 Y4M file.
    static func y4mFrameBytes(_ path: String) throws -> [[UInt8]] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var reader = try Y4MReader(bytes: bytes)
        let size = reader.width * reader.height * 3
        var offset = try #require(bytes.firstIndex(of: 0x0A)) + 1
        var frames: [[UInt8]] = []
        while offset < bytes.count {
            offset = try #require(bytes[offset...].firstIndex(of: 0x0A)) + 1
            frames.append(Array(bytes[offset..<(offset + size)]))
            offset += size
        }
        _ = try reader.readAll()
        return frames
    }

    // MARK: - Loop, connect

    @Test func loopWrapsTheLastWindowOntoTheFirst() throws {
        let pipeline = try Self.pipeline()
        var spec = Self.spec(frames: 16)
        spec.looping = true
        spec.windowFrames = 3
        spec.windowOverlap = 1
        try spec.validate()
        #expect(spec.latentFrames == 4 && spec.pixelSpan(ofLatentFrame: 0) == 0..<4 && spec.pixelSpan(ofLatentFrame: 3) == 12..<16)
        let plan = try spec.windowPlan()
        let last = try #require(plan.windows.last)
        #expect(plan.windows.count >= 2)
        #expect(last.frames.contains(0) && last.frames.contains(spec.latentFrames - 1), "the last window wraps: \(last.frames)")
        // Frame 0 is blended from the first and the wrapping window, with weights that sum to one.
        let weights = plan.windows.flatMap { window in zip(window.frames, window.weights).filter { $0.0 == 0 }.map(\.1) }
        #expect(weights.count == 2 && abs(weights.reduce(0, +) - 1) < 1e-6 && weights.allSatisfy { $0 > 0 && $0 < 1 })
        let sink = CapturingSink()
        try pipeline.generate(spec, into: sink)
        // Four frames per latent frame: a loop has no single first frame.
        #expect(sink.frames.count == 16)
    }

    @Test func loopingDecodeIsTheSteadyStateOfTheRepeatedClip() throws {
        // Decoding a loop warms the causal decoder up on the clip's own end: with a warm-up of whole cycles, the
        // output must equal the last cycle of an ordinary decode of the clip played several times over.
        let vae = try WanVAE(directory: try Self.path("vae"))
        let latents = Tensor.randomNormal(shape: [1, vae.config.zDim, 3, 2, 2], seed: 11, stream: 1)
        var looped: [Tensor] = []
        try vae.decodeLooping(latents, warmUp: 6) { looped.append($0) }
        #expect(looped.count == 3 && looped.allSatisfy { $0.shape[2] == 4 })
        let repeated = DenoisingLoop.gatherFrames(latents, frames: (0..<9).map { $0 % 3 })
        let plain = try vae.decode(repeated)
        let lastCycle = Ops.slice(plain, axis: 2, range: (plain.shape[2] - 12)..<plain.shape[2])
        #expect(Ops.concatenate(looped, axis: 2) == lastCycle)
        // The encoder likewise: a loop of 8 frames is encoded after 1 + 4 * 4 frames of warm-up from its end.
        let video = Tensor.randomNormal(shape: [1, 3, 8, 16, 16], seed: 12, stream: 2, standardDeviation: 0.5)
        let encoded = try vae.encodeLooping(video, warmUp: 4)
        #expect(encoded.shape == [1, vae.config.zDim, 2, 2, 2])
        let lead = DenoisingLoop.gatherFrames(video, frames: [7] + (0..<16).map { $0 % 8 } + Array(0..<8))
        let plainEncoded = try vae.encode(lead)
        #expect(encoded == Ops.slice(plainEncoded, axis: 2, range: 5..<7))
    }

    @Test func connectionStartsAtTheEndOfAAndEndsAtTheStartOfB() throws {
        let pipeline = try Self.pipeline()
        let a = (0..<9).map { Self.picture(frame: $0) }
        let b = (0..<9).map { Self.picture(frame: $0, phase: 100) }
        let (pathA, pathB) = (try Self.path("connect-a.y4m"), try Self.path("connect-b.y4m"))
        try Self.writeY4M(a, to: pathA)
        try Self.writeY4M(b, to: pathB)
        let readA = try MediaLoader.load(path: pathA), readB = try MediaLoader.load(path: pathB)
        var spec = Self.spec(frames: 1)
        try MediaTask.connect(first: pathA, firstFrames: 9, second: pathB, secondFrames: 9, frames: 13).configure(&spec)
        try spec.validate()
        #expect(spec.frames == 13 && spec.pins?.map(\.latentFrame) == [0, 3])
        let sink = CapturingSink()
        try pipeline.generate(spec, into: sink)
        let frames = sink.frames
        #expect(frames.first == readA.last, "the first frame is A's last")
        #expect(Array(frames.suffix(4)) == Array(readB.prefix(4)), "the last four frames are B's first four")
        // And the generated latents at both ends are the inputs' encodings.
        let latents = try #require(sink.latents)
        let vae = try WanVAE(directory: try Self.path("vae"))
        let knownA = try vae.config.normalizeLatents(try vae.encode(Self.videoTensor([readA[8]])))
        // (Encoded inside the 13-frame composite, so equal to a one-frame encoding up to float rounding.)
        #expect(Numerics.maxRelativeError(Self.frames(latents, 0..<1), knownA.scalars) <= 1e-5)
    }

    // MARK: - Edit

    @Test func editAtStrengthZeroIsTheRoundTripAndAtOneIsTextToVideo() throws {
        let pipeline = try Self.pipeline()
        let input = (0..<9).map { Self.picture(frame: $0, phase: 30) }
        let inputPath = try Self.path("edit-input.y4m")
        try Self.writeY4M(input, to: inputPath)
        let read = try MediaLoader.load(path: inputPath)

        var zero = Self.spec(frames: 1)
        try MediaTask.edit(video: inputPath, frames: 9, strength: 0).configure(&zero)
        let keep = CapturingSink()
        try pipeline.generate(zero, into: keep)
        let roundTrip = try Self.roundTrip(read)
        let error = Self.maxAbsDifference(keep.video.scalars, roundTrip.scalars)
        print("edit 0: max difference to the independent VAE round trip \(error)")
        #expect(keep.video.shape == roundTrip.shape)
        #expect(error <= 1e-5)

        var one = Self.spec(frames: 1)
        try MediaTask.edit(video: inputPath, frames: 9, strength: 1).configure(&one)
        let ignore = CapturingSink()
        try pipeline.generate(one, into: ignore)
        let textOnly = CapturingSink()
        try pipeline.generate(Self.spec(frames: 9), into: textOnly)
        #expect(ignore.video == textOnly.video, "strength 1 ignores the input")
        #expect(ignore.video != keep.video)
    }

    // MARK: - Images and media

    @Test func oneFrameJobWritesAPNG() throws {
        let pipeline = try Self.pipeline()
        let out = try Self.path("image.png")
        let spec = Self.spec(frames: 1)
        let sink = try VideoOutputKind.png.makeSink(path: out, width: 32, height: 32, frames: 1, fps: 16)
        try pipeline.generate(spec, into: sink)
        let capture = CapturingSink()
        try pipeline.generate(spec, into: capture)
        let image = try PNGReader.read(path: out)
        #expect(image.width == 32 && image.height == 32)
        #expect(image == capture.frames[0])
    }

    @Test func mediaSizeMismatchIsRefusedNamingBothSizesOrFitted() throws {
        let small = [Self.picture(frame: 0, width: 48, height: 32)]
        #expect(throws: MediaError.self) { try MediaLoader.fitted(small, width: 32, height: 32, fit: nil, option: "--image") }
        do {
            _ = try MediaLoader.fitted(small, width: 32, height: 32, fit: nil, option: "--image")
        } catch {
            let text = "\(error)"
            #expect(text.contains("--image") && text.contains("48x32") && text.contains("32x32") && text.contains("--fit"))
        }
        for mode in FitMode.allCases {
            let fitted = try MediaLoader.fitted(small, width: 32, height: 32, fit: mode, option: "--image")
            #expect(fitted[0].width == 32 && fitted[0].height == 32)
        }
    }

    @Test func hostileMediaGivesClearErrors() throws {
        let truncated = try Self.path("truncated.y4m")
        try Data("YUV4MPEG2 W32 H32 F16:1 C444\nFRAME\n".utf8 + [UInt8](repeating: 7, count: 100)).write(to: URL(fileURLWithPath: truncated))
        #expect(throws: MediaError.self) { try MediaLoader.load(path: truncated) }
        let huge = try Self.path("huge.y4m")
        try Data("YUV4MPEG2 W100000 H100000 F16:1 C444\n".utf8).write(to: URL(fileURLWithPath: huge))
        #expect(throws: MediaError.self) { try MediaLoader.load(path: huge) }
        let empty = try Self.path("empty.y4m")
        try Data("YUV4MPEG2 W32 H32 F16:1 C444\n".utf8).write(to: URL(fileURLWithPath: empty))
        #expect(throws: MediaError.self) { try MediaLoader.load(path: empty) }
        let fake = try Self.path("fake.png")
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: fake))
        #expect(throws: MediaError.self) { try MediaLoader.load(path: fake) }
        #expect(throws: MediaError.self) { try MediaLoader.load(path: try Self.path("missing.mp4")) }
        if FFmpegVideoWriter.locateFFmpeg() != nil {
            let garbage = try Self.path("garbage.mkv")
            try Data([UInt8](repeating: 0x5A, count: 4096)).write(to: URL(fileURLWithPath: garbage))
            #expect(throws: MediaError.self) { try MediaLoader.load(path: garbage) }
        }
    }

    @Test func ffmpegDecodesOtherFormatsToTheSameFramesAsY4M() throws {
        guard let ffmpeg = FFmpegVideoWriter.locateFFmpeg() else { return }
        let input = (0..<5).map { Self.picture(frame: $0) }
        let y4m = try Self.path("ffmpeg-source.y4m")
        try Self.writeY4M(input, to: y4m)
        // A lossless container ffmpeg reads and we do not: FFV1 in Matroska.
        let mkv = try Self.path("ffmpeg-source.mkv")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ffmpeg)
        process.arguments = ["-hide_banner", "-loglevel", "error", "-y", "-i", y4m, "-c:v", "ffv1", mkv]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let viaFFmpeg = try MediaLoader.load(path: mkv)
        #expect(viaFFmpeg == (try MediaLoader.load(path: y4m)))
    }

    // MARK: - Spec and loop mechanics

    @Test func conditioningFieldsAreValidatedNamingTheField() throws {
        func field(_ change: (inout VideoJobSpec) -> Void) -> String? {
            var spec = Self.spec(frames: 9)
            change(&spec)
            do { try spec.validate(); return nil } catch { return error.field }
        }
        let image = MediaPlacement(source: "a.png", sourceFrame: 0, frameCount: 1, outputFrame: 0)
        #expect(field { $0.media = [MediaPlacement(source: "a.png", sourceFrame: 0, frameCount: 2, outputFrame: 8)] } == "media[0]")
        #expect(field { $0.media = [image, image] } == "media[1]")
        #expect(field { $0.media = [image]; $0.pins = [LatentPin(latentFrame: 5)] } == "pins[0].latent_frame")
        #expect(field { $0.media = [image]; $0.pins = [LatentPin(latentFrame: 1)] } == "pins[0]")
        #expect(field { $0.media = [image]; $0.pins = [LatentPin(latentFrame: 0, strength: 0)] } == "pins[0].strength")
        #expect(field { $0.editStrength = 0.5 } == "edit_strength")
        #expect(field { $0.media = [image]; $0.editStrength = 1.5 } == "edit_strength")
        #expect(field { $0.looping = true } == "frames", "a loop's frames are a multiple of 4")
        #expect(field { $0.looping = true; $0.frames = 8 } == "loop", "2 latent frames fit one window of 21")
        #expect(field { $0.media = [image]; $0.pins = [LatentPin(latentFrame: 0)] } == nil)
        // The conditioning fields survive a JSON round trip (job.json, submit).
        var full = Self.spec(frames: 17)
        full.media = [MediaPlacement(source: "v.y4m", sourceFrame: 2, frameCount: 9, outputFrame: 0)]
        full.pins = [LatentPin(latentFrame: 0), LatentPin(latentFrame: 2, strength: 0.5)]
        full.editStrength = 0.25
        full.looping = true
        full.fit = .pad
        #expect(try JSONDecoder().decode(VideoJobSpec.self, from: try JSONEncoder().encode(full)) == full)
        // Old job records without the new fields still decode.
        let plain = try JSONEncoder().encode(Self.spec(frames: 9))
        #expect(try JSONDecoder().decode(VideoJobSpec.self, from: plain) == Self.spec(frames: 9))
    }

    @Test func pinsAreHeldAndSeenAtTimestepZeroPartialPinsReleased() throws {
        let scheduler = try FlowMatchEulerDiscreteScheduler(config: FlowMatchEulerDiscreteConfig(shift: 3), stepCount: 4)
        let noise = Tensor.randomNormal(shape: [1, 2, 4, 2, 2], seed: 1, stream: 2)
        let known = Tensor.randomNormal(shape: [1, 2, 2, 2, 2], seed: 3, stream: 4)
        let conditioning = try LatentConditioning(
            positions: [0, 3], strengths: [1, 0.5], known: known, noise: DenoisingLoop.gatherFrames(noise, frames: [0, 3]))
        var loop = try DenoisingLoop(
            plan: try WindowPlan(latentFrames: 4, windowFrames: 4, overlap: 0), guidanceScale: 1, scheduler: scheduler,
            latents: noise, schedulerState: try scheduler.initialState(beginIndex: 0), conditioning: conditioning)
        while !loop.isFinished {
            let step = loop.stepIndex
            #expect(DenoisingLoop.gatherFrames(loop.latents, frames: [0]) == DenoisingLoop.gatherFrames(known, frames: [0]))
            let partial = DenoisingLoop.gatherFrames(loop.latents, frames: [3])
            let expected = try scheduler.noised(
                DenoisingLoop.gatherFrames(known, frames: [1]), noise: DenoisingLoop.gatherFrames(noise, frames: [3]),
                stepIndex: step)
            if step < 2 { #expect(partial == expected, "partial pin held at the noised known latent at step \(step)") }
            let unit = loop.pendingUnits()[0]
            let input = try loop.input(for: unit)
            #expect(input.frameTimesteps == [0, input.timestep, input.timestep, input.timestep])
            let timesteps = input.timestepTensor(patchSize: [1, 2, 2])
            #expect(timesteps.shape == [1, 4] && timesteps.scalars == [0, input.timestep, input.timestep, input.timestep])
            try loop.advance(with: [unit: Tensor(repeating: 0.25, shape: input.hiddenStates.shape)])
        }
        #expect(DenoisingLoop.gatherFrames(loop.latents, frames: [0]) == DenoisingLoop.gatherFrames(known, frames: [0]))
    }

    @Test func aConditionedRunResumedFromItsCheckpointEndsBitIdentical() throws {
        let scheduler = try UniPCMultistepScheduler(config: UniPCMultistepConfig(flowShift: 3.0), stepCount: 5)
        let noise = Tensor.randomNormal(shape: [1, 2, 5, 2, 2], seed: 7, stream: 1)
        let known = Tensor.randomNormal(shape: [1, 2, 2, 2, 2], seed: 8, stream: 1)
        func conditioning() throws -> LatentConditioning {
            try LatentConditioning(
                positions: [0, 4], strengths: [1, 0.6], known: known, noise: DenoisingLoop.gatherFrames(noise, frames: [0, 4]))
        }
        let plan = try WindowPlan(latentFrames: 5, windowFrames: 3, overlap: 1)
        func model(_ input: WorkUnitInput) -> Tensor {
            Tensor(shape: input.hiddenStates.shape, scalars: input.hiddenStates.scalars.enumerated().map { index, value in
                0.8 * value + 0.01 * Float(index % 5) + (input.frameTimesteps?.first ?? 1) / 2000
            })
        }
        func step(_ loop: inout DenoisingLoop) throws {
            var results: [WorkUnitID: Tensor] = [:]
            for unit in loop.pendingUnits() { results[unit] = model(try loop.input(for: unit)) }
            try loop.advance(with: results)
        }
        var whole = try DenoisingLoop(
            plan: plan, guidanceScale: 1, scheduler: scheduler, latents: noise,
            schedulerState: try scheduler.initialState(beginIndex: 0), conditioning: try conditioning())
        while !whole.isFinished { try step(&whole) }

        var first = try DenoisingLoop(
            plan: plan, guidanceScale: 1, scheduler: scheduler, latents: noise,
            schedulerState: try scheduler.initialState(beginIndex: 0), conditioning: try conditioning())
        try step(&first)
        try step(&first)
        let path = try Self.path("conditioned-checkpoint.safetensors")
        try GenerationCheckpoint.save(first, job: "j", to: path)
        // The known latents are not in the checkpoint: they are recomputed (here: rebuilt) and passed back in.
        var resumed = try GenerationCheckpoint.load(
            path: path, job: "j", plan: plan, guidanceScale: 1, scheduler: scheduler, conditioning: try conditioning())
        #expect(resumed.stepIndex == 2)
        while !resumed.isFinished { try step(&resumed) }
        #expect(resumed.latents == whole.latents)
    }
}
