// cluster.yaml: where the coordinator listens, where state lives, the token, the model, and the workers.
import Foundation
import Model

/// An error in cluster.yaml, naming the file, the line and the field.
struct ClusterConfigError: Error, CustomStringConvertible {
    let description: String
}

/// A `host:port` address.
struct HostPort: Equatable, Sendable, CustomStringConvertible {
    /// Host name or address literal (IPv6 without brackets).
    let host: String
    /// TCP port.
    let port: UInt16

    /// Parses `host:port` or `[v6]:port`.
    init(parsing text: String) throws(ClusterConfigError) {
        var hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ClusterConfigError(description: "bad address '\(text)': expected [v6-address]:port")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ClusterConfigError(description: "bad address '\(text)': expected host:port")
            }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") {
                throw ClusterConfigError(description: "bad address '\(text)': write IPv6 addresses as [addr]:port")
            }
        }
        guard !hostPart.isEmpty else { throw ClusterConfigError(description: "bad address '\(text)': empty host") }
        guard let port = UInt16(portPart), port > 0 else {
            throw ClusterConfigError(description: "bad address '\(text)': port must be 1-65535, got '\(portPart)'")
        }
        hostPart = hostPart.drop { $0 == " " }
        self.host = String(hostPart)
        self.port = port
    }

    init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// One worker as cluster.yaml describes it.
struct WorkerEntry: Equatable, Sendable {
    /// A unique name (`w0`).
    let name: String
    /// Where the worker listens.
    let address: HostPort
    /// The memory budget the planner must respect on this worker, in bytes.
    let memoryBytes: Int
    /// Compute threads the worker uses.
    let threads: Int
}

/// Settings of the step scheduler.
struct SchedulerSettings: Equatable, Sendable {
    /// Latent frames per temporal window.
    var windowFrames = 21
    /// Least overlap between windows, in latent frames.
    var windowOverlap = 5
    /// Micro-batches in flight per pipeline stage.
    var maxInflightPerStage = 2
}

/// The whole cluster description.
struct ClusterConfig: Equatable, Sendable {
    /// Where clients and workers reach the coordinator.
    var listen: HostPort
    /// Where jobs, checkpoints and results live (resolved against the config file's folder).
    var stateDirectory: String
    /// The shared-secret file (resolved against the config file's folder).
    var tokenFile: String
    /// The model folder, relative to each worker's --model-root (and resolved against the config's folder for
    /// the coordinator's own use).
    var model: String
    /// Where the coordinator itself finds the model folder (`model_path`, resolved against the config's folder),
    /// when it is not `model` under the config's folder; the workers' model root may be elsewhere.
    var modelPath: String? = nil
    /// The workers.
    var workers: [WorkerEntry]
    /// Step-scheduler settings.
    var scheduler: SchedulerSettings
    /// The chat endpoint of `--expand-prompt` (nil: the environment's, else the template expander).
    var promptExpansion: PromptExpansionSettings? = nil

