// `coordinator generate`: one process does the whole job, prompt to video file.
import Foundation
import Model
import Cluster

/// Generates a video from a prompt in this process.
enum GenerateCommand: Command {
    static let name = "generate"
    static let summary = "generate a video from a prompt in this process"

    static let specs: [OptionSpec] = [
        .value("--model", "DIR", "diffusers-layout model folder (default: the built-in demo model)"),
        .value("--prompt", "TEXT", "what the video shows (required)"),
        .value("--negative-prompt", "TEXT", "what to steer away from (used when guidance > 1)"),
        .value("--width", "W", "width in pixels, a multiple of 16 (default: the model's)"),
        .value("--height", "H", "height in pixels, a multiple of 16 (default: the model's)"),
        .value("--frames", "N", "video frames, 4k+1, or 4k with --loop (default: the model's)"),
        .value("--duration", "SECONDS", "length in seconds instead of --frames (rounded up to 4k+1 frames, 4k with --loop)"),
        .value("--fps", "N", "frames per second (default: the model's, 16 for Wan)"),
        .value("--steps", "N", "denoising steps (default: the model's, 50 for Wan)"),
        .value("--guidance", "G", "classifier-free guidance scale; <= 1 turns it off (default: the model's)"),
        .value("--shift", "S", "flow shift (default: the scheduler config's)"),
        .value("--scheduler", "unipc|euler", "sampler (default: the scheduler config's)"),
        .value("--seed", "N", "seed of the initial noise (default 0)"),
        .value("--max-sequence-length", "N", "text tokens per prompt (default 512)"),
        .value("--window-frames", "N", "latent frames per temporal window (default 21)"),
        .value("--window-overlap", "N", "latent frames shared by neighbouring windows (default 5)"),
        .value("--threads", "N", "compute threads (default: all cores)"),
        .value("--latents", "FILE", "initial latent from a safetensors file (tensor 'latents'), for parity runs"),
        .value("--out", "FILE", "output: .y4m, .mp4 (needs ffmpeg), .png (the image for --frames 1, else a contact sheet), .safetensors"),
        .flag("--quiet", "no progress bar"),
        .value(
            "--memory", "SIZE",
            "refuse a job predicted to need more than SIZE, e.g. 16GiB (default: the system's MemAvailable)"),
    ] + JobOptions.taskSpecs + JobOptions.loraSpecs

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") {
            print(usageText(
                synopsis: "coordinator generate --prompt TEXT --out FILE [options]",
                description: """
                    Runs a text-to-video job end to end in this process: encodes the prompt, denoises the latent \
                    (in overlapping temporal windows when the video is longer than one window), decodes it with \
                    the causal VAE and streams frames into FILE. Prints a progress bar on stderr and a summary line.

                    Prompting with images and videos (docs/TASKS.md): --frames 1 --out FILE.png makes an image; \
                    --image animates a picture; --extend-forward/--extend-backward VIDEO --duration S lengthen a \
                    video; --connect A B --duration S joins two; --edit VIDEO --strength S regenerates one; --loop \
                    makes a seamless loop. Media of another size needs --fit.
                    """,
                specs: specs))
            return 0
        }
        let options = try CommandLineOptions(JobOptions.normalize(arguments), specs: specs)
        let started = Date()
        if let threads = try options.int("--threads", in: 1...1024) { Compute.setThreadCount(threads) }
        let modelPath = try options.string("--model") ?? DefaultModel.locate(log: { printError("generate: \($0)") })
        let folder = try ModelFolder(path: modelPath)
        var spec = try JobOptions.request(from: options).resolve(defaults: try folder.generationDefaults())
        if options.flag("--expand-prompt") {
            let expander = PromptExpander(configuration: .fromEnvironment())
            spec.prompt = try expander.expand(spec.prompt)
            printError("generate: expanded prompt (\(expander.source)): \(spec.prompt)")
        }
        try spec.validate()
        let output = try options.required("--out")
        let kind = try VideoOutputKind(path: output)
        var initialLatents: Tensor?
        if let latentsPath = options.string("--latents") {
            initialLatents = try SafeTensorsFile(path: latentsPath).tensor(named: "latents").float32()
        }
        let quiet = options.flag("--quiet")
        if !quiet { printError("generate: loading model \(modelPath)") }
        let generator = try VideoGenerator(folder: folder).forJob(spec)
        if !quiet, let loras = spec.loras { printError("generate: " + describe(loras, generator.loras)) }
        let memory = try checkMemory(
            spec, family: generator.family, folder: folder, loraBytes: generator.loras.byteCount, options: options)
        let sink = try kind.makeSink(path: output, width: spec.width, height: spec.height, frames: spec.frames, fps: spec.framesPerSecond)
        let plan = try spec.windowPlan()
        let unitsPerStep = plan.windows.count * (spec.usesGuidance ? 2 : 1)
        if !quiet {
            printError("generate: \(spec.width)x\(spec.height), \(spec.frames) frames (\(spec.latentFrames) latent), \(spec.steps) steps, \(plan.windows.count) window(s) x \(spec.usesGuidance ? 2 : 1) branch(es) per step")
            printError("generate: predicted peak memory \(memory.summary)")
        }
        let denoising = quiet ? nil : ProgressBar(label: "denoise", total: spec.steps * unitsPerStep)
        var decoding: ProgressBar?
        var denoisingStarted: Date?, decodingStarted: Date?
        try generator.generate(spec, initialLatents: initialLatents, into: sink) { event in
            if case .denoising = event { denoisingStarted = Date() }
            if case .decoding = event, decodingStarted == nil { decodingStarted = Date() }
            switch event {
            case .encodingText, .denoising: break
            case .unit(let step, let steps, let done, let perStep):
                denoising?.update(step * perStep + done, detail: "step \(step + 1)/\(steps) unit \(done)/\(perStep)")
            case .stepFinished: break
            case .decoding(let done, let frames):
                if quiet { break }
                if decoding == nil {
                    denoising?.finish()
                    decoding = ProgressBar(label: "decode ", total: frames)
                }
                decoding?.update(done, detail: "frame \(done)/\(frames)")
            }
        }
        decoding?.finish()
        let seconds = Date().timeIntervalSince(started)
        let peak = ResourceUsage.peakResidentBytes.map(formatBytes) ?? "unknown"
        print("generated \(output): \(spec.frames) frames \(spec.width)x\(spec.height) in \(formatDuration(seconds)), peak memory \(peak)")
        if let denoisingStarted, let decodingStarted {
            print(timing(passes: spec.steps * unitsPerStep, denoisingStarted: denoisingStarted, decodingStarted: decodingStarted))
        }
        return 0
    }

    /// "LoRAs a.safetensors at 1.0: 300 layers adapted, 168 MiB".
    static func describe(_ loras: [LoRAReference], _ stack: LoRAStack) -> String {
        let names = loras.map { "\(($0.path as NSString).lastPathComponent) at \($0.scale)" }.joined(separator: ", ")
        return "LoRAs \(names): \(stack.adapters.count) layers adapted, \(formatBytes(stack.byteCount))"
    }

    /// The last line of a run: transformer passes, denoising (from the loop's start to the decode's) and decoding time.
    static func timing(passes: Int, denoisingStarted: Date, decodingStarted: Date) -> String {
        let denoisingSeconds = decodingStarted.timeIntervalSince(denoisingStarted)
        return String(
            format: "timing: %d transformer passes, denoising %.2f s (%.3f s per pass), decoding %.2f s", passes,
            denoisingSeconds, denoisingSeconds / Double(max(passes, 1)), Date().timeIntervalSince(decodingStarted))
    }

    /// Predicts the job's peak memory and refuses it, naming the largest size that fits, when it exceeds
    /// `--memory` or the system's available memory.
    static func checkMemory(
        _ spec: VideoJobSpec, family: any VideoModelFamily, folder: ModelFolder, loraBytes: Int = 0,
        options: CommandLineOptions
    ) throws -> GenerationMemory {
        // The job's LoRAs are held as float32 factors beside the weights.
        let weights = GenerationMemory.weightBytes(folder: folder.path) + loraBytes
        let predict = { (job: VideoJobSpec) in try GenerationMemory.estimate(spec: job, family: family, weightBytes: weights) }
        let predicted = try predict(spec)
        let budget: Int?
        let source: String
        if let bytes = try options.byteSize("--memory") {
            budget = bytes
            source = "--memory"
        } else {
            budget = GenerationMemory.availableBytes()
            source = "the system's available memory (MemAvailable)"
        }
        guard let budget, predicted.totalBytes > budget else { return predicted }
        let multiple = family.layout.pixelMultiple
        let largest = try GenerationMemory.largestFittingSize(spec: spec, multiple: multiple, budget: budget, predict: predict)
        let what = spec.frames == 1 ? "image" : "video of \(spec.frames) frames"
        let advice = largest.map { "the largest \(what) of this shape that fits is \($0.width)x\($0.height)" }
            ?? "not even the smallest size fits"
        throw CommandLineError(
            "a \(spec.width)x\(spec.height) \(what) needs about \(predicted.summary), more than the \(formatBytes(budget)) "
                + "of \(source); \(advice) (give --memory to change the budget, or run it on a cluster)")
    }
}
