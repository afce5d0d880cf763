// Opt-in wall-clock and CPU time per named operation of the forward pass (what `bench-model --profile` prints).
import Foundation
import Synchronization

/// Accumulates wall time and process CPU time per labelled operation while enabled; off by default.
///
/// The CPU time is the whole process's (every thread), so `cpuSeconds / (wallSeconds * threads)` says how busy
/// the cores were during that operation: 100% means no core waited. Labels are recorded in first-seen order.
/// When disabled, `measure` costs one relaxed atomic load. Measurements must not nest (each is one leaf
/// operation), so the labels' times add up to the profiled span.
public enum OpProfile {
    /// The totals of one label.
    public struct Entry: Sendable {
        /// The operation's label.
        public let label: String
        /// How many times it ran.
        public var calls = 0
        /// Summed wall-clock seconds.
        public var wallSeconds = 0.0
        /// Summed CPU seconds of the whole process over the same spans.
        public var cpuSeconds = 0.0
        /// Summed critical path: the calling thread's CPU seconds, with each parallel loop counted as its slowest
        /// chunk's CPU seconds. What the operation would take on idle cores, whatever else the machine runs.
        public var criticalSeconds = 0.0
        /// Summed floating-point operations the callers declared (multiply and add counted apart); 0 when unknown.
        public var flops = 0.0
    }

    /// Critical-path correction (slowest chunk minus the caller's time) of the parallel loops since the last
    /// `measure` began, in nanoseconds. Only the thread that calls `measure` runs parallel loops.
    private static let parallelAdjustment = Atomic<Int>(0)

    /// Called by `Compute.parallelFor` while profiling: one loop's slowest chunk and the caller's CPU time over it.
    static func addParallelLoop(slowestChunkSeconds: Double, callerSeconds: Double) {
        parallelAdjustment.add(Int((slowestChunkSeconds - callerSeconds) * 1e9), ordering: .relaxed)
    }

    private static let enabledFlag = Atomic<Bool>(false)
    private static let entries = Mutex<[Entry]>([])

    /// Whether measurements are recorded.
    public static var isEnabled: Bool { enabledFlag.load(ordering: .relaxed) }

    /// Turns recording on or off (existing totals are kept).
    public static func setEnabled(_ enabled: Bool) { enabledFlag.store(enabled, ordering: .relaxed) }

    /// Forgets every total.
    public static func reset() { entries.withLock { $0.removeAll() } }

    /// The totals so far, in the order labels were first seen.
    public static func snapshot() -> [Entry] { entries.withLock { $0 } }

    /// Runs `body`, adding its wall and CPU time to `label` when recording is on.
    @inline(__always)
    public static func measure<R>(_ label: @autoclosure () -> String, _ body: () throws -> R) rethrows -> R {
        try measure(label(), flops: 0, body)
    }

    /// Runs `body`, adding its wall and CPU time and `flops` floating-point operations to `label` when recording is on.
    @inline(__always)
    public static func measure<R>(
        _ label: @autoclosure () -> String, flops: @autoclosure () -> Double, _ body: () throws -> R
    ) rethrows -> R {
        guard isEnabled else { return try body() }
        parallelAdjustment.store(0, ordering: .relaxed)
        let wallStart = monotonicSeconds(), cpuStart = processCPUSeconds(), threadStart = threadCPUSeconds()
        let result = try body()
        let cpu = processCPUSeconds() - cpuStart, wall = monotonicSeconds() - wallStart
        let critical = threadCPUSeconds() - threadStart + Double(parallelAdjustment.load(ordering: .relaxed)) / 1e9
        let name = label(), work = flops()
        entries.withLock { list in
            if let index = list.firstIndex(where: { $0.label == name }) {
                list[index].calls += 1
                list[index].wallSeconds += wall
                list[index].cpuSeconds += cpu
                list[index].criticalSeconds += critical
                list[index].flops += work
            } else {
                list.append(
                    Entry(
                        label: name, calls: 1, wallSeconds: wall, cpuSeconds: cpu, criticalSeconds: critical,
                        flops: work))
            }
        }
        return result
    }

    /// CPU seconds used by the whole process so far (all threads).
    public static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// CPU seconds used by the calling thread so far.
    public static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Seconds on the monotonic clock.
    public static func monotonicSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