    /// Reads and validates a cluster.yaml file; relative paths are resolved against its folder.
    static func load(path: String) throws -> ClusterConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClusterConfigError(description: "cannot read \(path)")
        }
        guard data.count <= 1 << 20 else {
            throw ClusterConfigError(description: "\(path) is \(data.count) bytes; the limit is 1 MiB")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ClusterConfigError(description: "\(path) is not UTF-8 text")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            var config = try parse(text)
            config.stateDirectory = resolve(config.stateDirectory, against: base)
            config.tokenFile = resolve(config.tokenFile, against: base)
            return config
        } catch let error as YAMLError {
            throw ClusterConfigError(description: "\(path): \(error.description)")
        } catch let error as ClusterConfigError {
            throw ClusterConfigError(description: "\(path): \(error.description)")
        }
    }

    /// Resolves a relative path against `base`.
    static func resolve(_ path: String, against base: URL) -> String {
        path.hasPrefix("/") ? path : base.appendingPathComponent(path).standardizedFileURL.path
    }

    /// Parses the text of a cluster.yaml (paths left as written).
    static func parse(_ text: String) throws -> ClusterConfig {
        let root = try YAMLSubset.parse(text)
        var reader = try MapReader(root, context: "the file")
        let coordinator = try MapReader(try reader.required("coordinator"), context: "coordinator")
        var coordinatorReader = coordinator
        let listen = try HostPort(parsing: try coordinatorReader.string("listen"))
        let stateDirectory = try coordinatorReader.string("state_dir")
        try coordinatorReader.finish()
        let tokenFile = try reader.string("token_file")
        let model = try reader.string("model")
        let modelPath = try reader.take("model_path").map { value in
            guard case .scalar(let text, _) = value, !text.isEmpty else {
                throw ClusterConfigError(description: "line \(reader.line(of: "model_path")): 'model_path' must be a path")
            }
            return text
        }
        guard case .list(let items, let listLine) = try reader.required("workers") else {
            throw ClusterConfigError(description: "line \(reader.line(of: "workers")): 'workers' must be a list")
        }
        guard !items.isEmpty else { throw ClusterConfigError(description: "line \(listLine): 'workers' is empty") }
        var workers: [WorkerEntry] = []
        for item in items {
            var worker = try MapReader(item, context: "worker")
            let name = try worker.string("name")
            let entry = WorkerEntry(
                name: name,
                address: try HostPort(parsing: try worker.string("address")),
                memoryBytes: try worker.optional("memory").map { try parseByteSize($0.text, line: $0.line) } ?? 4 << 30,
                threads: try worker.optional("threads").map {
                    try parseCount($0.text, field: "threads", line: $0.line, range: 1...1024)
                } ?? 1)
            try worker.finish()
            if workers.contains(where: { $0.name == name }) {
                throw ClusterConfigError(description: "line \(item.line): duplicate worker name '\(name)'")
            }
            workers.append(entry)
        }
        var scheduler = SchedulerSettings()
        if let schedulerValue = reader.take("scheduler") {
            var schedulerReader = try MapReader(schedulerValue, context: "scheduler")
            if let (text, line) = try schedulerReader.optional("window_frames") {
                scheduler.windowFrames = try parseCount(text, field: "window_frames", line: line, range: 1...1024)
            }
            if let (text, line) = try schedulerReader.optional("window_overlap") {
                scheduler.windowOverlap = try parseCount(text, field: "window_overlap", line: line, range: 0...1023)
            }
            if let (text, line) = try schedulerReader.optional("max_inflight_per_stage") {
                scheduler.maxInflightPerStage = try parseCount(
                    text, field: "max_inflight_per_stage", line: line, range: 1...64)
            }
            try schedulerReader.finish()
            guard scheduler.windowOverlap < scheduler.windowFrames else {
                throw ClusterConfigError(description: "scheduler.window_overlap (\(scheduler.windowOverlap)) must be less than window_frames (\(scheduler.windowFrames))")
            }
        }
        let promptExpansion = try reader.take("prompt_expansion").map(parsePromptExpansion)
        try reader.finish()
        return ClusterConfig(
            listen: listen, stateDirectory: stateDirectory, tokenFile: tokenFile, model: model, modelPath: modelPath,
            workers: workers, scheduler: scheduler, promptExpansion: promptExpansion)
    }
}

// MARK: - prompt_expansion

