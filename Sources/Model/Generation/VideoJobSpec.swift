// What one generation job asks for: prompt, size, length, sampling settings and windows. Shared by the
// single-process `generate` command and cluster jobs, and stored with every job.

/// A text-to-video job, complete and validated; everything that determines the output bytes is in here.
public struct VideoJobSpec: Codable, Sendable, Equatable {
    /// The prompt.
    public var prompt: String
    /// The negative prompt (used when guidance is on).
    public var negativePrompt: String = ""
    /// Video width in pixels (a multiple of 16).
    public var width: Int
    /// Video height in pixels (a multiple of 16).
    public var height: Int
    /// Number of video frames: 4k + 1, or 4k for a looping clip (see `timeline`).
    public var frames: Int
    /// Frames per second of the output file.
    public var framesPerSecond: Int = 16
    /// Denoising steps.
    public var steps: Int = 50
    /// Classifier-free guidance scale; guidance is off at 1 or below.
    public var guidanceScale: Double = 5.0
    /// Flow shift; `nil` takes the model's scheduler config.
    public var shift: Double?
    /// Scheduler; `nil` takes the model's scheduler config.
    public var scheduler: SchedulerKind?
    /// The seed of the initial noise.
    public var seed: UInt64 = 0
    /// Text tokens per prompt (padded or truncated).
    public var maxSequenceLength: Int = 512
    /// Latent frames per temporal window.
    public var windowFrames: Int = 21
    /// Least overlap between windows, in latent frames.
    public var windowOverlap: Int = 5
    /// LoRAs applied to the transformer, in order, each at its scale (nil or empty: none).
    public var loras: [LoRAReference]?

    // MARK: - Conditioning (prompting with images and videos; all nil for text-to-video)

    /// Known content on the output timeline: input media frames placed at output frames (see docs/TASKS.md).
    public var media: [MediaPlacement]?
    /// Latent frames held at the known content's latent while denoising.
    public var pins: [LatentPin]?
    /// SDEdit: start from the known content (the whole clip) noised to this level in [0, 1].
    public var editStrength: Double?
    /// Whether the window plan wraps around, so the clip loops seamlessly.
    public var looping: Bool?
    /// How input media of another size is fitted; nil refuses a size mismatch.
    public var fit: FitMode?
    /// Whether the known content's pixels replace the decoded frames they cover: not for edits, and not when a pin
    /// is partial (the model may change those frames, and pasting the input back would cut in and out of it).
    public var passesMediaThrough: Bool {
        !(media ?? []).isEmpty && editStrength == nil && (pins ?? []).allSatisfy { $0.strength >= 1 }
    }

    /// Creates a spec; call `validate()` before use.
    public init(prompt: String, width: Int, height: Int, frames: Int) {
        self.prompt = prompt
        self.width = width
        self.height = height
        self.frames = frames
    }

    /// The limits a job must respect; bounded so a hostile job cannot ask for absurd work.
    public enum Limits {
        /// Largest width or height in pixels.
        public static let maxSide = 8192
        /// Most video frames (an hour at 24 fps).
        public static let maxFrames = 86_401
        /// Most steps.
        public static let maxSteps = 1000
        /// Longest prompt in UTF-8 bytes.
        public static let maxPromptBytes = 64 << 10
        /// Longest text sequence in tokens.
        public static let maxSequenceLength = 4096
        /// Most media placements in one job.
        public static let maxMediaPlacements = 8
        /// Longest media source name in UTF-8 bytes.
        public static let maxMediaNameBytes = 4096
        /// Most LoRAs in one job.
        public static let maxLoRAs = 8
        /// Largest LoRA scale magnitude.
        public static let maxLoRAScale = 100.0
    }

    /// Is guidance on (a second, unconditional branch per window)?
    public var usesGuidance: Bool { guidanceScale > 1 }

    /// How the clip's frames sit on its latent timeline: ordinary, or looping (no first frame).
    public var timeline: ClipTimeline { looping == true ? .looping : .ordinary }

    /// Latent frames: the causal VAE keeps the first frame and compresses the rest 4x; a loop has 4 frames in each.
    public var latentFrames: Int { timeline.latentFrames(videoFrames: frames) }

    /// The video frames latent frame `latent` stands for: frame 0 alone, then four frames each (four each in a loop).
    public func pixelSpan(ofLatentFrame latent: Int) -> Range<Int> {
        timeline.videoSpan(ofLatentFrame: latent)
    }

    /// The smallest valid frame count that is at least `count`: 4k + 1, or 4k (at least 8) for a loop.
    public func validFrameCount(atLeast count: Int) -> Int {
        Self.validFrameCount(atLeast: count, looping: looping == true)
    }

    /// The smallest valid frame count that is at least `count`: 4k + 1, or 4k (at least 8) when `looping`.
    public static func validFrameCount(atLeast count: Int, looping: Bool) -> Int {
        looping ? max(8, (count + 3) / 4 * 4) : (count <= 1 ? 1 : ((count - 1 + 3) / 4) * 4 + 1)
    }

