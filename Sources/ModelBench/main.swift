// bench-model: the Wan transformer forward pass on the `bench` preset, as GFLOP/s next to the machine's sgemm
// ceiling, its CPU use, its peak resident memory per token count, and (optionally) diffusers' time.
import COpenBLAS
import Foundation
import Model

func log(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// The best times of `rounds` alternating runs of ours (and diffusers') at one token count.
struct Measured {
    var run: ChildRun
    var torchSeconds: Double?
    var torchFailed = false
}

/// Ours and diffusers alternate, best of `rounds` each: whatever else runs on the machine slows a round down,
/// never speeds it up, and both sides see the same minutes.
func measureForward(tokens: Int, options: BenchOptions) throws -> Measured {
    var best: Measured?
    for round in 1...options.rounds {
        log("forward at \(tokens) tokens (round \(round) of \(options.rounds))...")
        let run = try spawnChild(tokens: tokens, options: options)
        if var current = best {
            if run.newPromptSeconds < current.run.newPromptSeconds {
                (current.run.newPromptSeconds, current.run.newPromptCPUSeconds) =
                    (run.newPromptSeconds, run.newPromptCPUSeconds)
            }
            if run.samePromptSeconds < current.run.samePromptSeconds {
                (current.run.samePromptSeconds, current.run.samePromptCPUSeconds) =
                    (run.samePromptSeconds, run.samePromptCPUSeconds)
            }
            current.run.peakBytes = max(current.run.peakBytes, run.peakBytes)
            best = current
        } else {
            best = Measured(run: run)
        }
        if let script = options.pytorchScript, best?.torchFailed == false {
            log("diffusers forward at \(tokens) tokens (round \(round) of \(options.rounds))...")
            if let torch = pytorchSeconds(script: script, tokens: tokens, options: options) {
                let previous = best?.torchSeconds ?? .infinity
                best?.torchSeconds = min(previous, torch)
            } else {
                best?.torchFailed = true
            }
        }
    }
    return best!
}

/// Prints the table header for `threads`.
func printHeader(config: WanTransformerConfig, options: BenchOptions) {
    let n = options.threads
    print(
        "# bench-model: dim \(config.innerDim), \(config.numLayers) layers, ffn \(config.ffnDim), "
            + "text \(options.textLength) tokens, batch 1, \(n) threads, OpenBLAS \(BLASRuntime.coreName)")
    print("")
    print(
        "| tokens | forward s | same prompt s | GFLOP | forward GFLOP/s | CPU % of \(n) | square 1T | square \(n)T "
            + "| shapes 1T | shapes \(n)T | forward / square \(n)T | forward / best | PyTorch s | PyTorch / ours "
            + "| PyTorch / ours (same prompt) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
}

/// One table row: the forward's rate against the ceiling measured right after it.
func printRow(tokens: Int, flops: Double, measured: Measured, ceiling: SgemmCeiling, threads: Int) {
    let run = measured.run
    let rate = flops / run.newPromptSeconds / 1e9
    var torchText = measured.torchFailed ? "failed" : "-"
    var ratioText = "-", samePromptRatioText = "-"
    if let torch = measured.torchSeconds {
        torchText = String(format: "%.2f", torch)
        ratioText = String(format: "%.2f", torch / run.newPromptSeconds)
        samePromptRatioText = String(format: "%.2f", torch / run.samePromptSeconds)
    }
    print(
        String(
            format: "| %d | %.3f | %.3f | %.1f | %.1f | %.0f%% | %.1f | %.1f | %.1f | %.1f | %.0f%% | %.0f%% | %@ | %@ | %@ |",
            tokens, run.newPromptSeconds, run.samePromptSeconds, flops / 1e9, rate,
            100 * run.newPromptCPUSeconds / run.newPromptSeconds / Double(threads), ceiling.squareOne,
            ceiling.squareMany, ceiling.shapesOne, ceiling.shapesMany, 100 * rate / ceiling.squareMany,
            100 * rate / ceiling.bestMany, torchText as NSString, ratioText as NSString,
            samePromptRatioText as NSString))
}

/// Prints the peak-memory table, spawning children for counts not measured yet.
func printMemory(options: BenchOptions, known: [Int: Int]) throws {
    print("")
    print("| tokens | peak resident MB | MB added per 1,024 more tokens |")
    print("|---:|---:|---:|")
    var previous: (tokens: Int, peak: Int)?
    for tokens in options.memoryTokens.sorted() {
        let peak: Int
        if let value = known[tokens] {
            peak = value
        } else {
            log("peak memory at \(tokens) tokens...")
            peak = try spawnChild(tokens: tokens, options: options).peakBytes
        }
        let growth =
            previous.map {
                String(format: "%.1f", Double(peak - $0.peak) / 1e6 / (Double(tokens - $0.tokens) / 1024))
            } ?? "-"
        print(String(format: "| %d | %.0f | %@ |", tokens, Double(peak) / 1e6, growth as NSString))
        previous = (tokens, peak)
    }
}

func main() throws {
    BLASRuntime.pinKernels()
    var options = try BenchOptions(Array(CommandLine.arguments.dropFirst()))
    if let tokens = options.child {
        guard options.model != nil else { throw BenchError("--child needs --model") }
        try runChild(tokens: tokens, options: options)
        return
    }
    if options.kernels {
        kernelThroughput(options: options)
        return
    }
    Compute.setThreadCount(options.threads)
    if let sizes = options.vae {
        try benchVAE(sizes: sizes, options: options)
        return
    }
    var temporary: String?
    if options.model == nil {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bench-model-\(getpid())").path
        log("writing the bench preset (float32) to \(folder)")
        try ModelFolderWriter.write(ModelFolderOptions(preset: .bench, seed: 0, dtype: .float32), to: folder)
        options.model = folder
        temporary = folder
    }
    defer { if let temporary { try? FileManager.default.removeItem(atPath: temporary) } }
    if let counts = options.profile {
        try profileForward(counts: counts, options: options)
        return
    }
    let config = try WanTransformerConfig.load(
        path: WanTransformer.transformerDirectory(options.model!) + "/config.json")
    printHeader(config: config, options: options)
    var peaks: [Int: Int] = [:]
    for tokens in options.tokens {
        let measured = try measureForward(tokens: tokens, options: options)
        peaks[tokens] = measured.run.peakBytes
        let work = transformerMatmuls(config, tokens: tokens, textLength: options.textLength)
        let ceiling = measureCeiling(work: work, threads: options.threads)
        printRow(
            tokens: tokens, flops: work.reduce(0) { $0 + $1.flops }, measured: measured, ceiling: ceiling,
            threads: options.threads)
    }
    print("")
    print(
        "forward s: a prompt the model has not seen; same prompt s: the next forward with that prompt (every later "
            + "step of a job). GFLOP/s of the first. Ceiling columns: cblas_sgemm GFLOP/s (wall), square 2048^3 and "
            + "the forward's shapes, OpenBLAS on 1 and on the run's threads; best = the larger at the run's threads.")
    try printMemory(options: options, known: peaks)
}

do {
    try main()
} catch {
    log("bench-model: error: \(error)")
    exit(1)
}
