// A job's files under state_dir on a disk that may be full or read-only: atomic writes that report errno, a
// pause-and-retry loop for storage failures, and checkpoints that are read back only whole and unaltered (checked
// structure and CRC32C; else the one before, else a fresh start).
import Foundation
import Model
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// A write of the coordinator's state (job.json, a checkpoint, a result) that the operating system refused.
struct StateWriteError: Error, CustomStringConvertible {
    /// The file or folder.
    let path: String
    /// The call that failed: open, write, fsync, rename, link.
    let operation: String
    /// errno.
    let code: Int32

    /// The operating system's text for `code`.
    var reason: String { String(cString: strerror(code)) }
    var description: String { "\(operation) failed for \(path): \(reason) (errno \(code))" }
}

/// Storage failures and checkpoint files of a coordinator's state folder.
enum StateStore {
    /// errno values that mean "the disk cannot take this write now": a pause, not a failure of the job.
    static let storageErrnos: Set<Int32> = [EROFS, ENOSPC, EDQUOT, EACCES, EPERM, EIO, EFBIG]

    /// Seconds between attempts while a job is paused (`SORA_STATE_RETRY_SECONDS` overrides, 0.1...60).
    static let retrySeconds: Double = {
        if let text = ProcessInfo.processInfo.environment["SORA_STATE_RETRY_SECONDS"], let value = Double(text),
           (0.1...60).contains(value) {
            return value
        }
        return 1
    }()

    /// The checkpoint after the last completed step.
    static let checkpointName = "checkpoint.safetensors"
    /// The checkpoint of the step before it (a hard link to the file the newest one replaced).
    static let previousCheckpointName = "checkpoint.previous.safetensors"
    /// The new checkpoint while it is being put in place (never read back).
    static let nextCheckpointName = "checkpoint.next.safetensors"

    /// Describes `error` as a storage failure ("<errno text> at <path>") when it is one, else nil.
    ///
    /// Typed errors carry errno (`StateWriteError`, `CheckpointError.io`); the media writers report
    /// `strerror` text, so their message is matched against the texts of `storageErrnos`.
    static func storageProblem(_ error: Error) -> String? {
        if let error = error as? StateWriteError {
            return storageErrnos.contains(error.code) ? "\(error.reason) at \(error.path) (\(error.operation))" : nil
        }
        if let error = error as? CheckpointError {
            if case .io(let path, let operation, let code) = error, storageErrnos.contains(code) {
                return "\(String(cString: strerror(code))) at \(path) (\(operation))"
            }
            return nil
        }
        let text = "\(error)"
        for code in storageErrnos.sorted() where text.contains(String(cString: strerror(code))) {
            return text
        }
        return nil
    }

    // MARK: - Writing