    /// The temporal windows of this job (wrapping when `looping`).
    public func windowPlan() throws -> WindowPlan {
        try WindowPlan(
            latentFrames: latentFrames, windowFrames: windowFrames, overlap: windowOverlap, looping: looping ?? false)
    }

    /// Converts a duration to a valid frame count: the smallest 4k+1 count covering `seconds` at `fps`; for a
    /// loop, which plays its frames over and over, the smallest 4k count (at least 8) covering it.
    public static func frames(forDuration seconds: Double, framesPerSecond: Int, looping: Bool = false) -> Int {
        let wanted = max(1, Int((seconds * Double(framesPerSecond)).rounded(.up)))
        return validFrameCount(atLeast: wanted, looping: looping)
    }

    /// Checks every field; the error names the field and the value.
    public func validate() throws(JobSpecError) {
        func fail(_ field: String, _ message: String) -> JobSpecError { JobSpecError(field: field, message: message) }
        guard prompt.utf8.count <= Limits.maxPromptBytes else {
            throw fail("prompt", "is \(prompt.utf8.count) bytes; the limit is \(Limits.maxPromptBytes)")
        }
        guard negativePrompt.utf8.count <= Limits.maxPromptBytes else {
            throw fail("negative_prompt", "is \(negativePrompt.utf8.count) bytes; the limit is \(Limits.maxPromptBytes)")
        }
        for (field, value) in [("width", width), ("height", height)] {
            guard value >= 16, value <= Limits.maxSide, value % 16 == 0 else {
                throw fail(field, "must be a multiple of 16 between 16 and \(Limits.maxSide), got \(value)")
            }
        }
        if looping == true {
            guard frames >= 8, frames <= Limits.maxFrames, frames % 4 == 0 else {
                let lower = max(8, frames / 4 * 4)
                throw fail("frames", "of a loop must be a multiple of 4 (8, 12, ..., 80, ...) up to \(Limits.maxFrames), got \(frames); try \(lower) or \(lower + 4)")
            }
        } else {
            guard frames >= 1, frames <= Limits.maxFrames, (frames - 1) % 4 == 0 else {
                let lower = max(1, (frames - 1) / 4 * 4 + 1)
                throw fail("frames", "must be of the form 4k+1 (1, 5, 9, ..., 81, ...) up to \(Limits.maxFrames), got \(frames); try \(lower) or \(lower + 4)")
            }
        }
        guard (1...240).contains(framesPerSecond) else {
            throw fail("fps", "must be in 1...240, got \(framesPerSecond)")
        }
        guard (1...Limits.maxSteps).contains(steps) else {
            throw fail("steps", "must be in 1...\(Limits.maxSteps), got \(steps)")
        }
        guard guidanceScale.isFinite, (0...100).contains(guidanceScale) else {
            throw fail("guidance", "must be a number in 0...100, got \(guidanceScale)")
        }
        if let shift, !(shift.isFinite && shift > 0 && shift <= 100) {
            throw fail("shift", "must be a number in (0, 100], got \(shift)")
        }
        guard (1...Limits.maxSequenceLength).contains(maxSequenceLength) else {
            throw fail("max_sequence_length", "must be in 1...\(Limits.maxSequenceLength), got \(maxSequenceLength)")
        }
        guard (1...1024).contains(windowFrames) else {
            throw fail("window_frames", "must be in 1...1024 latent frames, got \(windowFrames)")
        }
        guard windowOverlap >= 0, windowOverlap < windowFrames else {
            throw fail("window_overlap", "must be in 0..<window_frames (\(windowFrames)), got \(windowOverlap)")
        }
        try validateLoRAs()
        try validateConditioning()
    }

    /// Checks the conditioning fields: placements inside the clip and not overlapping, pins on known content,
    /// strengths in range, a loop that really wraps.
    /// At most `maxLoRAs` LoRAs, each with a path and a finite scale within +-`maxLoRAScale`.
    public func validateLoRAs() throws(JobSpecError) {
        try Self.validate(loras: loras ?? [])
    }

    /// The checks of `validateLoRAs` on a list of LoRAs (a job request's, before it is resolved).
    public static func validate(loras: [LoRAReference]) throws(JobSpecError) {
        guard loras.count <= Limits.maxLoRAs else {
            throw JobSpecError(field: "loras", message: "has \(loras.count) LoRAs; the limit is \(Limits.maxLoRAs)")
        }
        for (index, lora) in loras.enumerated() {
            guard !lora.path.isEmpty, lora.path.utf8.count <= Limits.maxMediaNameBytes else {
                throw JobSpecError(field: "loras[\(index)].path", message: "must be 1...\(Limits.maxMediaNameBytes) bytes")
            }
            guard lora.scale.isFinite, abs(lora.scale) <= Limits.maxLoRAScale else {
                throw JobSpecError(
                    field: "loras[\(index)].scale", message: "must be a finite number within +-\(Limits.maxLoRAScale), got \(lora.scale)")
            }
        }
    }

