// The worker's start-up speed calibration: a fixed single-precision matrix product timed in CPU seconds.
import Foundation
import Model
import Cluster
#if canImport(Glibc)
import Glibc
#endif

/// How fast this worker multiplies matrices, measured once at start and reported to the coordinator in `stats`
/// (`calibration_gflops`), which the planner turns into layers per second.
///
/// The probe multiplies seeded `[384, 384]` matrices through `Ops.matmul` (the kernel the transformer blocks spend
/// their time in) with the worker's thread count, in 5 rounds of at least 25 ms of CPU time per thread (about
/// 0.15 s in all). Each round's rate is its floating-point operations over the process CPU seconds it used divided
/// by the thread count, i.e. per-core speed times threads; the median round counts. CPU seconds rather than wall seconds make the
/// figure describe the hardware and the thread count, not whatever else happens to run at that moment (other
/// processes on a shared machine would otherwise change the split from one start to the next).
struct SpeedProbe: Sendable {
    /// Billions of floating-point operations per second: the best round.
    let gigaflops: Double
    /// The same work over wall-clock seconds (for logs: differs from `gigaflops` when the machine is busy).
    let wallGigaflops: Double
    /// Wall-clock seconds the probe took.
    let seconds: Double

    /// This process's probe, run on first use with the configured thread count (`main.swift` runs it before
    /// listening, after `Compute.setThreadCount`).
    static let current = SpeedProbe.run(threads: Compute.threadCount)

    /// Fills the calibration fields of a `stats` reply (`calibrationGigaflops` is the planner's input).
    func record(in statistics: inout WorkerStatistics) {
        statistics.calibrationGigaflops = gigaflops
        statistics.calibrationWallGigaflops = wallGigaflops
        statistics.calibrationSeconds = seconds
    }

    static let size = 384
    static let rounds = 5
    /// CPU seconds (per thread) each round runs products for, at least one product.
    static let roundSeconds = 0.025

    /// Runs the probe with `threads` compute threads.
    static func run(threads: Int) -> SpeedProbe {
        let a = Tensor.randomNormal(shape: [size, size], seed: 1, stream: KeyedRandom.stream(named: "speed-probe.a"))
        let b = Tensor.randomNormal(shape: [size, size], seed: 1, stream: KeyedRandom.stream(named: "speed-probe.b"))
        let flopsPerProduct = 2 * Double(size * size * size)
        let threadCount = Double(max(threads, 1))
        _ = Ops.matmul(a, b)  // warm-up: pages, BLAS buffers, thread start
        var rates: [Double] = []
        var wallRates: [Double] = []
        let started = wallClock()
        for _ in 0..<rounds {
            let cpu0 = cpuClock()
            let wall0 = wallClock()
            var products = 0
            var checksum: Float = 0
            repeat {
                checksum += Ops.matmul(a, b).scalars[0]
                products += 1
            } while (cpuClock() - cpu0) / threadCount < roundSeconds && products < 100_000
            let cpu = max((cpuClock() - cpu0) / threadCount, 1e-9)
            let wall = max(wallClock() - wall0, 1e-9)
            precondition(checksum.isFinite, "speed probe produced a non-finite product")
            rates.append(Double(products) * flopsPerProduct / cpu / 1e9)
            wallRates.append(Double(products) * flopsPerProduct / wall / 1e9)
        }
        rates.sort()
        wallRates.sort()
        return SpeedProbe(
            gigaflops: rates[rounds / 2], wallGigaflops: wallRates[rounds / 2], seconds: wallClock() - started)
    }

    private static func cpuClock() -> Double { OpProfile.processCPUSeconds() }

    private static func wallClock() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
