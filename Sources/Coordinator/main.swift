// The `coordinator` command: entry point; subcommands live in their own files.
import Foundation
import Model
import Wire

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.isEmpty || arguments.first == "--help" || arguments.first == "-h" || arguments.first == "help" {
    print("""
        usage: coordinator <command> [options]

        Commands are added as they are built; run `coordinator <command> --help` for details.
        """)
    exit(arguments.isEmpty ? 2 : 0)
}
if arguments.first == "--version" {
    print("coordinator \(modelEngineVersion) (wire \(wireModuleVersion))")
    exit(0)
}
FileHandle.standardError.write(Data("coordinator: unknown command '\(arguments[0])'; see `coordinator --help`\n".utf8))
exit(2)
