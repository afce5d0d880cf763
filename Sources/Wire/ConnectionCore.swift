// The shared state of a connection and its reader and writer threads.
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A request waiting for its reply.
enum PendingReply: Sendable {
    /// `request`: one reply resumes the caller.
    case single(CheckedContinuation<Message, Error>)
    /// `requestStream`: replies are yielded until a final one.
    case stream(AsyncThrowingStream<Message, Error>.Continuation)
}

/// Work for the writer thread.
enum WriteItem: Sendable {
    /// Encode and send a frame, then report the outcome.
    case frame(Message, requestID: UInt64, completion: (@Sendable (TransportError?) -> Void)?)
    /// Stop sending: shut down our direction of the socket.
    case shutdownWrite
}

/// The connection's threads and the state they share (everything mutable is behind one mutex).
final class ConnectionCore: Sendable {
    let socket: SocketHandle
    let options: ConnectionOptions
    let session: HandshakeSession
    private let incoming: AsyncStream<IncomingMessage>.Continuation
    private let writerWakeup = DispatchSemaphore(value: 0)
    private let consumerWakeup = DispatchSemaphore(value: 0)
    private let initiator: Bool
    private let state: Mutex<State>

    struct State: ~Copyable {
        var pending: [UInt64: PendingReply] = [:]
        var cancelledEarly: Set<UInt64> = []
        var nextRequestID: UInt64
        var queue: [WriteItem] = []
        var queueHead = 0
        var closing = false
        var writeShut = false
        /// A frame is being written (by the writer thread or directly by the thread that queued it).
        var writerBusy = false
        /// The rest of a frame a caller began writing directly, for the writer thread to finish.
        var handoff: FrameTransmission?
        var farewell: Message?
        var closed: TransportError?
        var peerGoodbye: String?
        var monitor: HeartbeatMonitor
        var bufferedIncoming = 0
        var closeWaiters: [CheckedContinuation<TransportError, Never>] = []
        var lastRoundTrip: UInt64 = 0
        /// Seals our frames on an authenticated session; frames take its sequence numbers in the order they
        /// go on the wire (only the one thread holding `writerBusy`, or the farewell, makes a transmission).
        var sendAuthenticator: FrameAuthenticator?
    }

    init(socket: SocketHandle, options: ConnectionOptions, session: HandshakeSession, initiator: Bool,
         incoming: AsyncStream<IncomingMessage>.Continuation) {
        self.socket = socket
        self.options = options
        self.session = session
        self.initiator = initiator
        self.incoming = incoming
        let interval = UInt64(max(0.01, options.heartbeatIntervalSeconds) * 1e9)
        let dead = UInt64(max(0.02, options.deadAfterSeconds) * 1e9)
        state = Mutex(State(
            nextRequestID: initiator ? 1 : 2,
            monitor: HeartbeatMonitor(intervalNanoseconds: interval, deadAfterNanoseconds: dead,
                                      now: monotonicNanoseconds()),
            sendAuthenticator: session.keys.map { FrameAuthenticator(key: $0.sending) }))
    }

    func start(reader: HandOver<FrameReader>) {
        Thread.detachNewThread { [self] in runWriter() }
        Thread.detachNewThread { [self] in runReader(reader.value) }
    }

    // MARK: - Requests

    func allocateRequestID() -> UInt64 {
        state.withLock { state in
            let id = state.nextRequestID
            state.nextRequestID &+= 2
            return id
        }
    }

    func isOurs(_ id: UInt64) -> Bool { id != 0 && (id & 1 == 1) == initiator }

    /// Registers a pending reply; false (and the pending already failed) if the connection is closed.
    func register(_ id: UInt64, _ pending: PendingReply) -> Bool {
        let failure: Error? = state.withLock { state in
            if state.cancelledEarly.remove(id) != nil { return CancellationError() }
            if let closed = state.closed { return closed }
            state.pending[id] = pending
            return nil
        }
        if let failure { PendingReplyOps.fail(pending, failure); return false }
        return true
    }

