// Real sockets on 127.0.0.1: authentication, many requests in flight, hostile peers, heartbeats, close.
import Foundation
import Testing
@testable import Wire

@Suite(.timeLimit(.minutes(1)), .serialized) struct LoopbackTests {
    @Test func rightTokenAndManyRequestsInFlight() async throws {
        let server = try Loopback.EchoServer()
        let connection = try await WireConnection.connect(to: server.address, options: Loopback.options(.coordinator, "c"))
        #expect(connection.session.authenticated && connection.session.peerName == "echo")
        // 64 concurrent requests: each reply must carry its own request id back.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    let reply = try await connection.request(.statsRequest)
                    guard case .stats(let stats) = reply else { Issue.record("not stats: \(reply)"); return }
                    #expect(stats.entries.first.map { UInt64($0.value) % 2 == 1 } == true)
                }
            }
            try await group.waitForAll()
        }
        let error = await connection.close()
        #expect("\(error)".contains("closed by us"))
        #expect(await Loopback.eventually { server.closed.all.contains { $0.contains("peer said goodbye") } })
    }

    @Test func tensorsStreamsErrorsAndTimeouts() async throws {
        let server = try Loopback.EchoServer()
        let connection = try await WireConnection.connect(to: server.address, options: Loopback.options(.coordinator, "c"))
        var generator = SplitMix64(seed: 11)
        let values = (0..<(2 << 20)).map { _ in Float.random(in: -1...1, using: &generator) }
        let tensor = try WireTensor(float32: values, shape: [2048, 1024])
        let half = try WireTensor(float32: values, shape: [2048, 1024], as: .bfloat16)
        let key = MicroBatchKey(jobID: "job-1", step: 3, window: 1, branch: 1)
        let reply = try await connection.request(.forward(Forward(key: key, tensors: [
            NamedTensor(name: "hidden", tensor: tensor), NamedTensor(name: "half", tensor: half)])))
        guard case .forwardResult(let result) = reply else { Issue.record("not a result"); return }
        #expect(result.key == key)
        #expect(result.tensors[0].tensor == tensor && result.tensors[1].tensor == half)

        var events: [UInt64] = []
        for try await event in connection.requestStream(.watch(JobID("job-1"))) {
            if case .progress(let progress) = event { events.append(progress.sequence) }
        }
        #expect(events == [0, 1, 2])

        await #expect(throws: TransportError.remote(ErrorReport(code: .notFound, message: "no job fail"))) {
            try await connection.request(.jobStatusRequest(JobID("fail")))
        }
        await #expect(throws: TransportError.timedOut(what: "jobStatusRequest(514) request", seconds: 0.2)) {
            try await connection.request(.jobStatusRequest(JobID("silent")), timeoutSeconds: 0.2)
        }
        // The connection is still fine after a timed-out request.
        #expect(try await connection.request(.releaseJob(JobReference(jobID: "job-1"))) == .ok)
        await connection.close()
    }

    /// Large payloads are read into a recycled buffer only when nobody holds the previous one: a result
    /// still held by the application must never change when the next one of the same size arrives.
    @Test func recycledPayloadBuffersNeverOverwriteHeldData() async throws {
        let server = try Loopback.EchoServer()
        let connection = try await WireConnection.connect(to: server.address, options: Loopback.options(.coordinator, "c"))
        func roundTrip(_ fill: Float) async throws -> WireTensor {
            let tensor = try WireTensor(float32: [Float](repeating: fill, count: 1 << 19), shape: [1 << 19])
            let key = MicroBatchKey(jobID: "j", step: 0, window: 0, branch: 0)
            let reply = try await connection.request(.forward(Forward(key: key, tensors: [NamedTensor(name: "x", tensor: tensor)])))
            guard case .forwardResult(let result) = reply else { throw TransportError.closed(reason: "not a result") }
            return result.tensors[0].tensor
        }
        let first = try await roundTrip(1)
        let second = try await roundTrip(2)
        #expect(first.float32Values().allSatisfy { $0 == 1 })
        #expect(second.float32Values().allSatisfy { $0 == 2 })
        var third: WireTensor? = try await roundTrip(3)
        #expect(third!.float32Values().allSatisfy { $0 == 3 })
        third = nil
        for fill in 4...6 { #expect(try await roundTrip(Float(fill)).float32Values().allSatisfy { $0 == Float(fill) }) }
        #expect(first.float32Values().allSatisfy { $0 == 1 } && second.float32Values().allSatisfy { $0 == 2 })
        _ = third
        await connection.close()
    }

    @Test func wrongOrMissingTokenIsRejectedAndTheServerKeepsServing() async throws {
        let server = try Loopback.EchoServer()
        await #expect {
            try await WireConnection.connect(
                to: server.address,
                options: Loopback.options(.coordinator, "bad", token: ClusterToken(bytes: [UInt8](repeating: 1, count: 32))))
        } throws: { error in
            guard case TransportError.handshake(let failure) = error else { return false }
            return failure.code == .authenticationFailed
        }
        await #expect {
            try await WireConnection.connect(to: server.address, options: Loopback.options(.client, "none", token: nil))
        } throws: { error in
            guard case TransportError.handshake(let failure) = error else { return false }
            return failure.code == .authenticationRequired
        }
        #expect(await Loopback.eventually { server.events.all.count >= 2 })
        #expect(server.events.all.contains { $0.contains("wrong token proof") })
        #expect(server.events.all.contains { $0.contains("during the handshake") })
        let good = try await WireConnection.connect(to: server.address, options: Loopback.options(.coordinator, "good"))
        #expect(try await good.request(.statsRequest) != .ok)
        await good.close()
    }

    @Test func garbageOversizedAndStalledPeersAreDroppedWithoutHarmingOthers() async throws {
        let server = try Loopback.EchoServer()
        let bystander = try await WireConnection.connect(to: server.address, options: Loopback.options(.coordinator, "b"))

        // Garbage instead of a hello.
        let garbage = try RawPeer(server.address)
        try garbage.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + [UInt8](repeating: 0xEE, count: 64))
        #expect(garbage.waitForEndOfStream())

        // An authenticated peer that announces a 4 GiB payload.
        let oversized = try RawPeer(server.address)
        guard case .established = try oversized.handshake(token: Loopback.token) else {
            Issue.record("raw handshake failed"); return
        }
        try oversized.send(FrameHeader(kind: MessageKind.forward.rawValue, flags: [], requestID: 1,
                                       payloadLength: UInt32.max, payloadChecksum: 0).encoded())
        var sawError = false
        while let frame = try oversized.receive() {
            if case .error(let report) = try frame.message(), report.code == .payloadTooLarge { sawError = true }
        }
        #expect(sawError)

        // An authenticated peer that stops in the middle of a frame and goes silent.
        let stalled = try RawPeer(server.address)
        guard case .established = try stalled.handshake(token: Loopback.token) else {
            Issue.record("raw handshake failed"); return
        }
        let frame = stalled.seal(.goodbye(reason: String(repeating: "x", count: 100)), requestID: 0)
        try stalled.send(Array(frame[0..<50]))
        let start = Date()
        #expect(stalled.waitForEndOfStream(seconds: 5))
        #expect(Date().timeIntervalSince(start) < 2.5)

        // A peer whose payload checksum is wrong.
        let corrupt = try RawPeer(server.address)
        guard case .established = try corrupt.handshake(token: Loopback.token) else {
            Issue.record("raw handshake failed"); return
        }
        var bad = corrupt.seal(.statsRequest, requestID: 1) + corrupt.seal(.goodbye(reason: "abc"), requestID: 0)
        // The last payload byte (the tag follows it): the CRC, checked before the tag, reports it.
        bad[bad.count - 1 - FrameFlags.authenticationTagByteCount] ^= 1
        try corrupt.send(bad)
        var checksumError = false
        while let reply = try corrupt.receive() {
            if case .error(let report) = try reply.message(), report.code == .checksumMismatch { checksumError = true }
        }
        #expect(checksumError)

        #expect(await Loopback.eventually {
            let closed = server.closed.all
            return closed.contains { $0.contains("larger than the limit") } && closed.contains { $0.contains("silent") }
                && closed.contains { $0.contains("checksum mismatch") }
        })
        // The bystander, idle all along, was kept alive by heartbeats and still works.
        #expect(bystander.closeReason == nil)
        #expect(try await bystander.request(.statsRequest) != .ok)
        await bystander.close()
    }

    /// A peer of protocol version 1 (frames not authenticated) is refused in a header of its own major, which
    /// a version-1 decoder accepts, with a reason it can print.
    @Test func aVersion1PeerGetsARefusalItCanRead() throws {
        let server = try Loopback.EchoServer()
        let peer = try RawPeer(server.address)
        let hello = FrameEncoder.encode(.hello(Hello(major: 1, minor: 0, role: .coordinator, name: "old",
                                                     nonce: freshNonce())), requestID: 0)
        try peer.send(FrameHeader.rewritingMajor(Array(hello[0..<32]), to: 1) + hello[32...])
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline {
            var poller = pollfd(fd: peer.socket.descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let count = chunk.withUnsafeMutableBytes { recv(peer.socket.descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        try #require(bytes.count > FrameHeader.byteCount)
        // Version 1's header checks: magic, major 1, header CRC, then the payload's length and CRC.
        #expect(Array(bytes[0..<4]) == Array("SWIR".utf8) && bytes[4] == 1)
        let word = { (at: Int) in (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << UInt32(8 * $1) } }
        #expect(word(28) == CRC32C.checksum(bytes: bytes[0..<28]))
        let length = Int(word(20))
        try #require(bytes.count >= FrameHeader.byteCount + length)
        let payload = bytes[FrameHeader.byteCount..<(FrameHeader.byteCount + length)]
        #expect(word(24) == CRC32C.checksum(bytes: payload))
        let kind = UInt16(bytes[6]) | UInt16(bytes[7]) << 8
        guard case .reject(let report) = try Message.decode(kind: kind, payload: payload) else {
            Issue.record("not a reject: kind \(kind)"); return
        }
        #expect(report.code == .unsupportedVersion)
        #expect(report.message.contains("protocol version 1.0 is not supported: this peer speaks 2.x"))
    }

    @Test func unknownKindGetsAnErrorAndTheConnectionStays() async throws {
        // The raw peer sends no heartbeats: a 0.6 s silence limit could close it before the reply under load.
        let server = try Loopback.EchoServer(deadAfterSeconds: 10)
        let peer = try RawPeer(server.address)
        guard case .established = try peer.handshake(token: Loopback.token) else { Issue.record("handshake"); return }
        try peer.send(peer.seal(kind: 4000, requestID: 7, segments: [[1, 2, 3]]))
        let reply = try #require(try peer.receive())
        #expect(reply.requestID == 7)
        #expect(try reply.message() == .error(ErrorReport(code: .unknownKind, message: "unknown message kind 4000")))
        try peer.send(.statsRequest, requestID: 9)
        var answered = false
        while let frame = try peer.receive(seconds: 10) {
            if frame.requestID == 9, case .stats = try frame.message() { answered = true; break }
        }
        #expect(answered)
    }

    @Test func silentPeerIsDeclaredDeadInTime() async throws {
        // A client that completes the handshake and then never answers (as if SIGSTOPped).
        let server = try Loopback.EchoServer()
        let peer = try RawPeer(server.address)
        guard case .established = try peer.handshake(token: Loopback.token) else { Issue.record("handshake"); return }
        let start = Date()
        #expect(await Loopback.eventually(3) { server.closed.all.contains { $0.contains("silent") } })
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.5 && elapsed < 1.5, "declared dead after \(elapsed) s with deadAfter 0.6 s")
        _ = peer
    }

    @Test func clientSideDetectsADeadServer() async throws {
        // The server end is a raw socket that accepts and answers the handshake, then goes silent.
        let listener = try WireServer.listen(on: "127.0.0.1:0", options: {
            var options = ServerOptions(connection: Loopback.options(.worker, "w"))
            options.connection.heartbeatIntervalSeconds = 100  // the server itself sends no heartbeats
            return options
        }())
        let accepted = Task { () -> WireConnection? in
            for await connection in listener.connections { return connection }
            return nil
        }
        let connection = try await WireConnection.connect(to: listener.address.description,
                                                          options: Loopback.options(.coordinator, "c"))
        let serverSide = await accepted.value
        // Stop the server side from reading or writing anything, without closing the socket.
        serverSide?.core.socket.shutdownWrite()
        let reason = await connection.waitUntilClosed()
        guard case .closed = reason else {
            guard case .peerSilent = reason else { Issue.record("unexpected end: \(reason)"); return }
            return
        }
        listener.stop()
    }

    @Test func listenPolicyAndIPv6() async throws {
        var options = ServerOptions(connection: Loopback.options(.coordinator, "c", token: nil))
        #expect(throws: TransportError.insecureListen(address: "0.0.0.0:0")) {
            try WireServer.listen(on: "0.0.0.0:0", options: options)
        }
        #expect("\(TransportError.insecureListen(address: "0.0.0.0:0"))".contains("--insecure"))
        options.insecure = true
        let insecure = try WireServer.listen(on: "0.0.0.0:0", options: options)
        insecure.stop()
        var withToken = ServerOptions(connection: Loopback.options(.coordinator, "c"))
        withToken.insecure = false
        let tokened = try WireServer.listen(on: "0.0.0.0:0", options: withToken)
        tokened.stop()
        // IPv6 loopback, when the machine has it.
        guard let server = try? Loopback.EchoServer(host: "[::1]") else { return }
        #expect(server.address.hasPrefix("[::1]:"))
        let connection = try await WireConnection.connect(to: server.address, options: Loopback.options(.client, "v6"))
        #expect(try await connection.request(.releaseJob(JobReference(jobID: "j"))) == .ok)
        await connection.close()
    }

    @Test func addressParsing() throws {
        #expect(try SocketAddress.split("127.0.0.1:7700") == ("127.0.0.1", 7700))
        #expect(try SocketAddress.split("[::1]:80") == ("::1", 80))
        #expect(throws: TransportError.self) { try SocketAddress.split("::1:80") }
        #expect(throws: TransportError.self) { try SocketAddress.split("host:99999") }
        #expect(throws: TransportError.self) { try SocketAddress.split("host") }
        #expect(try SocketAddress.resolve("127.0.0.1:1")[0].isLoopback)
        #expect(try !SocketAddress.resolve("10.1.2.3:1")[0].isLoopback)
    }
}
