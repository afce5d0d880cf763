// `coordinator init-token`: creates a cluster token file (32 random bytes as hex, mode 0600).
import Foundation
import Wire
import Cluster

/// Writes a fresh cluster token.
enum InitTokenCommand: Command {
    static let name = "init-token"
    static let summary = "create a cluster token file (mode 0600) shared by the coordinator, workers and clients"
    static let specs: [OptionSpec] = [
        .value("--out", "FILE", "the token file to create (required)"),
        .flag("--force", "replace an existing file"),
    ]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") {
            print(usageText(
                synopsis: "coordinator init-token --out FILE [--force]",
                description: "Creates FILE with 32 random bytes as 64 hex digits, readable only by you (mode 0600). "
                    + "Copy it to every machine of the cluster; name it in cluster.yaml (token_file) and give it to "
                    + "each worker with --token-file.",
                specs: specs))
            return 0
        }
        let options = try CommandLineOptions(arguments, specs: specs)
        let path = try options.required("--out")
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        try ClusterToken.create(at: path, overwrite: options.flag("--force"))
        print("created cluster token \(path)")
        return 0
    }
}
