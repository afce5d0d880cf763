// The worker's command line: where it listens, the token, the model root, its memory budget and threads.
import Foundation
import Model

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

    /// Parses the arguments strictly; the error names the option and the value.
    init(arguments: [String]) throws {
        var values: [String: String] = [:]
        let known = ["--listen", "--token-file", "--model-root", "--memory", "--threads", "--name"]
        var index = 0
        while index < arguments.count {
            var name = arguments[index]
            var value: String?
            if let equals = name.firstIndex(of: "="), name.hasPrefix("--") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard known.contains(name) else { throw WorkerError("unknown option '\(name)'; see --help") }
            if value == nil {
                index += 1
                guard index < arguments.count else { throw WorkerError("option '\(name)' needs a value") }
                value = arguments[index]
            }
            guard values[name] == nil else { throw WorkerError("option '\(name)' given more than once") }
            values[name] = value
            index += 1
        }
        guard let listen = values["--listen"] else { throw WorkerError("missing required option '--listen'") }
        guard let tokenFile = values["--token-file"] else {
            throw WorkerError("missing required option '--token-file'")
        }
        self.listen = listen
        self.tokenFile = tokenFile
        modelRoot = values["--model-root"] ?? FileManager.default.currentDirectoryPath
        memoryBytes = try values["--memory"].map(Self.parseBytes) ?? 4 << 30
        if let text = values["--threads"] {
            guard let count = Int(text), (1...1024).contains(count) else {
                throw WorkerError("option '--threads' must be an integer in 1...1024, got '\(text)'")
            }
            threads = count
        }
        name = values["--name"] ?? "worker@\(listen)"
        guard name.utf8.count <= 256 else { throw WorkerError("option '--name' is longer than 256 bytes") }
    }

    /// `4GiB`, `512MiB`, `2G`, `1000000` (`ByteSize`).
    static func parseBytes(_ text: String) throws -> Int {
        guard let bytes = ByteSize.parse(text) else {
            throw WorkerError("option '--memory' expects a size such as 4GiB, 512MiB or 1000000, got '\(text)'")
        }
        return bytes
    }
}

/// A worker failure with a message for the user or the coordinator.
struct WorkerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
