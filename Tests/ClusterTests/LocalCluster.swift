// Test support: a coordinator and workers as real processes on 127.0.0.1 (the built `coordinator` and `worker`
// binaries), with free ports, a fresh token and state folder, time-bounded commands, and every process killed
// at the end.
import Foundation
import Model
#if canImport(Glibc)
import Glibc
#endif

/// A failure of the harness, with what it was doing.
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The folder holding the built `coordinator` and `worker` (the test binary's own build folder).
enum BuiltProducts {
    static func directory() throws -> String {
        var candidates: [String] = []
        if let override = ProcessInfo.processInfo.environment["SORA_BIN_DIR"] { candidates.append(override) }
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(folder.path)
            folder = folder.deletingLastPathComponent()
        }
        for candidate in candidates {
            let manager = FileManager.default
            if manager.isExecutableFile(atPath: candidate + "/coordinator") && manager.isExecutableFile(atPath: candidate + "/worker") {
                return candidate
            }
        }
        throw HarnessError("the coordinator and worker binaries were not found beside the test binary (looked in \(candidates)); build them first (swift build) or set SORA_BIN_DIR")
    }
}

/// A TCP port nobody listens on right now.
func freePort() throws -> UInt16 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw HarnessError("socket failed") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    guard bound == 0 else { throw HarnessError("bind failed") }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
}

/// Runs a program to completion within `timeoutSeconds`; returns its status and output.
@discardableResult
func runProgram(_ path: String, _ arguments: [String], in folder: String, timeoutSeconds: Double = 120) throws
    -> (status: Int32, output: String)
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: folder)
    let log = folder + "/run-\(UUID().uuidString).log"
    FileManager.default.createFile(atPath: log, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? handle.close()
        throw HarnessError("\((path as NSString).lastPathComponent) \(arguments.joined(separator: " ")) took longer than \(timeoutSeconds) s; output: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }
    try? handle.close()
    return (process.terminationStatus, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
}

/// A coordinator and workers on loopback; `stop()` (also run on deinit) kills every process it started.
final class LocalCluster: ClusterHarness {
    struct WorkerSpec {
        var name: String
        var memoryBytes: Int
        /// Extra environment of the worker process (fault-injection hooks).
        var environment: [String: String] = [:]
        /// Extra command-line arguments of the worker (e.g. its own `--memory`).
        var arguments: [String] = []
    }

    let folder: String
    let binaries: String
    let configPath: String
    private(set) var workerProcesses: [String: Process] = [:]
    private var coordinator: Process?
    private var workerPorts: [String: UInt16] = [:]

    /// Writes cluster.yaml and a token in a fresh folder beside a model folder `model` (relative to `root`).
    init(root: String, model: String, workers: [WorkerSpec], windowFrames: Int, windowOverlap: Int, inflight: Int = 2) throws {
        binaries = try BuiltProducts.directory()
        folder = root
        configPath = root + "/cluster-\(UUID().uuidString.prefix(8)).yaml"
        let stateName = "state-" + UUID().uuidString.prefix(8)
        let tokenName = "token-" + UUID().uuidString.prefix(8)
        try runChecked("coordinator", ["init-token", "--out", root + "/" + tokenName])
        var yaml = """
            coordinator:
              listen: 127.0.0.1:\(try freePort())
              state_dir: \(stateName)
            token_file: \(tokenName)
            model: \(model)
            workers:

            """
        for worker in workers {
            let port = try freePort()
            workerPorts[worker.name] = port
            yaml += "  - name: \(worker.name)\n    address: 127.0.0.1:\(port)\n    memory: \(worker.memoryBytes)\n    threads: 1\n"
        }
        yaml += "scheduler:\n  window_frames: \(windowFrames)\n  window_overlap: \(windowOverlap)\n  max_inflight_per_stage: \(inflight)\n"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        for worker in workers {
            let tokenPath = root + "/" + tokenName
            workerProcesses[worker.name] = try spawn("worker", [
                "--listen", "127.0.0.1:\(workerPorts[worker.name]!)", "--token-file", tokenPath, "--model-root", root,
                "--threads", "1", "--name", worker.name,
            ] + worker.arguments, log: "\(worker.name).log", environment: worker.environment)
        }
        coordinator = try spawn("coordinator", ["serve", "--config", configPath, "--threads", "1"], log: "coordinator.log")
        // Ready when the coordinator answers a status request.
        let deadline = Date().addingTimeInterval(30)
        while true {
            if (try? runProgram(binaries + "/coordinator", ["status", "--config", configPath], in: folder, timeoutSeconds: 10))?.status == 0 { break }
            guard Date() < deadline else { throw HarnessError("the coordinator did not come up within 30 s: \(coordinatorLog)") }
            usleep(100_000)
        }
        try waitUntilConnected(workers.map(\.name), deadline: deadline)
    }

    deinit { stop() }

    var coordinatorLog: String { (try? String(contentsOfFile: logPath("coordinator.log"), encoding: .utf8)) ?? "" }

    /// A worker's log.
    func workerLog(_ name: String) -> String { (try? String(contentsOfFile: logPath("\(name).log"), encoding: .utf8)) ?? "" }


    /// Sends SIGKILL to a worker.
    func killWorker(_ name: String) {
        guard let process = workerProcesses[name], process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Kills every process this cluster started.
    func stop() {
        for process in Array(workerProcesses.values) + [coordinator].compactMap({ $0 }) where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A tiny model (the `tiny` preset's shapes) with `layers` blocks, written once per test run.
enum TestModel {
    static func write(layers: Int, into root: String, name: String) throws {
        let tiny = ModelPreset.tiny
        var config = tiny.transformer
        config.numLayers = layers
        let preset = ModelPreset(
            name: tiny.name, summary: tiny.summary, transformer: config, flowShift: tiny.flowShift,
            defaultDType: tiny.defaultDType)
        try ModelFolderWriter.write(ModelFolderOptions(preset: preset, seed: 11), to: root + "/" + name)
    }
}
