// An authenticated connection usable from Swift concurrency: its own reader and writer threads, requests
// matched by id, heartbeats, and a clean close.
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An open, authenticated connection to a peer.
///
/// Blocking socket work runs on two threads owned by the connection (one reads, one writes), so `async`
/// callers never block the cooperative pool. Several requests may be in flight; replies are matched by
/// request id (the connecting side uses odd ids, the accepting side even ones). Anything else the peer
/// sends arrives on `incoming`. Heartbeats are sent and checked automatically; a peer silent for
/// `deadAfterSeconds` ends the connection with `TransportError.peerSilent`.
public final class WireConnection: Sendable {
    /// What the handshake learned about the peer.
    public let session: HandshakeSession
    /// The peer's address.
    public let peerAddress: String
    /// Requests and notifications from the peer, in arrival order; ends when the connection closes.
    public let incoming: IncomingMessages
    let core: ConnectionCore

    init(session: HandshakeSession, socket: SocketHandle, reader: FrameReader, options: ConnectionOptions,
         initiator: Bool) {
        self.session = session
        self.peerAddress = socket.peerDescription
        let (stream, continuation) = AsyncStream<IncomingMessage>.makeStream()
        core = ConnectionCore(socket: socket, options: options, session: session, initiator: initiator,
                              incoming: continuation)
        incoming = IncomingMessages(stream: stream, core: core)
        core.start(reader: HandOver(reader))
    }

    /// Connects to `address` ("host:port" or "[v6]:port"), runs the handshake, and returns the open connection.
    public static func connect(to address: String, options: ConnectionOptions) async throws -> WireConnection {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<WireConnection, Error>) in
            Thread.detachNewThread {
                do {
                    let addresses = try SocketAddress.resolve(address)
                    let socket = try SocketHandle.connect(to: addresses, text: address,
                                                          timeoutSeconds: options.connectTimeoutSeconds,
                                                          options: options.socket)
                    var handshake = ClientHandshake(
                        token: options.token?.bytes, role: options.role, name: options.name, nonce: freshNonce(),
                        maxPayloadBytes: UInt64(options.maxPayloadBytes))
                    let reader = handshakeReader(socket: socket, options: options)
                    let session = try runHandshake(socket: socket, reader: reader, first: handshake.start()) {
                        handshake.receive($0)
                    }
                    continuation.resume(returning: WireConnection(session: session, socket: socket, reader: reader, options: options,
                                                                  initiator: true))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    // MARK: - Sending

    /// Sends `message` as a request and waits for the reply. An `error` reply throws `TransportError.remote`.
    public func request(_ message: Message, timeoutSeconds: Double? = nil) async throws -> Message {
        let id = core.allocateRequestID()
        let reply = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Message, Error>) in
                guard core.register(id, .single(continuation)) else { return }
                core.enqueue(.frame(message, requestID: id) { [core] error in
                    if let error { core.failPending(id, error) }
                })
                if let timeoutSeconds { core.scheduleTimeout(id, seconds: timeoutSeconds, what: "\(message.kind) request") }
            }
        } onCancel: {
            core.failPending(id, CancellationError())
        }
        if case .error(let report) = reply { throw TransportError.remote(report) }
        return reply
    }

    /// Sends `message` as a request whose replies arrive as a stream (e.g. `watch` -> `progress` events); the
    /// stream ends after a final reply (any reply but a non-final `progress`), and throws on `error`.
    public func requestStream(_ message: Message) -> AsyncThrowingStream<Message, Error> {
        let id = core.allocateRequestID()
        let (stream, continuation) = AsyncThrowingStream<Message, Error>.makeStream()
        if core.register(id, .stream(continuation)) {
            core.enqueue(.frame(message, requestID: id) { [core] error in
                if let error { core.failPending(id, error) }
            })
        }
        continuation.onTermination = { [core] termination in
            if case .cancelled = termination { core.failPending(id, CancellationError()) }
        }
        return stream
    }

    /// Sends a notification (request id 0) or a frame with a given id, and waits until it is written.
    public func send(_ message: Message, requestID: UInt64 = 0) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            core.enqueue(.frame(message, requestID: requestID) { error in
                if let error { continuation.resume(throwing: error) } else { continuation.resume() }
            })
        }
    }

    /// Answers a request from the peer.
    ///
    /// A message that came with request id 0 is a notification: it has no reply, and nothing is sent (a frame
    /// with id 0 would reach the peer as an unsolicited message it never asked for).
    public func reply(to request: IncomingMessage, with message: Message) async throws {
        guard request.requestID != 0 else { return }
        try await send(message, requestID: request.requestID)
    }

    // MARK: - Closing

    /// Says goodbye, lets queued frames go out, waits for the peer to close its side (at most the dead-peer
    /// time), and returns how the connection ended.
    @discardableResult
    public func close(reason: String = "done") async -> TransportError {
        core.beginClose(reason: reason)
        return await core.waitUntilClosed()
    }

    /// Ends the connection at once, without a goodbye (tests, fatal errors).
    public func abort(reason: String) {
        core.finalize(.closed(reason: "aborted: \(reason)"), farewell: nil)
    }

    /// Waits until the connection has ended and returns why.
    public func waitUntilClosed() async -> TransportError { await core.waitUntilClosed() }

    /// Why the connection ended, or nil while it is open.
    public var closeReason: TransportError? { core.closeReason }

    /// The last measured heartbeat round-trip time in nanoseconds (0 before the first ack).
    public var lastRoundTripNanoseconds: UInt64 { core.lastRoundTripNanoseconds }
}

