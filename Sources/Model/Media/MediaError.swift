// Errors of reading and writing media files.

/// A media file could not be read or written; the message names the file and what was wrong.
public struct MediaError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, naming the file and the value seen.
    public let description: String

    /// Creates an error with a message.
    public init(_ description: String) {
        self.description = description
    }
}
