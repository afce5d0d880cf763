// Errors of the Wan transformer: configs, unsupported options, inputs and files.

/// Why a transformer could not be configured, loaded or run; each message names the thing and the value seen.
public enum TransformerError: Error, CustomStringConvertible, Equatable {
    /// A config value is out of range or malformed.
    case invalidConfig(String)
    /// The config asks for something this engine does not implement.
    case unsupported(String)
    /// An input tensor has the wrong rank, shape or size.
    case invalidInput(String)
    /// A file could not be read or written.
    case io(String)

    /// The message for the user.
    public var description: String {
        switch self {
        case .invalidConfig(let message): return "invalid transformer config: \(message)"
        case .unsupported(let message): return "unsupported transformer option: \(message)"
        case .invalidInput(let message): return "invalid transformer input: \(message)"
        case .io(let message): return message
        }
    }

    /// The same error with `context` (a file path) in front of its message.
    func prefixed(_ context: String) -> TransformerError {
        switch self {
        case .invalidConfig(let message): return .invalidConfig("\(context): \(message)")
        case .unsupported(let message): return .unsupported("\(context): \(message)")
        case .invalidInput(let message): return .invalidInput("\(context): \(message)")
        case .io(let message): return .io("\(context): \(message)")
        }
    }
}
