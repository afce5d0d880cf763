// A cluster job as the coordinator keeps it: the request a client sent, its resolved spec, its state and
// progress, stored as job.json in the job's folder under state_dir.
import Foundation
import Model

/// What a client sends in `submit`: the job options as given on its command line (the coordinator fills the
/// rest from the model's defaults and cluster.yaml, exactly as `generate` does) and the output format.
struct JobRequest: Codable, Sendable, Equatable {
    /// `--name` -> value, for the options of `generate` that describe the job.
    var options: [String: String]
    /// The result's format: y4m, mp4, png or safetensors.
    var output: String

    /// The `generate` options a cluster job may carry (not --model, --threads, --latents, --out, --quiet).
    /// Media options (`JobOptions.mediaOptions`) name attachments of the submission; `--connect` holds its two
    /// names separated by a newline; `--loop` is a flag (its value is empty).
    static let optionNames: Set<String> = [
        "--prompt", "--negative-prompt", "--width", "--height", "--frames", "--duration", "--fps", "--steps",
        "--guidance", "--shift", "--scheduler", "--seed", "--max-sequence-length", "--window-frames", "--window-overlap",
        "--image", "--extend-forward", "--extend-backward", "--connect", "--edit", "--strength", "--pin-strength", "--loop", "--fit",
        "--expand-prompt",
    ]
    /// Options that are flags: present or not.
    static let flagNames: Set<String> = ["--loop", "--expand-prompt"]

    /// The values an option's string stands for (two for `--connect`).
    static func values(of option: String, _ value: String) -> [String] {
        option == "--connect" ? value.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) : [value]
    }
    /// The largest request accepted.
    static let maxBytes = 1 << 20

    /// Decodes and checks a request from the wire; errors name the field.
    static func decode(_ bytes: ArraySlice<UInt8>) throws -> JobRequest {
        guard bytes.count <= maxBytes else { throw ClusterError("specJSON is \(bytes.count) bytes; the limit is \(maxBytes)") }
        let request: JobRequest
        do { request = try JSONDecoder().decode(JobRequest.self, from: Data(bytes)) } catch {
            throw ClusterError("specJSON is not a job request: \(error)")
        }
        for name in request.options.keys where !optionNames.contains(name) {
            throw ClusterError("\(name) is not a job option (allowed: \(optionNames.sorted().joined(separator: " ")))")
        }
        for name in flagNames where request.options[name].map({ !$0.isEmpty }) == true {
            throw ClusterError("\(name) is a flag; its value must be empty")
        }
        guard VideoOutputKind(rawValue: request.output) != nil else {
            throw ClusterError("output must be y4m, mp4, png or safetensors, got '\(request.output)'")
        }
        return request
    }

    /// The options as a command line (`--name=value`, `--flag`), for `JobOptions.spec`.
    var arguments: [String] {
        options.keys.sorted().flatMap { name -> [String] in
            if Self.flagNames.contains(name) { return [name] }
            return Self.values(of: name, options[name]!).map { "\(name)=\($0)" }
        }
    }
}

/// Where a job is in its life.
enum JobState: String, Codable, Sendable {
    case queued, running, waiting, finished, failed, cancelled
    /// Its state cannot be written (state_dir read-only, full, ...): retried until it can (StateStore.swift).
    case paused

    /// No further change will happen.
    var isTerminal: Bool { self == .finished || self == .failed || self == .cancelled }
}

/// A job's spec, state and progress (job.json).
struct JobRecord: Codable, Sendable, Equatable {
    var id: String
    var state: JobState
    var spec: VideoJobSpec
    var output: String
    /// Steps completed and checkpointed.
    var stepsDone: Int = 0
    var steps: Int
    /// encoding-text, denoising, decoding, or the reason for waiting / failing.
    var phase: String = "queued"
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
        case id, state, spec, output, steps, phase, message, placement, sequence
        case stepsDone = "steps_done"
        case submittedAt = "submitted_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case resultBytes = "result_bytes"
        case stepsRedone = "steps_redone"
        case secondsLost = "seconds_lost"
    }

    /// The result file's name in the job folder.
    var resultName: String { "result.\(output)" }
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
            guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20,
                  var record = try? JSONDecoder().decode(JobRecord.self, from: data), record.id == name else { continue }
            if !record.state.isTerminal {
                record.state = .queued
                record.phase = "queued (resumed after a coordinator restart)"
            }
            records[name] = record
            order.append(name)
            if let number = Int(name.dropFirst(4)) { nextNumber = max(nextNumber, number + 1) }
        }
    }

    nonisolated func folder(of id: String) -> String { (stateDirectory as NSString).appendingPathComponent("jobs/\(id)") }

    /// Adds a new queued job and writes its folder.
    func add(spec: VideoJobSpec, output: String) throws -> JobRecord {
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
            FileHandle.standardError.write(Data("coordinator: cannot write job.json of \(id): \(error)\n".utf8))
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
            return update(id) { $0.state = .cancelled; $0.phase = "cancelled"; $0.finishedAt = Date().timeIntervalSince1970 }
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
