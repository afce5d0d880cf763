// What the client commands (submit, status, wait, cancel) and serve/plan share: cluster.yaml, the token, a
// connection to the coordinator, and waiting for a job with a progress bar.
import Foundation
import Model
import Synchronization
import Wire
import Cluster

/// Helpers of the cluster commands.
enum ClusterClient {
    /// The `--config` option every cluster command takes.
    static let configSpec = OptionSpec.value("--config", "FILE", "cluster description (default ./cluster.yaml)")

    /// Loads the cluster.yaml named by `--config`.
    static func config(_ options: CommandLineOptions) throws -> (ClusterConfig, path: String) {
        let path = options.string("--config") ?? "cluster.yaml"
        return (try ClusterConfig.load(path: path), path)
    }

    /// The coordinator's own copy of the model: cluster.yaml's `model`, resolved against the file's folder.
    static func modelPath(_ config: ClusterConfig, configPath: String) -> String {
        ClusterConfig.resolve(config.modelPath ?? config.model, against: URL(fileURLWithPath: configPath).deletingLastPathComponent())
    }

    /// Runs async work from a synchronous command and returns its result.
    static func runAsync<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let semaphore = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        Task {
            do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
            semaphore.signal()
        }
        semaphore.wait()
        return try box.get()
    }

    /// Opens an authenticated client connection to the coordinator of `config`.
    static func connect(_ config: ClusterConfig) async throws -> WireConnection {
        let token = try ClusterToken.load(from: config.tokenFile)
        do {
            return try await WireConnection.connect(
                to: config.listen.description, options: ConnectionOptions(role: .client, name: "client", token: token))
        } catch {
            throw ClusterError("cannot reach the coordinator at \(config.listen): \(error) (is `coordinator serve` running?)")
        }
    }

    /// Follows a job's progress until it ends; returns its final record.
    static func follow(_ connection: WireConnection, job: String, quiet: Bool) async throws -> JobRecord {
        var bar: ProgressBar?
        var last: JobRecord?
        var lastPhase: JobPhase?
        for try await message in connection.requestStream(.watch(JobID(job))) {
            guard case .progress(let event) = message else { continue }
            let record = try JSONDecoder().decode(JobRecord.self, from: Data(event.eventJSON))
            last = record
            if !quiet {
                if record.phase != lastPhase, bar == nil || record.phase != .denoising {
                    if record.phase == .denoising { bar = ProgressBar(label: "denoise", total: record.steps) }
                    else if record.phase != .finished { printError("\(job): \(record.phase.rawValue)\(record.message.map { ": \($0)" } ?? "")") }
                }
                lastPhase = record.phase
                bar?.update(record.stepsDone, detail: "step \(record.stepsDone)/\(record.steps)")
            }
        }
        bar?.finish()
        guard let last else { throw ClusterError("the coordinator ended the watch of \(job) without an event") }
        return last
    }

    /// Refuses an `--out` whose extension is not the job's format, before waiting: the result's bytes are written
    /// as they are, so a `.safetensors` name on a Y4M result would be a lie.
    static func checkOutput(_ connection: WireConnection, job: String, out: String) async throws {
        let wanted: VideoOutputKind
        do { wanted = try VideoOutputKind(path: out) } catch { throw CommandLineError("option '--out': \(error)") }
        let reply = try await connection.request(.jobStatusRequest(JobID(job)))
        guard case .jobStatus(let document) = reply else { throw ClusterError("no job \(job): \(reply)") }
        let record = try JSONDecoder().decode(JobRecord.self, from: Data(document.json))
        guard record.output == wanted else {
            throw CommandLineError(
                "option '--out': \(out) asks for \(wanted.rawValue), but \(job) makes a \(record.output.rawValue) file "
                    + "(its submit --format); give --out NAME.\(record.output.rawValue)")
        }
    }

    /// Downloads a finished job's result into `path` (written to a temporary file, then renamed).
    static func fetch(_ connection: WireConnection, job: String, to path: String) async throws -> Int {
        let temporary = path + ".partial"
        guard FileManager.default.createFile(atPath: temporary, contents: nil) else { throw ClusterError("cannot create \(temporary)") }
        guard let handle = FileHandle(forWritingAtPath: temporary) else { throw ClusterError("cannot create \(temporary)") }
        var offset: UInt64 = 0
        while true {
            let reply = try await connection.request(.fetch(Fetch(jobID: job, offset: offset, maxBytes: 4 << 20)))
            guard case .fetchChunk(let chunk) = reply, chunk.offset == offset else {
                throw ClusterError("unexpected answer to fetch: \(reply.kind)")
            }
            try handle.write(contentsOf: Data(chunk.data))
            offset += UInt64(chunk.data.count)
            if chunk.isLast { break }
            guard !chunk.data.isEmpty else { throw ClusterError("the coordinator sent an empty chunk before the end") }
        }
        try handle.synchronize()
        try handle.close()
        guard rename(temporary, path) == 0 else { throw ClusterError("cannot rename \(temporary) to \(path)") }
        return Int(offset)
    }

    /// Waits for a job, fetches its result into `out`, and prints a summary; non-zero when the job did not finish.
    static func waitAndFetch(_ connection: WireConnection, job: String, out: String, quiet: Bool) async throws -> Int32 {
        try await checkOutput(connection, job: job, out: out)
        let record = try await follow(connection, job: job, quiet: quiet)
        guard record.state == .finished else {
            printError("\(job): \(record.state.rawValue)\(record.message.map { ": \($0)" } ?? "")")
            return 1
        }
        let bytes = try await fetch(connection, job: job, to: out)
        var line = "\(job): finished, \(bytes) bytes written to \(out)"
        if record.stepsRedone > 0 {
            line += String(format: " (%d step(s) redone after worker failures, %.2f s lost)", record.stepsRedone, record.secondsLost)
        }
        print(line)
        return 0
    }
}

/// Carries a result out of a task to a waiting thread.
final class ResultBox<T: Sendable>: Sendable {
    private let value = Mutex<Result<T, Error>?>(nil)
    func set(_ result: Result<T, Error>) { value.withLock { $0 = result } }
    func get() throws -> T { try value.withLock { $0! }.get() }
}