    func failPending(_ id: UInt64, _ error: Error) {
        let pending: PendingReply? = state.withLock { state in
            guard let pending = state.pending.removeValue(forKey: id) else {
                if error is CancellationError { state.cancelledEarly.insert(id) }
                return nil
            }
            return pending
        }
        if let pending { PendingReplyOps.fail(pending, error) }
    }

    func scheduleTimeout(_ id: UInt64, seconds: Double, what: String) {
        Task.detached { [self] in
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            failPending(id, TransportError.timedOut(what: what, seconds: seconds))
        }
    }

    var closeReason: TransportError? { state.withLock { $0.closed } }
    var lastRoundTripNanoseconds: UInt64 { state.withLock { $0.lastRoundTrip } }

    // MARK: - Writing

    /// Frames written straight from the thread that queues them send at most this many bytes there
    /// before the writer thread takes over the rest.
    static let directWriteBudgetBytes = 4 << 20

    /// Queues `item`, or writes a frame at once from this thread when nothing else is being written.
    ///
    /// The direct write never waits: it sends what the socket takes (at most `directWriteBudgetBytes`) and
    /// hands the rest of the frame to the writer thread, so a caller on the cooperative pool is never blocked
    /// by a slow peer. Frames go out in the order they were queued: the direct path is taken only when no frame
    /// is being written and none is queued, and while it runs `writerBusy` holds every later frame back.
    func enqueue(_ item: WriteItem) {
        enum Route { case refused(TransportError), queued, direct }
        let route: Route = state.withLock { state in
            if let closed = state.closed { return .refused(closed) }
            if case .frame(let message, _, _) = item, state.closing || state.writeShut,
               message.kind != .goodbye && message.kind != .error {
                return .refused(.closed(reason: "the connection is closing"))
            }
            state.monitor.sent(at: monotonicNanoseconds())
            if case .frame = item, !state.writerBusy, state.queueHead == state.queue.count, !state.closing,
               !state.writeShut {
                state.writerBusy = true
                return .direct
            }
            state.queue.append(item)
            return .queued
        }
        switch route {
        case .refused(let error):
            if case .frame(_, _, let completion) = item { completion?(error) }
        case .queued:
            writerWakeup.signal()
        case .direct:
            guard case .frame(let message, let requestID, let completion) = item else { return }
            guard var transmission = makeTransmission(message, requestID: requestID, completion: completion) else {
                return
            }
            do {
                let budget = ConnectionCore.directWriteBudgetBytes
                if try transmission.write(to: socket, wait: false, budgetBytes: budget) {
                    finishWrite(transmission, failure: nil)
                } else {
                    state.withLock { $0.handoff = transmission }
                    writerWakeup.signal()
                }
            } catch {
                finishWrite(transmission, failure: error)
            }
        }
    }

    /// The frame for `message` ready to write, or nil (and the completion told, `writerBusy` released) when
    /// it is above the peer's payload limit.
    private func makeTransmission(_ message: Message, requestID: UInt64,
                                  completion: (@Sendable (TransportError?) -> Void)?) -> FrameTransmission? {
        let frame = makeFrame(message, requestID: requestID)
        let payloadBytes = frame.payloadByteCount
        guard UInt64(payloadBytes) <= session.peerMaxPayloadBytes else {
            releaseWriter()
            completion?(.messageTooLarge(bytes: payloadBytes, peerLimit: session.peerMaxPayloadBytes))
            return nil
        }
        return state.withLock { state in
            FrameTransmission(frame, requestID: requestID, authenticator: &state.sendAuthenticator,
                              completion: completion)
        }
    }

    /// Ends a frame's write: frees the writer, reports the outcome, and closes the connection if the socket
    /// failed.
    private func finishWrite(_ transmission: FrameTransmission, failure: TransportError?) {
        releaseWriter()
        transmission.completion?(failure)
        if let failure { finalize(failure, farewell: nil) }
    }

