// Helpers for loopback tests: an echo server and a raw peer that can speak or break the protocol.
import Foundation
import Testing
@testable import Wire

enum Loopback {
    static let token = ClusterToken(bytes: [UInt8](repeating: 0x5A, count: 32))

    static func options(
        _ role: PeerRole, _ name: String, token: ClusterToken? = Loopback.token, deadAfterSeconds: Double = 0.6
    ) -> ConnectionOptions {
        var options = ConnectionOptions(role: role, name: name, token: token)
        options.heartbeatIntervalSeconds = 0.1
        options.deadAfterSeconds = deadAfterSeconds
        options.handshakeTimeoutSeconds = 1
        return options
    }

    /// A server on 127.0.0.1 (free port) answering: statsRequest -> stats echoing the request id,
    /// forward -> forwardResult with the same tensors, watch -> three progress events, jobStatusRequest
    /// "silent" -> nothing, anything else -> ok. `closed` collects how its connections ended.
    final class EchoServer: Sendable {
        let server: WireServer
        let events = EventLog()
        let closed = EventLog()
        let accepted = EventLog()

        /// `deadAfterSeconds` is short by default so silence tests run fast; a test whose raw peer never sends
        /// heartbeats but must stay connected under load passes a longer one.
        init(token: ClusterToken? = Loopback.token, host: String = "127.0.0.1", deadAfterSeconds: Double = 0.6) throws {
            var serverOptions = ServerOptions(
                connection: Loopback.options(.worker, "echo", token: token, deadAfterSeconds: deadAfterSeconds))
            let events = self.events
            serverOptions.onEvent = { events.append($0) }
            server = try WireServer.listen(on: "\(host):0", options: serverOptions)
            let closed = self.closed
            let accepted = self.accepted
            let connections = server.connections
            Task.detached {
                for await connection in connections {
                    accepted.append(connection.session.peerName)
                    Task.detached {
                        for await request in connection.incoming {
                            await EchoServer.answer(request, on: connection)
                        }
                        closed.append("\(await connection.waitUntilClosed())")
                    }
                }
            }
        }

        var address: String { server.address.description }

        static func answer(_ request: IncomingMessage, on connection: WireConnection) async {
            switch request.message {
            case .statsRequest:
                try? await connection.reply(to: request, with: .stats(Stats(entries: [("id", Double(request.requestID))])))
            case .forward(let forward):
                try? await connection.reply(to: request, with: .forwardResult(ForwardResult(
                    key: forward.key, computeNanoseconds: 1, tensors: forward.tensors)))
            case .watch(let job):
                for sequence in 0..<3 {
                    try? await connection.reply(to: request, with: .progress(Progress(
                        jobID: job.jobID, sequence: UInt64(sequence), isFinal: sequence == 2, eventJSON: [])))
                }
            case .jobStatusRequest(let job) where job.jobID == "silent":
                break
            case .jobStatusRequest(let job) where job.jobID == "fail":
                try? await connection.reply(to: request, with: .error(ErrorReport(code: .notFound, message: "no job fail")))
            default:
                if request.requestID != 0 { try? await connection.reply(to: request, with: .ok) }
            }
        }

        deinit { server.stop() }
    }

    /// A thread-safe list of strings.
    final class EventLog: Sendable {
        private let items = Mutex<[String]>([])
        func append(_ item: String) { items.withLock { $0.append(item) } }
        var all: [String] { items.withLock { $0 } }
    }

    /// Waits up to `seconds` for `condition`.
    static func eventually(_ seconds: Double = 5, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return condition()
    }
}

import Synchronization

/// A peer driven by the test byte by byte: it can do a real handshake, then misbehave.
final class RawPeer {
    let socket: SocketHandle
    var decoder = FrameDecoder()
    /// The session keys once `handshake` established one with a token.
    private(set) var keys: SessionKeys?
    /// Seals what `send(_ message:)` and `seal` produce after an authenticated handshake.
    private var sender: FrameAuthenticator?

    init(_ address: String) throws {
        socket = try SocketHandle.connect(to: try SocketAddress.resolve(address), text: address, timeoutSeconds: 2,
                                          options: SocketOptions())
    }

    func send(_ bytes: [UInt8]) throws { try socket.writeAll([bytes[...]]) }

    func send(_ message: Message, requestID: UInt64 = 0) throws {
        try send(seal(message, requestID: requestID))
    }

    /// The frame for `message`, sealed with our next sequence number after an authenticated handshake.
    func seal(_ message: Message, requestID: UInt64 = 0, placement: PayloadChecksumPlacement = .header) -> [UInt8] {
        var writer = PayloadWriter()
        message.encode(into: &writer)
        return seal(kind: message.kind.rawValue, requestID: requestID, segments: writer.finish(), placement: placement)
    }

    /// A frame of any kind number with raw payload segments, sealed like `seal(_:)`.
    func seal(kind: UInt16, requestID: UInt64, segments: [ArraySlice<UInt8>],
              placement: PayloadChecksumPlacement = .header) -> [UInt8] {
        let frame = OutgoingFrame(kind: kind, requestID: requestID, segments: segments, placement: placement,
                                  flags: sender == nil ? [] : .authenticated)
        return frame.sealed(&sender)
    }

    /// The next frame, or nil at end of stream or after `seconds` with nothing.
    func receive(seconds: Double = 2) throws -> Frame? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let frame = try decoder.next() { return frame }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return nil }
            var poller = pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0)
            // Signals (SIGCHLD from the cluster suites' child processes) interrupt poll and recv: retry.
            let ready = poll(&poller, 1, Int32(remaining * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return nil }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(socket.descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return nil }
            decoder.append(contentsOf: chunk[0..<count])
        }
    }

    /// Reads until end of stream (true) or `seconds` pass (false), skipping frames.
    func waitForEndOfStream(seconds: Double = 3) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var chunk = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            var poller = pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let count = chunk.withUnsafeMutableBytes { recv(socket.descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return true }
        }
        return false
    }

    /// Runs the real client handshake with `token`, announcing `maxPayloadBytes` as our payload limit.
    func handshake(token: ClusterToken?, maxPayloadBytes: UInt64 = 1 << 20) throws -> HandshakeAction? {
        var machine = ClientHandshake(token: token?.bytes, role: .coordinator, name: "raw",
                                      nonce: freshNonce(), maxPayloadBytes: maxPayloadBytes)
        var actions = machine.start()
        while true {
            for action in actions {
                switch action {
                case .send(let message): try send(message)
                case .established(let session):
                    // From here on our frames are sealed and the server's are checked.
                    if let keys = session.keys {
                        self.keys = keys
                        sender = FrameAuthenticator(key: keys.sending)
                        decoder.authenticate(with: keys.receiving)
                    }
                    return action
                default: return action
                }
            }
            guard let frame = try receive() else { return nil }
            actions = machine.receive(try frame.message())
        }
    }
}
