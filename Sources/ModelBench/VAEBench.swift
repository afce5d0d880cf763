// bench-model --vae: the Wan2.1 VAE (diffusers AutoencoderKLWan, full size, base_dim 96, seeded random weights)
// decode and encode as seconds per frame and GFLOP/s next to the machine's sgemm rate, with an optional profile.
import Foundation
import Model

/// One video size of the VAE benchmark, in pixels.
struct VAEBenchSize: CustomStringConvertible {
    let width: Int
    let height: Int
    var description: String { "\(width)x\(height)" }

    /// Parses "WIDTHxHEIGHT" (multiples of 8, 8...2048).
    init(_ text: Substring) throws {
        let parts = text.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ (8...2048).contains($0) && $0 % 8 == 0 }) else {
            throw BenchError("VAE sizes are WIDTHxHEIGHT, multiples of 8 up to 2048, got '\(text)'")
        }
        (width, height) = (parts[0], parts[1])
    }
}

/// The outcome of one timed decode or encode.
private struct VAERun {
    var seconds: Double
    var cpuSeconds: Double
    var flops: Double
    var hash: UInt64
    var entries: [OpProfile.Entry]
}

/// FNV-1a over the bit patterns of `tensor`'s scalars: equal hashes mean (almost surely) equal bytes.
private func fnv1a(_ tensor: Tensor, into hash: inout UInt64) {
    tensor.withUnsafeBufferPointer { values in
        for value in values {
            hash = (hash ^ UInt64(value.bitPattern)) &* 0x100_0000_01b3
        }
    }
}

/// Times `body` once with OpProfile on when `profiled`, returning its wall and CPU seconds and the profile.
private func timed(profiled: Bool, _ body: () throws -> UInt64) rethrows -> VAERun {
    OpProfile.reset()
    OpProfile.setEnabled(profiled)
    let wallStart = OpProfile.monotonicSeconds(), cpuStart = OpProfile.processCPUSeconds()
    let hash = try body()
    let wall = OpProfile.monotonicSeconds() - wallStart, cpu = OpProfile.processCPUSeconds() - cpuStart
    OpProfile.setEnabled(false)
    let entries = profiled ? OpProfile.snapshot() : []
    let flops = entries.reduce(0) { $0 + $1.flops }
    return VAERun(seconds: wall, cpuSeconds: cpu, flops: flops, hash: hash, entries: entries)
}

