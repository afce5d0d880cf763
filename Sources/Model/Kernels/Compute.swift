// The thread-count setting and the deterministic parallel loop every kernel uses (compare torch.set_num_threads).
import COpenBLAS
import Dispatch
import Foundation
import Synchronization

/// How many threads the kernels use, and the parallel loop they share.
///
/// Determinism: `parallelFor` only decides *which thread* runs each index; every index is run exactly once
/// by `body`, and kernels make each output element depend on one index only, computed in one fixed order.
/// So results are bit-identical whatever the thread count.
///
/// OpenBLAS itself always runs single-threaded (`openblas_set_num_threads(1)`): its own work split depends
/// on its thread count and changes the last bits of sgemm results (measured with OpenBLAS 0.3.21: 1 vs 2
/// threads differ by up to ~1e-4 absolute on a 4096x1536x1536 product). Instead `Ops` cuts every product
/// into a grid of blocks that depends only on the shapes and runs `threadCount` single-threaded sgemm calls
/// at once through `parallelFor`, so the thread setting drives OpenBLAS's parallelism without changing bits.
public enum Compute {
    /// The configured thread count; 0 until first set or read.
    private static let configuredThreadCount = Atomic<Int>(0)

    /// The number of threads kernels use. Defaults to all cores (`activeProcessorCount`).
    public static var threadCount: Int {
        let current = configuredThreadCount.load(ordering: .relaxed)
        if current > 0 { return current }
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        setThreadCount(cores)
        return cores
    }

    /// Sets the number of threads for our parallel loops (at least 1), which also run the sgemm blocks.
    public static func setThreadCount(_ count: Int) {
        let count = max(1, min(count, 4096))
        _ = openBLASSingleThreaded
        configuredThreadCount.store(count, ordering: .relaxed)
    }

    /// Puts OpenBLAS in single-threaded mode once, before the first sgemm (see the type's documentation).
    static let openBLASSingleThreaded: Void = {
        openblas_set_num_threads(1)
    }()

    /// Runs `body(index)` once for every index in `0..<count`, spread over `threadCount` threads.
    ///
    /// The indices are split into `threadCount` contiguous chunks; `body` must only write outputs that
    /// belong to its index, so the result does not depend on the split.
    public static func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        let threads = min(threadCount, count)
        if threads == 1 {
            for index in 0..<count { body(index) }
            return
        }
        let profiling = OpProfile.isEnabled
        let chunkSeconds = UnsafeMutablePointer<Double>.allocate(capacity: threads)
        defer { chunkSeconds.deallocate() }
        let callerStart = profiling ? OpProfile.threadCPUSeconds() : 0
        withoutActuallyEscaping(body) { escapableBody in
            let shared = ConcurrentBody(escapableBody, chunkSeconds: profiling ? chunkSeconds : nil)
            DispatchQueue.concurrentPerform(iterations: threads) { chunk in
                let cpuStart = shared.chunkSeconds == nil ? 0 : OpProfile.threadCPUSeconds()
                let start = count * chunk / threads
                let end = count * (chunk + 1) / threads
                for index in start..<end { shared.body(index) }
                shared.chunkSeconds?[chunk] = OpProfile.threadCPUSeconds() - cpuStart
            }
        }
        if profiling {
            // The slowest chunk bounds this loop's time on idle cores; the caller's own CPU time over it is
            // replaced by that bound in the profile's critical path.
            let slowest = (0..<threads).map { chunkSeconds[$0] }.max() ?? 0
            OpProfile.addParallelLoop(slowestChunkSeconds: slowest, callerSeconds: OpProfile.threadCPUSeconds() - callerStart)
        }
    }
}

/// Carries `parallelFor`'s body into `concurrentPerform`'s `@Sendable` closure.
///
/// `@unchecked Sendable` is the point of `parallelFor`: its documented contract is that `body` is called
/// concurrently for distinct indices and writes only what belongs to its index (kernels pass raw pointers
/// to disjoint output ranges and read shared inputs). The box never outlives the call: `concurrentPerform`
/// returns only after every iteration has finished, inside `withoutActuallyEscaping`.
/// `chunkSeconds`, when profiling, has one slot per chunk, each written by its chunk only.
private final class ConcurrentBody: @unchecked Sendable {
    let body: (Int) -> Void
    let chunkSeconds: UnsafeMutablePointer<Double>?
    init(_ body: @escaping (Int) -> Void, chunkSeconds: UnsafeMutablePointer<Double>?) {
        self.body = body
        self.chunkSeconds = chunkSeconds
    }
}
