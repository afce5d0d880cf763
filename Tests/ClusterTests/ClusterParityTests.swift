// Multi-process cluster tests: real `coordinator serve` and `worker` processes on 127.0.0.1 produce the same
// bytes as single-process `coordinator generate`, for 1, 2 and 3 workers, uneven splits, and a worker killed
// with SIGKILL in the middle of a job.
import Foundation
import Model
import Testing
@testable import Coordinator

/// The shared model, job and reference output.
struct ClusterFixture: Sendable {
    let root: String
    let model = "models/tiny4"
    let reference: [UInt8]
    /// Bytes of `layers` blocks plus everything else the planner counts for this job on one worker.
    let budgets: [Int]

    /// The job: 17 frames (5 latent) in windows of 3 with overlap 1 (2 windows), guidance on (2 branches).
    static func jobArguments(steps: Int) -> [String] {
        ["--prompt", "a red fox in the snow", "--negative-prompt", "blurry", "--width", "64", "--height", "48",
         "--frames", "17", "--steps", "\(steps)", "--guidance", "5", "--seed", "7", "--max-sequence-length", "16",
         "--window-frames", "3", "--window-overlap", "1"]
    }
    static let steps = 5
    static let killSteps = 40
    /// Steps of the coordinator-restart job: long enough that an unloaded release build is still denoising
    /// when the coordinator is killed after step 5.
    static let restartSteps = 400

    static let shared: Result<ClusterFixture, Error> = Result { try ClusterFixture() }

    init() throws {
        root = NSTemporaryDirectory() + "sora-cluster-tests-\(getpid())"
        Self.removeFoldersOfEndedRuns()
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try TestModel.write(layers: 4, into: root, name: "models/tiny4")
        let binaries = try BuiltProducts.directory()
        for steps in [Self.steps, Self.killSteps, Self.restartSteps] {
            let (status, output) = try runProgram(
                binaries + "/coordinator",
                ["generate", "--model", model, "--threads", "1", "--quiet", "--out", "reference-\(steps).y4m"]
                    + Self.jobArguments(steps: steps), in: root)
            guard status == 0 else { throw HarnessError("generate failed: \(output)") }
        }
        reference = Array(try Data(contentsOf: URL(fileURLWithPath: root + "/reference-\(Self.steps).y4m")))
        // Budgets from the planner's own prediction, with half a block of slack: budgets[k] holds exactly k blocks.
        let coordinatorModel = try CoordinatorModel(path: root + "/" + model)
        var spec = VideoJobSpec(prompt: "x", width: 64, height: 48, frames: 17)
        spec.steps = Self.steps
        spec.guidanceScale = 5
        spec.maxSequenceLength = 16
        spec.windowFrames = 3
        spec.windowOverlap = 1
        let planning = try coordinatorModel.planningModel(for: spec)
        budgets = (0...4).map {
            StagePlanner.peakBytes(model: planning, layers: $0, inflight: 2) + planning.bytesPerLayer / 2
        }
    }

    /// Removes the folders earlier test processes left behind (the suite has no teardown hook): any
    /// `sora-cluster-tests-PID` whose process no longer exists.
    static func removeFoldersOfEndedRuns() {
        let temporary = NSTemporaryDirectory()
        let prefix = "sora-cluster-tests-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(atPath: temporary + name)
            }
        }
    }

    func referenceBytes(steps: Int) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: root + "/reference-\(steps).y4m")))
    }
}

@Suite(.serialized) struct ClusterParityTests {
    /// Per case: the blocks each worker's budget holds, and the placement the planner must choose.
    static let cases: [(capacities: [Int], placement: [String])] = [
        ([4], ["w0[0..<4]"]),
        ([1, 3], ["w0[0..<1]", "w1[1..<4]"]),
        ([2, 2, 2], ["w0[0..<2]", "w1[2..<3]", "w2[3..<4]"]),
    ]

    @Test(.timeLimit(.minutes(2)), arguments: 0..<3)
    func clusterOutputEqualsGenerate(caseIndex: Int) throws {
        let fixture = try ClusterFixture.shared.get()
        let (capacities, placement) = Self.cases[caseIndex]
        let workers = capacities.enumerated().map {
            LocalCluster.WorkerSpec(name: "w\($0.offset)", memoryBytes: fixture.budgets[$0.element])
        }
        let cluster = try LocalCluster(root: fixture.root, model: fixture.model, workers: workers, windowFrames: 3, windowOverlap: 1)
        defer { cluster.stop() }
        let out = "cluster-\(caseIndex).y4m"
        try cluster.client("submit", ClusterFixture.jobArguments(steps: ClusterFixture.steps) + ["--wait", "--quiet", "--out", out])
        let produced = Array(try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/" + out)))
        #expect(produced.count == fixture.reference.count)
        #expect(produced == fixture.reference, "cluster output differs from generate; coordinator log:\n\(cluster.coordinatorLog)")
        let status = try cluster.status("job-000001")
        #expect(status["state"] as? String == "finished")
        let pipelines = status["placement"] as? [[String]] ?? []
        #expect(pipelines == [placement], "placement \(pipelines)")
    }

    @Test(.timeLimit(.minutes(2)))
    func aWorkerKilledMidJobChangesNothing() throws {
        let fixture = try ClusterFixture.shared.get()
        let workers = (0..<3).map { LocalCluster.WorkerSpec(name: "w\($0)", memoryBytes: fixture.budgets[2]) }
        let cluster = try LocalCluster(root: fixture.root, model: fixture.model, workers: workers, windowFrames: 3, windowOverlap: 1)
        defer { cluster.stop() }
        let job = try cluster.client("submit", ClusterFixture.jobArguments(steps: ClusterFixture.killSteps))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(job == "job-000001")
        let deadline = Date().addingTimeInterval(60)
        while (try cluster.status(job)["steps_done"] as? Int ?? 0) < 3 {
            guard Date() < deadline else { throw HarnessError("the job did not reach step 3: \(cluster.coordinatorLog)") }
            usleep(10_000)
        }
        cluster.killWorker("w1")
        try cluster.client("wait", [job, "--quiet", "--out", "killed.y4m"])
        let produced = Array(try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/killed.y4m")))
        #expect(produced == (try fixture.referenceBytes(steps: ClusterFixture.killSteps)),
                "output after a worker was killed differs; coordinator log:\n\(cluster.coordinatorLog)")
        let status = try cluster.status(job)
        #expect(status["state"] as? String == "finished")
        #expect((status["steps_redone"] as? Int ?? 0) >= 1)
        let placement = (status["placement"] as? [[String]] ?? []).flatMap { $0 }
        #expect(!placement.contains { $0.hasPrefix("w1[") }, "the killed worker is still placed: \(placement)")
        #expect(placement.count == 2)
    }
}
