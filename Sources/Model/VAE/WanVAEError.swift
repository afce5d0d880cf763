// Errors of the Wan video VAE (diffusers AutoencoderKLWan): configuration, weights and input shapes.

/// A problem with a Wan VAE configuration, checkpoint or input, naming the thing and the value seen.
public enum WanVAEError: Error, CustomStringConvertible, Equatable {
    /// A `vae/config.json` field has a value this implementation does not accept.
    case unsupportedConfig(field: String, value: String, reason: String)
    /// `vae/config.json` could not be read or parsed.
    case unreadableConfig(path: String, reason: String)
    /// An input tensor has the wrong shape or size.
    case badInput(name: String, shape: [Int], reason: String)

    /// A message naming the field or tensor and the value seen.
    public var description: String {
        switch self {
        case .unsupportedConfig(let field, let value, let reason):
            return "vae config: \(field) = \(value) is not supported: \(reason)"
        case .unreadableConfig(let path, let reason):
            return "vae config \(path): \(reason)"
        case .badInput(let name, let shape, let reason):
            return "vae input \"\(name)\" of shape \(shape): \(reason)"
        }
    }
}
