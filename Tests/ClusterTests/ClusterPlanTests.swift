// Multi-process tests of placement and robustness: `coordinator plan` refuses a job that cannot fit and accepts it
// with another worker, a worker's own small `--memory` gives it fewer blocks, a client killed while it waits does
// not affect its job, and a micro-batch a worker silently drops is redone by the coordinator's watchdog.
import Foundation
import Model
import Testing
@testable import Coordinator

@Suite(.serialized) struct ClusterPlanTests {
    /// Writes a cluster.yaml for `plan` only (no processes): workers with the given budgets on unused ports.
    static func planConfig(_ fixture: ClusterFixture, budgets: [Int], name: String) throws -> String {
        let token = "plan-token-\(name)"
        let binaries = try BuiltProducts.directory()
        try runProgram(binaries + "/coordinator", ["init-token", "--out", token, "--force"], in: fixture.root)
        var yaml = """
            coordinator:
              listen: 127.0.0.1:\(try freePort())
              state_dir: plan-state-\(name)
            token_file: \(token)
            model: \(fixture.model)
            workers:

            """
        for (index, budget) in budgets.enumerated() {
            yaml += "  - name: w\(index)\n    address: 127.0.0.1:\(try freePort())\n    memory: \(budget)\n    threads: 1\n"
        }
        yaml += "scheduler:\n  window_frames: 3\n  window_overlap: 1\n  max_inflight_per_stage: 2\n"
        let path = fixture.root + "/plan-\(name).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func plan(_ fixture: ClusterFixture, config: String, json: Bool = false) throws -> (status: Int32, output: String) {
        var arguments = ["plan", "--config", config]
        var job = ClusterFixture.jobArguments(steps: ClusterFixture.steps)
        if let index = job.firstIndex(of: "--prompt") { job.removeSubrange(index...(index + 1)) }
        arguments += job
        if json { arguments.append("--json") }
        return try runProgram(try BuiltProducts.directory() + "/coordinator", arguments, in: fixture.root, timeoutSeconds: 60)
    }