    /// Clears `writerBusy`; wakes the writer thread if frames waited meanwhile or the connection closed.
    private func releaseWriter() {
        let wake = state.withLock { state in
            state.writerBusy = false
            return state.queueHead < state.queue.count || state.closed != nil
        }
        if wake { writerWakeup.signal() }
    }

    private func runWriter() {
        while true {
            enum Next {
                case resume(FrameTransmission), item(WriteItem)
                case farewell(Message?, leftovers: [WriteItem], reason: TransportError), idle
            }
            let next: Next = state.withLock { state in
                // A frame a caller started and could not finish comes first (`writerBusy` is still set).
                if let handoff = state.handoff {
                    state.handoff = nil
                    return .resume(handoff)
                }
                // A caller is writing a frame directly; it wakes us when it is done.
                if state.writerBusy { return .idle }
                if let closed = state.closed {
                    let leftovers = Array(state.queue[state.queueHead...])
                    state.queue = []
                    state.queueHead = 0
                    return .farewell(state.farewell, leftovers: leftovers, reason: closed)
                }
                guard state.queueHead < state.queue.count else { return .idle }
                let item = state.queue[state.queueHead]
                state.queueHead += 1
                if state.queueHead > 64 && state.queueHead * 2 > state.queue.count {
                    state.queue.removeFirst(state.queueHead)
                    state.queueHead = 0
                }
                state.writerBusy = true
                return .item(item)
            }
            switch next {
            case .idle:
                writerWakeup.wait()
            case .farewell(let message, let leftovers, let reason):
                for case .frame(_, _, let completion) in leftovers { completion?(reason) }
                if let message {
                    var transmission = state.withLock { state in
                        FrameTransmission(makeFrame(message, requestID: 0), requestID: 0,
                                          authenticator: &state.sendAuthenticator, completion: nil)
                    }
                    _ = try? transmission.write(to: socket, wait: true)
                }
                socket.shutdownBoth()
                return
            case .item(.shutdownWrite):
                state.withLock { $0.writeShut = true; $0.writerBusy = false }
                socket.shutdownWrite()
            case .item(.frame(let message, let requestID, let completion)):
                guard let transmission = makeTransmission(message, requestID: requestID, completion: completion) else {
                    continue
                }
                if state.withLock({ $0.writeShut }) {
                    finishWrite(transmission, failure: .closed(reason: "the connection is closing"))
                } else {
                    writeWaiting(transmission)
                }
            case .resume(let transmission):
                writeWaiting(transmission)
            }
        }
    }

    /// Writes the rest of a frame from the writer thread, waiting for room in the socket as long as needed.
    private func writeWaiting(_ transmission: FrameTransmission) {
        var transmission = transmission
        do {
            _ = try transmission.write(to: socket, wait: true)
            finishWrite(transmission, failure: nil)
        } catch {
            finishWrite(transmission, failure: error)
        }
    }

    /// Payloads at least this large carry their checksum in a trailer, computed piece by piece as they are
    /// sent, so each piece is read from memory once, while it is in cache, instead of twice.
    static let trailerThresholdBytes = 1 << 20

    /// The frame for `message`: checksummed as the options say, flagged `authenticated` on a session with keys.
    private func makeFrame(_ message: Message, requestID: UInt64) -> OutgoingFrame {
        var writer = PayloadWriter()
        message.encode(into: &writer)
        let segments = writer.finish()
        let length = segments.reduce(0) { $0 + $1.count }
        let placement: PayloadChecksumPlacement = !options.payloadChecksums ? .none
            : length >= ConnectionCore.trailerThresholdBytes ? .trailer : .header
        return OutgoingFrame(kind: message.kind.rawValue, requestID: requestID, segments: segments,
                             placement: placement, flags: session.keys == nil ? [] : .authenticated)
    }

