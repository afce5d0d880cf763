// Test support for fault injection: a coordinator and workers on 127.0.0.1 like LocalCluster, plus a
// `faultproxy` in front of chosen workers, SIGSTOP/SIGCONT of workers, and a coordinator killed and restarted.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A cluster whose processes the test may freeze, kill, restart, or reach through a fault-injecting proxy.
final class FaultCluster: ClusterHarness {
    struct WorkerSpec {
        var name: String
        var memoryBytes: Int
        /// faultproxy fault options; when set, the coordinator reaches this worker through a proxy.
        var proxyArguments: [String]?
    }

    let folder: String
    let binaries: String
    let configPath: String
    let tokenPath: String
    let coordinatorAddress: String
    private(set) var workerAddresses: [String: String] = [:]
    private var workers: [String: Process] = [:]
    private var proxies: [String: Process] = [:]
    private var coordinator: Process?
    /// How many times `startCoordinator` has run; the latest coordinator logs to `coordinator-<this>.log`.
    private(set) var coordinatorStarts = 0

    /// `stateDirectory`: an absolute state_dir (e.g. a mount the test controls); default a fresh folder in `root`.
    init(
        root: String, model: String, workers specs: [WorkerSpec], windowFrames: Int = 3, windowOverlap: Int = 1,
        stateDirectory: String? = nil
    ) throws {
        binaries = try BuiltProducts.directory()
        guard FileManager.default.isExecutableFile(atPath: binaries + "/faultproxy") else {
            throw HarnessError("faultproxy was not built beside the coordinator in \(binaries) (swift build)")
        }
        folder = root
        let tag = String(UUID().uuidString.prefix(8))
        configPath = root + "/fault-\(tag).yaml"
        tokenPath = root + "/fault-token-\(tag)"
        coordinatorAddress = "127.0.0.1:\(try freePort())"
        try runChecked("coordinator", ["init-token", "--out", tokenPath])
        var yaml = """
            coordinator:
              listen: \(coordinatorAddress)
              state_dir: \(stateDirectory ?? "fault-state-\(tag)")
            token_file: \((tokenPath as NSString).lastPathComponent)
            model: \(model)
            workers:

            """
        for spec in specs {
            let port = try freePort()
            var advertised = port
            workers[spec.name] = try spawn("worker", [
                "--listen", "127.0.0.1:\(port)", "--token-file", tokenPath, "--model-root", root,
                "--threads", "1", "--name", spec.name,
            ], log: "\(spec.name).log")
            workerAddresses[spec.name] = "127.0.0.1:\(port)"
            if let faults = spec.proxyArguments {
                advertised = try freePort()
                proxies[spec.name] = try spawn("faultproxy", [
                    "--listen", "127.0.0.1:\(advertised)", "--target", "127.0.0.1:\(port)",
                ] + faults, log: "proxy-\(spec.name).log")
            }
            yaml += "  - name: \(spec.name)\n    address: 127.0.0.1:\(advertised)\n    memory: \(spec.memoryBytes)\n    threads: 1\n"
        }
        yaml += "scheduler:\n  window_frames: \(windowFrames)\n  window_overlap: \(windowOverlap)\n  max_inflight_per_stage: 2\n"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        try startCoordinator()
        try waitUntilConnected(specs.map(\.name), deadline: Date().addingTimeInterval(30))
    }

    deinit { stop() }

    // MARK: - Processes

    /// Starts `coordinator serve` (again) on the same config and state folder and waits until it answers.
    func startCoordinator() throws {
        coordinatorStarts += 1
        coordinator = try spawn("coordinator", ["serve", "--config", configPath, "--threads", "1"],
                                log: "coordinator-\(coordinatorStarts).log")
        let deadline = Date().addingTimeInterval(30)
        while true {
            if (try? runProgram(binaries + "/coordinator", ["status", "--config", configPath], in: folder, timeoutSeconds: 10))?.status == 0 { return }
            guard Date() < deadline else { throw HarnessError("the coordinator did not come up within 30 s: \(coordinatorLog)") }
            usleep(100_000)
        }
    }

    func killCoordinator() {
        guard let process = coordinator, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The process ids of the coordinator and every worker (by name; the coordinator as "coordinator").
    var processIDs: [String: Int32] {
        var result = workers.mapValues { $0.processIdentifier }
        if let coordinator { result["coordinator"] = coordinator.processIdentifier }
        return result
    }

    /// Starts a worker that is not in cluster.yaml (nobody connects to it but the test); killed by `stop()`.
    func startLoneWorker(name: String) throws -> String {
        let port = try freePort()
        workers[name] = try spawn("worker", [
            "--listen", "127.0.0.1:\(port)", "--token-file", tokenPath, "--model-root", folder,
            "--threads", "1", "--name", name,
        ], log: "\(name).log")
        workerAddresses[name] = "127.0.0.1:\(port)"
        return "127.0.0.1:\(port)"
    }

    func signalWorker(_ name: String, _ signal: Int32) {
        guard let process = workers[name], process.isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// Kills every process this cluster started (a stopped worker is continued first so it can die).
    func stop() {
        let all = Array(workers.values) + Array(proxies.values) + [coordinator].compactMap { $0 }
        for process in all where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            kill(process.processIdentifier, SIGCONT)
            process.waitUntilExit()
        }
    }

    // MARK: - Logs and clients

    func log(_ name: String) -> String { (try? String(contentsOfFile: logPath(name), encoding: .utf8)) ?? "" }

    /// Every coordinator run's log, in order.
    var coordinatorLog: String { (1...max(1, coordinatorStarts)).map { log("coordinator-\($0).log") }.joined(separator: "\n--- restart ---\n") }

    /// Everything, for failure messages.
    var allLogs: String {
        var text = "coordinator:\n\(coordinatorLog)"
        for name in workers.keys.sorted() { text += "\n\(name):\n\(log("\(name).log"))" }
        for name in proxies.keys.sorted() { text += "\nproxy \(name):\n\(log("proxy-\(name).log"))" }
        return text
    }


    /// Waits until `condition` holds, polling every 20 ms; returns the seconds it took.
    @discardableResult
    func waitFor(_ what: String, timeoutSeconds: Double, _ condition: () throws -> Bool) throws -> Double {
        let start = Date()
        while try !condition() {
            guard Date().timeIntervalSince(start) < timeoutSeconds else {
                throw HarnessError("timed out after \(timeoutSeconds) s waiting for \(what); logs:\n\(allLogs)")
            }
            usleep(20_000)
        }
        return Date().timeIntervalSince(start)
    }

    /// Waits until a job has completed at least `steps` steps.
    func waitForSteps(_ job: String, _ steps: Int, timeoutSeconds: Double = 60) throws {
        try waitFor("\(job) to reach step \(steps)", timeoutSeconds: timeoutSeconds) {
            (try status(job)["steps_done"] as? Int ?? 0) >= steps
        }
    }
}

/// Counts the occurrences of `needle` in `text`.
func occurrences(of needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }
