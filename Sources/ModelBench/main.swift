// bench-model: the Wan transformer forward pass on the `bench` preset, as GFLOP/s next to cblas_sgemm on the same
// shapes, its peak resident memory per token count, and (optionally) diffusers' time on the same config.
import COpenBLAS
import Foundation
import Model

/// The command line.
struct BenchOptions {
    var tokens: [Int] = [4096, 16384]
    var memoryTokens: [Int] = [1024, 4096, 16384]
    var threads = ProcessInfo.processInfo.activeProcessorCount
    var textLength = 512
    var model: String?
    var pytorchScript: String?
    var child: Int?
    var profile: Int?

    static let usage = """
        usage: bench-model [--tokens 4096,16384] [--memory-tokens 1024,4096,16384] [--threads N] [--text-length 512]
                           [--model DIR] [--pytorch-script scripts/bench_model_torch.py]
               bench-model --profile TOKENS --model DIR [--threads N]   (times one block's operations separately)

        Times the Wan transformer forward pass (batch 1, the `bench` preset unless --model) at each token count in
        --tokens, each in its own child process, against cblas_sgemm on the same matrix shapes; reports the peak
        resident memory of each count in --memory-tokens; with --pytorch-script, also times diffusers' forward pass.
        Tokens must be 1,024 x a power of two up to 65,536 (latent 64 x 64 per frame, frames = tokens / 1,024).
        """

    init(_ arguments: [String]) throws {
        var index = 0
        func value() throws -> String {
            guard index + 1 < arguments.count else { throw BenchError("\(arguments[index]) needs a value") }
            index += 1
            return arguments[index]
        }
        func list(_ text: String) throws -> [Int] {
            try text.split(separator: ",").map {
                guard let n = Int($0), n >= 1024, n % 1024 == 0, n <= 65536 else {
                    throw BenchError("token counts are multiples of 1024 up to 65536, got '\($0)'")
                }
                return n
            }
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--tokens": tokens = try list(value())
            case "--memory-tokens": memoryTokens = try list(value())
            case "--threads":
                guard let n = Int(try value()), n >= 1, n <= 1024 else {
                    throw BenchError("--threads expects 1...1024")
                }
                threads = n
            case "--text-length":
                guard let n = Int(try value()), n >= 1, n <= 4096 else {
                    throw BenchError("--text-length expects 1...4096")
                }
                textLength = n
            case "--model": model = try value()
            case "--pytorch-script": pytorchScript = try value()
            case "--child":
                guard let n = Int(try value()), n >= 1 else { throw BenchError("--child expects a token count") }
                child = n
            case "--profile":
                guard let n = Int(try value()), n >= 1024, n % 1024 == 0 else {
                    throw BenchError("--profile expects a token count (multiple of 1024)")
                }
                profile = n
            case "--help", "-h":
                print(BenchOptions.usage)
                exit(0)
            default: throw BenchError("unknown option '\(arguments[index])'; see --help")
            }
            index += 1
        }
    }
}

/// A benchmark failure with a message for the user.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The latent shape for `tokens` tokens: 64 x 64 latent pixels (32 x 32 patches) per frame.
func latentShape(tokens: Int, config: WanTransformerConfig) -> [Int] {
    let frames = tokens / 1024
    return [1, config.inChannels, frames * config.patchFrames, 32 * config.patchHeight, 32 * config.patchWidth]
}

/// Child process: one forward pass at `tokens`, printing `seconds peakBytes`.
func runChild(tokens: Int, options: BenchOptions) throws {
    Compute.setThreadCount(options.threads)
    let model = try WanTransformer.load(options.model!)
    let config = model.config
    let text = Tensor.randomNormal(shape: [1, options.textLength, config.textDim], seed: 7, stream: 3)
    let timestep = Tensor(shape: [1], scalars: [500])
    // Warm-up on a small latent touches every weight page once.
    _ = try model(
        hiddenStates: Tensor.randomNormal(
            shape: latentShape(tokens: 1024, config: config).enumerated().map {
                $0.offset == 2 ? config.patchFrames : $0.element
            }, seed: 7, stream: 1),
        timestep: timestep, encoderHiddenStates: text)
    let latent = Tensor.randomNormal(shape: latentShape(tokens: tokens, config: config), seed: 7, stream: 2)
    let start = Date()
    let sample = try model(hiddenStates: latent, timestep: timestep, encoderHiddenStates: text)
    let seconds = Date().timeIntervalSince(start)
    precondition(sample.scalars.allSatisfy { $0.isFinite }, "non-finite output")
    print("\(seconds) \(ResourceUsage.peakResidentBytes ?? -1)")
}