extension ClusterConfig {
    /// `prompt_expansion: {base_url, model, api_key_env, timeout_seconds}`. The key itself must not be in the file.
    fileprivate static func parsePromptExpansion(_ value: YAMLValue) throws -> PromptExpansionSettings {
        var section = try MapReader(value, context: "prompt_expansion")
        let keyLine = section.line(of: "api_key")
        if section.take("api_key") != nil {
            throw ClusterConfigError(description: "line \(keyLine): prompt_expansion.api_key is not allowed: "
                + "put the key in an environment variable and name it with api_key_env")
        }
        let baseLine = section.line(of: "base_url")
        let baseURL = try section.string("base_url")
        guard let url = URL(string: baseURL), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host?.isEmpty == false else {
            throw ClusterConfigError(description: "line \(baseLine): prompt_expansion.base_url must be an http:// or "
                + "https:// URL with a host, got '\(baseURL)'")
        }
        let model = try section.string("model")
        var keyVariable: String?
        if let (text, line) = try section.optional("api_key_env") {
            let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
            guard let first = text.first, !first.isNumber, text.allSatisfy(allowed.contains) else {
                throw ClusterConfigError(description: "line \(line): prompt_expansion.api_key_env must name an "
                    + "environment variable ([A-Za-z_][A-Za-z0-9_]*), got '\(text)'")
            }
            keyVariable = text
        }
        var timeoutSeconds: Double?
        if let (text, line) = try section.optional("timeout_seconds") {
            guard let value = Double(text), value > 0, value <= 3600 else {
                throw ClusterConfigError(
                    description: "line \(line): prompt_expansion.timeout_seconds must be a number in (0, 3600], got '\(text)'")
            }
            timeoutSeconds = value
        }
        try section.finish()
        return PromptExpansionSettings(
            baseURL: baseURL, model: model, apiKeyVariable: keyVariable, timeoutSeconds: timeoutSeconds)
    }
}

// MARK: - Field readers

/// Reads a YAML map's fields once each and reports unknown ones.
private struct MapReader {
    private var entries: [(key: String, value: YAMLValue, line: Int)]
    private let context: String
    private let mapLine: Int

    init(_ value: YAMLValue, context: String) throws {
        guard case .map(let entries, let line) = value else {
            throw ClusterConfigError(description: "line \(value.line): \(context) must be a map of 'key: value' lines")
        }
        self.entries = entries
        self.context = context
        self.mapLine = line
    }

    func line(of key: String) -> Int { entries.first { $0.key == key }?.line ?? mapLine }

    mutating func take(_ key: String) -> YAMLValue? {
        guard let index = entries.firstIndex(where: { $0.key == key }) else { return nil }
        return entries.remove(at: index).value
    }

    mutating func required(_ key: String) throws -> YAMLValue {
        guard let value = take(key) else {
            throw ClusterConfigError(description: "line \(mapLine): \(context) is missing '\(key)'")
        }
        return value
    }

    mutating func string(_ key: String) throws -> String {
        let line = line(of: key)
        guard case .scalar(let text, _) = try required(key), !text.isEmpty else {
            throw ClusterConfigError(description: "line \(line): '\(key)' must be a non-empty value")
        }
        return text
    }

    /// The scalar text and line of an optional field.
    mutating func optional(_ key: String) throws -> (text: String, line: Int)? {
        let line = line(of: key)
        guard let value = take(key) else { return nil }
        guard case .scalar(let text, _) = value else {
            throw ClusterConfigError(description: "line \(line): '\(key)' must be a single value")
        }
        return (text, line)
    }

    func finish() throws {
        if let extra = entries.first {
            throw ClusterConfigError(description: "line \(extra.line): unknown field '\(extra.key)' in \(context)")
        }
    }
}

/// Parses `4GiB`, `512MiB`, `2G`, `1000000` into bytes (`ByteSize`), naming the line when it cannot.
func parseByteSize(_ text: String, line: Int) throws -> Int {
    guard let bytes = ByteSize.parse(text) else {
        throw ClusterConfigError(description: "line \(line): bad memory size '\(text)' (e.g. 4GiB, 512MiB)")
    }
    return bytes
}

private func parseCount(_ text: String, field: String, line: Int, range: ClosedRange<Int>) throws -> Int {
    guard let value = Int(text), range.contains(value) else {
        throw ClusterConfigError(
            description: "line \(line): '\(field)' must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
    }
    return value
}
