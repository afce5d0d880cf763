// One proxied connection: two pump threads (client to target, target to client) applying a FaultPlan.
import Cluster
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A client connection and its target connection, forwarded in both directions.
final class ProxyConnection: Sendable {
    let number: Int
    let client: Int32
    let target: Int32
    let plan: FaultPlan
    /// Pump threads still running; the last one to finish closes both descriptors.
    private let running = Mutex(2)
    private let onClosed: @Sendable (ProxyConnection) -> Void

    init(number: Int, client: Int32, target: Int32, plan: FaultPlan, onClosed: @escaping @Sendable (ProxyConnection) -> Void) {
        self.number = number
        self.client = client
        self.target = target
        self.plan = plan
        self.onClosed = onClosed
    }

    func start() {
        for upstream in [true, false] {
            let thread = Thread { [self] in
                pump(upstream: upstream)
                let last = running.withLock { count -> Bool in
                    count -= 1
                    return count == 0
                }
                if last {
                    close(client)
                    close(target)
                    log("closed")
                    onClosed(self)
                }
            }
            thread.start()
        }
    }

    /// Ends both directions at once (cut, or proxy shutdown).
    func cut() {
        _ = shutdown(client, Int32(SHUT_RDWR))
        _ = shutdown(target, Int32(SHUT_RDWR))
    }

    /// Lines start with `faultproxy: connection N`.
    var log: Log { Log("faultproxy: connection \(number)") }

    // MARK: - Pumping

    private func pump(upstream: Bool) {
        let source = upstream ? client : target
        let destination = upstream ? target : client
        let name = upstream ? "up" : "down"
        let faulted = plan.direction.includes(upstream: upstream)
        var offset = 0
        var corrupted = false
        let started = DispatchTime.now().uptimeNanoseconds
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let received = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress!, $0.count, 0) }
            if received < 0 && errno == EINTR { continue }
            guard received > 0 else {
                // End of stream (or an error): pass the end on, keep the other direction going.
                _ = shutdown(destination, Int32(SHUT_WR))
                return
            }
            var count = received
            if faulted {
                if plan.delayMilliseconds > 0 { usleep(UInt32(plan.delayMilliseconds) * 1000) }
                if let at = plan.corruptAfterBytes, !corrupted, at >= offset, at < offset + count {
                    buffer[at - offset] ^= 0xFF
                    corrupted = true
                    log("flipped byte \(at) (\(name))")
                }
                if let limit = plan.cutAfterBytes, offset + count >= limit {
                    count = limit - offset
                    _ = buffer.withUnsafeBytes { ProxySocket.writeAll(destination, UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                    log("cut after \(limit) bytes (\(name))")
                    cut()
                    return
                }
            }
            var sent = 0
            while sent < count {
                var slice = count - sent
                if faulted && plan.throttleBytesPerSecond > 0 {
                    // Slices of at most 1/20 s worth of bytes, each sent no earlier than the rate allows.
                    slice = min(slice, max(1, plan.throttleBytesPerSecond / 20))
                    let due = started + UInt64(Double(offset + sent) / Double(plan.throttleBytesPerSecond) * 1e9)
                    let now = DispatchTime.now().uptimeNanoseconds
                    if due > now { usleep(UInt32(min((due - now) / 1000, 10_000_000))) }
                }
                let ok = buffer.withUnsafeBytes { ProxySocket.writeAll(destination, UnsafeRawBufferPointer(rebasing: $0[sent..<sent + slice])) }
                guard ok else {
                    cut()
                    return
                }
                sent += slice
            }
            offset += count
        }
    }
}
