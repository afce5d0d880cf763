// The liveness state machine, with a fake clock.
import Testing
@testable import Wire

@Suite struct HeartbeatMonitorTests {
    @Test func sendsHeartbeatsAndDeclaresDeathOnTime() {
        var monitor = HeartbeatMonitor(intervalNanoseconds: 100, deadAfterNanoseconds: 500, now: 0)
        #expect(monitor.tick(at: 50) == [])
        #expect(monitor.tick(at: 100) == [.sendHeartbeat(Heartbeat(sequence: 1, sentAtNanoseconds: 100))])
        #expect(monitor.tick(at: 150) == [])
        monitor.received(at: 300)
        #expect(monitor.tick(at: 700) == [.sendHeartbeat(Heartbeat(sequence: 2, sentAtNanoseconds: 700))])
        #expect(monitor.tick(at: 799) == [])
        #expect(monitor.tick(at: 800) == [.declareDead(silentNanoseconds: 500)])
        #expect(monitor.tick(at: 900) == [])
    }

    @Test func trafficPostponesHeartbeats() {
        var monitor = HeartbeatMonitor(intervalNanoseconds: 100, deadAfterNanoseconds: 1000, now: 0)
        for time in stride(from: UInt64(50), to: 1000, by: 50) {
            monitor.sent(at: time)
            monitor.received(at: time)
            #expect(monitor.tick(at: time + 10) == [])
        }
    }
}
