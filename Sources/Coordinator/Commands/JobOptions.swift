// The job options shared by `generate` and `submit`, turned into a validated job spec.
import Model

/// Builds a `VideoJobSpec` from command-line options, filling gaps from the model's defaults.
enum JobOptions {
    /// The options that name input media (their values are files for `generate`, attachments for cluster jobs).
    static let mediaOptions = ["--image", "--extend-forward", "--extend-backward", "--connect", "--edit"]

    /// The image and video prompting options, listed in `generate --help` (and accepted by `submit`).
    static let taskSpecs: [OptionSpec] = [
        .value("--image", "FILE", "animate an image: it becomes the first frame (PNG, Y4M, or anything ffmpeg reads)"),
        .value("--extend-forward", "VIDEO", "continue VIDEO by --duration seconds; its frames are kept as they are"),
        .value("--extend-backward", "VIDEO", "lead into VIDEO with --duration seconds; its frames are kept as they are"),
        .value(
            "--connect", "A B", "a --duration transition from the last frame of A to the first four of B",
            repeatable: true),
        .value("--edit", "VIDEO", "regenerate VIDEO under the prompt, starting from it noised to --strength (SDEdit)"),
        .value("--strength", "S", "with --edit: 0 keeps the input, 1 ignores it (default 0.7)"),
        .value(
            "--pin-strength", "S",
            "with --image, --extend-*, --connect: 1 (default) holds the given frames for the whole run; below 1 holds "
                + "them noised to the current level for the first S share of the steps, then lets the model change "
                + "them (the input is then not copied into the output)"),
        .flag(
            "--loop",
            "make a seamless loop: the windows wrap around and the clip, 4k frames long, plays end to start without a cut"),
        .value("--fit", "crop|pad|resize", "how media of another size is fitted (default: refuse a size mismatch)"),
        .flag(
            "--expand-prompt",
            "turn the prompt into a detailed caption first: through the chat endpoint of SORA_PROMPT_API_BASE "
                + "(or cluster.yaml's prompt_expansion), else a built-in deterministic template; the result is printed "
                + "and stored with the job"),
    ]

