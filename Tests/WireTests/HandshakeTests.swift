// The handshake state machines run against each other without sockets.
import Testing
@testable import Wire

@Suite struct HandshakeTests {
    static let token = [UInt8](repeating: 7, count: 32)

    /// Runs a client and a server to completion, passing each `.send` across; returns both outcomes.
    static func run(clientToken: [UInt8]?, serverToken: [UInt8]?, tamper: ((Message) -> Message)? = nil)
        -> (client: HandshakeAction?, server: HandshakeAction?, wire: [Message])
    {
        var client = ClientHandshake(token: clientToken, role: .coordinator, name: "c",
                                     nonce: [UInt8](repeating: 1, count: 32), maxPayloadBytes: 1000)
        var server = ServerHandshake(token: serverToken, role: .worker, name: "w0",
                                     nonce: [UInt8](repeating: 2, count: 32),
                                     heartbeatIntervalMilliseconds: 500, maxPayloadBytes: 2000)
        var toServer = client.start().compactMap { if case .send(let m) = $0 { return m } else { return nil } }
        var toClient: [Message] = []
        var clientEnd: HandshakeAction?
        var serverEnd: HandshakeAction?
        var wire: [Message] = toServer
        for _ in 0..<4 {
            for message in toServer {
                for action in server.receive(tamper?(message) ?? message) {
                    if case .send(let reply) = action { toClient.append(reply); wire.append(reply) } else { serverEnd = action }
                }
            }
            toServer = []
            for message in toClient {
                for action in client.receive(message) {
                    if case .send(let reply) = action { toServer.append(reply); wire.append(reply) } else { clientEnd = action }
                }
            }
            toClient = []
        }
        return (clientEnd, serverEnd, wire)
    }

    @Test func rightTokenEstablishesBothWays() throws {
        let result = Self.run(clientToken: Self.token, serverToken: Self.token)
        guard case .established(let atClient) = result.client, case .established(let atServer) = result.server else {
            Issue.record("handshake did not complete: \(String(describing: result))"); return
        }
        #expect(atClient.authenticated && atServer.authenticated)
        #expect(atClient.peerName == "w0" && atClient.peerRole == .worker && atClient.peerMaxPayloadBytes == 2000)
        #expect(atServer.peerName == "c" && atServer.peerRole == .coordinator && atServer.peerMaxPayloadBytes == 1000)
        #expect(atClient.heartbeatIntervalMilliseconds == 500)
        // Both ends derived the same pair of session keys, one per direction.
        let clientKeys = try #require(atClient.keys), serverKeys = try #require(atServer.keys)
        #expect(clientKeys.sending == serverKeys.receiving && clientKeys.receiving == serverKeys.sending)
        #expect(clientKeys.sending != clientKeys.receiving && clientKeys.sending.count == 32)
        // The token itself never appears on the wire.
        for message in result.wire {
            let payload = message.encodedPayload()
            #expect(!payload.indices.contains { payload[$0...].starts(with: Self.token) })
        }
    }

