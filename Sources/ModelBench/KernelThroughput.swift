// bench-model --kernels: Linear (float32, bfloat16, float16 weights) and tiled attention as GFLOP per CPU second,
// next to one cblas_sgemm call on the same machine in the same run.
import COpenBLAS
import Foundation
import Model

/// CPU time of the whole process so far (all threads).
private func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Best-of-`repeats` process CPU seconds of `body`. On a machine shared with other jobs, work per CPU second is
/// far steadier than wall time, which is logged alongside.
private func cpuSeconds(repeats: Int, _ body: () -> Void) -> Double {
    var best = Double.infinity
    var bestWall = Double.infinity
    for _ in 0..<repeats {
        let wallStart = Date()
        let start = processCPUSeconds()
        body()
        best = min(best, processCPUSeconds() - start)
        bestWall = min(bestWall, Date().timeIntervalSince(wallStart))
    }
    log(String(format: "    (cpu %.3f s, wall %.3f s)", best, bestWall))
    return best
}

/// Prints one table row per token count in `options.tokens`: GFLOP per CPU second of a single-threaded
/// `cblas_sgemm` ([tokens, 1536] x [1536, 1536]ᵀ), our `Linear` with float32 / bfloat16 / float16 weights, the
/// FFN up projection, and `Ops.attention` (12 heads of 128), with attention as a share of the sgemm rate.
func kernelThroughput(options: BenchOptions) {
    Compute.setThreadCount(options.threads)
    let dim = 1536, ffn = 8960, heads = 12
    print("# bench-model --kernels: OpenBLAS \(String(cString: openblas_get_corename())), \(options.threads) threads")
    print("")
    print("| tokens | cblas_sgemm | Linear f32 | Linear bf16 | Linear f16 | Linear 1536->8960 | attention | attention / sgemm |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for tokens in options.tokens {
        log("kernels at \(tokens) tokens...")
        let x = Tensor.randomNormal(shape: [tokens, dim], seed: 1, stream: 1)
        let w = Tensor.randomNormal(shape: [dim, dim], seed: 1, stream: 2, standardDeviation: 0.02)
        let flops = 2.0 * Double(tokens) * Double(dim) * Double(dim)
        // One single-threaded cblas_sgemm call: OpenBLAS's own worker threads spin while waiting, which would
        // inflate its CPU time; our kernels keep OpenBLAS single-threaded and split products themselves.
        var c = [Float](repeating: 0, count: tokens * dim)
        let sgemm = cpuSeconds(repeats: 3) {
            x.withUnsafeBufferPointer { a in
                w.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { out in
                        cblas_sgemm(
                            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(tokens), Int32(dim), Int32(dim), 1,
                            a.baseAddress, Int32(dim), b.baseAddress, Int32(dim), 0, out.baseAddress, Int32(dim))
                    }
                }
            }
        }
        let bias = StoredTensor(name: "b", tensor: Tensor(zeros: [dim]))
        let f32 = Linear(weight: StoredTensor(name: "w", tensor: w), bias: bias)
        let f32Time = cpuSeconds(repeats: 3) { _ = f32(x) }
        let bf16 = Linear(weight: StoredTensor(name: "w", tensor: w, dtype: .bfloat16), bias: nil)
        let bf16Time = cpuSeconds(repeats: 3) { _ = bf16(x) }
        let f16 = Linear(weight: StoredTensor(name: "w", tensor: w, dtype: .float16), bias: nil)
        let f16Time = cpuSeconds(repeats: 3) { _ = f16(x) }
        let upWeight = Tensor.randomNormal(shape: [ffn, dim], seed: 1, stream: 3, standardDeviation: 0.02)
        let up = Linear(weight: StoredTensor(name: "u", tensor: upWeight), bias: nil)
        let upTime = cpuSeconds(repeats: 2) { _ = up(x) }
        let upFlops = 2.0 * Double(tokens) * Double(dim) * Double(ffn)
        let q = Tensor.randomNormal(shape: [1, tokens, dim], seed: 2, stream: 1)
        let k = Tensor.randomNormal(shape: [1, tokens, dim], seed: 2, stream: 2)
        let v = Tensor.randomNormal(shape: [1, tokens, dim], seed: 2, stream: 3)
        let attentionTime = cpuSeconds(repeats: tokens > 8192 ? 1 : 2) {
            _ = Ops.attention(query: q, key: k, value: v, heads: heads)
        }
        // Q·Kᵀ and P·V per head: 2 products of 2·N·N·headDim each, over all heads = 4·N²·dim.
        let attentionFlops = 4.0 * Double(tokens) * Double(tokens) * Double(dim)
        func rate(_ work: Double, _ seconds: Double) -> String { String(format: "%.1f", work / seconds / 1e9) }
        let sgemmRate = flops / sgemm
        print(
            "| \(tokens) | \(rate(flops, sgemm)) | \(rate(flops, f32Time)) | \(rate(flops, bf16Time)) "
                + "| \(rate(flops, f16Time)) | \(rate(upFlops, upTime)) | \(rate(attentionFlops, attentionTime)) "
                + String(format: "| %.1f%% |", 100 * attentionFlops / attentionTime / sgemmRate))
    }
    print("")
    print("GFLOP per CPU second (all threads together), best of 2-3 repeats.")
}
