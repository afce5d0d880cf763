// Payloads of the session messages: handshake, heartbeats, goodbye, error and reject.

/// The role a peer plays.
public enum PeerRole: UInt8, Sendable, CaseIterable {
    /// The coordinator.
    case coordinator = 1
    /// A worker hosting a stage.
    case worker = 2
    /// A client submitting and watching jobs.
    case client = 3
}

/// `hello`: the connecting peer's version, role, name and fresh nonce.
public struct Hello: Equatable, Sendable {
    /// The sender's major version.
    public var major: UInt8
    /// The highest minor the sender speaks.
    public var minor: UInt8
    /// The sender's role.
    public var role: PeerRole
    /// A name for logs (e.g. "w0").
    public var name: String
    /// 32 fresh random bytes.
    public var nonce: [UInt8]

    /// A hello with every field given.
    public init(major: UInt8 = WireVersion.major, minor: UInt8 = WireVersion.minor, role: PeerRole, name: String,
                nonce: [UInt8]) {
        self.major = major; self.minor = minor; self.role = role; self.name = name; self.nonce = nonce
    }

    func encode(into writer: inout PayloadWriter) {
        writer.write(major); writer.write(minor); writer.write(role.rawValue)
        writer.write(name); writer.writeFixed(nonce)
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> Hello {
        let major = try reader.readUInt8("major")
        let minor = try reader.readUInt8("minor")
        let role = try readRole(&reader)
        let name = try reader.readString("name", maxBytes: WireLimits.maxNameBytes)
        let nonce = try reader.readFixed("nonce", count: WireLimits.nonceBytes)
        return Hello(major: major, minor: minor, role: role, name: name, nonce: nonce)
    }
}

func readRole(_ reader: inout PayloadReader) throws(MessageError) -> PeerRole {
    let raw = try reader.readUInt8("role")
    guard let role = PeerRole(rawValue: raw) else { throw reader.malformed("role", "is \(raw), expected 1, 2 or 3") }
    return role
}

/// `challenge`: the accepting peer's answer to hello.
public struct Challenge: Equatable, Sendable {
    /// The minor version both will speak: min(client's, server's).
    public var minor: UInt8
    /// The server's role.
    public var role: PeerRole
    /// The server's name.
    public var name: String
    /// Whether the server requires a token proof.
    public var authenticationRequired: Bool
    /// 32 fresh random bytes.
    public var nonce: [UInt8]
    /// How often the server sends heartbeats, in milliseconds.
    public var heartbeatIntervalMilliseconds: UInt32
    /// The largest payload the server accepts.
    public var maxPayloadBytes: UInt64

    /// A challenge with every field given.
    public init(minor: UInt8, role: PeerRole, name: String, authenticationRequired: Bool, nonce: [UInt8],
                heartbeatIntervalMilliseconds: UInt32, maxPayloadBytes: UInt64) {
        self.minor = minor; self.role = role; self.name = name
        self.authenticationRequired = authenticationRequired; self.nonce = nonce
        self.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds; self.maxPayloadBytes = maxPayloadBytes
    }

    func encode(into writer: inout PayloadWriter) {
        writer.write(minor); writer.write(role.rawValue); writer.write(name)
        writer.write(authenticationRequired); writer.writeFixed(nonce)
        writer.write(heartbeatIntervalMilliseconds); writer.write(maxPayloadBytes)
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> Challenge {
        Challenge(
            minor: try reader.readUInt8("minor"), role: try readRole(&reader),
            name: try reader.readString("name", maxBytes: WireLimits.maxNameBytes),
            authenticationRequired: try reader.readBool("authenticationRequired"),
            nonce: try reader.readFixed("nonce", count: WireLimits.nonceBytes),
            heartbeatIntervalMilliseconds: try reader.readUInt32("heartbeatIntervalMilliseconds"),
            maxPayloadBytes: try reader.readUInt64("maxPayloadBytes"))
    }
}

/// `proof` and `welcome`: an HMAC-SHA256 tag (32 bytes), or none when the server needs no token.
public struct AuthenticationTag: Equatable, Sendable {
    /// 0 or 32 bytes.
    public var tag: [UInt8]
    /// The largest payload the sender accepts.
    public var maxPayloadBytes: UInt64

    /// A tag and the sender's payload limit.
    public init(tag: [UInt8], maxPayloadBytes: UInt64) { self.tag = tag; self.maxPayloadBytes = maxPayloadBytes }

    func encode(into writer: inout PayloadWriter) {
        writer.write(UInt8(tag.count)); writer.writeFixed(tag); writer.write(maxPayloadBytes)
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> AuthenticationTag {
        let length = Int(try reader.readUInt8("tag.length"))
        guard length == 0 || length == SHA256.digestByteCount else {
            throw reader.malformed("tag.length", "is \(length), expected 0 or 32")
        }
        return AuthenticationTag(tag: try reader.readFixed("tag", count: length),
                                 maxPayloadBytes: try reader.readUInt64("maxPayloadBytes"))
    }
}

/// `error` and `reject`: a stable code and a human message.
public struct ErrorReport: Equatable, Sendable, Error, CustomStringConvertible {
    /// The stable code.
    public var code: WireErrorCode
    /// What went wrong, naming the thing and the value.
    public var message: String

    /// A report with a code and message (messages above 4096 bytes are cut when encoded).
    public init(code: WireErrorCode, message: String) { self.code = code; self.message = message }

    public var description: String { "\(code): \(message)" }

    func encode(into writer: inout PayloadWriter) {
        writer.write(code.rawValue); writer.write(clipped(message, WireLimits.maxMessageBytes))
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> ErrorReport {
        ErrorReport(code: WireErrorCode(rawValue: try reader.readUInt16("code")),
                    message: try reader.readString("message", maxBytes: WireLimits.maxMessageBytes))
    }
}

/// Cuts a string to at most `maxBytes` UTF-8 bytes on a character boundary.
func clipped(_ text: String, _ maxBytes: Int) -> String {
    if text.utf8.count <= maxBytes { return text }
    var result = ""
    var used = 0
    for character in text {
        let size = character.utf8.count
        if used + size > maxBytes { break }
        result.append(character)
        used += size
    }
    return result
}

/// `heartbeat` and `heartbeatAck`: a sequence number and the sender's clock (the ack echoes both).
public struct Heartbeat: Equatable, Sendable {
    /// Increases by one per heartbeat sent.
    public var sequence: UInt64
    /// The heartbeat sender's monotonic clock in nanoseconds when it was sent.
    public var sentAtNanoseconds: UInt64

    /// A heartbeat with both fields.
    public init(sequence: UInt64, sentAtNanoseconds: UInt64) {
        self.sequence = sequence; self.sentAtNanoseconds = sentAtNanoseconds
    }

    func encode(into writer: inout PayloadWriter) { writer.write(sequence); writer.write(sentAtNanoseconds) }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> Heartbeat {
        Heartbeat(sequence: try reader.readUInt64("sequence"), sentAtNanoseconds: try reader.readUInt64("sentAt"))
    }
}
