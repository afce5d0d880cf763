// `coordinator serve`: runs the cluster's coordinator (workers, job queue, client requests).
import Foundation
import Model
import Wire
import Cluster

/// Runs the coordinator of a cluster.yaml until stopped.
enum ServeCommand: Command {
    static let name = "serve"
    static let summary = "run the cluster coordinator: connect the workers, queue and run jobs"
    static let specs: [OptionSpec] = [
        ClusterClient.configSpec,
        .value("--model", "DIR", "the coordinator's copy of the model (default: cluster.yaml's model beside the file)"),
        .value("--threads", "N", "compute threads for text encoding, entry/exit pieces and decoding (default: all)"),
    ]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") {
            print(usageText(
                synopsis: "coordinator serve [--config cluster.yaml] [--model DIR] [--threads N]",
                description: """
                    Connects to the workers listed in cluster.yaml (and keeps reconnecting lost ones), accepts jobs \
                    from `coordinator submit`, runs them one after the other as pipelines over the workers, and keeps \
                    each job's state, checkpoint and result under state_dir. See docs/CLUSTER.md.
                    """,
                specs: specs))
            return 0
        }
        let options = try CommandLineOptions(arguments, specs: specs)
        let (config, path) = try ClusterClient.config(options)
        if let threads = try options.int("--threads", in: 1...1024) { Compute.setThreadCount(threads) }
        let token = try ClusterToken.load(from: config.tokenFile)
        let modelPath = options.string("--model") ?? ClusterClient.modelPath(config, configPath: path)
        printError("coordinator: loading the model's coordinator pieces from \(modelPath)")
        let model = try CoordinatorModel(path: modelPath)
        let service = try ClusterService(config: config, model: model, token: token)
        return try ClusterClient.runAsync { () async throws -> Int32 in try await service.run() }
    }
}
