// The machine's sgemm ceiling: the best rate cblas_sgemm reaches on a square product and on the forward pass's
// own shapes, with OpenBLAS on 1 and on N threads, measured beside each forward so both see the same minutes.
import COpenBLAS
import Foundation
import Model

/// sgemm rates in GFLOP/s (wall clock), at 1 and at `threads` OpenBLAS threads.
struct SgemmCeiling {
    /// Square 2048^3 product, one thread.
    var squareOne = 0.0
    /// Square 2048^3 product, `threads` threads.
    var squareMany = 0.0
    /// The forward's shapes (see `sgemmSeconds`), one thread.
    var shapesOne = 0.0
    /// The forward's shapes, `threads` threads.
    var shapesMany = 0.0

    /// The best rate of all four for `threads` threads (the square one unless the shapes beat it).
    var bestMany: Double { max(squareMany, shapesMany) }
}

/// Best-of-`repeats` wall-clock GFLOP/s of one square `size`^3 `cblas_sgemm` with OpenBLAS on `threads` threads.
func squareSgemmRate(size: Int = 2048, threads: Int, repeats: Int = 4) -> Double {
    openblas_set_num_threads(Int32(threads))
    defer { openblas_set_num_threads(1) }
    let a = Tensor.randomNormal(shape: [size, size], seed: 3, stream: 1)
    let b = Tensor.randomNormal(shape: [size, size], seed: 3, stream: 2)
    var c = Tensor(zeros: [size, size])
    var best = Double.infinity
    for round in 0...repeats {  // round 0 warms up OpenBLAS's threads and the pages, and is not counted
        let start = OpProfile.monotonicSeconds()
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasTrans, Int32(size), Int32(size), Int32(size), 1,
                        a.baseAddress, Int32(size), b.baseAddress, Int32(size), 0, c.baseAddress, Int32(size))
                }
            }
        }
        let seconds = OpProfile.monotonicSeconds() - start
        if round > 0 { best = min(best, seconds) }
    }
    return 2 * pow(Double(size), 3) / best / 1e9
}

/// Seconds cblas_sgemm takes for all of the forward's products, with OpenBLAS on `threads` threads.
func sgemmSeconds(for work: [MatmulClass], threads: Int, logRates: Bool) -> Double {
    openblas_set_num_threads(Int32(threads))
    defer { openblas_set_num_threads(1) }
    var total = 0.0
    for item in work {
        let seconds = sgemmSeconds(for: item)
        if logRates {
            let label = item.label.padding(toLength: 46, withPad: " ", startingAt: 0)
            log(String(format: "  %@ %9.1f GFLOP %7.1f GFLOP/s", label, item.flops / 1e9, item.flops / seconds / 1e9))
        }
        total += seconds
    }
    return total
}

/// Measures the ceiling for the forward's products `work` at 1 and `threads` threads.
func measureCeiling(work: [MatmulClass], threads: Int) -> SgemmCeiling {
    let flops = work.reduce(0) { $0 + $1.flops }
    var ceiling = SgemmCeiling()
    log("sgemm ceiling: square 2048^3 and the forward's shapes, 1 and \(threads) threads...")
    ceiling.squareOne = squareSgemmRate(threads: 1)
    ceiling.squareMany = threads == 1 ? ceiling.squareOne : squareSgemmRate(threads: threads)
    ceiling.shapesOne = flops / sgemmSeconds(for: work, threads: 1, logRates: false) / 1e9
    ceiling.shapesMany =
        threads == 1 ? ceiling.shapesOne : flops / sgemmSeconds(for: work, threads: threads, logRates: true) / 1e9
    return ceiling
}