    /// Writes `data` to a temporary file beside `path`, fsyncs it, renames it over `path` and fsyncs the folder.
    /// A short write is continued; on any failure the temporary file is removed (it would hold space on a full
    /// disk) and `path` is left as it was.
    static func writeAtomically(_ data: Data, to path: String) throws(StateWriteError) {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw StateWriteError(path: temporary, operation: "open", code: errno) }
        func fail(_ operation: String, _ code: Int32) -> StateWriteError {
            close(descriptor)
            unlink(temporary)
            return StateWriteError(path: temporary, operation: operation, code: code)
        }
        var offset = 0
        while offset < data.count {
            let written = data.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw fail("write", errno)
            }
            offset += written
        }
        guard fsync(descriptor) == 0 else { throw fail("fsync", errno) }
        guard close(descriptor) == 0 else {
            let code = errno
            unlink(temporary)
            throw StateWriteError(path: temporary, operation: "close", code: code)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw StateWriteError(path: path, operation: "rename", code: code)
        }
        syncFolder(of: path)
    }

    /// fsyncs the folder holding `path`, so a rename into it survives a power cut.
    static func syncFolder(of path: String) {
        let folder = (path as NSString).deletingLastPathComponent
        let descriptor = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if descriptor >= 0 {
            _ = fsync(descriptor)
            close(descriptor)
        }
    }

    /// Saves the loop's state in `folder`. The new checkpoint is written whole first (to a sibling, fsync'd)
    /// with its CRC32C and size beside it (`<name>.crc32c`), while both older ones still exist, so a full disk
    /// fails here and loses nothing; then the current pair becomes the previous one (hard links renamed into
    /// place, so the previous checkpoint never goes missing) and the new pair is renamed over the current one. A crash between the two renames leaves a checkpoint whose checksum file
    /// does not match: it is refused at resume and the previous one, whose pair matches, is used. Until the new
    /// pair is renamed in, the current and previous names share one file, so a crash in that moment leaves two
    /// names for one complete checkpoint (and damage to that file afterwards would reach both).
    static func saveCheckpoint(_ loop: DenoisingLoop, job: String, folder: String) throws {
        let current = (folder as NSString).appendingPathComponent(checkpointName)
        let previous = (folder as NSString).appendingPathComponent(previousCheckpointName)
        let next = (folder as NSString).appendingPathComponent(nextCheckpointName)
        do {
            try GenerationCheckpoint.save(loop, job: job, to: next)
            try writeAtomically(Data(try fileDigest(next).line.utf8), to: next + checksumSuffix)
        } catch {
            // A half-made pair would hold space on a full disk and is never read: drop it.
            unlink(next)
            unlink(next + checksumSuffix)
            throw error
        }
        if FileManager.default.fileExists(atPath: current) {
            // Each file of the previous pair is replaced in one rename (a hard link made beside it first), so a
            // crash never leaves the job without a previous checkpoint once it has had one.
            for (from, to) in [(current, previous), (current + checksumSuffix, previous + checksumSuffix)] {
                guard FileManager.default.fileExists(atPath: from) else { continue }
                let staging = to + ".link"
                if unlink(staging) != 0 && errno != ENOENT {
                    throw StateWriteError(path: staging, operation: "unlink", code: errno)
                }
                guard link(from, staging) == 0 else { throw StateWriteError(path: staging, operation: "link", code: errno) }
                guard rename(staging, to) == 0 else { throw StateWriteError(path: to, operation: "rename", code: errno) }
            }
        }
        guard rename(next, current) == 0 else { throw StateWriteError(path: current, operation: "rename", code: errno) }
        guard rename(next + checksumSuffix, current + checksumSuffix) == 0 else {
            throw StateWriteError(path: current + checksumSuffix, operation: "rename", code: errno)
        }
        syncFolder(of: current)
    }

    /// The suffix of a checkpoint's checksum file.
    static let checksumSuffix = ".crc32c"

    /// A file's CRC32C and length, as recorded beside a checkpoint: `crc32c 1a2b3c4d bytes 61440`.
    struct FileDigest: Equatable {
        let crc: UInt32
        let byteCount: Int

        var line: String { "crc32c \(String(crc, radix: 16)) bytes \(byteCount)\n" }

        /// Parses `line`; nil when it is not one.
        init?(line: String) {
            let fields = line.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            guard fields.count == 4, fields[0] == "crc32c", fields[2] == "bytes", let crc = UInt32(fields[1], radix: 16),
                  let byteCount = Int(fields[3]), byteCount >= 0 else { return nil }
            self.init(crc: crc, byteCount: byteCount)
        }

        init(crc: UInt32, byteCount: Int) {
            self.crc = crc
            self.byteCount = byteCount
        }
    }

    /// Reads `path` through and returns its CRC32C and length.
    static func fileDigest(_ path: String) throws(StateWriteError) -> FileDigest {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StateWriteError(path: path, operation: "open", code: errno) }
        defer { close(descriptor) }
        var crc = CRC32C()
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw StateWriteError(path: path, operation: "read", code: errno)
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { crc.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            total += count
        }
        return FileDigest(crc: crc.value, byteCount: total)
    }

    /// Checks `path` against its checksum file, if it has one (a file written before checksums existed, or a
    /// first checkpoint whose checksum rename was cut short, has none and is checked by its structure alone).
    static func verifyDigest(_ path: String) throws {
        let sidecar = path + checksumSuffix
        guard let data = FileManager.default.contents(atPath: sidecar) else { return }
        guard data.count <= 256, let recorded = FileDigest(line: String(decoding: data, as: UTF8.self)) else {
            throw ClusterError("its checksum file \(sidecar) is not a 'crc32c HEX bytes N' line")
        }
        let actual = try fileDigest(path)
        guard actual == recorded else {
            throw ClusterError(
                "its content does not match \(sidecar): crc32c \(String(actual.crc, radix: 16)) over \(actual.byteCount) "
                    + "bytes, recorded crc32c \(String(recorded.crc, radix: 16)) over \(recorded.byteCount) bytes")
        }
    }

    // MARK: - Reading back

    /// A checkpoint that was refused at resume, and why.
    struct RefusedCheckpoint: CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "\(path) refused: \(reason)" }
    }

    /// Loads the newest checkpoint in `folder` that `load` accepts and whose checksum file matches: the current
    /// one, else the previous one. A refused file (truncated, altered, another job's) is never used: it is
    /// renamed to `<name>.refused` so it is kept for inspection and not tried again. Returns nil when no file is usable (the job restarts from
    /// its first step, which gives the same bytes since the noise is keyed by the job's seed).
    static func loadCheckpoint<Loop>(
        folder: String, refused: inout [RefusedCheckpoint], _ load: (String) throws -> Loop
    ) -> Loop? {
        for name in [checkpointName, previousCheckpointName] {
            let path = (folder as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else { continue }
            do {
                let loop = try load(path)
                try verifyDigest(path)
                return loop
            } catch {
                refused.append(RefusedCheckpoint(path: path, reason: "\(error)"))
                _ = rename(path, path + ".refused")
            }
        }
        return nil
    }
}

