// Stable error codes carried by `error` and `reject` messages.

/// A stable numeric error code; codes are never reused, and unknown codes from newer peers are kept as-is.
public struct WireErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The number on the wire.
    public let rawValue: UInt16
    /// Wraps a number from the wire.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// A frame's header was wrong (magic, flags, reserved bits, truncation).
    public static let malformedFrame = WireErrorCode(rawValue: 1)
    /// A payload could not be decoded.
    public static let malformedMessage = WireErrorCode(rawValue: 2)
    /// The message kind is not known to the receiver.
    public static let unknownKind = WireErrorCode(rawValue: 3)
    /// The peer's major version is not supported.
    public static let unsupportedVersion = WireErrorCode(rawValue: 4)
    /// The receiver needs a token and none was offered.
    public static let authenticationRequired = WireErrorCode(rawValue: 5)
    /// The proof did not match the receiver's token.
    public static let authenticationFailed = WireErrorCode(rawValue: 6)
    /// A payload above the receiver's limit.
    public static let payloadTooLarge = WireErrorCode(rawValue: 7)
    /// A checksum did not match.
    public static let checksumMismatch = WireErrorCode(rawValue: 8)
    /// A message that is not allowed in the connection's current state or role.
    public static let unexpectedMessage = WireErrorCode(rawValue: 9)
    /// The request took too long.
    public static let timeout = WireErrorCode(rawValue: 10)
    /// The request or job was cancelled.
    public static let cancelled = WireErrorCode(rawValue: 11)
    /// The named job, stage or object does not exist.
    public static let notFound = WireErrorCode(rawValue: 12)
    /// A field has a value the receiver refuses (the message says which).
    public static let invalidArgument = WireErrorCode(rawValue: 13)
    /// Not enough memory or another resource.
    public static let resourceExhausted = WireErrorCode(rawValue: 14)
    /// The service cannot do this now (e.g. not enough workers); retrying later may work.
    public static let unavailable = WireErrorCode(rawValue: 15)
    /// A bug or unexpected failure inside the receiver.
    public static let internalError = WireErrorCode(rawValue: 16)
    /// The receiver is shutting down.
    public static let shuttingDown = WireErrorCode(rawValue: 17)
    /// The stage's model or config hash does not match what the coordinator expects.
    public static let configMismatch = WireErrorCode(rawValue: 18)
    /// The peer did not answer heartbeats in time.
    public static let peerSilent = WireErrorCode(rawValue: 19)

    /// Every code this version defines, with its name.
    public static let known: [(WireErrorCode, String)] = [
        (.malformedFrame, "malformedFrame"), (.malformedMessage, "malformedMessage"), (.unknownKind, "unknownKind"),
        (.unsupportedVersion, "unsupportedVersion"), (.authenticationRequired, "authenticationRequired"),
        (.authenticationFailed, "authenticationFailed"), (.payloadTooLarge, "payloadTooLarge"),
        (.checksumMismatch, "checksumMismatch"), (.unexpectedMessage, "unexpectedMessage"), (.timeout, "timeout"),
        (.cancelled, "cancelled"), (.notFound, "notFound"), (.invalidArgument, "invalidArgument"),
        (.resourceExhausted, "resourceExhausted"), (.unavailable, "unavailable"), (.internalError, "internalError"),
        (.shuttingDown, "shuttingDown"), (.configMismatch, "configMismatch"), (.peerSilent, "peerSilent"),
    ]

    public var description: String {
        let name = WireErrorCode.known.first { $0.0 == self }?.1 ?? "unknown"
        return "\(name) (\(rawValue))"
    }
}
