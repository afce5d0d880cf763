// Fuzzing the coordinator's and the workers' message handling (issue 6): authenticated peers send seeded random,
// well-framed but nonsensical messages of every kind; nobody crashes, hangs or grows without bound, and a job
// running meanwhile ends with the same bytes as `generate`.
import Foundation
import Testing
import Wire
@testable import Coordinator
#if canImport(Glibc)
import Glibc
#endif

/// Random messages from a seeded generator (SplitMix64), so a failure can be replayed from the seed.
struct NonsenseMessages {
    private var state: UInt64
    /// The model's real config hash, so some assignments pass the worker's checks and reach its stage logic.
    let configHash: [UInt8]

    init(seed: UInt64, configHash: [UInt8]) {
        state = seed
        self.configHash = configHash
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
    mutating func pick<T>(_ choices: [T]) -> T { choices[below(choices.count)] }

    /// Never a real job id ("job-NNNNNN"), so a cancel or release cannot hit the test's own job.
    mutating func jobID() -> String { pick(["", "fz-\(below(3))", "fz-\(below(3))", String(repeating: "j", count: 128), "ü✓\u{0}x", "../../etc"]) }
    mutating func text() -> String { pick(["", "x", "hidden_states", "text.0", "grid", String(repeating: "é", count: 100), "\u{7f}"]) }
    mutating func json() -> ArraySlice<UInt8> {
        ArraySlice(pick([Array("{}".utf8), Array("{\"options\":{},\"output\":\"y4m\"}".utf8), Array("[".utf8), bytes(below(64)),
                         Array("{\"options\":{\"--steps\":\"1\",\"--frames\":\"1\"},\"output\":\"png\"}".utf8)]))
    }

    mutating func tensor() -> WireTensor {
        let dtype = pick(WireDType.allCases)
        let shape = (0..<below(4)).map { _ in below(7) }
        let count = shape.reduce(1, *) * (dtype == .float32 ? 4 : 2)
        return (try? WireTensor(dtype: dtype, shape: shape, bytes: ArraySlice(bytes(count))))
            ?? (try! WireTensor(dtype: .float32, shape: [], bytes: [0, 0, 0, 0]))
    }

    mutating func tensors() -> [NamedTensor] {
        (0..<below(5)).map { _ in
            NamedTensor(name: pick(["hidden_states", "timestep_projection", "time_embedding", "grid", "text.0", "text.1", text()]),
                        tensor: tensor())
        }
    }

    mutating func key() -> MicroBatchKey {
        MicroBatchKey(jobID: jobID(), step: UInt32(below(3)), window: UInt32(below(3)), branch: UInt8(below(3)))
    }

    /// A valid assignment (all four blocks, results to the coordinator) and a valid context for job "fz-0", so
    /// the forwards that follow reach the blocks with nonsensical tensors.
    mutating func setup() -> [Message] {
        let assign = Message.assignStage(AssignStage(
            stageIndex: 0, stageCount: 1, modelReference: "models/tiny4", layerStart: 0, layerEnd: 4,
            configHash: configHash, activationDType: .float32, nextHop: "",
            optionsJSON: ArraySlice(Array("{\"max_inflight_per_stage\":2,\"plan_epoch\":\(below(3))}".utf8))))
        let text = (0..<2).map { branch in
            NamedTensor(name: "text.\(branch)", tensor: try! WireTensor(
                dtype: .float32, shape: [1, 8, 32], bytes: ArraySlice(bytes(8 * 32 * 4).map { $0 & 0x3F })))
        }
        return [assign, .jobContext(JobContext(jobID: "fz-0", tensors: text))]
    }

    /// A forward for job "fz-0" with the real tensor names and random shapes and values.
    mutating func plausibleForward() -> Message {
        let names = ["hidden_states", "timestep_projection", "time_embedding", "grid"]
        let tensors = names.filter { _ in below(6) != 0 }.map { name in
            let shape = (0..<(1 + below(3))).map { _ in pick([1, 2, 3, 6, 32, 36, 192]) }
            let dtype: WireDType = name == "grid" && below(2) == 0 ? .float16 : .float32
            let size = dtype == .float32 ? 4 : 2
            // Small finite values: the top byte of each element keeps the exponent low.
            let raw = bytes(shape.reduce(1, *) * size).enumerated().map { $0.offset % size == size - 1 ? $0.element & 0x3F : $0.element }
            return NamedTensor(name: name, tensor: try! WireTensor(dtype: dtype, shape: shape, bytes: ArraySlice(raw)))
        }
        return .forward(Forward(key: MicroBatchKey(jobID: "fz-0", step: UInt32(below(2)), window: 0, branch: UInt8(below(2))),
                                tensors: tensors))
    }

    /// One message of a random kind with random but encodable fields.
    mutating func message() -> Message {
        switch below(24) {
        case 0, 1 where below(2) == 0:
            // Plausible: passes the worker's checks (real model, hash and options), random layers and hop.
            let start = UInt32(below(4))
            return .assignStage(AssignStage(
                stageIndex: 0, stageCount: UInt16(1 + below(2)), modelReference: "models/tiny4", layerStart: start,
                layerEnd: start + UInt32(below(5 - Int(start))),
                configHash: configHash, activationDType: .float32, nextHop: pick(["", "", "127.0.0.1:1"]),
                optionsJSON: ArraySlice(Array("{\"max_inflight_per_stage\":\(below(4)),\"plan_epoch\":\(below(3))}".utf8))))
        case 0, 1:
            let count = UInt16(1 + below(4))
            let start = UInt32(below(6))
            return .assignStage(AssignStage(
                stageIndex: UInt16(below(Int(count))), stageCount: count,
                modelReference: pick(["models/tiny4", "models/none", "/etc", "../../..", text()]),
                layerStart: start, layerEnd: start + UInt32(below(4)),
                configHash: bytes(32), activationDType: pick(WireDType.allCases),
                nextHop: pick(["", "", "127.0.0.1:1", "nowhere:0", text()]), optionsJSON: json()))
        case 2: return .stageReady(StageReady(stageIndex: 0, weightBytes: next(), workspaceBytes: next(), residentBytes: next(),
                                              budgetBytes: next(), loadMilliseconds: next()))
        case 3, 4 where below(2) == 0:
            // Plausible: the tiny model's text shape ([1, L, 32] float32), so later forwards reach the blocks.
            let length = 1 + below(20)
            let text = (0..<2).map { branch in
                NamedTensor(name: "text.\(branch)", tensor: try! WireTensor(
                    dtype: .float32, shape: [1, length, 32], bytes: ArraySlice(bytes(length * 32 * 4).map { $0 & 0x3F })))
            }
            return .jobContext(JobContext(jobID: "fz-\(below(3))", tensors: text))
        case 3, 4: return .jobContext(JobContext(jobID: jobID(), tensors: tensors()))
        case 5, 6, 7: return .forward(Forward(key: key(), tensors: tensors()))
        case 8: return .forwardResult(ForwardResult(key: key(), computeNanoseconds: next(), tensors: tensors()))
        case 9: return .releaseJob(JobReference(jobID: jobID(), reason: text()))
        case 10: return .cancel(JobReference(jobID: jobID(), reason: text()))
        case 11: return .statsRequest
        case 12: return .stats(Stats(entries: [(name: text(), value: Double(bitPattern: next()))]))
        case 13: return .submit(Submit(specJSON: json()))
        case 14: return .submitted(JobID(jobID()))
        case 15: return .jobStatusRequest(JobID(jobID()))
        case 16: return .jobStatus(JSONDocument(json()))
        case 17: return .watch(JobID(jobID()))
        case 18: return .progress(Progress(jobID: jobID(), sequence: next(), isFinal: below(2) == 0, eventJSON: json()))
        case 19: return .fetch(Fetch(jobID: jobID(), offset: next() >> UInt64(below(64)), maxBytes: UInt32(truncatingIfNeeded: next())))
        case 20:
            let data = ArraySlice(bytes(below(32)))
            return .fetchChunk(FetchChunk(jobID: jobID(), offset: 0, totalBytes: UInt64(data.count), data: data))
        case 21: return .error(ErrorReport(code: .internalError, message: text()))
        case 22: return .heartbeat(Heartbeat(sequence: next(), sentAtNanoseconds: next()))
        default: return below(2) == 0 ? .ok : .hello(Hello(role: .client, name: text(), nonce: bytes(32)))
        }
    }
}

@Suite(.serialized) struct FaultFuzzTests {
    /// Sends `count` random messages to `address` as an authenticated `role`, checking every 25 messages that the
    /// peer still answers a request within 10 s (reconnecting when it closed the connection on a message it
    /// refused). Returns how many connections it took.
    static func fuzz(_ address: String, role: PeerRole, token: ClusterToken, seed: UInt64, count: Int,
                     configHash: [UInt8]) async throws -> Int {
        var messages = NonsenseMessages(seed: seed, configHash: configHash)
        var options = ConnectionOptions(role: role, name: "fuzz-\(seed)", token: token)
        options.maxPayloadBytes = 1 << 30
        // Whatever the peer sends unasked (a worker's notifications to its coordinator) is read and dropped, as a
        // real peer would: an unread backlog stops our reader, and then no reply could arrive.
        func drained(_ connection: WireConnection) -> WireConnection {
            Task { for await _ in connection.incoming {} }
            return connection
        }
        var connection = drained(try await WireConnection.connect(to: address, options: options))
        var connections = 1
        var requestID: UInt64 = 1_000_001
        var recent: [String] = []  // the last messages sent, for the report of a peer that stopped answering
        for index in 0..<count {
            if connection.closeReason != nil {
                connection = drained(try await WireConnection.connect(to: address, options: options))
                connections += 1
            }
            if role == .coordinator && index % 25 == 0 {
                for message in messages.setup() + (0..<3).map({ _ in messages.plausibleForward() }) {
                    let started = Date()
                    do { _ = try await connection.request(message, timeoutSeconds: 30) } catch {
                        if Date().timeIntervalSince(started) > 5 { print("FaultFuzzTests: SLOW setup \(message.kind) at \(index): \(error)") }
                    }
                }
            }
            requestID += 2
            let message = role == .coordinator && messages.below(3) == 0 ? messages.plausibleForward() : messages.message()
            recent.append("\(index): \(String(describing: message).prefix(300))")
            if recent.count > 25 { recent.removeFirst() }
            try? await connection.send(message, requestID: messages.below(3) == 0 ? 0 : requestID)
            if index % 25 == 24 {
                let started = Date()
                defer { if Date().timeIntervalSince(started) > 5 { print("FaultFuzzTests: SLOW stats at \(index)") } }
                do {
                    _ = try await connection.request(.statsRequest, timeoutSeconds: 10)
                } catch TransportError.remote {
                    // An error reply is an answer.
                } catch let error as TransportError where connection.closeReason != nil {
                    _ = error  // closed on a refused message: reconnect at the next one
                } catch {
                    throw HarnessError(
                        "\(address) did not answer after \(index + 1) random messages (seed \(seed)): \(error); the last "
                            + "messages:\n" + recent.joined(separator: "\n"))
                }
            }
        }
        connection.abort(reason: "fuzz over")
        return connections
    }

