// The `coordinator` command: entry point and the table of subcommands (each in its own file).
import Foundation
import Model
import Wire
import Cluster

/// Every top-level subcommand, in the order `--help` lists them.
let coordinatorCommands: [any Command.Type] = [
    VersionCommand.self,
    GenerateCommand.self,
    InitModelCommand.self,
    InitLoRACommand.self,
    ServeCommand.self,
    SubmitCommand.self,
    StatusCommand.self,
    WaitCommand.self,
    CancelCommand.self,
    PlanCommand.self,
    InitTokenCommand.self,
    DebugCommand.self,
]

// Same kernels on every machine: same bytes for the same job (may re-execute this program once).
BLASRuntime.pinKernels()

// A peer or child process that goes away must give an error on write, not kill the process.
signal(SIGPIPE, SIG_IGN)

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "--version" {
    exit(try VersionCommand.run([]))
}
exit(dispatch(arguments, commands: coordinatorCommands, programName: "coordinator",
    description: "Generates video with Wan2.1-architecture diffusion transformers, on one machine or a cluster."))