    /// Turns `--connect A B` into `--connect=A --connect=B` (the parser takes one value per occurrence).
    static func normalize(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--connect", index + 2 < arguments.count,
               !arguments[index + 1].hasPrefix("--"), !arguments[index + 2].hasPrefix("--") {
                result += ["--connect=" + arguments[index + 1], "--connect=" + arguments[index + 2]]
                index += 3
                continue
            }
            result.append(argument)
            index += 1
        }
        return result
    }

    /// Reads the job options; the model's defaults fill what is not given. Media named by the task options is
    /// read with `load` (to count its frames and check its size).
    static func spec(
        from options: CommandLineOptions, defaults: GenerationDefaults,
        load: (String) throws -> [RGBFrame] = MediaLoader.load(path:)
    ) throws -> VideoJobSpec {
        let prompt = try options.required("--prompt")
        let fps = try options.int("--fps", in: 1...240) ?? defaults.fps
        let looping = options.flag("--loop")
        // A loop's frames are a multiple of 4 (it has no single first frame): the default length becomes the
        // loop of the same duration (17 frames -> 16); an explicit --frames is checked, never changed.
        var frames = try options.int("--frames", in: 1...VideoJobSpec.Limits.maxFrames)
            ?? (looping ? VideoJobSpec.validFrameCount(atLeast: defaults.frames - 1, looping: true) : defaults.frames)
        let seconds = try options.double("--duration", in: 0.001...3600)
        if let seconds {
            if options.string("--frames") != nil {
                throw CommandLineError("give --frames or --duration, not both")
            }
            frames = VideoJobSpec.frames(forDuration: seconds, framesPerSecond: fps, looping: looping)
        }
        var spec = VideoJobSpec(
            prompt: prompt, width: try options.int("--width", in: 1...VideoJobSpec.Limits.maxSide) ?? defaults.width,
            height: try options.int("--height", in: 1...VideoJobSpec.Limits.maxSide) ?? defaults.height, frames: frames)
        spec.negativePrompt = options.string("--negative-prompt") ?? defaults.negativePrompt
        spec.framesPerSecond = fps
        spec.steps = try options.int("--steps", in: 1...VideoJobSpec.Limits.maxSteps) ?? defaults.steps
        spec.guidanceScale = try options.double("--guidance", in: 0...100) ?? defaults.guidance
        spec.shift = try options.double("--shift", in: 0.0001...100)
        if let name = options.string("--scheduler") {
            guard let kind = SchedulerKind(rawValue: name) else {
                throw CommandLineError("option '--scheduler' must be unipc or euler, got '\(name)'")
            }
            spec.scheduler = kind
        }
        spec.seed = try options.uint64("--seed") ?? 0
        spec.maxSequenceLength = try options.int("--max-sequence-length", in: 1...VideoJobSpec.Limits.maxSequenceLength) ?? 512
        spec.windowFrames = try options.int("--window-frames", in: 1...1024) ?? 21
        spec.windowOverlap = try options.int("--window-overlap", in: 0...1023) ?? 5
        if looping { spec.looping = true }
        try applyTask(options, to: &spec, seconds: seconds, load: load)
        return spec
    }

    // MARK: - Image and video prompting

    /// Reads the task options (at most one task), loads its media and fills the spec's conditioning fields.
    static func applyTask(
        _ options: CommandLineOptions, to spec: inout VideoJobSpec, seconds: Double?,
        load: (String) throws -> [RGBFrame]
    ) throws {
        if let name = options.string("--fit") {
            guard let mode = FitMode(rawValue: name) else {
                throw CommandLineError("option '--fit' must be crop, pad or resize, got '\(name)'")
            }
            spec.fit = mode
        }
        let given = mediaOptions.filter { !options.strings($0).isEmpty }
        guard given.count <= 1 else {
            throw CommandLineError("give one of \(mediaOptions.joined(separator: ", ")), not \(given.joined(separator: " and "))")
        }
        let strength = try options.double("--strength", in: 0...1)
        if strength != nil && given != ["--edit"] { throw CommandLineError("option '--strength' goes with --edit") }
        let pinStrength = try options.double("--pin-strength", in: 0...1)
        if let pinStrength {
            guard given.count == 1, given != ["--edit"] else {
                throw CommandLineError("option '--pin-strength' goes with --image, --extend-forward, --extend-backward or --connect")
            }
            guard pinStrength > 0 else { throw CommandLineError("option '--pin-strength' must be above 0, got 0") }
        }
        if spec.looping == true {
            // A short clip fits one window, which cannot wrap: use overlapping windows of about 2/3 of the clip.
            if options.string("--window-frames") == nil && options.string("--window-overlap") == nil
                && spec.latentFrames <= spec.windowFrames - spec.windowOverlap && spec.latentFrames >= 2 {
                spec.windowFrames = max(2, (2 * spec.latentFrames + 2) / 3)
                spec.windowOverlap = spec.windowFrames / 2
            }
        }
        guard let option = given.first else { return }
        let fps = Double(spec.framesPerSecond)
        func media(_ path: String) throws -> [RGBFrame] {
            let frames: [RGBFrame]
            do { frames = try load(path) } catch { throw CommandLineError("option '\(option)': \(error)") }
            guard let first = frames.first else { throw CommandLineError("option '\(option)': \(path) has no frame") }
            if spec.fit == nil && (first.width != spec.width || first.height != spec.height) {
                throw CommandLineError(
                    "option '\(option)': \(path) is \(first.width)x\(first.height) but the video is "
                        + "\(spec.width)x\(spec.height); give --fit crop|pad|resize or --width \(first.width) --height \(first.height) (multiples of 16)")
            }
            return frames
        }
        func addedFrames() throws -> Int {
            guard let seconds else {
                throw CommandLineError("option '\(option)' needs --duration SECONDS (the length to add)")
            }
            if options.string("--frames") != nil {
                throw CommandLineError("option '\(option)' takes --duration, not --frames")
            }
            return max(1, Int((seconds * fps).rounded(.up)))
        }
        let task: MediaTask
        switch option {
        case "--image":
            let path = options.string(option)!
            _ = try media(path)
            task = .animate(image: path)
        case "--extend-forward", "--extend-backward":
            let path = options.string(option)!
            let count = try media(path).count
            let added = try addedFrames()
            task = option == "--extend-forward"
                ? .extendForward(video: path, frames: count, addedFrames: added)
                : .extendBackward(video: path, frames: count, addedFrames: added)
        case "--connect":
            let paths = options.strings(option)
            guard paths.count == 2 else {
                throw CommandLineError("option '--connect' takes two videos (--connect A B), got \(paths.count)")
            }
            let first = try media(paths[0]).count, second = try media(paths[1]).count
            task = .connect(first: paths[0], firstFrames: first, second: paths[1], secondFrames: second,
                            frames: try addedFrames())
        default:  // --edit
            let path = options.string(option)!
            if options.string("--frames") != nil || seconds != nil {
                throw CommandLineError("option '--edit' keeps the input's length; drop --frames/--duration")
            }
            task = .edit(video: path, frames: try media(path).count, strength: strength ?? 0.7)
        }
        do { try task.configure(&spec) } catch { throw CommandLineError("option '\(option)': \(error)") }
        if let pinStrength, pinStrength < 1 {
            spec.pins = spec.pins?.map { LatentPin(latentFrame: $0.latentFrame, strength: pinStrength) }
        }
    }
}
