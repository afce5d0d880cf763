// Liveness as a pure state machine: when to send a heartbeat, when to declare the peer dead.
#if canImport(Glibc)
import Glibc
#endif

/// Decides, from the times bytes were last received and sent, whether to send a heartbeat or declare the
/// peer dead. Any received byte counts as a sign of life, so a long frame in transit never looks silent.
public struct HeartbeatMonitor: Sendable {
    /// What the connection should do after a tick.
    public enum Action: Equatable, Sendable {
        /// Send this heartbeat now.
        case sendHeartbeat(Heartbeat)
        /// Nothing arrived for this long: close the connection as dead.
        case declareDead(silentNanoseconds: UInt64)
    }

    /// Send a heartbeat when nothing was sent for this long.
    public let intervalNanoseconds: UInt64
    /// Declare the peer dead when nothing arrived for this long.
    public let deadAfterNanoseconds: UInt64
    private var lastReceived: UInt64
    private var lastSent: UInt64
    private var sequence: UInt64 = 0
    private var dead = false

    /// A monitor starting at `now`.
    public init(intervalNanoseconds: UInt64, deadAfterNanoseconds: UInt64, now: UInt64) {
        self.intervalNanoseconds = intervalNanoseconds
        self.deadAfterNanoseconds = deadAfterNanoseconds
        self.lastReceived = now
        self.lastSent = now
    }

    /// Bytes arrived.
    public mutating func received(at now: UInt64) { lastReceived = max(lastReceived, now) }

    /// A frame was queued for sending.
    public mutating func sent(at now: UInt64) { lastSent = max(lastSent, now) }

    /// Periodic check.
    public mutating func tick(at now: UInt64) -> [Action] {
        guard !dead else { return [] }
        let silent = now &- lastReceived
        if now > lastReceived && silent >= deadAfterNanoseconds {
            dead = true
            return [.declareDead(silentNanoseconds: silent)]
        }
        if now >= lastSent && now - lastSent >= intervalNanoseconds {
            lastSent = now
            sequence += 1
            return [.sendHeartbeat(Heartbeat(sequence: sequence, sentAtNanoseconds: now))]
        }
        return []
    }
}

/// The monotonic clock in nanoseconds.
public func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
