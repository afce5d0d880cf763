// The errors of the umT5 text encoder: configuration, weights and inputs, each naming what was wrong.

/// An error from reading, loading or running the umT5 encoder.
public enum UMT5Error: Error, CustomStringConvertible, Equatable {
    /// `config.json` could not be read or parsed.
    case unreadableConfig(path: String, reason: String)
    /// A configuration value this implementation does not support or that is out of range.
    case unsupportedConfig(key: String, value: String, reason: String)
    /// Neither `shared.weight` nor `encoder.embed_tokens.weight` is in the checkpoint.
    case missingEmbedding(directory: String)
    /// The input is malformed (shape, id range, mask values); `what` names the input.
    case invalidInput(what: String, reason: String)

    /// A message that names the problem and the value seen.
    public var description: String {
        switch self {
        case .unreadableConfig(let path, let reason):
            return "cannot read umT5 config \(path): \(reason)"
        case .unsupportedConfig(let key, let value, let reason):
            return "umT5 config: \(key) = \(value) is not supported: \(reason)"
        case .missingEmbedding(let directory):
            return "umT5 checkpoint in \(directory) has no token embedding "
                + "(neither 'shared.weight' nor 'encoder.embed_tokens.weight')"
        case .invalidInput(let what, let reason):
            return "umT5 input \(what): \(reason)"
        }
    }
}