/// The messages the peer sends us that are not replies; consuming one lets the reader take in more.
public struct IncomingMessages: AsyncSequence, Sendable {
    public typealias Element = IncomingMessage
    let stream: AsyncStream<IncomingMessage>
    let core: ConnectionCore

    /// Iterates over incoming messages.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<IncomingMessage>.AsyncIterator
        let core: ConnectionCore

        /// The next message, or nil once the connection has closed.
        public mutating func next() async -> IncomingMessage? {
            let element = await base.next()
            if element != nil { core.consumedIncoming() }
            return element
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), core: core)
    }
}

// MARK: - Handshake over a blocking socket

/// 32 bytes from the system's secure random source.
func freshNonce() -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<WireLimits.nonceBytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

/// A reader whose waits end at the handshake deadline.
func handshakeReader(socket: SocketHandle, options: ConnectionOptions) -> FrameReader {
    let deadline = monotonicNanoseconds() + UInt64(options.handshakeTimeoutSeconds * 1e9)
    let seconds = options.handshakeTimeoutSeconds
    let reader = FrameReader(source: socket, maxPayloadBytes: 64 << 10, onBytes: { _ in })
    reader.wait = { () throws(TransportError) in
        while true {
            let now = monotonicNanoseconds()
            guard now < deadline else { throw .timedOut(what: "handshake with \(socket.peerDescription)", seconds: seconds) }
            var poller = pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(1000, (deadline - now) / 1_000_000 + 1)))
            if ready > 0 { return }
        }
    }
    return reader
}

/// Carries out handshake actions until the session is established or fails.
func runHandshake(socket: SocketHandle, reader: FrameReader, first: [HandshakeAction],
                  next: (Message) -> [HandshakeAction]) throws(TransportError) -> HandshakeSession {
    var actions = first
    while true {
        for action in actions {
            switch action {
            case .send(let message):
                let frame = OutgoingFrame(message, requestID: 0)
                try socket.writeAll([frame.header[...]] + frame.segments)
            case .established(let session): return session
            case .fail(let failure): throw .handshake(failure)
            }
        }
        guard let frame = try reader.readFrame() else {
            throw .closed(reason: "\(socket.peerDescription) closed the connection during the handshake")
        }
        let message: Message
        do { message = try frame.message() } catch { throw .message(error) }
        actions = next(message)
    }
}

/// Moves a non-Sendable value to exactly one other thread.
///
/// Safe because each use hands a value created on one thread to the thread it starts and the creating
/// thread never touches it again (`WireConnection.init` gives the handshake's `FrameReader` to the reader
/// thread and drops its own reference).
struct HandOver<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
