// From what a user asked for to the complete job a model runs: defaults filled in, the task's media read (to count
// its frames and check its size) and placed on the output timeline.
import Model

extension JobRequest {
    /// Where a request's media comes from: `path` turns a media name (a file for `generate`, an attachment for a
    /// cluster job) into the path the job will read, `load` reads its frames. Errors name the media by its name.
    public struct MediaSource: Sendable {
        /// The path the job reads for a media name.
        public var path: @Sendable (String) throws -> String
        /// The frames of a name's media.
        public var load: @Sendable (String) throws -> [RGBFrame]

        /// Media read from files named directly (`generate`).
        public static let files = MediaSource(path: { $0 }, load: { try MediaLoader.load(path: $0) })

        /// A source with its two functions.
        public init(
            path: @escaping @Sendable (String) throws -> String, load: @escaping @Sendable (String) throws -> [RGBFrame]
        ) {
            self.path = path; self.load = load
        }
    }

    /// The complete job: the request's values, the model's `defaults` for what it leaves out, its media read
    /// through `media`. The result still needs `VideoJobSpec.validate()` (the frame count rules, the windows).
    public func resolve(defaults: GenerationDefaults, media: MediaSource = .files) throws -> VideoJobSpec {
        try validate()
        let fps = self.fps ?? defaults.fps
        // A loop's frames are a multiple of 4 (it has no single first frame): the default length becomes the
        // loop of the same duration (17 frames -> 16); an explicit frame count is checked, never changed.
        var frameCount = frames
            ?? (loop ? VideoJobSpec.validFrameCount(atLeast: defaults.frames - 1, looping: true) : defaults.frames)
        if let durationSeconds {
            frameCount = VideoJobSpec.frames(forDuration: durationSeconds, framesPerSecond: fps, looping: loop)
        }
        var spec = VideoJobSpec(
            prompt: prompt, width: width ?? defaults.width, height: height ?? defaults.height, frames: frameCount)
        spec.negativePrompt = negativePrompt ?? defaults.negativePrompt
        spec.framesPerSecond = fps
        spec.steps = steps ?? defaults.steps
        spec.guidanceScale = guidance ?? defaults.guidance
        spec.shift = shift ?? defaults.shift
        spec.scheduler = scheduler ?? defaults.scheduler
        if let loras {
            spec.loras = try loras.map { lora in
                do { return LoRAReference(path: try media.path(lora.path), scale: lora.scale) } catch {
                    throw JobRequestError(field: Field.loras.label, "\(error)")
                }
            }
        } else {
            spec.loras = defaults.loras
        }
        if spec.loras?.isEmpty == true { spec.loras = nil }
        spec.seed = seed ?? 0
        spec.maxSequenceLength = maxSequenceLength ?? 512
        spec.windowFrames = windowFrames ?? 21
        spec.windowOverlap = windowOverlap ?? 5
        spec.fit = fit
        if loop {
            spec.looping = true
            fitLoopWindows(&spec)
        }
        if let task { try apply(task, to: &spec, media: media) }
        return spec
    }

    /// A short loop fits one window, which cannot wrap: it gets overlapping windows of about 2/3 of the clip
    /// (unless the request sets the windows).
    private func fitLoopWindows(_ spec: inout VideoJobSpec) {
        guard windowFrames == nil, windowOverlap == nil, spec.latentFrames >= 2,
              spec.latentFrames <= spec.windowFrames - spec.windowOverlap else { return }
        spec.windowFrames = max(2, (2 * spec.latentFrames + 2) / 3)
        spec.windowOverlap = spec.windowFrames / 2
    }

    /// Reads the task's media and places it: the spec's media, pins or edit start.
    private func apply(_ task: TaskRequest, to spec: inout VideoJobSpec, media: MediaSource) throws {
        let option = task.kind.option
        let counts = try task.media.map { try frameCount(of: $0, option: option, spec: spec, media: media) }
        let paths = try task.media.map { name in
            do { return try media.path(name) } catch { throw JobRequestError(field: option, "\(error)") }
        }
        let mediaTask: MediaTask
        switch task.kind {
        case .image:
            mediaTask = .animate(image: paths[0])
        case .extendForward:
            mediaTask = .extendForward(video: paths[0], frames: counts[0], addedFrames: try addedFrames(option, spec))
        case .extendBackward:
            mediaTask = .extendBackward(video: paths[0], frames: counts[0], addedFrames: try addedFrames(option, spec))
        case .connect:
            mediaTask = .connect(first: paths[0], firstFrames: counts[0], second: paths[1], secondFrames: counts[1],
                                 frames: try addedFrames(option, spec))
        case .edit:
            if frames != nil || durationSeconds != nil {
                throw JobRequestError(field: option, "keeps the input's length; drop --frames/--duration")
            }
            mediaTask = .edit(video: paths[0], frames: counts[0], strength: task.strength ?? 0.7)
        }
        do { try mediaTask.configure(&spec) } catch { throw JobRequestError(field: option, "\(error)") }
        if let pinStrength, pinStrength < 1 {
            spec.pins = spec.pins?.map { LatentPin(latentFrame: $0.latentFrame, strength: pinStrength) }
        }
    }

    /// The frames of one medium, checked to have one and to fit the video (or `fit` says how).
    private func frameCount(of name: String, option: String, spec: VideoJobSpec, media: MediaSource) throws -> Int {
        let frames: [RGBFrame]
        do { frames = try media.load(name) } catch { throw JobRequestError(field: option, "\(error)") }
        guard let first = frames.first else { throw JobRequestError(field: option, "\(name) has no frame") }
        if fit == nil && (first.width != spec.width || first.height != spec.height) {
            throw JobRequestError(
                field: option,
                "\(name) is \(first.width)x\(first.height) but the video is \(spec.width)x\(spec.height); give --fit "
                    + "crop|pad|resize or --width \(first.width) --height \(first.height) (multiples of 16)")
        }
        return frames.count
    }

    /// The frames an extension or connection adds: its duration at the job's rate.
    private func addedFrames(_ option: String, _ spec: VideoJobSpec) throws(JobRequestError) -> Int {
        guard let durationSeconds else {
            throw JobRequestError(field: option, "needs --duration SECONDS (the length to add)")
        }
        if frames != nil { throw JobRequestError(field: option, "takes --duration, not --frames") }
        return max(1, Int((durationSeconds * Double(spec.framesPerSecond)).rounded(.up)))
    }
}
