// `coordinator status`: the state of one cluster job or of all of them.
import Foundation
import Wire
import Cluster

/// Prints job states.
enum StatusCommand: Command {
    static let name = "status"
    static let summary = "show the state of cluster jobs (one, or all)"
    static let specs: [OptionSpec] = [ClusterClient.configSpec, .flag("--json", "print the coordinator's JSON")]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") {
            print(usageText(synopsis: "coordinator status [JOB] [--json] [--config FILE]",
                            description: "Prints the state, progress and placement of JOB, or one line per job.", specs: specs))
            return 0
        }
        let options = try CommandLineOptions(arguments, specs: specs, maxPositional: 1)
        let job = options.positional.first ?? ""
        let (config, _) = try ClusterClient.config(options)
        let json = options.flag("--json")
        return try ClusterClient.runAsync {
            let connection = try await ClusterClient.connect(config)
            defer { connection.abort(reason: "done") }
            let reply = try await connection.request(.jobStatusRequest(JobID(job)))
            guard case .jobStatus(let document) = reply else { throw ClusterError("unexpected answer: \(reply.kind)") }
            if json {
                print(String(decoding: document.json, as: UTF8.self))
                return 0
            }
            let records = job.isEmpty
                ? try JSONDecoder().decode([JobRecord].self, from: Data(document.json))
                : [try JSONDecoder().decode(JobRecord.self, from: Data(document.json))]
            if records.isEmpty { print("no jobs") }
            for record in records {
                var line = "\(record.id)  \(record.state.rawValue)  step \(record.stepsDone)/\(record.steps)  \(record.phase.rawValue)"
                if !record.placement.isEmpty { line += "  on " + record.placement.map { $0.joined(separator: "->") }.joined(separator: " | ") }
                if record.stepsRedone > 0 { line += String(format: "  redone %d (%.2f s lost)", record.stepsRedone, record.secondsLost) }
                if let message = record.message { line += "  (\(message))" }
                print(line)
            }
            return 0
        }
    }
}
