// Fault injection on real processes (issue 6): a worker frozen with SIGSTOP and resumed, bytes corrupted in
// flight by `faultproxy`, intruders with a wrong token or garbage, malformed jobs, and the coordinator killed
// and restarted. Every case ends with the job's bytes equal to single-process `generate`.
import Foundation
import Cluster
import Model
import Testing
import Wire
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct FaultInjectionTests {
    static func workers(_ count: Int, blocks: Int, proxy: [String: [String]] = [:]) throws -> [FaultCluster.WorkerSpec] {
        let fixture = try ClusterFixture.shared.get()
        return (0..<count).map {
            FaultCluster.WorkerSpec(name: "w\($0)", memoryBytes: fixture.budgets[blocks], proxyArguments: proxy["w\($0)"])
        }
    }

    static func submit(_ cluster: FaultCluster, steps: Int) throws -> String {
        try cluster.client("submit", ClusterFixture.jobArguments(steps: steps)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func result(_ cluster: FaultCluster, _ job: String, file: String) throws -> [UInt8] {
        try cluster.client("wait", [job, "--quiet", "--out", file])
        return Array(try Data(contentsOf: URL(fileURLWithPath: cluster.folder + "/" + file)))
    }

    // MARK: - A frozen worker

    /// SIGSTOP mid-job: the worker is declared dead after the dead-peer time, the job moves on and finishes
    /// with the same bytes; after SIGCONT it connects again as a fresh worker and serves the next job.
    @Test(.timeLimit(.minutes(3)))
    func aFrozenWorkerIsDeclaredDeadAndComesBackFresh() throws {
        let fixture = try ClusterFixture.shared.get()
        let cluster = try FaultCluster(root: fixture.root, model: fixture.model, workers: try Self.workers(3, blocks: 2))
        defer { cluster.stop() }
        let job = try Self.submit(cluster, steps: ClusterFixture.killSteps)
        try cluster.waitForSteps(job, 3)
        cluster.signalWorker("w1", SIGSTOP)
        let detection = try cluster.waitFor("the coordinator to declare w1 lost", timeoutSeconds: 30) {
            cluster.coordinatorLog.contains("worker w1 lost")
        }
        print("FaultInjectionTests: SIGSTOPped worker declared lost after \(String(format: "%.2f", detection)) s")
        #expect(detection >= 4 && detection < 10, "declared dead after \(detection) s; the dead-peer time is 5 s")
        let lossLine = cluster.coordinatorLog.split(separator: "\n").first { $0.contains("worker w1 lost") }.map(String.init) ?? ""
        print("FaultInjectionTests: \(lossLine)")
        #expect(lossLine.contains("declared dead"), "w1 was not lost by silence: \(lossLine)")
        // The job goes on without w1 while it is frozen.
        let stepsAtLoss = try cluster.status(job)["steps_done"] as? Int ?? 0
        try cluster.waitForSteps(job, stepsAtLoss + 2, timeoutSeconds: 60)
        cluster.signalWorker("w1", SIGCONT)
        // It drops everything it held for the connection that ended, then is admitted again.
        try cluster.waitFor("w1 to drop its state", timeoutSeconds: 20) {
            cluster.log("w1.log").contains("coordinator gone: dropped stage")
        }
        try cluster.waitFor("w1 to be connected again", timeoutSeconds: 20) {
            occurrences(of: "worker w1 connected", in: cluster.coordinatorLog) >= 2
        }
        let produced = try Self.result(cluster, job, file: "frozen.y4m")
        #expect(produced == (try fixture.referenceBytes(steps: ClusterFixture.killSteps)),
                "output after a worker was frozen differs; logs:\n\(cluster.allLogs)")
        let status = try cluster.status(job)
        #expect(status["state"] as? String == "finished")
        #expect((status["steps_redone"] as? Int ?? 0) >= 1)
        // The returning worker serves a new job from scratch: placed again, same bytes.
        let second = try Self.submit(cluster, steps: ClusterFixture.steps)
        let again = try Self.result(cluster, second, file: "frozen-after.y4m")
        #expect(again == fixture.reference, "the job after w1 came back differs; logs:\n\(cluster.allLogs)")
        let placement = (try cluster.status(second)["placement"] as? [[String]] ?? []).flatMap { $0 }
        #expect(placement.contains { $0.hasPrefix("w1[") }, "w1 was not re-admitted: placement \(placement)")
    }

    // MARK: - Corruption in flight

    /// One byte flipped between the coordinator and the only worker (either direction): the receiver's CRC
    /// check rejects the frame and drops the connection, the coordinator reconnects (the proxy forwards later
    /// connections cleanly), redoes the step in flight, and the bytes are unchanged.
    @Test(.timeLimit(.minutes(2)), arguments: ["up", "down"])
    func aCorruptedByteIsCaughtAndTheWorkRedone(direction: String) throws {
        let fixture = try ClusterFixture.shared.get()
        let proxy = ["--corrupt-after-bytes", "60000", "--direction", direction, "--faulty-connections", "1"]
        let cluster = try FaultCluster(
            root: fixture.root, model: fixture.model, workers: try Self.workers(1, blocks: 4, proxy: ["w0": proxy]))
        defer { cluster.stop() }
        let job = try Self.submit(cluster, steps: ClusterFixture.steps)
        let produced = try Self.result(cluster, job, file: "corrupt-\(direction).y4m")
        #expect(produced == fixture.reference, "output after corruption differs; logs:\n\(cluster.allLogs)")
        #expect(cluster.log("proxy-w0.log").contains("flipped byte 60000"), "the proxy did not corrupt: \(cluster.allLogs)")
        let checksumReported = cluster.allLogs.lowercased().contains("checksum")
        #expect(checksumReported, "no checksum error was logged:\n\(cluster.allLogs)")
        #expect(occurrences(of: "worker w0 connected", in: cluster.coordinatorLog) >= 2, "no reconnection:\n\(cluster.allLogs)")
        let status = try cluster.status(job)
        #expect(status["state"] as? String == "finished")
        #expect((status["steps_redone"] as? Int ?? 0) >= 1)
    }

    /// A slow link (delay and throttle on every connection) slows the job but does not fail it.
    @Test(.timeLimit(.minutes(3)))
    func aSlowLinkOnlySlowsTheJob() throws {
        let fixture = try ClusterFixture.shared.get()
        let proxy = ["--delay-ms", "20", "--throttle-bytes-per-second", "200000"]
        let cluster = try FaultCluster(
            root: fixture.root, model: fixture.model, workers: try Self.workers(2, blocks: 2, proxy: ["w1": proxy]))
        defer { cluster.stop() }
        let job = try Self.submit(cluster, steps: ClusterFixture.steps)
        let produced = try Self.result(cluster, job, file: "slow.y4m")
        #expect(produced == fixture.reference, "output over a slow link differs; logs:\n\(cluster.allLogs)")
        let status = try cluster.status(job)
        #expect(status["state"] as? String == "finished")
        #expect((status["steps_redone"] as? Int ?? -1) == 0, "a slow link was treated as a failure: \(cluster.allLogs)")
    }

    /// A link cut mid-frame is a dead peer: the work moves on and the bytes are unchanged.
    @Test(.timeLimit(.minutes(2)))
    func aCutLinkIsADeadPeer() throws {
        let fixture = try ClusterFixture.shared.get()
        let proxy = ["--cut-after-bytes", "50001", "--direction", "up", "--faulty-connections", "1"]
        let cluster = try FaultCluster(
            root: fixture.root, model: fixture.model, workers: try Self.workers(1, blocks: 4, proxy: ["w0": proxy]))
        defer { cluster.stop() }
        let job = try Self.submit(cluster, steps: ClusterFixture.steps)
        let produced = try Self.result(cluster, job, file: "cut.y4m")
        #expect(produced == fixture.reference, "output after a cut link differs; logs:\n\(cluster.allLogs)")
        #expect(cluster.log("proxy-w0.log").contains("cut after 50001 bytes"))
        #expect((try cluster.status(job)["steps_redone"] as? Int ?? 0) >= 1)
    }

    // MARK: - Bad peers

    /// Wrong token, no token and garbage bytes, at the coordinator and at a worker, while a job runs: each
    /// intruder is refused, and the job finishes untouched (no step redone) with the same bytes.
    @Test(.timeLimit(.minutes(3)))
    func intrudersAreRejectedAndTheClusterKeepsServing() async throws {
        let fixture = try ClusterFixture.shared.get()
        // A delay on w1's link keeps the job running while the intruders knock.
        let cluster = try FaultCluster(root: fixture.root, model: fixture.model,
                                       workers: try Self.workers(2, blocks: 2, proxy: ["w1": ["--delay-ms", "15"]]))
        defer { cluster.stop() }
        let job = try Self.submit(cluster, steps: ClusterFixture.killSteps)
        try cluster.waitForSteps(job, 2)
        let wrongToken = ClusterToken(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })
        let targets: [(String, PeerRole)] = [(cluster.coordinatorAddress, .client), (cluster.workerAddresses["w0"]!, .coordinator),
                                             (cluster.workerAddresses["w1"]!, .coordinator)]
        for (address, role) in targets {
            for token in [wrongToken, nil] {
                var options = ConnectionOptions(role: role, name: "intruder", token: token)
                options.connectTimeoutSeconds = 5
                do {
                    let connection = try await WireConnection.connect(to: address, options: options)
                    connection.abort(reason: "test")
                    Issue.record("\(address) admitted a peer with \(token == nil ? "no" : "a wrong") token")
                } catch {
                    let text = "\(error)".lowercased()
                    #expect(text.contains("authentication") || text.contains("token"), "refusal by \(address): \(error)")
                }
            }
            #expect(try closesAfterGarbage(address, bytes: (0..<4096).map { _ in UInt8.random(in: 0...255) }),
                    "\(address) did not close a connection sending random bytes")
            // A valid magic and version, then nonsense.
            #expect(try closesAfterGarbage(address, bytes: Array("SWIR".utf8) + [1, 0] + (0..<600).map { _ in UInt8.random(in: 0...255) }),
                    "\(address) did not close a connection sending a garbage frame")
        }
        // Another coordinator holding the token may not touch the job state of a worker that serves this one.
        let second = try await WireConnection.connect(
            to: cluster.workerAddresses["w0"]!,
            options: ConnectionOptions(role: .coordinator, name: "second", token: try ClusterToken.load(from: cluster.tokenPath)))
        for message in [Message.jobContext(JobContext(jobID: "x", specJSON: [], tensors: [])),
                        .releaseJob(JobReference(jobID: job)), .cancel(JobReference(jobID: job)),
                        .forward(Forward(key: MicroBatchKey(jobID: job, step: 0, window: 0, branch: 0), tensors: []))] {
            do {
                _ = try await second.request(message, timeoutSeconds: 10)
                Issue.record("w0 accepted \(message.kind) from a second coordinator")
            } catch TransportError.remote(let report) {
                #expect(report.message.contains("another coordinator"), "\(message.kind): \(report)")
            }
        }
        second.abort(reason: "test over")
        let during = try cluster.status(job)
        #expect(during["state"] as? String == "running", "the job ended before the intruders were done: \(during)")
        let produced = try Self.result(cluster, job, file: "intruders.y4m")
        #expect(produced == (try fixture.referenceBytes(steps: ClusterFixture.killSteps)), "logs:\n\(cluster.allLogs)")
        let status = try cluster.status(job)
        #expect(status["state"] as? String == "finished")
        #expect((status["steps_redone"] as? Int ?? -1) == 0, "an intruder disturbed the job: \(cluster.allLogs)")
        for name in ["w0.log", "w1.log"] {
            #expect(cluster.log(name).lowercased().contains("authentication"), "\(name) logged no refusal: \(cluster.log(name))")
        }
        #expect(cluster.coordinatorLog.lowercased().contains("authentication"), "the coordinator logged no refusal")
    }

    /// Sends `bytes` on a fresh connection; true when the peer then closes it within 10 s.
    func closesAfterGarbage(_ address: String, bytes: [UInt8]) throws -> Bool {
        let parts = address.split(separator: ":")
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0, parts.count == 2, let port = UInt16(parts[1]) else { throw HarnessError("bad address \(address)") }
        defer { close(descriptor) }
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_addr.s_addr = inet_addr(String(parts[0]))
        target.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw HarnessError("cannot connect to \(address)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 { continue }  // an error frame or a challenge, then the close
            if count == 0 { return true }
            if errno == EINTR { continue }  // SIGCHLD from the cluster's child processes
            return errno == ECONNRESET
        }
    }

    // MARK: - Malformed jobs

    /// Bad sizes, absurd frame counts, unknown options, huge prompts, attachments and broken JSON are refused
    /// with invalidArgument naming the field; a job queued before them finishes with the same bytes.
    @Test(.timeLimit(.minutes(2)))
    func malformedJobsAreRefusedNamingTheField() async throws {
        let fixture = try ClusterFixture.shared.get()
        let cluster = try FaultCluster(root: fixture.root, model: fixture.model, workers: try Self.workers(1, blocks: 4))
        defer { cluster.stop() }
        let job = try Self.submit(cluster, steps: ClusterFixture.steps)
        let token = try ClusterToken.load(from: cluster.tokenPath)
        let connection = try await WireConnection.connect(
            to: cluster.coordinatorAddress, options: ConnectionOptions(role: .client, name: "fault-test", token: token))
        defer { connection.abort(reason: "test over") }
        /// The job request (version 2 JSON) the options describe: options map to their fields, numbers become JSON
        /// numbers, a task option becomes `task`, anything else is sent under its own name.
        func json(_ options: [String: String], output: String = "y4m") throws -> ArraySlice<UInt8> {
            var object: [String: Any] = ["version": JobRequest.currentVersion, "output": output]
            for (name, value) in options {
                if let kind = JobRequest.TaskKind.allCases.first(where: { $0.option == name }) {
                    object["task"] = ["kind": kind.rawValue, "media": [value]]
                    continue
                }
                let key = JobRequest.Field.allCases.first { $0.option == name }?.rawValue ?? name
                object[key] = Int(value).map { $0 as Any } ?? Double(value).map { $0 as Any } ?? value
            }
            return ArraySlice(try JSONSerialization.data(withJSONObject: object))
        }
        let base = ["--prompt": "a fox", "--width": "64", "--height": "48", "--frames": "17", "--steps": "2"]
        let cases: [(ArraySlice<UInt8>, [Wire.Attachment], String)] = [
            (try json(base.merging(["--width": "-64"]) { $1 }), [], "--width"),
            (try json(base.merging(["--width": "63"]) { $1 }), [], "width"),
            (try json(base.merging(["--height": "1000000000"]) { $1 }), [], "height"),
            (try json(base.merging(["--frames": "99999999999"]) { $1 }), [], "frames"),
            (try json(base.merging(["--frames": "0"]) { $1 }), [], "frames"),
            (try json(base.merging(["--steps": "abc"]) { $1 }), [], "--steps"),
            (try json(base.merging(["--colour": "red"]) { $1 }), [], "--colour"),
            (try json(base, output: "gif"), [], "output"),
            (try json(base.merging(["--prompt": String(repeating: "fox ", count: 300_000)]) { $1 }), [], "specJSON"),
            (try json(base.merging(["--prompt": String(repeating: "fox ", count: 100_000)]) { $1 }), [], "prompt"),
            (try json(base.merging(["--negative-prompt": String(repeating: "ü", count: 200_000)]) { $1 }), [], "negative_prompt"),
            (ArraySlice(Array("{\"options\": [1,2".utf8)), [], "specJSON"),
            (try json(base), [Wire.Attachment(name: "image", bytes: [1, 2, 3])], "attachments"),
            // Bad media: garbage in a PNG, a Y4M without frames, an image of another size without --fit, an
            // image option naming no attachment, an absurd PNG size claim.
            (try json(base.merging(["--image": "media-0.png"]) { $1 }),
             [Wire.Attachment(name: "media-0.png", bytes: ArraySlice(Array("not a png at all".utf8)))], "--image"),
            (try json(base.merging(["--edit": "media-0.y4m"]) { $1 }.filter { $0.key != "--frames" }),
             [Wire.Attachment(name: "media-0.y4m", bytes: ArraySlice(Array("YUV4MPEG2 W64 H48 F16:1 C444\n".utf8)))], "--edit"),
            (try json(base.merging(["--image": "media-0.png"]) { $1 }),
             [Wire.Attachment(name: "media-0.png", bytes: ArraySlice(PNGWriter.encode(
                RGBFrame(width: 16, height: 16, red: 200, green: 10, blue: 10))))], "--fit"),
            (try json(base.merging(["--image": "media-7.png"]) { $1 }), [], "--image"),
            (try json(base.merging(["--image": "media-0.png"]) { $1 }),
             [Wire.Attachment(name: "media-0.png", bytes: ArraySlice(Self.pngClaiming(width: 1 << 30, height: 1 << 30)))],
             "--image"),
        ]
        for (spec, attachments, field) in cases {
            let reply: Message
            do { reply = try await connection.request(.submit(Submit(specJSON: spec, attachments: attachments)), timeoutSeconds: 30) } catch TransportError.remote(let report) {
                reply = .error(report)
            }
            guard case .error(let report) = reply else {
                Issue.record("a malformed job (\(field)) was accepted: \(reply)")
                continue
            }
            print("FaultInjectionTests: \(field): \(report.message.prefix(200))")
            #expect(!report.message.contains("/media/incoming-"), "the error shows a staged path: \(report.message)")
            #expect(report.code == .invalidArgument, "\(field): \(report)")
            #expect(report.message.contains(field), "the error does not name \(field): \(report.message)")
        }
        let produced = try Self.result(cluster, job, file: "malformed.y4m")
        #expect(produced == fixture.reference)
        let all = try cluster.client("status", ["--json"])
        #expect(occurrences(of: "\"id\"", in: all) == 1, "a malformed job was queued: \(all)")
    }

    /// The signature and an IHDR chunk claiming `width` x `height` RGB pixels, then nothing.
    static func pngClaiming(width: Int, height: Int) -> [UInt8] {
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]
        bytes += Array("IHDR".utf8)
        for value in [width, height] { bytes += (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
        bytes += [8, 2, 0, 0, 0]
        // The chunk's CRC-32 (zlib polynomial) over type and data, so only the size claim is wrong.
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes[12...] {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc ^= 0xFFFF_FFFF
        bytes += (0..<4).map { UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32($0))) }
        return bytes
    }

    // MARK: - Coordinator restart

    /// SIGKILL of the coordinator mid-job, then a restart: the unfinished job resumes from its checkpoint and
    /// ends with the same bytes; the finished job's result file is left exactly as it was.
    @Test(.timeLimit(.minutes(3)))
    func aRestartedCoordinatorResumesFromItsCheckpoint() throws {
        let fixture = try ClusterFixture.shared.get()
        let cluster = try FaultCluster(root: fixture.root, model: fixture.model, workers: try Self.workers(2, blocks: 2))
        defer { cluster.stop() }
        let first = try Self.submit(cluster, steps: ClusterFixture.steps)
        #expect(try Self.result(cluster, first, file: "restart-first.y4m") == fixture.reference)
        let stateDir = try Self.stateDirectory(cluster)
        let firstResult = stateDir + "/jobs/\(first)/result.y4m"
        let before = try FileManager.default.attributesOfItem(atPath: firstResult)
        let second = try Self.submit(cluster, steps: ClusterFixture.restartSteps)
        try cluster.waitForSteps(second, 5)
        // Somewhere inside a step (printed, so a failure can be replayed).
        let extraMicroseconds = UInt32.random(in: 0...150_000)
        usleep(extraMicroseconds)
        cluster.killCoordinator()
        let checkpointed = try Self.stepsInRecord(stateDir + "/jobs/\(second)/job.json")
        print("FaultInjectionTests: coordinator killed \(extraMicroseconds) µs after step 5; job.json says \(checkpointed) steps done")
        try cluster.startCoordinator()
        let produced = try Self.result(cluster, second, file: "restart-second.y4m")
        #expect(produced == (try fixture.referenceBytes(steps: ClusterFixture.restartSteps)), "logs:\n\(cluster.allLogs)")
        #expect(checkpointed >= 5 && checkpointed < ClusterFixture.restartSteps)
        // The checkpoint is written just before job.json, so a kill between the two resumes one step later.
        let resumedAt = [checkpointed, checkpointed + 1].filter {
            cluster.log("coordinator-2.log").contains("\(second): resuming from the checkpoint after step \($0)\n")
        }
        #expect(resumedAt.count == 1, "did not resume from step \(checkpointed) or the next:\n\(cluster.allLogs)")
        // The finished job: same file (inode, size, time) and still fetchable with the same bytes.
        let after = try FileManager.default.attributesOfItem(atPath: firstResult)
        #expect(after[.systemFileNumber] as? Int == before[.systemFileNumber] as? Int)
        #expect(after[.modificationDate] as? Date == before[.modificationDate] as? Date)
        #expect(try Self.result(cluster, first, file: "restart-first-again.y4m") == fixture.reference)
        #expect(try cluster.status(first)["state"] as? String == "finished")
    }

    static func stateDirectory(_ cluster: FaultCluster) throws -> String {
        let yaml = try String(contentsOfFile: cluster.configPath, encoding: .utf8)
        guard let line = yaml.split(separator: "\n").first(where: { $0.contains("state_dir:") }) else {
            throw HarnessError("no state_dir in \(yaml)")
        }
        return cluster.folder + "/" + line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)
    }

    static func stepsInRecord(_ path: String) throws -> Int {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return object?["steps_done"] as? Int ?? -1
    }
}
