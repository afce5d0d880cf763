// One logger for every executable: a line per event on standard error, prefixed with who is speaking.
import Foundation

/// Writes log lines to standard error as `PREFIX: message`, one write per line so that lines from several threads
/// never interleave.
public struct Log: Sendable {
    /// What starts every line: `coordinator`, `worker w1`, `faultproxy: connection 3`.
    public let prefix: String

    /// A logger whose lines start with `prefix`.
    public init(_ prefix: String) { self.prefix = prefix }

    /// Writes `PREFIX: message` and a newline.
    public func callAsFunction(_ message: String) {
        FileHandle.standardError.write(Data("\(prefix): \(message)\n".utf8))
    }

    /// A logger for a part of this one: `PREFIX: part`.
    public func appending(_ part: String) -> Log { Log("\(prefix): \(part)") }
}