    private func validateConditioning() throws(JobSpecError) {
        func fail(_ field: String, _ message: String) -> JobSpecError { JobSpecError(field: field, message: message) }
        let placements = media ?? []
        guard placements.count <= Limits.maxMediaPlacements else {
            throw fail("media", "has \(placements.count) placements; the limit is \(Limits.maxMediaPlacements)")
        }
        var known = [Bool](repeating: false, count: frames)
        for (index, placement) in placements.enumerated() {
            let field = "media[\(index)]"
            guard !placement.source.isEmpty, placement.source.utf8.count <= Limits.maxMediaNameBytes else {
                throw fail(field + ".source", "must be 1...\(Limits.maxMediaNameBytes) bytes, got \(placement.source.utf8.count)")
            }
            guard placement.sourceFrame >= 0, placement.sourceFrame < Limits.maxFrames else {
                throw fail(field + ".source_frame", "must be in 0..<\(Limits.maxFrames), got \(placement.sourceFrame)")
            }
            guard placement.frameCount >= 1, placement.outputFrame >= 0,
                  placement.frameCount <= frames, placement.outputFrame <= frames - placement.frameCount else {
                throw fail(field, "covers output frames \(placement.outputFrame)..<\(placement.outputFrame + placement.frameCount), outside the clip's 0..<\(frames)")
            }
            for frame in placement.outputFrame..<(placement.outputFrame + placement.frameCount) {
                guard !known[frame] else { throw fail(field, "overlaps another placement at output frame \(frame)") }
                known[frame] = true
            }
        }
        var seen = Set<Int>()
        for (index, pin) in (pins ?? []).enumerated() {
            let field = "pins[\(index)]"
            guard pin.latentFrame >= 0, pin.latentFrame < latentFrames else {
                throw fail(field + ".latent_frame", "must be in 0..<\(latentFrames), got \(pin.latentFrame)")
            }
            guard seen.insert(pin.latentFrame).inserted else {
                throw fail(field + ".latent_frame", "pins latent frame \(pin.latentFrame) twice")
            }
            guard pin.strength.isFinite, pin.strength > 0, pin.strength <= 1 else {
                throw fail(field + ".strength", "must be in (0, 1], got \(pin.strength)")
            }
            guard pixelSpan(ofLatentFrame: pin.latentFrame).contains(where: { known[$0] }) else {
                throw fail(field, "pins latent frame \(pin.latentFrame), but no media covers its video frames \(pixelSpan(ofLatentFrame: pin.latentFrame))")
            }
        }
        if let editStrength {
            guard editStrength.isFinite, (0...1).contains(editStrength) else {
                throw fail("edit_strength", "must be in 0...1, got \(editStrength)")
            }
            guard !placements.isEmpty else { throw fail("edit_strength", "needs media to edit") }
        }
        if looping == true {
            guard latentFrames > windowFrames - windowOverlap else {
                throw fail("loop", "needs at least two windows to wrap: \(latentFrames) latent frames fit in one window of \(windowFrames) with overlap \(windowOverlap); lower --window-frames")
            }
        }
    }
}

/// Input media frames placed on a job's output timeline.
public struct MediaPlacement: Codable, Sendable, Equatable {
    /// The media: a file path for `generate`, a stored attachment for cluster jobs.
    public var source: String
    /// The first input frame used.
    public var sourceFrame: Int
    /// How many consecutive input frames are used.
    public var frameCount: Int
    /// The output frame the first of them lands on.
    public var outputFrame: Int

    /// Places `frameCount` frames of `source` from `sourceFrame` at output frame `outputFrame`.
    public init(source: String, sourceFrame: Int, frameCount: Int, outputFrame: Int) {
        self.source = source
        self.sourceFrame = sourceFrame
        self.frameCount = frameCount
        self.outputFrame = outputFrame
    }

    enum CodingKeys: String, CodingKey {
        case source
        case sourceFrame = "source_frame"
        case frameCount = "frame_count"
        case outputFrame = "output_frame"
    }
}

/// A latent frame held at the known content while denoising.
public struct LatentPin: Codable, Sendable, Equatable {
    /// The latent frame (0-based) on the output's latent timeline.
    public var latentFrame: Int
    /// 1 holds the clean known latent for the whole run (the transformer sees it at timestep 0); below 1 holds
    /// the known latent noised to the current level for the first `strength` share of the steps, then releases it.
    public var strength: Double

    /// Pins `latentFrame` with `strength`.
    public init(latentFrame: Int, strength: Double = 1) {
        self.latentFrame = latentFrame
        self.strength = strength
    }

    enum CodingKeys: String, CodingKey {
        case latentFrame = "latent_frame"
        case strength
    }
}

/// A job field with a bad value.
public struct JobSpecError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The field's name as the command line and the job JSON spell it.
    public let field: String
    /// What is wrong with it, including the value seen.
    public let message: String
    /// "field: message".
    public var description: String { "\(field) \(message)" }
}
