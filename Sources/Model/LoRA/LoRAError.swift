// Why a LoRA file cannot be used: every message names the file and, where one is at fault, the key.

/// A LoRA file that cannot be applied to the model, found before any denoising.
public struct LoRAError: Error, CustomStringConvertible, Equatable {
    /// The file's name (or path).
    public let file: String
    /// The key at fault, when one is.
    public let key: String?
    /// What is wrong.
    public let reason: String

    /// An error about `file`, naming `key` when given.
    public init(file: String, key: String? = nil, _ reason: String) {
        self.file = file
        self.key = key
        self.reason = reason
    }

    public var description: String {
        if let key { return "LoRA \(file): \"\(key)\": \(reason)" }
        return "LoRA \(file): \(reason)"
    }
}
