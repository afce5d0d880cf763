// A stage message that breaks the stage protocol's rules.

/// A stage message that breaks the stage protocol's rules.
public struct StageProtocolError: Error, CustomStringConvertible, Sendable {
    /// What rule was broken, naming the tensor or field and the value seen.
    public let description: String
    /// An error with its message.
    public init(_ description: String) { self.description = description }
}
