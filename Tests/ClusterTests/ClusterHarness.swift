// What the two process harnesses (LocalCluster, FaultCluster) share: starting a binary with its output in a log
// file, running one to completion, and the coordinator's client commands.
import Foundation

/// A cluster of real processes in `folder`, run from `binaries`, described by the cluster.yaml at `configPath`.
protocol ClusterHarness: AnyObject {
    var folder: String { get }
    var binaries: String { get }
    var configPath: String { get }
    /// Everything the coordinator (every run of it) has written so far.
    var coordinatorLog: String { get }
}

extension ClusterHarness {
    /// Where the process named `name` writes its output.
    func logPath(_ name: String) -> String { folder + "/" + (configPath as NSString).lastPathComponent + "." + name }

    /// Starts `program` in `folder`, stdout and stderr into its log, with `environment` added to ours.
    func spawn(_ program: String, _ arguments: [String], log: String, environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        process.executableURL = URL(fileURLWithPath: binaries + "/" + program)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        FileManager.default.createFile(atPath: logPath(log), contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath(log)))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// Runs `program` to completion; its output, or an error with it when it exits non-zero.
    @discardableResult
    func runChecked(_ program: String, _ arguments: [String], timeoutSeconds: Double = 120) throws -> String {
        let (status, output) = try runProgram(binaries + "/" + program, arguments, in: folder, timeoutSeconds: timeoutSeconds)
        guard status == 0 else { throw HarnessError("\(program) \(arguments.joined(separator: " ")) exited \(status): \(output)") }
        return output
    }

    /// Waits until the coordinator has logged a connection from every worker in `names`. A worker that starts late
    /// (its speed probe takes a few hundred ms under load) would otherwise miss the first placement: the first job
    /// would be planned without it, and a test that then stops or kills it would hit a worker the job does not use.
    func waitUntilConnected(_ names: [String], deadline: Date) throws {
        while !names.allSatisfy({ coordinatorLog.contains("worker \($0) connected") }) {
            guard Date() < deadline else { throw HarnessError("not every worker connected within 30 s: \(coordinatorLog)") }
            usleep(50_000)
        }
    }

    /// `coordinator <command> --config <this cluster> ...`.
    @discardableResult
    func client(_ command: String, _ arguments: [String], timeoutSeconds: Double = 120) throws -> String {
        try runChecked("coordinator", [command, "--config", configPath] + arguments, timeoutSeconds: timeoutSeconds)
    }

    /// The coordinator's JSON record of a job.
    func status(_ job: String) throws -> [String: Any] {
        let text = try client("status", [job, "--json"], timeoutSeconds: 20)
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw HarnessError("status of \(job) is not a JSON object: \(text)")
        }
        return object
    }
}
