// `coordinator version`: prints the engine and protocol versions.
import Model
import Wire
import Cluster

/// Prints the version of the engine and of the wire module.
enum VersionCommand: Command {
    static let name = "version"
    static let summary = "print the version"

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") {
            print(usageText(synopsis: "coordinator version", description: "Prints the version.", specs: []))
            return 0
        }
        _ = try CommandLineOptions(arguments, specs: [])
        print("coordinator \(modelEngineVersion) (wire \(wireModuleVersion)), OpenBLAS kernels: \(BLASRuntime.coreName)")
        return 0
    }
}
