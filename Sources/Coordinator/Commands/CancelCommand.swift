// `coordinator cancel`: stops a queued or running cluster job.
import Foundation
import Wire
import Cluster

/// Cancels a job.
enum CancelCommand: Command {
    static let name = "cancel"
    static let summary = "cancel a queued or running cluster job"
    static let specs: [OptionSpec] = [ClusterClient.configSpec]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") {
            print(usageText(synopsis: "coordinator cancel JOB [--config FILE]",
                            description: "Cancels JOB: a queued job at once, a running one after the micro-batches in flight; its workers drop its state.",
                            specs: specs))
            return 0
        }
        let options = try CommandLineOptions(arguments, specs: specs, maxPositional: 1)
        guard let job = options.positional.first else { throw CommandLineError("missing the job id") }
        let (config, _) = try ClusterClient.config(options)
        return try ClusterClient.runAsync {
            let connection = try await ClusterClient.connect(config)
            defer { connection.abort(reason: "done") }
            _ = try await connection.request(.cancel(JobReference(jobID: job, reason: "cancelled by a client")))
            print("cancel requested for \(job)")
            return 0
        }
    }
}