/// Runs this executable as a child for one token count; returns (seconds, peak resident bytes).
func spawnChild(tokens: Int, options: BenchOptions) throws -> (seconds: Double, peakBytes: Int) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    process.arguments = [
        "--child", "\(tokens)", "--model", options.model!, "--threads", "\(options.threads)",
        "--text-length", "\(options.textLength)",
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let fields = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace)
    guard process.terminationStatus == 0, fields.count == 2, let seconds = Double(fields[0]),
        let peak = Int(fields[1])
    else {
        throw BenchError("child run at \(tokens) tokens failed (status \(process.terminationStatus))")
    }
    return (seconds, peak)
}

/// diffusers' forward time from the python helper, or nil when it cannot run.
func pytorchSeconds(script: String, tokens: Int, options: BenchOptions) -> Double? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "python3", script, "--model", options.model!, "--tokens", "\(tokens)",
        "--threads", "\(options.threads)", "--text-length", "\(options.textLength)",
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
    return lines.last.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
}

func log(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

func main() throws {
    var options = try BenchOptions(Array(CommandLine.arguments.dropFirst()))
    if let tokens = options.child {
        guard options.model != nil else { throw BenchError("--child needs --model") }
        try runChild(tokens: tokens, options: options)
        return
    }
    if let tokens = options.profile {
        guard options.model != nil else { throw BenchError("--profile needs --model") }
        try profileBlock(tokens: tokens, options: options)
        return
    }
    Compute.setThreadCount(options.threads)
    var temporary: String?
    if options.model == nil {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bench-model-\(getpid())").path
        log("writing the bench preset (float32) to \(folder)")
        try ModelFolderWriter.write(ModelFolderOptions(preset: .bench, seed: 0, dtype: .float32), to: folder)
        options.model = folder
        temporary = folder
    }
    defer { if let temporary { try? FileManager.default.removeItem(atPath: temporary) } }
    let config = try WanTransformerConfig.load(
        path: WanTransformer.transformerDirectory(options.model!) + "/config.json")
    print(
        "# bench-model: dim \(config.innerDim), \(config.numLayers) layers, ffn \(config.ffnDim), "
            + "text \(options.textLength) tokens, batch 1, \(options.threads) threads")
    print("")
    print(
        "| tokens | forward s | GFLOP | forward GFLOP/s | sgemm GFLOP/s (same shapes) | forward / sgemm "
            + "| PyTorch s | ours / PyTorch time |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    var peaks: [Int: Int] = [:]
    for tokens in options.tokens {
        log("forward at \(tokens) tokens...")
        let run = try spawnChild(tokens: tokens, options: options)
        peaks[tokens] = run.peakBytes
        let work = transformerMatmuls(config, tokens: tokens, textLength: options.textLength)
        let flops = work.reduce(0) { $0 + $1.flops }
        log("sgemm on the same shapes...")
        // The reference is OpenBLAS's own threading at the same thread count (our kernels keep OpenBLAS
        // single-threaded and split products themselves; see Compute).
        openblas_set_num_threads(Int32(options.threads))
        var sgemmTime = 0.0
        for item in work {
            let seconds = sgemmSeconds(for: item)
            let label = item.label.padding(toLength: 46, withPad: " ", startingAt: 0)
            log(String(format: "  %@ %9.1f GFLOP %7.1f GFLOP/s", label, item.flops / 1e9, item.flops / seconds / 1e9))
            sgemmTime += seconds
        }
        var torchText = "-"
        var ratioText = "-"
        if let script = options.pytorchScript {
            log("diffusers forward at \(tokens) tokens...")
            if let torch = pytorchSeconds(script: script, tokens: tokens, options: options) {
                torchText = String(format: "%.2f", torch)
                ratioText = String(format: "%.2f", run.seconds / torch)
            } else {
                torchText = "failed"
            }
        }
        print(
            String(
                format: "| %d | %.2f | %.0f | %.1f | %.1f | %.0f%% | %@ | %@ |", tokens, run.seconds, flops / 1e9,
                flops / run.seconds / 1e9, flops / sgemmTime / 1e9, 100 * sgemmTime / run.seconds,
                torchText as NSString, ratioText as NSString))
    }
    print("")
    print("| tokens | peak resident MB | MB added per 1,024 more tokens |")
    print("|---:|---:|---:|")
    var previous: (tokens: Int, peak: Int)?
    for tokens in options.memoryTokens.sorted() {
        let peak: Int
        if let known = peaks[tokens] {
            peak = known
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

do {
    try main()
} catch {
    log("bench-model: error: \(error)")
    exit(1)
}