// MARK: - Pausing a job while its state cannot be written

extension JobRunner {
    /// Runs `write` until it succeeds. While it fails with a storage problem (read-only or full disk, no
    /// permission, I/O error) the job is `paused` with the reason in its message, visible in `status`, and the
    /// write is tried again every `StateStore.retrySeconds`; once it succeeds the job returns to the state it
    /// was in. Any other error is thrown. A cancel request ends the pause with `JobCancelled`.
    @discardableResult
    func whileStorageFails<T>(_ id: String, _ what: String, _ write: () async throws -> T) async throws -> T {
        var pausedAt: Date?
        var before: (state: JobState, phase: JobPhase, message: String?)?
        var lastProblem = ""
        while true {
            do {
                let value = try await write()
                if let pausedAt, let before {
                    let seconds = Date().timeIntervalSince(pausedAt)
                    log(String(format: "\(id): resumed: the \(what) was written after a pause of %.1f s", seconds))
                    await book.update(id) {
                        if $0.state == .paused {
                            $0.state = before.state
                            $0.phase = before.phase
                        }
                        $0.message = String(
                            format: "resumed after state_dir was not writable for %.1f s (\(lastProblem))", seconds)
                    }
                }
                return value
            } catch {
                guard let problem = StateStore.storageProblem(error) else { throw error }
                if pausedAt == nil {
                    pausedAt = Date()
                    if let record = await book.record(id) { before = (record.state, record.phase, record.message) }
                }
                if problem != lastProblem {
                    lastProblem = problem
                    let message =
                        "paused: state_dir not writable: \(problem); retrying every \(StateStore.retrySeconds) s"
                    log("\(id): \(message) (writing the \(what))")
                    await book.update(id) { $0.state = .paused; $0.phase = .paused; $0.message = message }
                }
                if await book.isCancelRequested(id) { throw JobCancelled() }
                try await Task.sleep(nanoseconds: UInt64(StateStore.retrySeconds * 1e9))
            }
        }
    }
}
