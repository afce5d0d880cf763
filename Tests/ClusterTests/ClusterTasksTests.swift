// Image and video prompting on a real 2-worker cluster (`coordinator serve` + two `worker` processes on
// 127.0.0.1): animate, edit, extend, connect and loop jobs give the same bytes as single-process `generate`; the stage
// protocol's per-token timestep rows are checked before use.
import Foundation
import Model
import Wire
import Testing
@testable import Coordinator
import Cluster

@Suite(.serialized) struct ClusterTasksTests {
    /// A folder with the model, the media and the `generate` references, made once.
    struct Fixture: Sendable {
        let root: String
        let model = "models/tiny4"
        let budget: Int

        static let shared: Result<Fixture, Error> = Result { try Fixture() }

        /// 17 frames in windows of 3 latent frames (2 windows), guidance on.
        static let common = [
            "--prompt", "a kite over a beach", "--negative-prompt", "blurry", "--width", "32", "--height", "32",
            "--steps", "3", "--guidance", "4", "--seed", "5", "--max-sequence-length", "8", "--window-frames", "3",
            "--window-overlap", "1",
        ]
        static let jobs: [(name: String, arguments: [String])] = [
            ("animate", ["--frames", "17", "--image", "kite.png"]),
            ("edit", ["--edit", "beach.y4m", "--strength", "0.6"]),
            ("extend", ["--extend-forward", "beach.y4m", "--duration", "0.5"]),
            ("connect", ["--connect", "beach.y4m", "kite.png", "--duration", "0.75"]),
            ("loop", ["--frames", "16", "--loop"]),
        ]

        init() throws {
            root = NSTemporaryDirectory() + "sora-cluster-tasks-\(getpid())"
            Self.removeFoldersOfEndedRuns()
            try? FileManager.default.removeItem(atPath: root)
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try TestModel.write(layers: 4, into: root, name: model)
            try PNGWriter.write(Self.picture(frame: 0), to: root + "/kite.png")
            let writer = try Y4MWriter(path: root + "/beach.y4m", width: 32, height: 32, framesPerSecond: 16)
            for frame in 0..<17 { try writer.write(Self.picture(frame: frame)) }
            try writer.finish()
            let binaries = try BuiltProducts.directory()
            for job in Self.jobs {
                let (status, output) = try runProgram(
                    binaries + "/coordinator",
                    ["generate", "--model", model, "--threads", "1", "--quiet", "--out", "reference-\(job.name).y4m"]
                        + Self.common + job.arguments, in: root)
                guard status == 0 else { throw HarnessError("generate \(job.name) failed: \(output)") }
            }
            // A budget that holds two of the four blocks: the planner splits the model over both workers.
            let coordinatorModel = try CoordinatorModel(path: root + "/" + model)
            var spec = VideoJobSpec(prompt: "x", width: 32, height: 32, frames: 17)
            spec.steps = 3
            spec.guidanceScale = 4
            spec.maxSequenceLength = 8
            spec.windowFrames = 3
            spec.windowOverlap = 1
            let planning = try coordinatorModel.planningModel(for: spec)
            budget = StagePlanner.peakBytes(model: planning, layers: 2, inflight: 2)
                + planning.bytesPerLayer / 2
        }

        /// Removes the folders earlier test processes left behind: any `sora-cluster-tasks-PID` whose process is gone.
        static func removeFoldersOfEndedRuns() {
            let temporary = NSTemporaryDirectory()
            let prefix = "sora-cluster-tasks-"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [] where name.hasPrefix(prefix) {
                guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
                if kill(pid, 0) != 0 && errno == ESRCH { try? FileManager.default.removeItem(atPath: temporary + name) }
            }
        }

