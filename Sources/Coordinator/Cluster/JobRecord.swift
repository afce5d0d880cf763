// A cluster job as the coordinator keeps it: its resolved spec, output format, state and progress, stored as
// job.json in the job's folder under state_dir.
import Cluster
import Foundation
import Model

/// Where a job is in its life.
enum JobState: String, Codable, Sendable {
    case queued, running, waiting, finished, failed, cancelled
    /// Its state cannot be written (state_dir read-only, full, ...): retried until it can (StateStore.swift).
    case paused

    /// No further change will happen.
    var isTerminal: Bool { self == .finished || self == .failed || self == .cancelled }
}

/// What a job is doing now, within its state.
enum JobPhase: String, Codable, Sendable {
    case queued
    case encodingText = "encoding text"
    case encodingMedia = "encoding media"
    case waitingForWorkers = "waiting for workers"
    case denoising, decoding, finished, failed, cancelled, paused

    /// Reads a phase, including the one free-text phase version 1 wrote.
    init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        if text == "queued (resumed after a coordinator restart)" {
            self = .queued
        } else if let phase = JobPhase(rawValue: text) {
            self = phase
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown phase '\(text)'"))
        }
    }
}

/// A job's spec, state and progress (job.json).
struct JobRecord: Codable, Sendable, Equatable {
    /// The job.json format this build writes; version 1 (before the typed job request) had no `version` key and
    /// is read and rewritten as version 2.
    static let currentVersion = 2

    /// The format version (nil in a version 1 file).
    var version: Int? = JobRecord.currentVersion
    var id: String
    var state: JobState
    var spec: VideoJobSpec
    /// The result file's format.
    var output: VideoOutputKind
    /// Steps completed and checkpointed.
    var stepsDone: Int = 0
    var steps: Int
    /// What the job is doing within its state.
    var phase: JobPhase = .queued
    /// The latest note: why it waits, failed or is paused, a step redone.
    var message: String?
    var submittedAt: Double
    var startedAt: Double?
    var finishedAt: Double?
    var resultBytes: Int?
    /// Steps that had to be run again after a worker failed, and the seconds those failures cost.
    var stepsRedone: Int = 0
    var secondsLost: Double = 0
    /// The workers of each pipeline of the current placement, stage by stage.
    var placement: [[String]] = []
    /// Increases with every change (watch sends an event per change).
    var sequence: Int = 0

    enum CodingKeys: String, CodingKey {
        case version, id, state, spec, output, steps, phase, message, placement, sequence
        case stepsDone = "steps_done"
        case submittedAt = "submitted_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case resultBytes = "result_bytes"
        case stepsRedone = "steps_redone"
        case secondsLost = "seconds_lost"
    }

    /// The result file's name in the job folder.
    var resultName: String { "result.\(output.rawValue)" }

    /// Reads a job.json: this version's, or version 1's (migrated), or an error that says why it cannot be used.
    static func load(_ data: Data, id: String) throws -> JobRecord {
        var record: JobRecord
        do { record = try JSONDecoder().decode(JobRecord.self, from: data) } catch {
            throw ClusterError("job.json of \(id) cannot be read: \(JobRequest.describe(error))")
        }
        let version = record.version ?? 1
        guard version <= currentVersion else {
            throw ClusterError("job.json of \(id) has format version \(version); this coordinator reads up to \(currentVersion)")
        }
        guard record.id == id else { throw ClusterError("job.json in folder \(id) is for job \(record.id)") }
        record.version = currentVersion
        return record
    }
}

