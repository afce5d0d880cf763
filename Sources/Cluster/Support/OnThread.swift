// Blocking work (model math, file I/O) off Swift's cooperative pool.
import Foundation

/// Runs blocking work on a thread of its own and returns its result, so that the cooperative pool (as many threads
/// as cores) stays free for connections and heartbeats while a block computes for seconds.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
