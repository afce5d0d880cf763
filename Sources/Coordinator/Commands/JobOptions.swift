// The job options shared by `generate` and `submit`, turned into the typed job request.
import Model
import Cluster

/// Reads the job options of `generate` and `submit` into a `JobRequest`.
enum JobOptions {
    /// The options that name input media (their values are files for `generate`, attachments for cluster jobs).
    static let mediaOptions = JobRequest.TaskKind.allCases.map(\.option)

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

    /// The LoRA option, listed in `generate --help` (and accepted by `submit`).
    static let loraSpecs: [OptionSpec] = [
        .value(
            "--lora", "FILE[:SCALE]",
            "apply a LoRA (diffusers/PEFT, original Wan/ComfyUI/lightx2v or musubi/kohya safetensors) at SCALE "
                + "(default 1); repeat to add several; 'none' turns off the model folder's default LoRAs",
            repeatable: true),
    ]

    /// The `--lora` values: nil when none is given (the model's defaults apply), empty for `--lora none`.
    static func loras(from options: CommandLineOptions) throws -> [LoRAReference]? {
        let values = options.strings("--lora")
        if values.isEmpty { return nil }
        if values == ["none"] { return [] }
        return try values.map { value in
            guard value != "none" else { throw CommandLineError("option '--lora none' cannot be combined with other LoRAs") }
            do { return try LoRAReference(argument: value) } catch let error as JobSpecError {
                throw CommandLineError("option '--lora' \(error.message)")
            }
        }
    }

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

    /// The job request the command line describes: the values given, typed and checked, nothing filled in (the
    /// model's defaults, and cluster.yaml's on a cluster, are applied by `JobRequest.resolve`). Media options keep
    /// the paths as given.
    static func request(from options: CommandLineOptions, defaultPrompt: String? = nil) throws -> JobRequest {
        guard let prompt = options.string("--prompt") ?? defaultPrompt else {
            throw CommandLineError("missing required option '--prompt'")
        }
        var request = JobRequest(prompt: prompt)
        request.negativePrompt = options.string("--negative-prompt")
        request.width = try options.int("--width")
        request.height = try options.int("--height")
        request.frames = try options.int("--frames")
        request.durationSeconds = try options.double("--duration")
        request.fps = try options.int("--fps")
        request.steps = try options.int("--steps")
        request.guidance = try options.double("--guidance")
        request.shift = try options.double("--shift")
        if let name = options.string("--scheduler") {
            guard let kind = SchedulerKind(rawValue: name) else {
                throw CommandLineError("option '--scheduler' must be unipc or euler, got '\(name)'")
            }
            request.scheduler = kind
        }
        request.seed = try options.uint64("--seed")
        request.maxSequenceLength = try options.int("--max-sequence-length")
        request.windowFrames = try options.int("--window-frames")
        request.windowOverlap = try options.int("--window-overlap")
        if let name = options.string("--fit") {
            guard let mode = FitMode(rawValue: name) else {
                throw CommandLineError("option '--fit' must be crop, pad or resize, got '\(name)'")
            }
            request.fit = mode
        }
        request.loop = options.flag("--loop")
        request.expandPrompt = options.flag("--expand-prompt")
        request.pinStrength = try options.double("--pin-strength")
        request.task = try task(from: options)
        request.loras = try loras(from: options)
        try request.validate()
        return request
    }

    /// The task option given (at most one), with its media and `--strength`.
    static func task(from options: CommandLineOptions) throws -> JobRequest.TaskRequest? {
        let given = JobRequest.TaskKind.allCases.filter { !options.strings($0.option).isEmpty }
        guard given.count <= 1 else {
            throw CommandLineError(
                "give one of \(mediaOptions.joined(separator: ", ")), not \(given.map(\.option).joined(separator: " and "))")
        }
        let strength = try options.double("--strength")
        guard let kind = given.first else {
            if strength != nil { throw CommandLineError("option '--strength' goes with --edit") }
            return nil
        }
        let media = options.strings(kind.option)
        guard media.count == kind.mediaCount else {
            throw CommandLineError("option '\(kind.option)' takes \(kind == .connect ? "two videos (--connect A B)" : "one file"), got \(media.count)")
        }
        return JobRequest.TaskRequest(kind: kind, media: media, strength: strength)
    }
}