    // MARK: - Reading

    private func runReader(_ reader: FrameReader) {
        reader.maxPayloadBytes = options.maxPayloadBytes
        if let keys = session.keys { reader.authenticate(with: keys.receiving) }
        // The heartbeat tick also runs here, not only in `waitReadable`: in the middle of a payload the reader
        // receives without polling while bytes keep coming, and our heartbeats must still go out.
        reader.onBytes = { [self] _ in
            let now = monotonicNanoseconds()
            let actions = state.withLock { state in
                state.monitor.received(at: now)
                return state.monitor.tick(at: now)
            }
            for case .sendHeartbeat(let beat) in actions { sendHeartbeat(beat) }
        }
        reader.wait = { [self] () throws(TransportError) in try waitReadable() }
        while true {
            do {
                guard let frame = try reader.readFrame() else {
                    let reason = state.withLock { state -> TransportError in
                        if let goodbye = state.peerGoodbye { return .closed(reason: "peer said goodbye: \(goodbye)") }
                        if state.closing { return .closed(reason: "closed by us") }
                        return .closed(reason: "peer closed the connection")
                    }
                    finalize(reason, farewell: nil)
                    return
                }
                try handle(frame)
            } catch {
                let farewell: Message?
                switch error {
                case .frame(let frameError): farewell = .error(ErrorReport(code: frameError.code, message: "\(frameError)"))
                case .message(let messageError):
                    farewell = .error(ErrorReport(code: messageError.code, message: "\(messageError)"))
                case .peerSilent:
                    farewell = .goodbye(reason: "no bytes from you for \(options.deadAfterSeconds) s")
                default: farewell = nil
                }
                finalize(error, farewell: farewell)
                return
            }
        }
    }

