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
    /// Number of video frames (4k + 1).
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
    }

    /// Is guidance on (a second, unconditional branch per window)?
    public var usesGuidance: Bool { guidanceScale > 1 }

    /// Latent frames: the causal VAE keeps the first frame and compresses the rest 4x.
    public var latentFrames: Int { (frames - 1) / 4 + 1 }

    /// Converts a duration to a valid frame count: the smallest 4k+1 count covering `seconds` at `fps`.
    public static func frames(forDuration seconds: Double, framesPerSecond: Int) -> Int {
        let wanted = max(1, Int((seconds * Double(framesPerSecond)).rounded(.up)))
        return wanted <= 1 ? 1 : ((wanted - 1 + 3) / 4) * 4 + 1
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
        guard frames >= 1, frames <= Limits.maxFrames, (frames - 1) % 4 == 0 else {
            let lower = max(1, (frames - 1) / 4 * 4 + 1)
            throw fail("frames", "must be of the form 4k+1 (1, 5, 9, ..., 81, ...) up to \(Limits.maxFrames), got \(frames); try \(lower) or \(lower + 4)")
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