/// The jobs of a coordinator and their folders under state_dir.
///
/// Layout: `state_dir/jobs/<id>/job.json` (this record, rewritten atomically on every change),
/// `checkpoint.safetensors` (the loop after the last completed step), `result.<ext>` (the finished video; it
/// appears only complete, by rename).
actor JobBook {
    let stateDirectory: String
    private var records: [String: JobRecord] = [:]
    private var order: [String] = []
    private var cancelRequests: Set<String> = []
    private var nextNumber = 1

    init(stateDirectory: String) throws {
        self.stateDirectory = stateDirectory
        let jobs = (stateDirectory as NSString).appendingPathComponent("jobs")
        try FileManager.default.createDirectory(atPath: jobs, withIntermediateDirectories: true)
        // Earlier jobs: finished ones stay fetchable, unfinished ones are resumed from their checkpoint.
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: jobs)) ?? []).sorted()
        for name in names {
            let path = (jobs as NSString).appendingPathComponent("\(name)/job.json")
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            var record: JobRecord
            do {
                guard data.count <= 1 << 20 else { throw ClusterError("job.json of \(name) is \(data.count) bytes, above 1 MiB") }
                record = try JobRecord.load(data, id: name)
            } catch {
                Log("coordinator")("\(error); the job is left as it is on disk and not listed")
                continue
            }
            if !record.state.isTerminal {
                record.state = .queued
                record.phase = .queued
                record.message = "resumed after a coordinator restart"
            }
            records[name] = record
            order.append(name)
            if let number = Int(name.dropFirst(4)) { nextNumber = max(nextNumber, number + 1) }
        }
    }

    nonisolated func folder(of id: String) -> String { (stateDirectory as NSString).appendingPathComponent("jobs/\(id)") }

    /// Adds a new queued job and writes its folder.
    func add(spec: VideoJobSpec, output: VideoOutputKind) throws -> JobRecord {
        let id = String(format: "job-%06d", nextNumber)
        nextNumber += 1
        guard mkdir(folder(of: id), 0o755) == 0 || errno == EEXIST else {
            throw StateWriteError(path: folder(of: id), operation: "mkdir", code: errno)
        }
        let record = JobRecord(
            id: id, state: .queued, spec: spec, output: output, steps: spec.steps,
            submittedAt: Date().timeIntervalSince1970)
        try persist(record)
        records[id] = record
        order.append(id)
        return record
    }

    func record(_ id: String) -> JobRecord? { records[id] }
    func all() -> [JobRecord] { order.compactMap { records[$0] } }

    /// The oldest queued job.
    func nextQueued() -> JobRecord? { order.lazy.compactMap { self.records[$0] }.first { $0.state == .queued } }

    /// Changes a job and writes job.json.
    @discardableResult
    func update(_ id: String, _ change: (inout JobRecord) -> Void) -> JobRecord? {
        guard var record = records[id] else { return nil }
        change(&record)
        record.sequence += 1
        records[id] = record
        do { try persist(record) } catch {
            Log("coordinator")("cannot write job.json of \(id): \(error)")
        }
        return record
    }

    /// Changes a job only if its job.json can be written; throws the write's error otherwise (nothing changes).
    @discardableResult
    func updateDurably(_ id: String, _ change: (inout JobRecord) -> Void) throws -> JobRecord? {
        guard var record = records[id] else { return nil }
        change(&record)
        record.sequence += 1
        try persist(record)
        records[id] = record
        return record
    }

    /// Asks a job to stop; a queued one is cancelled at once. Returns nil for an unknown job.
    func requestCancel(_ id: String) -> JobRecord? {
        guard let record = records[id] else { return nil }
        if record.state.isTerminal { return record }
        if record.state == .queued {
            return update(id) { $0.state = .cancelled; $0.phase = .cancelled; $0.finishedAt = Date().timeIntervalSince1970 }
        }
        cancelRequests.insert(id)
        return record
    }

    func isCancelRequested(_ id: String) -> Bool { cancelRequests.contains(id) }

    private func persist(_ record: JobRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try StateStore.writeAtomically(try encoder.encode(record), to: (folder(of: record.id) as NSString).appendingPathComponent("job.json"))
    }
}

/// A cluster failure with a message for the user.
struct ClusterError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
