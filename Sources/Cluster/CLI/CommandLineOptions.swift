// Parses `--name value` / `--flag` command lines strictly: unknown options and bad values are errors that name them.
import Foundation
import Model

/// An error in a command line, with a message meant for the user.
public struct CommandLineError: Error, CustomStringConvertible, Sendable {
    /// What was wrong, naming the option and the value seen.
    public let description: String
    /// An error with its message.
    public init(_ description: String) { self.description = description }
}

/// One option a command accepts.
public struct OptionSpec: Sendable {
    /// The option's name including dashes, e.g. `--steps`.
    public let name: String
    /// The value's placeholder in help text (`N`, `DIR`); `nil` for a flag without a value.
    public let valueName: String?
    /// One line of help.
    public let help: String
    /// May the option appear several times (`--connect A --connect B`)?
    public let repeatable: Bool

    /// An option that takes a value.
    public static func value(_ name: String, _ valueName: String, _ help: String, repeatable: Bool = false) -> OptionSpec {
        OptionSpec(name: name, valueName: valueName, help: help, repeatable: repeatable)
    }

    /// A flag that takes no value.
    public static func flag(_ name: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, valueName: nil, help: help, repeatable: false)
    }
}

/// A parsed command line: option values by name, flags, and positional arguments.
public struct CommandLineOptions {
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []
    /// Arguments that are not options, in order.
    public private(set) var positional: [String] = []

    /// Parses `arguments` against `specs`. `--name=value` and `--name value` are both accepted;
    /// `--` ends option parsing.
    public init(_ arguments: [String], specs: [OptionSpec], maxPositional: Int = 0) throws(CommandLineError) {
        let byName = Dictionary(specs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if optionsEnded || !argument.hasPrefix("--") || argument == "-" {
                positional.append(argument)
                continue
            }
            if argument == "--" {
                optionsEnded = true
                continue
            }
            var name = argument
            var inlineValue: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            guard let spec = byName[name] else {
                throw CommandLineError("unknown option '\(name)'; see --help")
            }
            if spec.valueName == nil {
                if inlineValue != nil { throw CommandLineError("option '\(name)' takes no value") }
                flags.insert(name)
                continue
            }
            let value: String
            if let inlineValue {
                value = inlineValue
            } else {
                guard index < arguments.count else {
                    throw CommandLineError("option '\(name)' needs a value (\(spec.valueName!))")
                }
                value = arguments[index]
                index += 1
            }
            if values[name] != nil && !spec.repeatable {
                throw CommandLineError("option '\(name)' given more than once")
            }
            values[name, default: []].append(value)
        }
        if positional.count > maxPositional {
            throw CommandLineError("unexpected argument '\(positional[maxPositional])'; see --help")
        }
    }

    /// Was the flag given?
    public func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The option's value, if given.
    public func string(_ name: String) -> String? { values[name]?.last }

    /// Every value of a repeatable option, in order.
    public func strings(_ name: String) -> [String] { values[name] ?? [] }

    /// The option's value, or an error naming the missing option.
    public func required(_ name: String) throws(CommandLineError) -> String {
        guard let value = string(name) else { throw CommandLineError("missing required option '\(name)'") }
        return value
    }

    /// The option as an integer within `range`, if given.
    public func int(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max) throws(CommandLineError) -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text) else { throw CommandLineError("option '\(name)' expects an integer, got '\(text)'") }
        guard range.contains(value) else {
            throw CommandLineError("option '\(name)' must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
        return value
    }

    /// The option as an unsigned 64-bit integer (seeds), if given.
    public func uint64(_ name: String) throws(CommandLineError) -> UInt64? {
        guard let text = string(name) else { return nil }
        guard let value = UInt64(text) else {
            throw CommandLineError("option '\(name)' expects a non-negative integer, got '\(text)'")
        }
        return value
    }

    /// The option as a byte count (`4GiB`, `512MiB`, `2G`, `1000000`: `ByteSize`), if given.
    public func byteSize(_ name: String) throws(CommandLineError) -> Int? {
        guard let text = string(name) else { return nil }
        guard let bytes = ByteSize.parse(text) else {
            throw CommandLineError("option '\(name)' expects a size such as 4GiB, 512MiB or 1000000, got '\(text)'")
        }
        return bytes
    }

    /// The option as a finite floating-point number within `range`, if given.
    public func double(_ name: String, in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude)
        throws(CommandLineError) -> Double?
    {
        guard let text = string(name) else { return nil }
        guard let value = Double(text), value.isFinite else {
            throw CommandLineError("option '\(name)' expects a number, got '\(text)'")
        }
        guard range.contains(value) else {
            throw CommandLineError("option '\(name)' must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
        return value
    }
}

/// Formats a usage text: the synopsis, a description, and one line per option.
public func usageText(synopsis: String, description: String, specs: [OptionSpec]) -> String {
    var lines = ["usage: \(synopsis)", "", description, ""]
    if !specs.isEmpty { lines.append("options:") }
    let labels = specs.map { spec in spec.valueName.map { "\(spec.name) \($0)" } ?? spec.name }
    let width = min(32, (labels.map(\.count).max() ?? 0) + 2)
    for (label, spec) in zip(labels, specs) {
        let padding = String(repeating: " ", count: max(1, width - label.count))
        lines.append("  \(label)\(padding)\(spec.help)")
    }
    lines.append("  --help" + String(repeating: " ", count: max(1, width - 6)) + "show this help")
    return lines.joined(separator: "\n")
}
