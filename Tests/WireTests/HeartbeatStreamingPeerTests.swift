// A peer that streams frames to us while we send it nothing must still get our heartbeats: the tick of the
// heartbeat monitor runs even when bytes are always waiting (before the fix it ran only on a poll timeout, so a
// coordinator receiving a last stage's results, or a client receiving progress events, went silent toward that
// peer and was declared dead after the dead-peer time).
import Foundation
import Testing
@testable import Wire

@Suite(.timeLimit(.minutes(1))) struct HeartbeatStreamingPeerTests {
    @Test func aPeerThatOnlySendsStillHearsOurHeartbeats() throws {
        let server = try Loopback.EchoServer()
        let peer = try RawPeer(server.address)
        guard case .established = try peer.handshake(token: Loopback.token) else { Issue.record("handshake"); return }
        // Every 5 ms a heartbeatAck (the server reads it and answers nothing), for 1.5 s: far longer than the
        // server's 0.6 s dead-peer time and its 0.1 s heartbeat interval, with its 25 ms poll slice never idle.
        var heartbeats = 0
        let start = Date()
        var sequence: UInt64 = 0
        while Date().timeIntervalSince(start) < 1.5 {
            sequence += 1
            try peer.send(.heartbeatAck(Heartbeat(sequence: sequence, sentAtNanoseconds: monotonicNanoseconds())))
            while let frame = try peer.receive(seconds: 0.005) {
                if case .heartbeat = try frame.message() { heartbeats += 1 }
            }
        }
        // About 15 at one per 0.1 s; fewer than 5 means the server went quiet while being streamed to.
        #expect(heartbeats >= 5, "the server sent \(heartbeats) heartbeats in 1.5 s while the peer streamed to it")
        #expect(!server.closed.all.contains { $0.contains("silent") })
        print("HeartbeatStreamingPeerTests: \(heartbeats) heartbeats in 1.5 s while streamed to")
    }
}
