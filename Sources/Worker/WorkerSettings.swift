// The worker's command line: where it listens, the token, the model root, its memory budget and threads.
import Foundation
import Model
import Cluster

/// What `worker` was started with.
struct WorkerSettings: Sendable {
    /// `HOST:PORT` to listen on.
    var listen: String
    /// The cluster token file.
    var tokenFile: String
    /// Folder that model references from the coordinator are resolved in (default: the current folder).
    var modelRoot: String
    /// Memory budget in bytes; stages that would exceed it are refused (default: 4 GiB).
    var memoryBytes: Int
    /// Compute threads (default: all cores).
    var threads: Int?
    /// The name announced in handshakes.
    var name: String

    static let usage = """
        usage: worker --listen HOST:PORT --token-file FILE [--model-root DIR] [--memory BYTES] [--threads N]
                      [--name NAME]

        Hosts a contiguous range of transformer blocks for a coordinator: authenticates it with the cluster
        token, loads only the blocks it is assigned from MODEL-ROOT/<model>, keeps each job's text embeddings
        until the job ends, runs micro-batches through its blocks and pushes them to the next stage (or back to
        the coordinator from the last stage).

        options:
          --listen HOST:PORT   where the coordinator and the previous stage reach this worker (required)
          --token-file FILE    the cluster token (required; `coordinator init-token --out FILE` makes one)
          --model-root DIR     models are looked up under this folder; paths outside it are refused (default .)
          --memory BYTES       memory budget, e.g. 4GiB, 512MiB, 1000000 (default 4GiB)
          --threads N          compute threads (default: all cores)
          --name NAME          name shown in the coordinator's logs (default worker@HOST:PORT)
          --help               show this help
        """

    /// The options `usage` describes.
    static let specs: [OptionSpec] = [
        .value("--listen", "HOST:PORT", "where the coordinator and the previous stage reach this worker"),
        .value("--token-file", "FILE", "the cluster token"),
        .value("--model-root", "DIR", "models are looked up under this folder"),
        .value("--memory", "BYTES", "memory budget"),
        .value("--threads", "N", "compute threads"),
        .value("--name", "NAME", "name shown in the coordinator's logs"),
    ]

    /// Parses the arguments strictly; the error names the option and the value.
    init(arguments: [String]) throws {
        let options = try CommandLineOptions(arguments, specs: Self.specs)
        listen = try options.required("--listen")
        tokenFile = try options.required("--token-file")
        modelRoot = options.string("--model-root") ?? FileManager.default.currentDirectoryPath
        memoryBytes = try options.byteSize("--memory") ?? 4 << 30
        threads = try options.int("--threads", in: 1...1024)
        name = options.string("--name") ?? "worker@\(listen)"
        guard name.utf8.count <= 256 else { throw CommandLineError("option '--name' is longer than 256 bytes") }
    }
}

/// A worker failure with a message for the user or the coordinator.
struct WorkerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