/// Runs the VAE benchmark: for each size, `rounds` decodes of `--vae-frames` frames (the first one profiled, to
/// count its operations), best time kept, then the square sgemm rate measured in the same minutes.
func benchVAE(sizes: [VAEBenchSize], options: BenchOptions) throws {
    log("building the Wan2.1 VAE (base_dim 96) with seeded random weights...")
    let vae = try WanVAE.random(config: .wan21, seed: 0).vae
    let latentFrames = (options.vaeFrames - 1) / 4 + 1
    let threads = options.threads
    print("# bench-model --vae: Wan2.1 VAE (base_dim 96), \(threads) threads, OpenBLAS \(BLASRuntime.coreName)")
    print("")
    print(
        "| pass | size | frames | s | s / frame | GFLOP | GFLOP/s | CPU % of \(threads) | sgemm 2048^3 \(threads)T "
            + "GFLOP/s | % of sgemm | peak RSS MB | output hash |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    var profiles: [(title: String, run: VAERun)] = []
    for size in sizes {
        let (h, w) = (size.height / 8, size.width / 8)
        let latents = Tensor.randomNormal(shape: [1, 16, latentFrames, h, w], seed: 5, stream: 1)
        var best: VAERun?
        for round in 0..<options.rounds {
            log("decode \(size), \(options.vaeFrames) frames (round \(round + 1) of \(options.rounds))...")
            let run = try timed(profiled: round == 0) {
                var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                try vae.decode(latents) { fnv1a($0, into: &hash) }
                return hash
            }
            if round == 0 { profiles.append(("decode \(size), \(options.vaeFrames) frames", run)) }
            let first = profiles[profiles.count - 1].run
            precondition(run.hash == first.hash, "decode of \(size) gave different bytes in two rounds")
            if run.seconds < best?.seconds ?? .infinity {
                best = VAERun(
                    seconds: run.seconds, cpuSeconds: run.cpuSeconds, flops: first.flops, hash: run.hash, entries: [])
            }
        }
        printVAERow("decode", size, frames: options.vaeFrames, best!, threads: threads)
        if options.vaeEncode {
            let video = Tensor.randomNormal(
                shape: [1, 3, options.vaeFrames, size.height, size.width], seed: 6, stream: 1)
            log("encode \(size), \(options.vaeFrames) frames...")
            let run = try timed(profiled: true) {
                var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                fnv1a(try vae.encode(video), into: &hash)
                return hash
            }
            profiles.append(("encode \(size), \(options.vaeFrames) frames", run))
            printVAERow("encode", size, frames: options.vaeFrames, run, threads: threads)
        }
    }
    print("")
    print(
        "s: wall seconds of the whole pass (best of \(options.rounds) for decodes); GFLOP: the convolutions' and "
            + "attention's useful multiply-adds x 2; sgemm: cblas_sgemm on a square 2048^3 product with OpenBLAS on "
            + "\(threads) threads, measured right after each row.")
    if options.vaeProfile {
        for (title, run) in profiles { printVAEProfile(title: title, run: run, threads: threads) }
    }
}

/// One row of the summary table; measures the sgemm rate right after the pass.
private func printVAERow(_ pass: String, _ size: VAEBenchSize, frames: Int, _ run: VAERun, threads: Int) {
    let sgemm = squareSgemmRate(threads: threads)
    let rate = run.flops / run.seconds / 1e9
    print(
        String(
            format: "| %@ | %@ | %d | %.2f | %.3f | %.1f | %.1f | %.0f%% | %.1f | %.0f%% | %.0f | %016llx |",
            pass as NSString, size.description as NSString, frames, run.seconds, run.seconds / Double(frames),
            run.flops / 1e9, rate, 100 * run.cpuSeconds / run.seconds / Double(threads), sgemm, 100 * rate / sgemm,
            Double(ResourceUsage.peakResidentBytes ?? 0) / 1e6, run.hash))
}

/// The per-operation table of one profiled pass, grouped by label.
private func printVAEProfile(title: String, run: VAERun, threads: Int) {
    print("")
    print("# \(title), \(threads) threads: \(String(format: "%.2f", run.seconds)) s")
    print("| operation | calls | ms | % of pass | cores busy | critical ms | work split | GFLOP | GFLOP/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for entry in run.entries.sorted(by: { $0.wallSeconds > $1.wallSeconds }) {
        let gflops = entry.flops / 1e9
        print(
            String(
                format: "| %@ | %d | %.0f | %.1f%% | %.0f%% | %.0f | %.0f%% | %@ | %@ |", entry.label as NSString,
                entry.calls, entry.wallSeconds * 1000, 100 * entry.wallSeconds / run.seconds,
                100 * entry.cpuSeconds / max(entry.wallSeconds, 1e-9) / Double(threads), entry.criticalSeconds * 1000,
                100 * entry.cpuSeconds / max(entry.criticalSeconds, 1e-9) / Double(threads),
                (gflops > 0 ? String(format: "%.1f", gflops) : "-") as NSString,
                (gflops > 0 ? String(format: "%.1f", gflops / entry.wallSeconds) : "-") as NSString))
    }
    let measured = run.entries.reduce(0) { $0 + $1.wallSeconds }
    print(
        String(
            format: "| (between operations) | | %.0f | %.1f%% | | | | | |", (run.seconds - measured) * 1000,
            100 * (run.seconds - measured) / run.seconds))
}
