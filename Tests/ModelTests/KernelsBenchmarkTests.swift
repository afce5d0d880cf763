// Kernel throughput next to cblas_sgemm (not a test: runs only with KERNELS_BENCH=1, in a release build).
import COpenBLAS
import Foundation
import Testing
@testable import Model
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["KERNELS_BENCH"] != nil))
struct KernelsBenchmarkTests {
    /// Best-of-`repeats` process CPU seconds of `body` (all threads together): on a machine shared with other
    /// jobs, GFLOP per CPU second is far steadier than wall time (wall time is printed too).
    func seconds(repeats: Int = 3, _ body: () -> Void) -> Double {
        var best = Double.infinity
        var bestWall = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            let cpuStart = cpuSeconds()
            body()
            best = min(best, cpuSeconds() - cpuStart)
            bestWall = min(bestWall, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        print(String(format: "    (cpu %.3f s, wall %.3f s)", best, bestWall))
        return best
    }

    /// CPU time of the whole process so far.
    func cpuSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Prints sgemm (OpenBLAS's own threading and our fixed grid), Linear and attention GFLOP/s.
    @Test func throughput() {
        let threads = Int(ProcessInfo.processInfo.environment["KERNELS_BENCH_THREADS"] ?? "2") ?? 2
        Compute.setThreadCount(threads)
        let tokenCounts = (ProcessInfo.processInfo.environment["KERNELS_BENCH_TOKENS"] ?? "4096,16384")
            .split(separator: ",").compactMap { Int($0) }
        let dim = 1536, ffn = 8960, heads = 12
        print("OpenBLAS core: \(String(cString: openblas_get_corename())), config: \(String(cString: openblas_get_config()))")
        for tokens in tokenCounts {
            let x = Tensor.randomNormal(shape: [tokens, dim], seed: 1, stream: 1)
            let w = Tensor.randomNormal(shape: [dim, dim], seed: 1, stream: 2, standardDeviation: 0.02)
            let flops = 2.0 * Double(tokens) * Double(dim) * Double(dim)
            // Reference: one single-threaded cblas_sgemm call (OpenBLAS's own worker threads spin, which
            // would inflate CPU time), as GFLOP per CPU second.
            var c = [Float](repeating: 0, count: tokens * dim)
            let native = seconds {
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
            let attentionOnly = ProcessInfo.processInfo.environment["KERNELS_BENCH_ONLY"] == "attention"
            if !attentionOnly {
            let linear = Linear(weight: StoredTensor(name: "w", tensor: w), bias: StoredTensor(name: "b", tensor: Tensor(zeros: [dim])))
            let ours = seconds { _ = linear(x) }
            let bf16 = Linear(weight: StoredTensor(name: "w", tensor: w, dtype: .bfloat16), bias: nil)
            let oursBF16 = seconds { _ = bf16(x) }
            let f16 = Linear(weight: StoredTensor(name: "w", tensor: w, dtype: .float16), bias: nil)
            let oursF16 = seconds { _ = f16(x) }
            let up = Linear(weight: StoredTensor(name: "u", tensor: Tensor.randomNormal(shape: [ffn, dim], seed: 1, stream: 3)), bias: nil)
            let upTime = seconds(repeats: 2) { _ = up(x) }
            let upFlops = 2.0 * Double(tokens) * Double(dim) * Double(ffn)
            print(String(format: "tokens %d threads %d (GFLOP per CPU second): cblas_sgemm %.1f | Linear 1536->1536 %.1f | bf16 %.1f | f16 %.1f | Linear 1536->8960 %.1f",
                         tokens, threads, flops / native / 1e9, flops / ours / 1e9, flops / oursBF16 / 1e9, flops / oursF16 / 1e9,
                         upFlops / upTime / 1e9))
            }
            let q = Tensor.randomNormal(shape: [1, tokens, dim], seed: 2, stream: 1)
            let k = Tensor.randomNormal(shape: [1, tokens, dim], seed: 2, stream: 2)
            let v = Tensor.randomNormal(shape: [1, tokens, dim], seed: 2, stream: 3)
            let attentionTime = seconds(repeats: tokens > 8192 ? 1 : 2) { _ = Ops.attention(query: q, key: k, value: v, heads: heads) }
            let attentionFlops = 4.0 * Double(tokens) * Double(tokens) * Double(dim)
            print(String(format: "tokens %d threads %d: attention %.1f GFLOP per CPU second (%.1f%% of cblas_sgemm)",
                         tokens, threads, attentionFlops / attentionTime / 1e9, 100 * native / attentionTime / flops * attentionFlops))
        }
    }
}
