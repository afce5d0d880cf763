// The connection's write path: frames written straight from the caller when the writer is idle, the rest
// handed to the writer thread; order, request matching, slow and stuck peers, and the trailer checksum.
import Foundation
import Synchronization
import Testing
@testable import Wire

@Suite(.timeLimit(.minutes(1)), .serialized) struct WritePathTests {
    /// A server that records, in arrival order, a label for each message (the job id of `jobStatusRequest`,
    /// "forward <elements>" for a forward) and answers every request with `ok`.
    final class RecordingServer: Sendable {
        let server: WireServer
        let arrivals = Loopback.EventLog()

        init(maxPayloadBytes: Int) throws {
            var options = ServerOptions(connection: Loopback.options(.worker, "recorder", deadAfterSeconds: 5))
            options.connection.maxPayloadBytes = maxPayloadBytes
            server = try WireServer.listen(on: "127.0.0.1:0", options: options)
            let arrivals = self.arrivals
            let connections = server.connections
            Task.detached {
                for await connection in connections {
                    Task.detached {
                        for await request in connection.incoming {
                            switch request.message {
                            case .jobStatusRequest(let job): arrivals.append(job.jobID)
                            case .forward(let forward):
                                arrivals.append("forward \(forward.tensors[0].tensor.elementCount)")
                            default: arrivals.append("\(request.message.kind)")
                            }
                            try? await connection.reply(to: request, with: .ok)
                        }
                    }
                }
            }
        }

        deinit { server.stop() }
    }

    /// A number shared between tasks and threads.
    final class Counter: Sendable {
        private let value = Mutex(0)
        func add(_ amount: Int) { value.withLock { $0 += amount } }
        var current: Int { value.withLock { $0 } }
    }

    /// The longest pause between ticks of a task that sleeps 1 ms per tick: long pauses mean the cooperative
    /// pool had no thread for it.
    final class TickGaps: Sendable {
        private let state = Mutex<(last: UInt64, longest: UInt64, ticks: Int)>((0, 0, 0))
        func tick() {
            let now = monotonicNanoseconds()
            state.withLock { state in
                if state.last > 0 { state.longest = max(state.longest, now - state.last) }
                state.last = now
                state.ticks += 1
            }
        }
        var longestMilliseconds: Double { Double(state.withLock { $0.longest }) / 1e6 }
        var ticks: Int { state.withLock { $0.ticks } }
    }

    static func forward(_ values: [Float], job: String = "j") throws -> Message {
        let tensor = try WireTensor(float32: values, shape: [values.count])
        return .forward(Forward(key: MicroBatchKey(jobID: job, step: 0, window: 0, branch: 0),
                                tensors: [NamedTensor(name: "x", tensor: tensor)]))
    }

    /// Eight tasks share one connection, each sending small requests and tensors of 256 KiB (checksum in the
    /// header) and 2 MiB (checksum in the trailer) back to back: every reply must come back to its own caller
    /// with its own data, whichever path (direct or writer thread) each frame took.
    @Test func concurrentRequestsFromManyTasksAllGetTheirOwnReplies() async throws {
        let server = try Loopback.EchoServer()
        var options = Loopback.options(.coordinator, "c", deadAfterSeconds: 5)
        options.maxPayloadBytes = 64 << 20
        let connection = try await WireConnection.connect(to: server.address, options: options)
        let replies = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for round in 0..<24 {
                        if round % 3 == 0 {
                            guard case .stats = try await connection.request(.statsRequest) else {
                                Issue.record("task \(task) round \(round): not stats")
                                continue
                            }
                        } else {
                            let count = round % 3 == 1 ? 64 << 10 : 512 << 10
                            let fill = Float(task * 100 + round)
                            let reply = try await connection.request(
                                try WritePathTests.forward([Float](repeating: fill, count: count)))
                            guard case .forwardResult(let result) = reply else {
                                Issue.record("task \(task) round \(round): not a forward result")
                                continue
                            }
                            let values = result.tensors[0].tensor.float32Values()
                            #expect(values.count == count && values.allSatisfy { $0 == fill },
                                    "task \(task) round \(round) got someone else's tensor")
                        }
                        replies.add(1)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(replies.current == 8 * 24)
        await connection.close()
    }

    /// Frames queued one after another by one task leave in that order, also when a 24 MiB frame in the
    /// middle is more than a direct write may send (it is handed to the writer thread and the small frames
    /// behind it must wait their turn).
    @Test func framesKeepTheirOrderBehindALargeFrame() async throws {
        let server = try RecordingServer(maxPayloadBytes: 64 << 20)
        var options = Loopback.options(.coordinator, "c", deadAfterSeconds: 5)
        options.maxPayloadBytes = 64 << 20
        let connection = try await WireConnection.connect(to: server.server.address.description, options: options)
        let large = try WritePathTests.forward([Float](repeating: 1, count: 6 << 20))
        var streams: [AsyncThrowingStream<Message, Error>] = []
        var expected: [String] = []
        for index in 0..<12 {
            if index == 4 {
                streams.append(connection.requestStream(large))
                expected.append("forward \(6 << 20)")
            }
            streams.append(connection.requestStream(.jobStatusRequest(JobID("\(index)"))))
            expected.append("\(index)")
        }
        for stream in streams {
            var replies: [Message] = []
            for try await reply in stream { replies.append(reply) }
            #expect(replies == [.ok])
        }
        #expect(server.arrivals.all == expected)
        await connection.close()
    }

    /// A server-side connection to a `RawPeer` that announced a 64 MiB payload limit.
    static func connectionToRawPeer() async throws -> (WireServer, WireConnection, RawPeer) {
        var serverOptions = ServerOptions(connection: Loopback.options(.worker, "sender", deadAfterSeconds: 10))
        serverOptions.connection.maxPayloadBytes = 64 << 20
        let server = try WireServer.listen(on: "127.0.0.1:0", options: serverOptions)
        let peer = try RawPeer(server.address.description)
        let outcome = try peer.handshake(token: Loopback.token, maxPayloadBytes: 64 << 20)
        guard case .established = outcome else {
            throw TransportError.closed(reason: "handshake failed: \(String(describing: outcome))")
        }
        var iterator = server.connections.makeAsyncIterator()
        guard let connection = await iterator.next() else { throw TransportError.closed(reason: "no connection") }
        return (server, connection, peer)
    }

    /// Reads from `descriptor` 256 KiB every 4 ms until a `forward` frame is complete, on a thread of its own;
    /// returns the frame and how many bytes had been read when `sent` first became nonzero (nil: never).
    static func readSlowly(_ descriptor: Int32, key: [UInt8], sent: Counter) async -> (Frame?, Int?) {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var decoder = FrameDecoder(maxPayloadBytes: 64 << 20)
                decoder.authenticate(with: key)  // the frames after the peer's authenticated handshake
                var chunk = [UInt8](repeating: 0, count: 256 << 10)
                var frame: Frame?
                var total = 0
                var readWhenSent: Int?
                while frame == nil {
                    usleep(4000)
                    let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    if readWhenSent == nil && sent.current > 0 { readWhenSent = total }
                    total += count
                    decoder.append(contentsOf: chunk[0..<count])
                    // Heartbeats may come before the large frame; skip them.
                    while let next = try? decoder.next() {
                        if next.header.kind == MessageKind.forward.rawValue { frame = next; break }
                    }
                }
                continuation.resume(returning: (frame, readWhenSent))
            }
        }
    }

    /// 32 MiB frames to peers that read 256 KiB every 4 ms, one per core (at least two): each `send` returns
    /// only once its peer has read all but what the socket buffers hold, every frame arrives whole with a valid
    /// trailer checksum, and a 1 ms ticker on the cooperative pool never pauses for long meanwhile. (Linux's
    /// dispatch pool adds threads when its threads block, so the ticker alone cannot prove that senders do not
    /// block; `aDirectWriteNeverWaitsForThePeer` does.)
    @Test func largeFramesGoOutWhileThePeersReadSlowly() async throws {
        let senders = min(4, max(2, ProcessInfo.processInfo.activeProcessorCount))
        var generator = SplitMix64(seed: 21)
        let values = (0..<(8 << 20)).map { _ in Float.random(in: -1...1, using: &generator) }
        let message = try WritePathTests.forward(values, job: "slow")
        var links: [(WireServer, WireConnection, RawPeer)] = []
        for _ in 0..<senders { links.append(try await WritePathTests.connectionToRawPeer()) }
        let gaps = TickGaps()
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 1_000_000)
                gaps.tick()
            }
        }
        try await withThrowingTaskGroup(of: (Frame?, Int?).self) { group in
            for (_, connection, peer) in links {
                let sent = Counter()
                let descriptor = peer.socket.descriptor
                let key = peer.keys?.receiving ?? []
                group.addTask {
                    try await connection.send(message)
                    sent.add(1)
                    return (nil, nil)
                }
                group.addTask { await WritePathTests.readSlowly(descriptor, key: key, sent: sent) }
            }
            var frames = 0
            for try await (frame, readWhenSent) in group {
                guard let frame else { continue }
                frames += 1
                #expect(frame.header.trailerByteCount == 4, "a 32 MiB payload carries its checksum in a trailer")
                guard case .forward(let forward) = try frame.message() else { Issue.record("not a forward"); continue }
                #expect(forward.tensors[0].tensor.float32Values() == values)
                // The socket buffers hold at most about 16 MiB here, so `send` cannot have returned before the
                // peer read half of the frame (nil: it returned after the peer's last read).
                #expect((readWhenSent ?? Int.max) >= 8 << 20,
                        "send returned when the peer had read \(readWhenSent ?? 0) bytes")
            }
            #expect(frames == senders)
        }
        ticker.cancel()
        // The pool kept running while the frames crawled out (128 reads, 4 ms apart, the first 64 or more
        // of them before any send could finish).
        #expect(gaps.ticks >= 20 && gaps.longestMilliseconds < 100,
                "a 1 ms ticker ticked \(gaps.ticks) times, with pauses up to \(gaps.longestMilliseconds) ms")
        for (server, connection, peer) in links {
            connection.abort(reason: "test over")
            server.stop()
            withExtendedLifetime(peer) {}
        }
    }

    /// A large frame to a peer that never reads: `send` waits (the socket is full), and when the connection
    /// is aborted it fails instead of hanging.
    /// Queuing a 48 MiB frame for a peer that reads nothing for 2 s returns at once: the direct write sends
    /// what the socket takes without waiting and leaves the rest to the writer thread, which finishes the
    /// frame once the peer reads.
    @Test func aDirectWriteNeverWaitsForThePeer() async throws {
        let (server, connection, peer) = try await WritePathTests.connectionToRawPeer()
        defer { server.stop() }
        let descriptor = peer.socket.descriptor
        let drained = Counter()
        Thread.detachNewThread {
            usleep(2_000_000)
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            while drained.current < (48 << 20) {
                let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return }
                drained.add(count)
            }
        }
        let message = try WritePathTests.forward([Float](repeating: 5, count: 12 << 20))
        let outcome: TransportError?? = await withCheckedContinuation { continuation in
            let start = monotonicNanoseconds()
            connection.core.enqueue(.frame(message, requestID: 0) { error in continuation.resume(returning: error) })
            let seconds = Double(monotonicNanoseconds() - start) / 1e9
            #expect(seconds < 1, "queuing the frame took \(seconds) s: the caller waited for the peer")
        }
        #expect(outcome == .some(nil), "the frame failed: \(String(describing: outcome))")
        #expect(await Loopback.eventually { drained.current >= 48 << 20 }, "the peer got \(drained.current) bytes")
        connection.abort(reason: "test over")
        withExtendedLifetime(peer) {}
    }

    @Test func aStuckLargeSendFailsWhenTheConnectionEnds() async throws {
        let (server, connection, peer) = try await WritePathTests.connectionToRawPeer()
        defer { server.stop() }
        let message = try WritePathTests.forward([Float](repeating: 3, count: 12 << 20))
        let sender = Task { try await connection.send(message) }
        try await Task.sleep(nanoseconds: 300_000_000)
        connection.abort(reason: "peer stuck")
        await #expect(throws: TransportError.self) { try await sender.value }
        withExtendedLifetime(peer) {}
    }

    /// A peer that streams one long frame slowly (16 MiB over about half a second) still hears our heartbeats
    /// while our reader is in the middle of that payload.
    @Test func heartbeatsContinueWhileALongPayloadArrives() throws {
        let server = try Loopback.EchoServer(deadAfterSeconds: 5)
        let peer = try RawPeer(server.address)
        guard case .established = try peer.handshake(token: Loopback.token) else { Issue.record("handshake"); return }
        // A notification (request id 0): the echo server answers nothing, so every frame we read is a heartbeat.
        let frame = peer.seal(try WritePathTests.forward([Float](repeating: 2, count: 4 << 20)), requestID: 0,
                              placement: .trailer)
        var heartbeats = 0
        var offset = 0
        while offset < frame.count {
            let end = min(frame.count, offset + (64 << 10))
            try peer.send(Array(frame[offset..<end]))
            offset = end
            while let reply = try peer.receive(seconds: 0.002) {
                if case .heartbeat = try reply.message() { heartbeats += 1 }
            }
        }
        #expect(heartbeats >= 3, "the server sent \(heartbeats) heartbeats while a 16 MiB frame arrived")
        #expect(!server.closed.all.contains { $0.contains("silent") })
    }
}
