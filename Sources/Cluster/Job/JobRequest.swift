// A job as a user asks for it (command line, `submit`, and later HTTP): one versioned, explicitly named JSON type,
// validated once; `resolve` turns it into the complete `VideoJobSpec` a model runs.
import Foundation
import Model

/// What a user asked for: only the settings they gave, nothing filled in yet.
///
/// `generate` builds one from its command line and resolves it against the model folder's defaults; `submit`
/// builds the same value, sends it as JSON (`submit.specJSON`, docs/PROTOCOL.md §8), and the coordinator fills
/// cluster.yaml's defaults on the typed value and resolves it against its model. JSON keys are the snake_case names
/// of `Field`; an unknown key, a value of the wrong type or out of range is refused naming the field (and the
/// command-line option that sets it).
public struct JobRequest: Codable, Sendable, Equatable {
    /// The format version this build writes and reads.
    public static let currentVersion = 2
    /// The largest encoded request accepted.
    public static let maxBytes = 1 << 20

    /// The request format's version (`currentVersion`).
    public var version = JobRequest.currentVersion
    /// What the video shows.
    public var prompt: String
    /// What to steer away from (used when guidance is on).
    public var negativePrompt: String?
    /// Width in pixels.
    public var width: Int?
    /// Height in pixels.
    public var height: Int?
    /// Video frames (4k + 1, or 4k for a loop); exclusive with `durationSeconds`.
    public var frames: Int?
    /// Length in seconds, rounded up to a valid frame count (or, for extend and connect, the length added).
    public var durationSeconds: Double?
    /// Frames per second.
    public var fps: Int?
    /// Denoising steps.
    public var steps: Int?
    /// Classifier-free guidance scale; guidance is off at 1 or below.
    public var guidance: Double?
    /// Flow shift.
    public var shift: Double?
    /// The sampler.
    public var scheduler: SchedulerKind?
    /// The seed of the initial noise.
    public var seed: UInt64?
    /// Text tokens per prompt.
    public var maxSequenceLength: Int?
    /// Latent frames per temporal window.
    public var windowFrames: Int?
    /// Latent frames shared by neighbouring windows.
    public var windowOverlap: Int?
    /// An image or video prompt, if any.
    public var task: TaskRequest?
    /// With a pinning task: below 1, the given frames are held only for that share of the steps.
    public var pinStrength: Double?
    /// Make a seamless loop.
    public var loop = false
    /// How media of another size is fitted; nil refuses a size mismatch.
    public var fit: FitMode?
    /// Turn the prompt into a detailed caption before the job runs.
    public var expandPrompt = false
    /// The result's format.
    public var output: VideoOutputKind = .y4m
    /// LoRAs, in order, each at its scale (file paths for `generate`, attachment names for a cluster job); nil takes
    /// the model's defaults, an empty list asks for none.
    public var loras: [LoRAReference]?

    /// A request with a prompt and nothing else given.
    public init(prompt: String) { self.prompt = prompt }

    /// An image or video prompt: which task, the media it names (file paths for `generate`, attachment names for a
    /// cluster job), and the edit strength.
    public struct TaskRequest: Codable, Sendable, Equatable {
        /// The task.
        public var kind: TaskKind
        /// Its media: one for every kind but `connect`, which takes two.
        public var media: [String]
        /// With `edit`: 0 keeps the input, 1 ignores it (default 0.7).
        public var strength: Double?

        /// A task with its media.
        public init(kind: TaskKind, media: [String], strength: Double? = nil) {
            self.kind = kind; self.media = media; self.strength = strength
        }
    }

    /// The image and video prompting tasks (docs/TASKS.md).
    public enum TaskKind: String, Codable, Sendable, CaseIterable {
        case image
        case extendForward = "extend_forward"
        case extendBackward = "extend_backward"
        case connect
        case edit

        /// The command-line option that asks for it.
        public var option: String {
            switch self {
            case .image: return "--image"
            case .extendForward: return "--extend-forward"
            case .extendBackward: return "--extend-backward"
            case .connect: return "--connect"
            case .edit: return "--edit"
            }
        }

        /// How many media it names.
        public var mediaCount: Int { self == .connect ? 2 : 1 }
    }
}
