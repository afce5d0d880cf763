// `coordinator debug <sub>`: the table of debugging subcommands that run one model component on tensors in files.
import Foundation
import Cluster

/// The `debug` command group: each subcommand runs one component on a safetensors input, for parity checks.
enum DebugCommand: Command {
    static let name = "debug"
    static let summary = "run one model component on tensors from a file (parity checks)"

    /// Every `debug` subcommand, in the order `coordinator debug --help` lists them. Add one line per component.
    static var subcommands: [any Command.Type] {
        [
            DebugTransformerCommand.self,
            DebugVAEDecodeCommand.self,
            DebugVAEEncodeCommand.self,
            DebugTokenizeCommand.self,
            DebugTextEncodeCommand.self,
        ]
    }

    static func run(_ arguments: [String]) throws -> Int32 {
        dispatch(
            arguments, commands: subcommands, programName: "coordinator debug",
            description: "Runs one model component on tensors read from a safetensors file and writes its output.")
    }
}