    /// Polls in short slices, running heartbeat ticks, until the socket is readable.
    private func waitReadable() throws(TransportError) {
        let sliceMilliseconds = Int32(max(5, min(250, options.heartbeatIntervalSeconds * 250)))
        while true {
            if let closed = closeReason { throw closed }
            // Backpressure: while the application has too many unread messages, stop reading (and do not
            // count the peer's silence against it: its bytes are waiting in our socket buffer).
            let backlog = state.withLock { $0.bufferedIncoming >= options.maxBufferedIncomingMessages }
            var readable = false
            if !backlog {
                var poller = pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0)
                readable = poll(&poller, 1, sliceMilliseconds) > 0
            } else {
                _ = consumerWakeup.wait(timeout: .now() + .milliseconds(Int(sliceMilliseconds)))
            }
            // The tick runs even when bytes are waiting: a peer that streams to us while we send it nothing
            // (a last stage returning results, a coordinator sending progress events) must still get our
            // heartbeats, or it declares us dead after its dead-peer time.
            let now = monotonicNanoseconds()
            let actions = state.withLock { state in
                if backlog || readable { state.monitor.received(at: now) }
                return state.monitor.tick(at: now)
            }
            for action in actions {
                switch action {
                case .sendHeartbeat(let beat):
                    sendHeartbeat(beat)
                case .declareDead(let silent):
                    throw .peerSilent(seconds: Double(silent) / 1e9)
                }
            }
            if readable { return }
        }
    }

    private func sendHeartbeat(_ beat: Heartbeat) {
        guard !state.withLock({ $0.closing || $0.writeShut }) else { return }
        enqueue(.frame(.heartbeat(beat), requestID: 0, completion: nil))
    }

    private func handle(_ frame: Frame) throws(TransportError) {
        let message: Message
        do {
            message = try frame.message()
        } catch {
            if case .unknownKind(let kind) = error {
                // A newer peer's message we do not know: say so and carry on (the framing is intact).
                enqueue(.frame(.error(ErrorReport(code: .unknownKind, message: "unknown message kind \(kind)")),
                               requestID: frame.requestID, completion: nil))
                return
            }
            throw .message(error)
        }
        switch message {
        case .heartbeat(let beat):
            enqueue(.frame(.heartbeatAck(beat), requestID: 0, completion: nil))
            return
        case .heartbeatAck(let beat):
            let now = monotonicNanoseconds()
            state.withLock { $0.lastRoundTrip = now >= beat.sentAtNanoseconds ? now - beat.sentAtNanoseconds : 0 }
            return
        case .goodbye(let reason):
            state.withLock { $0.peerGoodbye = reason; $0.closing = true }
            enqueue(.shutdownWrite)
            return
        default: break
        }
        if isOurs(frame.requestID) {
            let pending: PendingReply? = state.withLock { state in
                guard let pending = state.pending[frame.requestID] else { return nil }
                if case .single = pending { state.pending[frame.requestID] = nil }
                if case .stream = pending, message.endsRequest { state.pending[frame.requestID] = nil }
                return pending
            }
            switch pending {
            case .single(let continuation): continuation.resume(returning: message)
            case .stream(let continuation):
                if case .error(let report) = message {
                    continuation.finish(throwing: TransportError.remote(report))
                } else {
                    continuation.yield(message)
                    if message.endsRequest { continuation.finish() }
                }
            case nil: break  // a reply to a request that was cancelled or timed out: dropped
            }
            return
        }
        state.withLock { $0.bufferedIncoming += 1 }
        incoming.yield(IncomingMessage(requestID: frame.requestID, message: message))
    }

    func consumedIncoming() {
        state.withLock { $0.bufferedIncoming = max(0, $0.bufferedIncoming - 1) }
        consumerWakeup.signal()
    }

    // MARK: - Closing

    func beginClose(reason: String) {
        let proceed = state.withLock { state -> Bool in
            guard state.closed == nil, !state.closing else { return false }
            state.closing = true  // from here only the goodbye (and error frames) may be queued
            return true
        }
        guard proceed else { return }
        enqueue(.frame(.goodbye(reason: reason), requestID: 0, completion: nil))
        enqueue(.shutdownWrite)
    }

    /// Ends the connection once: fails every pending request, ends `incoming`, wakes both threads.
    func finalize(_ reason: TransportError, farewell: Message?) {
        let outcome = state.withLock { state -> (pending: [PendingReply], waiters: [CheckedContinuation<TransportError, Never>], busy: Bool)? in
            guard state.closed == nil else { return nil }
            state.closed = reason
            state.farewell = state.writeShut ? nil : farewell
            let pending = Array(state.pending.values)
            state.pending = [:]
            let waiters = state.closeWaiters
            state.closeWaiters = []
            return (pending, waiters, state.writerBusy)
        }
        guard let outcome else { return }
        for pending in outcome.pending { PendingReplyOps.fail(pending, reason) }
        incoming.finish()
        // An idle writer sends the farewell and then shuts the socket. A busy one finishes its frame first,
        // then does the same; if it is stuck (the peer stopped reading), a deadline shuts the socket anyway.
        if farewell == nil {
            socket.shutdownBoth()
        } else if outcome.busy {
            let socket = self.socket
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(1)) { socket.shutdownBoth() }
        }
        writerWakeup.signal()
        consumerWakeup.signal()
        for waiter in outcome.waiters { waiter.resume(returning: reason) }
    }

    func waitUntilClosed() async -> TransportError {
        await withCheckedContinuation { (continuation: CheckedContinuation<TransportError, Never>) in
            let closed: TransportError? = state.withLock { state in
                if let closed = state.closed { return closed }
                state.closeWaiters.append(continuation)
                return nil
            }
            if let closed { continuation.resume(returning: closed) }
        }
    }
}

enum PendingReplyOps {
    static func fail(_ pending: PendingReply, _ error: Error) {
        switch pending {
        case .single(let continuation): continuation.resume(throwing: error)
        case .stream(let continuation): continuation.finish(throwing: error)
        }
    }
}
