// StateStore: which errors pause a job, atomic writes that leave nothing behind, and checkpoints read back only
// whole (a truncated or corrupt file is refused and the previous one used, or none).
import Foundation
import Model
import Testing
import Wire
@testable import Coordinator

@Suite struct StateStoreTests {
    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "state-store-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A 2-window, 4-step loop (the model is a fixed function of the input, like DenoisingLoopTests' stand-in).
    static func loop() throws -> DenoisingLoop {
        let scheduler = try UniPCMultistepScheduler(config: UniPCMultistepConfig(flowShift: 3.0), stepCount: 4)
        let plan = try WindowPlan(latentFrames: 5, windowFrames: 3, overlap: 1)
        return try DenoisingLoop(
            plan: plan, guidanceScale: 1, scheduler: scheduler,
            latents: Tensor.randomNormal(shape: [1, 4, 5, 3, 5], seed: 3, stream: 1),
            schedulerState: try scheduler.initialState(beginIndex: 0))
    }

    static func step(_ loop: inout DenoisingLoop) throws {
        var results: [WorkUnitID: Tensor] = [:]
        for unit in loop.pendingUnits() { results[unit] = Ops.scale(try loop.input(for: unit).hiddenStates, by: 0.5) }
        try loop.advance(with: results)
    }

    static func load(_ path: String) throws -> DenoisingLoop {
        let scheduler = try UniPCMultistepScheduler(config: UniPCMultistepConfig(flowShift: 3.0), stepCount: 4)
        return try GenerationCheckpoint.load(
            path: path, job: "job-1", plan: try WindowPlan(latentFrames: 5, windowFrames: 3, overlap: 1),
            guidanceScale: 1, scheduler: scheduler)
    }

    // MARK: - Which errors pause