    static func residentBytes(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return nil }
        return kib * 1024
    }

    /// 600 random messages to each of: the coordinator (as a client), both cluster workers (as a second
    /// coordinator and as a worker) while a job runs, and a worker serving nobody else (as its coordinator, so
    /// assignments, contexts and forwards reach its stage logic). All processes stay up and small; the job's
    /// bytes are unchanged.
    @Test(.timeLimit(.minutes(3)))
    func nonsenseMessagesCrashNothing() async throws {
        try await fuzzEveryTarget(count: 600, seedOffset: 0)
    }

    /// The long run, opt-in: `FAULT_FUZZ_LONG=N` sends N messages per target (seeds 1000 + ...), e.g.
    /// `FAULT_FUZZ_LONG=20000 scripts/test.sh --filter FaultFuzzTests`.
    @Test(
        .timeLimit(.minutes(120)),
        .enabled(if: ProcessInfo.processInfo.environment["FAULT_FUZZ_LONG"] != nil, "set FAULT_FUZZ_LONG=N for the long run"))
    func manyNonsenseMessagesCrashNothing() async throws {
        let count = Int(ProcessInfo.processInfo.environment["FAULT_FUZZ_LONG"] ?? "") ?? 0
        try #require(count > 0, "FAULT_FUZZ_LONG must be a positive message count")
        try await fuzzEveryTarget(count: count, seedOffset: 1000)
    }

