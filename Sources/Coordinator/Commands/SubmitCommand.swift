// `coordinator submit`: sends a job to the cluster's coordinator; optionally waits and downloads the result.
import Foundation
import Wire

/// Submits a job.
enum SubmitCommand: Command {
    static let name = "submit"
    static let summary = "send a job to the cluster (prints its id; --wait --out FILE waits and downloads it)"
    static let specs: [OptionSpec] = GenerateCommand.specs.filter { JobRequest.optionNames.contains($0.name) } + [
        ClusterClient.configSpec,
        .value("--out", "FILE", "with --wait: where to write the result (.y4m, .mp4, .png, .safetensors)"),
        .value("--format", "y4m|mp4|png|safetensors", "result format without --out (default y4m)"),
        .flag("--wait", "wait for the job with a progress bar, then download the result to --out"),
        .flag("--quiet", "no progress bar"),
    ]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") {
            print(usageText(
                synopsis: "coordinator submit --prompt TEXT [job options] [--config FILE] [--wait --out FILE]",
                description: "Sends a job to the coordinator named in cluster.yaml and prints its id. The job options "
                    + "are those of `generate`; what is not given comes from the coordinator's model defaults and "
                    + "cluster.yaml's scheduler section.",
                specs: specs))
            return 0
        }
        let options = try CommandLineOptions(arguments, specs: specs)
        let (config, _) = try ClusterClient.config(options)
        var jobOptions: [String: String] = [:]
        for name in JobRequest.optionNames { if let value = options.string(name) { jobOptions[name] = value } }
        guard jobOptions["--prompt"] != nil else { throw CommandLineError("missing required option '--prompt'") }
        let wait = options.flag("--wait")
        let out = options.string("--out")
        if wait && out == nil { throw CommandLineError("--wait needs --out FILE") }
        var format = options.string("--format") ?? "y4m"
        if let out { format = (out as NSString).pathExtension.lowercased() }
        let request = JobRequest(options: jobOptions, output: format)
        _ = try JobRequest.decode(ArraySlice(try JSONEncoder().encode(request)))
        let quiet = options.flag("--quiet")
        return try ClusterClient.runAsync {
            let connection = try await ClusterClient.connect(config)
            defer { connection.abort(reason: "done") }
            let reply = try await connection.request(.submit(Submit(specJSON: ArraySlice(try JSONEncoder().encode(request)))))
            guard case .submitted(let job) = reply else { throw ClusterError("unexpected answer to submit: \(reply.kind)") }
            guard wait, let out else {
                print(job.jobID)
                return 0
            }
            printError("submitted \(job.jobID)")
            return try await ClusterClient.waitAndFetch(connection, job: job.jobID, out: out, quiet: quiet)
        }
    }
}
