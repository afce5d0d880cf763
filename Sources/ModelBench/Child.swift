// bench-model's child processes: one forward pass per process, so each token count's peak memory is its own.
import Foundation
import Model

/// What one child run measured.
struct ChildRun {
    /// Wall seconds of a forward with a prompt the model has not seen.
    var newPromptSeconds: Double
    /// Process CPU seconds of that forward.
    var newPromptCPUSeconds: Double
    /// Wall seconds of the next forward, same prompt, new latent (what every later denoising step costs).
    var samePromptSeconds: Double
    /// Process CPU seconds of that forward.
    var samePromptCPUSeconds: Double
    /// Peak resident bytes of the child.
    var peakBytes: Int
}

/// Child process: a warm-up forward at 1,024 tokens (another prompt), then two timed forwards at `tokens` with one
/// prompt; prints the five `ChildRun` numbers on one line.
func runChild(tokens: Int, options: BenchOptions) throws {
    let (model, timestep) = try loadWarmedModel(options)
    let config = model.config
    let text = Tensor.randomNormal(shape: [1, options.textLength, config.textDim], seed: 7, stream: 3)
    var measured: [(wall: Double, cpu: Double)] = []
    for stream in [2, 5] {
        let latent = Tensor.randomNormal(shape: latentShape(tokens: tokens, config: config), seed: 7, stream: UInt64(stream))
        let wallStart = OpProfile.monotonicSeconds(), cpuStart = OpProfile.processCPUSeconds()
        let sample = try model(hiddenStates: latent, timestep: timestep, encoderHiddenStates: text)
        measured.append((OpProfile.monotonicSeconds() - wallStart, OpProfile.processCPUSeconds() - cpuStart))
        precondition(sample.scalars.allSatisfy { $0.isFinite }, "non-finite output")
    }
    print("\(measured[0].wall) \(measured[0].cpu) \(measured[1].wall) \(measured[1].cpu) \(ResourceUsage.peakResidentBytes ?? -1)")
}

/// Runs this executable as a child for one token count.
func spawnChild(tokens: Int, options: BenchOptions) throws -> ChildRun {
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
    let fields = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
    guard process.terminationStatus == 0, fields.count == 5 else {
        throw BenchError("child run at \(tokens) tokens failed (status \(process.terminationStatus))")
    }
    return ChildRun(
        newPromptSeconds: fields[0], newPromptCPUSeconds: fields[1], samePromptSeconds: fields[2],
        samePromptCPUSeconds: fields[3], peakBytes: Int(fields[4]))
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

/// The bench model loaded with the run's threads, warmed up by one forward on a small latent (which touches every
/// weight page once), and the timestep every timed forward uses.
func loadWarmedModel(_ options: BenchOptions) throws -> (WanTransformer, Tensor) {
    Compute.setThreadCount(options.threads)
    let model = try WanTransformer.load(options.model!)
    let config = model.config
    let timestep = Tensor(shape: [1], scalars: [500])
    let warmUpText = Tensor.randomNormal(shape: [1, options.textLength, config.textDim], seed: 7, stream: 4)
    _ = try model(
        hiddenStates: Tensor.randomNormal(shape: latentShape(tokens: 1024, config: config), seed: 7, stream: 1),
        timestep: timestep, encoderHiddenStates: warmUpText)
    return (model, timestep)
}
