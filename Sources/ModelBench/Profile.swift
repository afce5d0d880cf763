// bench-model --profile: the whole forward pass with OpProfile on, as a table of time per operation and how busy
// the cores were during each.
import Foundation
import Model

/// Runs the forward at each token count in `counts` (a new prompt, then the same prompt again) and prints, per
/// operation, its calls, wall milliseconds, share of the forward and CPU busy share of `threads` cores.
func profileForward(counts: [Int], options: BenchOptions) throws {
    let (model, timestep) = try loadWarmedModel(options)
    let config = model.config
    for (index, tokens) in counts.enumerated() {
        let text = Tensor.randomNormal(shape: [1, options.textLength, config.textDim], seed: 8, stream: UInt64(index))
        let latent = Tensor.randomNormal(shape: latentShape(tokens: tokens, config: config), seed: 7, stream: 2)
        var runs: [(entries: [OpProfile.Entry], wall: Double, cpu: Double)] = []
        for _ in 0..<2 {
            OpProfile.reset()
            OpProfile.setEnabled(true)
            let wallStart = OpProfile.monotonicSeconds(), cpuStart = OpProfile.processCPUSeconds()
            _ = try model(hiddenStates: latent, timestep: timestep, encoderHiddenStates: text)
            let wall = OpProfile.monotonicSeconds() - wallStart, cpu = OpProfile.processCPUSeconds() - cpuStart
            OpProfile.setEnabled(false)
            runs.append((OpProfile.snapshot(), wall, cpu))
        }
        printProfile(tokens: tokens, threads: options.threads, runs: runs)
    }
}

/// One table: the first run's operations, with the second run's milliseconds beside them. "critical ms" is what
/// the operation would take on idle cores (see `OpProfile.Entry.criticalSeconds`); "work split" is the CPU time
/// over `threads` x critical: 100% when the threads share the work evenly, 1/threads when it runs on one.
private func printProfile(tokens: Int, threads: Int, runs: [(entries: [OpProfile.Entry], wall: Double, cpu: Double)]) {
    let first = runs[0], second = runs[1]
    let grid = patchGrid(tokens: tokens)
    let critical = first.entries.reduce(0) { $0 + $1.criticalSeconds }
    print("")
    print("# forward at \(tokens) tokens (grid \(grid.frames) x \(grid.height) x \(grid.width)), \(threads) threads")
    print("| operation | calls | ms | cores busy | critical ms | % of critical | work split | ms, same prompt again |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for entry in first.entries {
        let again = second.entries.first { $0.label == entry.label }?.wallSeconds ?? 0
        print(
            String(
                format: "| %@ | %d | %.1f | %.0f%% | %.1f | %.1f%% | %.0f%% | %.1f |", entry.label as NSString,
                entry.calls, entry.wallSeconds * 1000,
                100 * entry.cpuSeconds / max(entry.wallSeconds, 1e-9) / Double(threads), entry.criticalSeconds * 1000,
                100 * entry.criticalSeconds / critical,
                100 * entry.cpuSeconds / max(entry.criticalSeconds, 1e-9) / Double(threads), again * 1000))
    }
    let cpu = first.entries.reduce(0) { $0 + $1.cpuSeconds }
    print(
        String(
            format: "| forward (between operations: %.1f ms) | | %.1f | %.0f%% | %.1f | 100%% | %.0f%% | %.1f |",
            (first.wall - first.entries.reduce(0) { $0 + $1.wallSeconds }) * 1000, first.wall * 1000,
            100 * first.cpu / first.wall / Double(threads), critical * 1000,
            100 * cpu / max(critical, 1e-9) / Double(threads), second.wall * 1000))
}
