// The shape every subcommand of our executables takes, and the table that dispatches to them.
import Foundation

/// A subcommand (of `coordinator`, or any executable with subcommands).
public protocol Command {
    /// The word that selects it (`generate`, `init-model`).
    static var name: String { get }
    /// One line for `coordinator --help`.
    static var summary: String { get }
    /// Runs with the arguments after the command's name; returns the process exit status.
    static func run(_ arguments: [String]) throws -> Int32
}

/// Writes a line to standard error.
public func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Dispatches `arguments[0]` to the matching command in `commands`; prints help for `--help`.
public func dispatch(_ arguments: [String], commands: [any Command.Type], programName: String, description: String) -> Int32 {
    let help = {
        var lines = ["usage: \(programName) <command> [options]", "", description, "", "commands:"]
        let width = (commands.map { $0.name.count }.max() ?? 0) + 2
        for command in commands {
            lines.append("  " + command.name + String(repeating: " ", count: width - command.name.count) + command.summary)
        }
        lines.append("")
        lines.append("Run '\(programName) <command> --help' for a command's options.")
        return lines.joined(separator: "\n")
    }
    guard let first = arguments.first else {
        printError(help())
        return 2
    }
    if first == "--help" || first == "-h" || first == "help" {
        print(help())
        return 0
    }
    guard let command = commands.first(where: { $0.name == first }) else {
        printError("\(programName): unknown command '\(first)'; run '\(programName) --help' for the list")
        return 2
    }
    do {
        return try command.run(Array(arguments.dropFirst()))
    } catch let error as CommandLineError {
        printError("\(programName) \(first): \(error.description)")
        return 2
    } catch let error as JobRequestError {
        printError("\(programName) \(first): \(error.description)")
        return 2
    } catch {
        printError("\(programName) \(first): error: \(error)")
        return 1
    }
}