    @Test(.timeLimit(.minutes(2)))
    func planRefusesAJobThatCannotFitAndAcceptsItWithAnotherWorker() throws {
        let fixture = try ClusterFixture.shared.get()
        // One worker whose budget holds 2 of the 4 blocks.
        let one = try Self.planConfig(fixture, budgets: [fixture.budgets[2]], name: "one")
        let refused = try Self.plan(fixture, config: one)
        #expect(refused.status == 1, "plan accepted a job that cannot fit: \(refused.output)")
        #expect(refused.output.contains("does not fit"))
        #expect(refused.output.contains("2 layers"), "the refusal names the missing layers: \(refused.output)")
        #expect(refused.output.contains("of weights) have no room"), "and the missing memory: \(refused.output)")
        #expect(refused.output.contains("w0: budget"), "and the worker: \(refused.output)")
        let refusedJSON = try Self.plan(fixture, config: one, json: true)
        #expect(refusedJSON.status == 1)
        #expect(refusedJSON.output.contains("\"fits\":false"))
        // A second worker like it: the job fits, two blocks each.
        let two = try Self.planConfig(fixture, budgets: [fixture.budgets[2], fixture.budgets[2]], name: "two")
        let accepted = try Self.plan(fixture, config: two)
        #expect(accepted.status == 0, "plan refused a job that fits: \(accepted.output)")
        #expect(accepted.output.contains("w0  blocks 0..<2"), "\(accepted.output)")
        #expect(accepted.output.contains("w1  blocks 2..<4"), "\(accepted.output)")
        let json = try Self.plan(fixture, config: two, json: true)
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        let stages = try #require((object["pipelines"] as? [[[String: Any]]])?.first)
        #expect(stages.map { $0["layer_end"] as? Int } == [2, 4])
        for stage in stages {
            let peak = try #require(stage["predicted_peak_bytes"] as? Int)
            #expect(peak <= fixture.budgets[2] && peak > fixture.budgets[1])
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aWorkerWithASmallMemoryFlagGetsFewerBlocks() throws {
        let fixture = try ClusterFixture.shared.get()
        // cluster.yaml gives both workers room for every block; w1 itself was started with room for one.
        let workers = [
            LocalCluster.WorkerSpec(name: "w0", memoryBytes: fixture.budgets[4]),
            LocalCluster.WorkerSpec(name: "w1", memoryBytes: fixture.budgets[4], arguments: ["--memory", "\(fixture.budgets[1])"]),
        ]
        let cluster = try LocalCluster(root: fixture.root, model: fixture.model, workers: workers, windowFrames: 3, windowOverlap: 1)
        defer { cluster.stop() }
        #expect(cluster.coordinatorLog.contains("its --memory"), "the coordinator did not note w1's own budget: \(cluster.coordinatorLog)")
        try cluster.client("submit", ClusterFixture.jobArguments(steps: ClusterFixture.steps) + ["--wait", "--quiet", "--out", "small-memory.y4m"])
        let produced = Array(try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/small-memory.y4m")))
        #expect(produced == fixture.reference, "output differs from generate; coordinator log:\n\(cluster.coordinatorLog)")
        let status = try cluster.status("job-000001")
        #expect(status["placement"] as? [[String]] == [["w0[0..<3]", "w1[3..<4]"]], "placement \(status["placement"] ?? "none")")
    }

    @Test(.timeLimit(.minutes(3)))
    func aClientKilledWhileWaitingDoesNotAffectItsJob() throws {
        let fixture = try ClusterFixture.shared.get()
        let workers = (0..<2).map { LocalCluster.WorkerSpec(name: "w\($0)", memoryBytes: fixture.budgets[2]) }
        let cluster = try LocalCluster(root: fixture.root, model: fixture.model, workers: workers, windowFrames: 3, windowOverlap: 1)
        defer { cluster.stop() }
        let client = Process()
        client.executableURL = URL(fileURLWithPath: cluster.binaries + "/coordinator")
        client.arguments = ["submit", "--config", cluster.configPath, "--wait", "--quiet", "--out", "disconnected.y4m"]
            + ClusterFixture.jobArguments(steps: ClusterFixture.killSteps)
        client.currentDirectoryURL = URL(fileURLWithPath: fixture.root)
        client.standardOutput = FileHandle.nullDevice
        client.standardError = FileHandle.nullDevice
        try client.run()
        defer { if client.isRunning { kill(client.processIdentifier, SIGKILL); client.waitUntilExit() } }
        let job = "job-000001"
        let deadline = Date().addingTimeInterval(60)
        while ((try? cluster.status(job))?["steps_done"] as? Int ?? 0) < 2 {
            guard Date() < deadline, client.isRunning else {
                throw HarnessError("the job did not reach step 2 while the client waited: \(cluster.coordinatorLog)")
            }
            usleep(10_000)
        }
        kill(client.processIdentifier, SIGKILL)
        client.waitUntilExit()
        #expect(client.terminationReason == .uncaughtSignal)
        #expect(!FileManager.default.fileExists(atPath: fixture.root + "/disconnected.y4m"), "the killed client wrote its result")
        try cluster.client("wait", [job, "--quiet", "--out", "disconnected-wait.y4m"])
        let produced = Array(try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/disconnected-wait.y4m")))
        #expect(produced == (try fixture.referenceBytes(steps: ClusterFixture.killSteps)),
                "output after the client was killed differs; coordinator log:\n\(cluster.coordinatorLog)")
        let status = try cluster.status(job)
        #expect(status["state"] as? String == "finished")
        #expect(status["steps_redone"] as? Int == 0, "a client going away made the coordinator redo steps")
    }

    @Test(.timeLimit(.minutes(2)))
    func aMicroBatchDroppedSilentlyIsRedoneByTheWatchdog() throws {
        let fixture = try ClusterFixture.shared.get()
        // w1 (the last stage) answers `ok` to its 3rd micro-batch and then forgets it; its connection stays healthy.
        let workers = [
            LocalCluster.WorkerSpec(name: "w0", memoryBytes: fixture.budgets[2]),
            LocalCluster.WorkerSpec(name: "w1", memoryBytes: fixture.budgets[2], environment: ["SORA_FAULT_DROP_FORWARDS": "3"]),
        ]
        let cluster = try LocalCluster(root: fixture.root, model: fixture.model, workers: workers, windowFrames: 3, windowOverlap: 1)
        defer { cluster.stop() }
        let started = Date()
        try cluster.client("submit", ClusterFixture.jobArguments(steps: ClusterFixture.steps) + ["--wait", "--quiet", "--out", "watchdog.y4m"])
        let seconds = Date().timeIntervalSince(started)
        let produced = Array(try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/watchdog.y4m")))
        #expect(produced == fixture.reference, "output differs from generate; coordinator log:\n\(cluster.coordinatorLog)")
        #expect(cluster.workerLog("w1").contains("dropping micro-batch"), "the fault hook did not fire: \(cluster.workerLog("w1"))")
        let log = cluster.coordinatorLog
        #expect(log.contains("got no result within"), "the watchdog did not report the lost micro-batch: \(log)")
        #expect(!log.contains("re-planning"), "a lost micro-batch must not cost a re-plan: \(log)")
        #expect(seconds >= UnitWatchdog.floorSeconds, "the job finished before the watchdog could have fired")
        let status = try cluster.status("job-000001")
        #expect(status["state"] as? String == "finished")
        #expect(status["steps_redone"] as? Int == 0)
    }
}
