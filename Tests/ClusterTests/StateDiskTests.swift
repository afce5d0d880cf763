// Issue 6, "a state directory on a full or read-only disk": the coordinator's state_dir is a small tmpfs the test
// fills up (a real ENOSPC) or remounts read-only (a real EROFS) mid-job; the job pauses with the reason in
// `status` and resumes with the same bytes once the disk is writable. Also: a truncated checkpoint is refused
// at restart and the one before it is used.
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A tmpfs mounted for one test and always unmounted after it.
final class ScratchMount {
    let path: String

    /// Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, `mount` installed), checked once.
    static let available: Bool = {
        guard getuid() == 0 else { return false }
        let probe = NSTemporaryDirectory() + "sora-mount-probe-\(getpid())"
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard (try? runTool("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe])) != nil else { return false }
        _ = try? runTool("umount", [probe])
        return true
    }()

    init(at path: String, sizeBytes: Int) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try runTool("mount", ["-t", "tmpfs", "-o", "size=\(sizeBytes)", "tmpfs", path])
    }

    /// Remounts read-only (retried: the kernel refuses while a file is open for writing) or read-write.
    func remount(readOnly: Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while true {
            do {
                try runTool("mount", ["-o", readOnly ? "remount,ro" : "remount,rw", path])
                return
            } catch {
                guard Date() < deadline else { throw error }
                usleep(20_000)
            }
        }
    }

    deinit {
        _ = try? runTool("umount", ["-l", path])
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs a system tool found on PATH to completion; returns its output, throws with it when the tool fails.
@discardableResult
func runTool(_ tool: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
    let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
    guard let path = directories.map({ $0 + "/" + tool }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw HarnessError("\(tool) is not installed")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw HarnessError("\(tool) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(output)")
    }
    return output
}

/// The disk and partition suites, one test at a time. The disk tests block a thread of the cooperative pool (2
/// threads on this machine) for up to a minute each, as the other cluster suites do; two such tests at once
/// leave no thread for the async tests running beside them (a loopback test's reply then waits behind them).
@Suite(.serialized) enum SlowFaultTests {}

extension SlowFaultTests {
    @Suite(.serialized) struct StateDiskTests {
        static let mountReason: Comment = "needs root and permission to mount a tmpfs (it makes a real full or read-only disk)"

        static func makeCluster(stateDirectory: String? = nil) throws -> (ClusterFixture, FaultCluster) {
            let fixture = try ClusterFixture.shared.get()
            let cluster = try FaultCluster(
                root: fixture.root, model: fixture.model, workers: try FaultInjectionTests.workers(2, blocks: 2),
                stateDirectory: stateDirectory)
            return (fixture, cluster)
        }

        /// Waits until the job is paused and returns its status message.
        static func waitForPause(_ cluster: FaultCluster, _ job: String) throws -> String {
            try cluster.waitFor("\(job) to pause", timeoutSeconds: 60) { try cluster.status(job)["state"] as? String == "paused" }
            return try cluster.status(job)["message"] as? String ?? ""
        }

        /// Checks the job stays paused at the same step for a while (nothing is computed past what can be saved).
        static func expectStaysPaused(_ cluster: FaultCluster, _ job: String) throws -> Int {
            let steps = try cluster.status(job)["steps_done"] as? Int ?? -1
            usleep(2_500_000)
            let status = try cluster.status(job)
            #expect(status["state"] as? String == "paused")
            #expect(status["steps_done"] as? Int == steps, "the job advanced while its checkpoint could not be written")
            return steps
        }

        // MARK: - Full disk

        /// The state tmpfs is filled to the last byte mid-job: the checkpoint write fails with ENOSPC, the job pauses
        /// ("No space left on device" in status), stays at its step, and once space is freed it resumes and ends
        /// with the bytes of single-process `generate`.
        @Test(.enabled(if: ScratchMount.available, mountReason), .timeLimit(.minutes(3)))
        func aFullDiskPausesTheJobUntilThereIsSpace() throws {
            let fixture = try ClusterFixture.shared.get()
            let mount = try ScratchMount(at: fixture.root + "/full-disk-\(UUID().uuidString.prefix(8))", sizeBytes: 4 << 20)
            let (_, cluster) = try Self.makeCluster(stateDirectory: mount.path)
            defer { cluster.stop() }
            let job = try FaultInjectionTests.submit(cluster, steps: ClusterFixture.restartSteps)
            try cluster.waitForSteps(job, 3)
            // Fill: write until the kernel says ENOSPC.
            let filler = mount.path + "/filler"
            let descriptor = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            #expect(descriptor >= 0)
            let chunk = [UInt8](repeating: 0x5A, count: 4096)
            var filled = 0
            while true {
                let written = chunk.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                if written <= 0 { break }
                filled += written
            }
            let fillErrno = errno
            close(descriptor)
            #expect(fillErrno == ENOSPC)
            let message = try Self.waitForPause(cluster, job)
            print("StateDiskTests: filled \(filled) bytes; status message: \(message)")
            #expect(message.contains("state_dir not writable") && message.contains("No space left on device"), "\(message)")
            let pausedAt = try Self.expectStaysPaused(cluster, job)
            #expect(pausedAt < ClusterFixture.restartSteps, "the pause came only at the end (\(pausedAt) steps)")
            #expect(message.contains("checkpoint"), "not paused at a checkpoint write: \(message)")
            #expect(cluster.coordinatorLog.contains("\(job): paused: state_dir not writable"))
            // No partial file is left holding space.
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: mount.path + "/jobs/\(job)")
                .filter { $0.contains(".tmp") || $0.contains("partial") }
            #expect(leftovers.isEmpty, "temporary files left on the full disk: \(leftovers)")
            unlink(filler)
            let produced = try FaultInjectionTests.result(cluster, job, file: "full-disk.y4m")
            #expect(produced == (try fixture.referenceBytes(steps: ClusterFixture.restartSteps)), "logs:\n\(cluster.allLogs)")
            let status = try cluster.status(job)
            #expect(status["state"] as? String == "finished")
            #expect((status["message"] as? String ?? "").hasPrefix("resumed after state_dir was not writable"))
            print("StateDiskTests: paused at step \(pausedAt), resumed and finished with identical bytes")
        }

        // MARK: - Read-only disk

        /// The state tmpfs is remounted read-only mid-job (EROFS): the job pauses naming the error, and after a
        /// remount read-write it resumes and ends with the same bytes. A submission while read-only is refused with
        /// the reason.
        @Test(.enabled(if: ScratchMount.available, mountReason), .timeLimit(.minutes(3)))
        func aReadOnlyDiskPausesTheJobUntilWritable() throws {
            let fixture = try ClusterFixture.shared.get()
            let mount = try ScratchMount(at: fixture.root + "/ro-disk-\(UUID().uuidString.prefix(8))", sizeBytes: 16 << 20)
            let (_, cluster) = try Self.makeCluster(stateDirectory: mount.path)
            defer { cluster.stop() }
            let job = try FaultInjectionTests.submit(cluster, steps: ClusterFixture.restartSteps)
            try cluster.waitForSteps(job, 3)
            try mount.remount(readOnly: true)
            let message = try Self.waitForPause(cluster, job)
            print("StateDiskTests: read-only; status message: \(message)")
            #expect(message.contains("state_dir not writable") && message.contains("Read-only file system"), "\(message)")
            _ = try Self.expectStaysPaused(cluster, job)
            // A new job cannot be queued on a read-only disk: refused with the reason, not lost later.
            do {
                _ = try FaultInjectionTests.submit(cluster, steps: ClusterFixture.steps)
                Issue.record("a job was accepted while state_dir was read-only")
            } catch {
                #expect("\(error)".contains("cannot queue the job: state_dir not writable: mkdir failed for "), "\(error)")
                #expect("\(error)".contains("Read-only file system (errno 30)"), "\(error)")
            }
            try mount.remount(readOnly: false)
            let produced = try FaultInjectionTests.result(cluster, job, file: "ro-disk.y4m")
            #expect(produced == (try fixture.referenceBytes(steps: ClusterFixture.restartSteps)), "logs:\n\(cluster.allLogs)")
            #expect(try cluster.status(job)["state"] as? String == "finished")
        }

        // MARK: - Truncated checkpoint

        /// The coordinator is killed mid-job and its newest checkpoint cut in half (as a disk that lost the end of
        /// the file would leave it): the restarted coordinator refuses it, naming the file and the truncation, keeps
        /// it aside as `.refused`, resumes from the previous checkpoint, and the bytes are identical.
        @Test(.timeLimit(.minutes(3)))
        func aTruncatedCheckpointIsRefusedAtRestart() throws {
            let (fixture, cluster) = try Self.makeCluster()
            defer { cluster.stop() }
            let job = try FaultInjectionTests.submit(cluster, steps: ClusterFixture.restartSteps)
            try cluster.waitForSteps(job, 5)
            cluster.killCoordinator()
            let folder = try FaultInjectionTests.stateDirectory(cluster) + "/jobs/\(job)"
            let checkpoint = folder + "/checkpoint.safetensors"
            let previous = folder + "/checkpoint.previous.safetensors"
            // A kill between a save's two renames leaves both names on one file (the previous checkpoint is a
            // hard link to the current one until the new one is renamed in), and truncating it would cut both:
            // not the case this test makes. Then the job runs a few steps more and the kill is repeated.
            var kills = 1
            while try Self.sameFile(checkpoint, previous), kills < 5 {
                print("StateDiskTests: killed between a save's renames; running on and killing again")
                try cluster.startCoordinator()
                try cluster.waitForSteps(job, try Self.checkpointStep(checkpoint) + 3)
                cluster.killCoordinator()
                kills += 1
            }
            #expect(try !Self.sameFile(checkpoint, previous), "every kill landed between a save's renames")
            let size = (try FileManager.default.attributesOfItem(atPath: checkpoint)[.size] as? Int) ?? 0
            #expect(truncate(checkpoint, off_t(size / 2)) == 0)
            let previousStep = try Self.checkpointStep(previous)
            try cluster.startCoordinator()
            let produced = try FaultInjectionTests.result(cluster, job, file: "truncated.y4m")
            #expect(produced == (try fixture.referenceBytes(steps: ClusterFixture.restartSteps)), "logs:\n\(cluster.allLogs)")
            let log = cluster.log("coordinator-\(cluster.coordinatorStarts).log")
            let refusal = log.split(separator: "\n").first { $0.contains("checkpoint.safetensors refused") }.map(String.init) ?? ""
            print("StateDiskTests: \(refusal)")
            #expect(refusal.contains("truncated"), "no refusal of the truncated checkpoint:\n\(log)")
            #expect(log.contains("\(job): resuming from the checkpoint after step \(previousStep)\n"), "\(log)")
            #expect(FileManager.default.fileExists(atPath: checkpoint + ".refused"))
        }

        /// Whether two paths name the same file (one inode).
        static func sameFile(_ first: String, _ second: String) throws -> Bool {
            var a = stat()
            var b = stat()
            guard stat(first, &a) == 0, stat(second, &b) == 0 else {
                throw HarnessError("cannot stat \(first) or \(second): errno \(errno)")
            }
            return a.st_dev == b.st_dev && a.st_ino == b.st_ino
        }

        /// The step_index a checkpoint file records (read from its header as text, independently of the code).
        static func checkpointStep(_ path: String) throws -> Int {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let text = String(decoding: data.prefix(4096), as: UTF8.self)
            guard let range = text.range(of: "\"step_index\":\""),
                  let end = text[range.upperBound...].firstIndex(of: "\""),
                  let step = Int(text[range.upperBound..<end]) else {
                throw HarnessError("no step_index in the header of \(path)")
            }
            return step
        }
    }
}