        static func picture(frame: Int) -> RGBFrame {
            var pixels = [UInt8](repeating: 0, count: 32 * 32 * 3)
            for y in 0..<32 {
                for x in 0..<32 {
                    let index = (y * 32 + x) * 3
                    pixels[index] = UInt8((x * 7 + frame * 4) % 256)
                    pixels[index + 1] = UInt8((y * 5 + 60) % 256)
                    pixels[index + 2] = UInt8(((x + y) * 3 + frame * 6) % 256)
                }
            }
            return RGBFrame(width: 32, height: 32, pixels: pixels)
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func imageAndVideoTasksOnTwoWorkersEqualGenerate() throws {
        let fixture = try Fixture.shared.get()
        let workers = ["w0", "w1"].map { LocalCluster.WorkerSpec(name: $0, memoryBytes: fixture.budget) }
        let cluster = try LocalCluster(root: fixture.root, model: fixture.model, workers: workers, windowFrames: 3, windowOverlap: 1)
        defer { cluster.stop() }
        for (index, job) in Fixture.jobs.enumerated() {
            let out = "cluster-\(job.name).y4m"
            try cluster.client("submit", Fixture.common + job.arguments + ["--wait", "--quiet", "--out", out])
            let produced = Array(try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/" + out)))
            let reference = Array(try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/reference-\(job.name).y4m")))
            #expect(produced.count == reference.count)
            #expect(produced == reference, "\(job.name): cluster output differs from generate; log:\n\(cluster.coordinatorLog)")
            let status = try cluster.status(String(format: "job-%06d", index + 1))
            #expect(status["state"] as? String == "finished")
            #expect((status["placement"] as? [[String]] ?? []) == [["w0[0..<2]", "w1[2..<4]"]], "placement \(status["placement"] ?? "")")
        }
    }

    @Test func tokenTimestepRowsAreCheckedBeforeUse() throws {
        func pack(_ values: [Float]) throws -> [NamedTensor] {
            [try StageTensors.pack(StageTensors.tokenTimestepRows, Tensor(shape: [values.count], scalars: values))]
        }
        #expect(try StageTensors.tokenRows(from: [], tokens: 4, rowCount: 1) == nil)
        #expect(try StageTensors.tokenRows(from: try pack([0, 0, 1, 1]), tokens: 4, rowCount: 2) == [0, 0, 1, 1])
        #expect(throws: StageProtocolError.self) { try StageTensors.tokenRows(from: [], tokens: 4, rowCount: 2) }
        #expect(throws: StageProtocolError.self) { try StageTensors.tokenRows(from: try pack([0, 1, 1]), tokens: 4, rowCount: 2) }
        #expect(throws: StageProtocolError.self) { try StageTensors.tokenRows(from: try pack([0, 2, 1, 1]), tokens: 4, rowCount: 2) }
        #expect(throws: StageProtocolError.self) { try StageTensors.tokenRows(from: try pack([0, 0.5, 1, 1]), tokens: 4, rowCount: 2) }
        #expect(throws: StageProtocolError.self) { try StageTensors.tokenRows(from: try pack([0, 0, 0, 0]), tokens: 4, rowCount: 2) }
        #expect(throws: StageProtocolError.self) { try StageTensors.tokenRows(from: try pack([0, .nan, 1, 1]), tokens: 4, rowCount: 2) }
        #expect(throws: StageProtocolError.self) {
            try StageTensors.tokenRows(from: try pack([Float](repeating: 0, count: 4)), tokens: 4, rowCount: 65)
        }
    }

    @Test func submittedMediaMustBeCheckedAttachments() throws {
        let state = NSTemporaryDirectory() + "sora-cluster-media-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: state) }
        let png = Attachment(name: "media-0.png", bytes: ArraySlice(PNGWriter.encode(Fixture.picture(frame: 1))))
        #expect(throws: ClusterError.self) {
            try JobMedia.stage([Attachment(name: "../x.png", bytes: [1])], stateDirectory: state)
        }
        #expect(throws: ClusterError.self) { try JobMedia.stage([Attachment(name: "a.mp4", bytes: [1])], stateDirectory: state) }
        #expect(throws: ClusterError.self) { try JobMedia.stage([png, png], stateDirectory: state) }
        #expect(throws: ClusterError.self) {
            try JobMedia.stage((0..<9).map { Attachment(name: "m\($0).png", bytes: [UInt8($0)]) }, stateDirectory: state)
        }
        let staged = try JobMedia.stage([png], stateDirectory: state)
        // A media option must name an attachment, never a path of the client's choosing; every attachment is used.
        let source = try JobMedia.source(staged, [png])
        #expect(throws: ClusterError.self) { try source.path("/etc/passwd") }
        #expect(throws: ClusterError.self) { try source.load("/etc/passwd") }
        #expect(throws: ClusterError.self) { try JobMedia.checkAllUsed(staged, by: JobRequest(prompt: "x")) }
        var request = JobRequest(prompt: "x")
        request.task = JobRequest.TaskRequest(kind: .image, media: ["media-0.png"])
        try JobMedia.checkAllUsed(staged, by: request)
        let stagedPath = try #require(staged.paths["media-0.png"])
        #expect(try source.path("media-0.png") == stagedPath)
        #expect(try source.load("media-0.png") == [Fixture.picture(frame: 1)])
        var spec = VideoJobSpec(prompt: "x", width: 32, height: 32, frames: 5)
        spec.media = [MediaPlacement(source: stagedPath, sourceFrame: 0, frameCount: 1, outputFrame: 0)]
        try JobMedia.commit(staged, spec: &spec)
        let final = try #require(spec.media?.first?.source)
        #expect(final.hasPrefix(state + "/media/") && final.hasSuffix(".png") && !final.contains("incoming"))
        #expect(try PNGReader.read(path: final) == Fixture.picture(frame: 1))
        #expect(!FileManager.default.fileExists(atPath: staged.folder))
        var connect = JobRequest(prompt: "x")
        connect.task = JobRequest.TaskRequest(kind: .connect, media: ["a.y4m", "b.y4m"])
        connect.loop = true
        #expect(try JobRequest.decode(ArraySlice(try connect.encoded())) == connect)
    }

    @Test func coordinatorEntryGroupsTimestepsLikeTheWholeTransformer() throws {
        let fixture = try Fixture.shared.get()
        let model = try CoordinatorModel(path: fixture.root + "/" + fixture.model)
        let whole = try WanTransformer.load(fixture.root + "/" + fixture.model)
        let latents = Tensor.randomNormal(shape: [1, 16, 3, 4, 4], seed: 3, stream: 1)
        let text = Tensor.randomNormal(shape: [1, 8, whole.config.textDim], seed: 4, stream: 1)
        let input = WorkUnitInput(
            id: WorkUnitID(step: 0, window: 0, branch: .conditional), hiddenStates: latents, timestep: 750,
            frameTimesteps: [0, 750, 750])
        let entryPiece = model.family.transformer
        let entry = try entryPiece.entry(input, projectedText: try entryPiece.projectText(text))
        let reference = try whole.embed(
            hiddenStates: latents, timestep: input.timestepTensor(patchSize: whole.config.patchSize), encoderHiddenStates: text)
        #expect(entry.tokenTimestepRows == reference.tokenTimestepRows)
        #expect(entry.timestepProjection == reference.timestepProjection)
        #expect(entry.timeEmbedding == reference.timeEmbedding)
        #expect(entry.tokenTimestepRows?.prefix(4) == [0, 0, 0, 0] && entry.tokenTimestepRows?.last == 1)
    }
}