    @Test func storageErrorsPauseOthersFail() {
        let readOnly = StateWriteError(path: "/s/jobs/job-1/job.json.tmp", operation: "open", code: EROFS)
        #expect(StateStore.storageProblem(readOnly) == "Read-only file system at /s/jobs/job-1/job.json.tmp (open)")
        #expect(readOnly.description == "open failed for /s/jobs/job-1/job.json.tmp: Read-only file system (errno 30)")
        #expect(StateStore.storageProblem(CheckpointError.io(path: "/s/c.tmp-1", operation: "write", errno: ENOSPC))
            == "No space left on device at /s/c.tmp-1 (write)")
        #expect(StateStore.storageProblem(StateWriteError(path: "/x", operation: "open", code: EACCES)) != nil)
        #expect(StateStore.storageProblem(MediaError("cannot write /s/r.partial-9: No space left on device")) != nil)
        // Not storage: a missing folder, a bad file, a cluster failure.
        #expect(StateStore.storageProblem(StateWriteError(path: "/x", operation: "open", code: ENOENT)) == nil)
        #expect(StateStore.storageProblem(CheckpointError.truncated(file: "c", reason: "short")) == nil)
        #expect(StateStore.storageProblem(ClusterError("worker w0: not connected")) == nil)
    }

    // MARK: - Atomic writes

    @Test func atomicWriteReplacesWholeAndLeavesNoTemporaryFile() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/job.json"
        try StateStore.writeAtomically(Data("first".utf8), to: path)
        try StateStore.writeAtomically(Data(repeating: 0x41, count: 200_000), to: path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(repeating: 0x41, count: 200_000))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["job.json"])
        do {
            try StateStore.writeAtomically(Data("x".utf8), to: folder + "/missing/job.json")
            Issue.record("a write into a missing folder succeeded")
        } catch {
            #expect(error.code == ENOENT && error.path == folder + "/missing/job.json.tmp" && error.operation == "open")
        }
    }

    // MARK: - Reading checkpoints back

    @Test func aTruncatedCheckpointIsRefusedAndThePreviousOneUsed() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var loop = try Self.loop()
        try Self.step(&loop)
        try StateStore.saveCheckpoint(loop, job: "job-1", folder: folder)
        let afterOne = loop
        try Self.step(&loop)
        try StateStore.saveCheckpoint(loop, job: "job-1", folder: folder)
        let current = folder + "/" + StateStore.checkpointName
        let previous = folder + "/" + StateStore.previousCheckpointName
        // Both whole: the newest is used.
        var refused: [StateStore.RefusedCheckpoint] = []
        let newest = StateStore.loadCheckpoint(folder: folder, refused: &refused, Self.load)
        #expect(newest?.stepIndex == 2 && refused.isEmpty)
        #expect(newest?.latents.scalars == loop.latents.scalars)
        // The newest loses its second half: refused (named, with the truncation), the previous one is used.
        let size = try FileManager.default.attributesOfItem(atPath: current)[.size] as! Int
        #expect(truncate(current, off_t(size / 2)) == 0)
        let resumed = StateStore.loadCheckpoint(folder: folder, refused: &refused, Self.load)
        #expect(resumed?.stepIndex == 1)
        #expect(resumed?.latents.scalars == afterOne.latents.scalars)
        #expect(refused.count == 1)
        #expect(refused.first?.path == current)
        #expect(refused.first?.reason.contains("truncated safetensors file checkpoint.safetensors") == true, "\(refused)")
        #expect(FileManager.default.fileExists(atPath: current + ".refused"))
        #expect(!FileManager.default.fileExists(atPath: current))
        // The previous one with a garbage header too: nothing usable, the job starts again.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: previous))
        try handle.write(contentsOf: Data([0x10, 0, 0, 0, 0, 0, 0, 0]) + Data("{not json at all".utf8))
        try handle.close()
        refused = []
        #expect(StateStore.loadCheckpoint(folder: folder, refused: &refused, Self.load) == nil)
        #expect(refused.map(\.path) == [previous])
        #expect(refused.first?.reason.contains("invalid safetensors header") == true, "\(refused)")
        // Nothing left to try.
        refused = []
        #expect(StateStore.loadCheckpoint(folder: folder, refused: &refused, Self.load) == nil && refused.isEmpty)
    }

    /// A byte flipped inside the tensor data leaves a file of the right length and a valid header: only the
    /// checksum catches it.
    @Test func anAlteredCheckpointIsRefusedByItsChecksum() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var loop = try Self.loop()
        try Self.step(&loop)
        try StateStore.saveCheckpoint(loop, job: "job-1", folder: folder)
        try Self.step(&loop)
        try StateStore.saveCheckpoint(loop, job: "job-1", folder: folder)
        let current = folder + "/" + StateStore.checkpointName
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == [
            "checkpoint.previous.safetensors", "checkpoint.previous.safetensors.crc32c",
            "checkpoint.safetensors", "checkpoint.safetensors.crc32c",
        ])
        // The recorded line is the file's CRC32C and length, computed here independently of StateStore.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: current)))
        let recorded = try String(contentsOfFile: current + ".crc32c", encoding: .utf8)
        #expect(recorded == "crc32c \(String(CRC32C.checksum(bytes: bytes), radix: 16)) bytes \(bytes.count)\n")
        // Flip the last byte (inside the data of the last tensor).
        var altered = bytes
        altered[altered.count - 1] ^= 0x40
        try Data(altered).write(to: URL(fileURLWithPath: current))
        var refused: [StateStore.RefusedCheckpoint] = []
        let resumed = StateStore.loadCheckpoint(folder: folder, refused: &refused, Self.load)
        #expect(resumed?.stepIndex == 1)
        #expect(refused.map(\.path) == [current])
        #expect(refused.first?.reason.contains("its content does not match") == true, "\(refused)")
    }

    /// A crash between the checkpoint's rename and its checksum file's rename: the new checkpoint with the old
    /// checksum is refused and the previous one, whose pair matches, is used.
    @Test func aCheckpointWithAStaleChecksumFallsBackToThePreviousOne() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var loop = try Self.loop()
        try Self.step(&loop)
        try StateStore.saveCheckpoint(loop, job: "job-1", folder: folder)
        let stale = try Data(contentsOf: URL(fileURLWithPath: folder + "/checkpoint.safetensors.crc32c"))
        try Self.step(&loop)
        try StateStore.saveCheckpoint(loop, job: "job-1", folder: folder)
        try stale.write(to: URL(fileURLWithPath: folder + "/checkpoint.safetensors.crc32c"))
        var refused: [StateStore.RefusedCheckpoint] = []
        #expect(StateStore.loadCheckpoint(folder: folder, refused: &refused, Self.load)?.stepIndex == 1)
        #expect(refused.count == 1)
        // Without any checksum file (a checkpoint from before checksums), the structure alone decides.
        let other = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: other) }
        try GenerationCheckpoint.save(loop, job: "job-1", to: other + "/" + StateStore.checkpointName)
        refused = []
        #expect(StateStore.loadCheckpoint(folder: other, refused: &refused, Self.load)?.stepIndex == 2 && refused.isEmpty)
    }

    @Test func anEmptyCheckpointFileIsRefused() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        FileManager.default.createFile(atPath: folder + "/" + StateStore.checkpointName, contents: Data())
        var refused: [StateStore.RefusedCheckpoint] = []
        #expect(StateStore.loadCheckpoint(folder: folder, refused: &refused, Self.load) == nil)
        #expect(refused.first?.reason.contains("0 bytes, shorter than the 8-byte header length") == true, "\(refused)")
    }
}