    private func fuzzEveryTarget(count: Int, seedOffset: UInt64) async throws {
        let fixture = try ClusterFixture.shared.get()
        let specs = try FaultInjectionTests.workers(2, blocks: 2, proxy: ["w1": ["--delay-ms", "15"]])
        let cluster = try FaultCluster(root: fixture.root, model: fixture.model, workers: specs)
        defer { cluster.stop() }
        let lone = try cluster.startLoneWorker(name: "lone")
        let token = try ClusterToken.load(from: cluster.tokenPath)
        let configHash = try CoordinatorModel(path: fixture.root + "/" + fixture.model).configHash
        let job = try FaultInjectionTests.submit(cluster, steps: ClusterFixture.killSteps)
        try cluster.waitForSteps(job, 2)
        let targets: [(String, PeerRole, UInt64)] = [
            (cluster.coordinatorAddress, .client, 1), (cluster.workerAddresses["w0"]!, .coordinator, 2),
            (cluster.workerAddresses["w1"]!, .worker, 3), (lone, .coordinator, 4), (lone, .worker, 5),
        ]
        for (address, role, baseSeed) in targets {
            let started = Date()
            let seed = baseSeed + seedOffset
            let connections: Int
            do {
                connections = try await Self.fuzz(address, role: role, token: token, seed: seed, count: count,
                                                  configHash: configHash)
            } catch {
                print("FaultFuzzTests: logs at the failure:\n\(cluster.allLogs.suffix(6000))")
                throw error
            }
            print("FaultFuzzTests: \(count) messages to \(address) as \(role) (seed \(seed)): \(connections) connection(s), "
                  + String(format: "%.1f s", Date().timeIntervalSince(started)))
        }
        for (name, pid) in cluster.processIDs {
            #expect(kill(pid, 0) == 0, "\(name) died")
            let resident = Self.residentBytes(pid) ?? 0
            print("FaultFuzzTests: \(name) resident \(resident >> 20) MiB")
            #expect(resident < 512 << 20, "\(name) holds \(resident) bytes after the fuzz")
        }
        let produced = try FaultInjectionTests.result(cluster, job, file: "fuzzed.y4m")
        #expect(produced == (try fixture.referenceBytes(steps: ClusterFixture.killSteps)), "logs:\n\(cluster.allLogs)")
        let status = try cluster.status(job)
        #expect(status["state"] as? String == "finished")
        print("FaultFuzzTests: job steps redone \(status["steps_redone"] ?? "?")")
    }
}
