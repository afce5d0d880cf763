// The job options shared by `generate` and `submit`, turned into a validated job spec.
import Model

/// Builds a `VideoJobSpec` from command-line options, filling gaps from the model's defaults.
enum JobOptions {
    /// Reads the job options; the model's defaults fill what is not given.
    static func spec(from options: CommandLineOptions, defaults: GenerationDefaults) throws -> VideoJobSpec {
        let prompt = try options.required("--prompt")
        let fps = try options.int("--fps", in: 1...240) ?? defaults.fps
        var frames = try options.int("--frames", in: 1...VideoJobSpec.Limits.maxFrames) ?? defaults.frames
        if let seconds = try options.double("--duration", in: 0.001...3600) {
            if options.string("--frames") != nil {
                throw CommandLineError("give --frames or --duration, not both")
            }
            frames = VideoJobSpec.frames(forDuration: seconds, framesPerSecond: fps)
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
        return spec
    }
}
