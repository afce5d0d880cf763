// `coordinator wait`: follows a job until it ends and downloads its result.
import Foundation
import Wire
import Cluster

/// Waits for a job and writes its result.
enum WaitCommand: Command {
    static let name = "wait"
    static let summary = "wait for a cluster job and download its result"
    static let specs: [OptionSpec] = [
        ClusterClient.configSpec,
        .value("--out", "FILE", "where to write the result (required)"),
        .flag("--quiet", "no progress bar"),
    ]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") {
            print(usageText(synopsis: "coordinator wait JOB --out FILE [--config FILE]",
                            description: "Follows JOB with a progress bar until it ends, then downloads its result to FILE.",
                            specs: specs))
            return 0
        }
        let options = try CommandLineOptions(arguments, specs: specs, maxPositional: 1)
        guard let job = options.positional.first else { throw CommandLineError("missing the job id") }
        let out = try options.required("--out")
        let (config, _) = try ClusterClient.config(options)
        let quiet = options.flag("--quiet")
        return try ClusterClient.runAsync {
            let connection = try await ClusterClient.connect(config)
            defer { connection.abort(reason: "done") }
            return try await ClusterClient.waitAndFetch(connection, job: job, out: out, quiet: quiet)
        }
    }
}