    @Test func wrongTokenIsRejectedByTheServer() {
        let result = Self.run(clientToken: [UInt8](repeating: 8, count: 32), serverToken: Self.token)
        #expect(result.server == .fail(HandshakeFailure(code: .authenticationFailed,
                                                         message: "peer \"c\" presented a wrong token proof")))
        guard case .fail(let failure) = result.client else { Issue.record("client did not fail"); return }
        #expect(failure.code == .authenticationFailed)
    }

    @Test func missingTokenFailsClearlyOnTheClient() {
        let result = Self.run(clientToken: nil, serverToken: Self.token)
        guard case .fail(let failure) = result.client else { Issue.record("client did not fail"); return }
        #expect(failure.code == .authenticationRequired)
        #expect(failure.message.contains("requires the cluster token"))
    }

    @Test func clientWithTokenRefusesAnUnauthenticatedServer() {
        let result = Self.run(clientToken: Self.token, serverToken: nil)
        guard case .fail(let failure) = result.client else { Issue.record("client did not fail"); return }
        #expect(failure.code == .authenticationRequired)
    }

    @Test func noTokenAnywhereIsAnUnauthenticatedSession() {
        let result = Self.run(clientToken: nil, serverToken: nil)
        guard case .established(let session) = result.client else { Issue.record("no session"); return }
        #expect(!session.authenticated)
    }

    @Test func impostorServerIsDetectedByTheClient() {
        // A server with a different token cannot produce the welcome tag the client expects. Simulate by
        // feeding the client a welcome with a wrong tag.
        var client = ClientHandshake(token: Self.token, role: .client, name: "c",
                                     nonce: [UInt8](repeating: 1, count: 32), maxPayloadBytes: 10)
        _ = client.start()
        _ = client.receive(.challenge(Challenge(minor: 0, role: .coordinator, name: "evil", authenticationRequired: true,
                                                nonce: [UInt8](repeating: 3, count: 32),
                                                heartbeatIntervalMilliseconds: 1, maxPayloadBytes: 1)))
        let end = client.receive(.welcome(AuthenticationTag(tag: [UInt8](repeating: 0, count: 32), maxPayloadBytes: 1)))
        guard case .fail(let failure) = end.first else { Issue.record("impostor accepted"); return }
        #expect(failure.code == .authenticationFailed)
    }

    @Test func replayedProofFromAnotherSessionFails() {
        // A proof is bound to both nonces: a proof captured with another server nonce is useless.
        let captured = Self.run(clientToken: Self.token, serverToken: Self.token).wire.first {
            if case .proof = $0 { return true } else { return false }
        }!
        var server = ServerHandshake(token: Self.token, role: .worker, name: "w0",
                                     nonce: [UInt8](repeating: 9, count: 32),
                                     heartbeatIntervalMilliseconds: 500, maxPayloadBytes: 2000)
        _ = server.receive(.hello(Hello(role: .coordinator, name: "c", nonce: [UInt8](repeating: 1, count: 32))))
        let end = server.receive(captured)
        #expect(end.contains(.fail(HandshakeFailure(code: .authenticationFailed,
                                                    message: "peer \"c\" presented a wrong token proof"))))
    }

    @Test func versionAndOrderAreChecked() {
        var server = ServerHandshake(token: nil, role: .worker, name: "w", nonce: [UInt8](repeating: 2, count: 32),
                                     heartbeatIntervalMilliseconds: 1, maxPayloadBytes: 1)
        // Version 1 (frames not authenticated) is the old major now.
        let wrongMajor = server.receive(.hello(Hello(major: 1, minor: 0, role: .client, name: "c",
                                                     nonce: [UInt8](repeating: 1, count: 32))))
        #expect(wrongMajor.contains { if case .fail(let f) = $0 { return f.code == .unsupportedVersion } else { return false } })
        var fresh = ServerHandshake(token: nil, role: .worker, name: "w", nonce: [UInt8](repeating: 2, count: 32),
                                    heartbeatIntervalMilliseconds: 1, maxPayloadBytes: 1)
        let outOfOrder = fresh.receive(.ok)
        #expect(outOfOrder.contains { if case .fail(let f) = $0 { return f.code == .unexpectedMessage } else { return false } })
        // A newer minor from the client is negotiated down to ours.
        var newer = ServerHandshake(token: nil, role: .worker, name: "w", nonce: [UInt8](repeating: 2, count: 32),
                                    heartbeatIntervalMilliseconds: 1, maxPayloadBytes: 1)
        let reply = newer.receive(.hello(Hello(major: WireVersion.major, minor: 200, role: .client, name: "c",
                                               nonce: [UInt8](repeating: 1, count: 32))))
        guard case .send(.challenge(let challenge)) = reply.first else { Issue.record("no challenge"); return }
        #expect(challenge.minor == WireVersion.minor)
    }
}
