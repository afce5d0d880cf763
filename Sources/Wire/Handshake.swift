// The mutual HMAC-SHA256 handshake as two pure state machines: events in, actions out, no I/O.

/// What the handshake learned about the peer once it succeeds.
public struct HandshakeSession: Equatable, Sendable {
    /// The peer's role.
    public var peerRole: PeerRole
    /// The peer's name (for logs).
    public var peerName: String
    /// The minor version both speak.
    public var minor: UInt8
    /// The largest payload the peer accepts.
    public var peerMaxPayloadBytes: UInt64
    /// The heartbeat interval the server announced, in milliseconds.
    public var heartbeatIntervalMilliseconds: UInt32
    /// Whether both sides proved the token (false only with a server that runs without one).
    public var authenticated: Bool
    /// The session keys derived from the token and both nonces (nil without a token): every frame after the
    /// handshake is then authenticated.
    public var keys: SessionKeys? = nil
}

/// Why a handshake failed: a stable code and a sentence naming the problem.
public struct HandshakeFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// The code (also sent in the reject message by a server).
    public var code: WireErrorCode
    /// What went wrong.
    public var message: String

    /// A failure with a code and message.
    public init(code: WireErrorCode, message: String) { self.code = code; self.message = message }

    public var description: String { "handshake failed: \(message) [\(code)]" }
}

/// An instruction from a handshake state machine to the code that owns the socket.
public enum HandshakeAction: Equatable, Sendable {
    /// Send this message (request id 0).
    case send(Message)
    /// The handshake is done; the connection is open.
    case established(HandshakeSession)
    /// The handshake failed; close the connection (after sending any `.send` that came before).
    case fail(HandshakeFailure)
}

/// The bytes each side's HMAC covers: a label, both nonces, both roles and the negotiated minor.
enum HandshakeTranscript {
    static func bytes(label: String, clientNonce: [UInt8], serverNonce: [UInt8], clientRole: PeerRole,
                      serverRole: PeerRole, minor: UInt8) -> [UInt8] {
        Array("SWIR-v1 \(label)".utf8) + [0] + clientNonce + serverNonce
            + [clientRole.rawValue, serverRole.rawValue, minor]
    }

    static func clientTag(token: [UInt8], _ parts: Parts) -> [UInt8] {
        HMACSHA256.authenticationCode(for: bytes(label: "client proof", parts), key: token)
    }

    static func serverTag(token: [UInt8], _ parts: Parts) -> [UInt8] {
        HMACSHA256.authenticationCode(for: bytes(label: "server proof", parts), key: token)
    }

    struct Parts {
        var clientNonce: [UInt8], serverNonce: [UInt8], clientRole: PeerRole, serverRole: PeerRole, minor: UInt8
    }

    static func bytes(label: String, _ parts: Parts) -> [UInt8] {
        bytes(label: label, clientNonce: parts.clientNonce, serverNonce: parts.serverNonce,
              clientRole: parts.clientRole, serverRole: parts.serverRole, minor: parts.minor)
    }
}

// MARK: - Connecting side

/// The connecting peer's side: sends hello, answers the challenge with a proof, checks the server's proof.
///
/// A client that holds a token refuses a server that does not ask for one (it could be anyone), and a
/// client without a token fails clearly when the server requires one.
public struct ClientHandshake: Sendable {
    private enum State: Sendable {
        case idle, awaitingChallenge, awaitingWelcome(expected: [UInt8]?, session: HandshakeSession), finished
    }

    private let token: [UInt8]?
    private let hello: Hello
    private let maxPayloadBytes: UInt64
    private var state: State = .idle

    /// A client handshake. `nonce` must be 32 fresh random bytes.
    public init(token: [UInt8]?, role: PeerRole, name: String, nonce: [UInt8], maxPayloadBytes: UInt64) {
        precondition(nonce.count == WireLimits.nonceBytes, "a handshake nonce has 32 bytes")
        self.token = token
        self.hello = Hello(role: role, name: clipped(name, WireLimits.maxNameBytes), nonce: nonce)
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Starts: returns the hello to send.
    public mutating func start() -> [HandshakeAction] {
        guard case .idle = state else { return [] }
        state = .awaitingChallenge
        return [.send(.hello(hello))]
    }

    /// Handles a message from the server.
    public mutating func receive(_ message: Message) -> [HandshakeAction] {
        switch (state, message) {
        case (_, .reject(let report)):
            state = .finished
            return [.fail(HandshakeFailure(code: report.code, message: "server rejected us: \(report.message)"))]
        case (.awaitingChallenge, .challenge(let challenge)):
            return onChallenge(challenge)
        case (.awaitingWelcome(let expected, let session), .welcome(let welcome)):
            state = .finished
            if let expected {
                guard HMACSHA256.constantTimeEqual(welcome.tag, expected) else {
                    return [.fail(HandshakeFailure(
                        code: .authenticationFailed,
                        message: "server \"\(session.peerName)\" could not prove it holds the cluster token"))]
                }
            }
            var established = session
            established.peerMaxPayloadBytes = welcome.maxPayloadBytes
            return [.established(established)]
        default:
            state = .finished
            return [.fail(HandshakeFailure(
                code: .unexpectedMessage, message: "unexpected \(message.kind) message during the handshake"))]
        }
    }

    private mutating func onChallenge(_ challenge: Challenge) -> [HandshakeAction] {
        state = .finished
        guard challenge.minor <= hello.minor else {
            return [.fail(HandshakeFailure(
                code: .unsupportedVersion,
                message: "server chose minor version \(challenge.minor), above ours (\(hello.minor))"))]
        }
        var session = HandshakeSession(
            peerRole: challenge.role, peerName: challenge.name, minor: challenge.minor,
            peerMaxPayloadBytes: challenge.maxPayloadBytes,
            heartbeatIntervalMilliseconds: challenge.heartbeatIntervalMilliseconds,
            authenticated: challenge.authenticationRequired)
        let parts = HandshakeTranscript.Parts(
            clientNonce: hello.nonce, serverNonce: challenge.nonce, clientRole: hello.role,
            serverRole: challenge.role, minor: challenge.minor)
        switch (challenge.authenticationRequired, token) {
        case (true, nil):
            return [.fail(HandshakeFailure(
                code: .authenticationRequired,
                message: "server \"\(challenge.name)\" requires the cluster token and we have none (use --token-file)"))]
        case (false, .some):
            return [.fail(HandshakeFailure(
                code: .authenticationRequired,
                message: "server \"\(challenge.name)\" runs without a token, so it cannot prove who it is; refusing"))]
        case (true, .some(let token)):
            session.authenticated = true
            session.keys = SessionKeys.derive(parts, token: token, isClient: true)
            state = .awaitingWelcome(expected: HandshakeTranscript.serverTag(token: token, parts), session: session)
            let tag = HandshakeTranscript.clientTag(token: token, parts)
            return [.send(.proof(AuthenticationTag(tag: tag, maxPayloadBytes: maxPayloadBytes)))]
        case (false, nil):
            state = .awaitingWelcome(expected: nil, session: session)
            return [.send(.proof(AuthenticationTag(tag: [], maxPayloadBytes: maxPayloadBytes)))]
        }
    }
}

// MARK: - Accepting side

/// The accepting peer's side: answers hello with a challenge, checks the proof, proves itself in welcome.
public struct ServerHandshake: Sendable {
    private enum State: Sendable {
        case awaitingHello, awaitingProof(hello: Hello, minor: UInt8), finished
    }

    private let token: [UInt8]?
    private let role: PeerRole
    private let name: String
    private let nonce: [UInt8]
    private let heartbeatIntervalMilliseconds: UInt32
    private let maxPayloadBytes: UInt64
    private let allowedRoles: Set<PeerRole>
    private var state: State = .awaitingHello

    /// A server handshake; `token == nil` means no authentication (only allowed on loopback unless insecure).
    public init(token: [UInt8]?, role: PeerRole, name: String, nonce: [UInt8], heartbeatIntervalMilliseconds: UInt32,
                maxPayloadBytes: UInt64, allowedRoles: Set<PeerRole> = Set(PeerRole.allCases)) {
        precondition(nonce.count == WireLimits.nonceBytes, "a handshake nonce has 32 bytes")
        self.token = token
        self.role = role
        self.name = clipped(name, WireLimits.maxNameBytes)
        self.nonce = nonce
        self.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds
        self.maxPayloadBytes = maxPayloadBytes
        self.allowedRoles = allowedRoles
    }

    private mutating func reject(_ code: WireErrorCode, _ message: String) -> [HandshakeAction] {
        state = .finished
        return [.send(.reject(ErrorReport(code: code, message: message))),
                .fail(HandshakeFailure(code: code, message: message))]
    }

    /// Handles a message from the connecting peer.
    public mutating func receive(_ message: Message) -> [HandshakeAction] {
        switch (state, message) {
        case (.awaitingHello, .hello(let hello)):
            guard hello.major == WireVersion.major else {
                return reject(.unsupportedVersion,
                              "protocol version \(hello.major).\(hello.minor) is not supported (we speak \(WireVersion.major).x)")
            }
            guard allowedRoles.contains(hello.role) else {
                return reject(.unexpectedMessage, "peers with role \(hello.role) may not connect here")
            }
            guard hello.nonce != nonce else { return reject(.authenticationFailed, "client reused our nonce") }
            let minor = min(hello.minor, WireVersion.minor)
            state = .awaitingProof(hello: hello, minor: minor)
            return [.send(.challenge(Challenge(
                minor: minor, role: role, name: name, authenticationRequired: token != nil, nonce: nonce,
                heartbeatIntervalMilliseconds: heartbeatIntervalMilliseconds, maxPayloadBytes: maxPayloadBytes)))]
        case (.awaitingProof(let hello, let minor), .proof(let proof)):
            var session = HandshakeSession(
                peerRole: hello.role, peerName: hello.name, minor: minor, peerMaxPayloadBytes: proof.maxPayloadBytes,
                heartbeatIntervalMilliseconds: heartbeatIntervalMilliseconds, authenticated: false)
            guard let token else {
                state = .finished
                return [.send(.welcome(AuthenticationTag(tag: [], maxPayloadBytes: maxPayloadBytes))),
                        .established(session)]
            }
            let parts = HandshakeTranscript.Parts(
                clientNonce: hello.nonce, serverNonce: nonce, clientRole: hello.role, serverRole: role, minor: minor)
            guard !proof.tag.isEmpty else {
                return reject(.authenticationRequired, "peer \"\(hello.name)\" offered no token proof; a token is required")
            }
            guard HMACSHA256.constantTimeEqual(proof.tag, HandshakeTranscript.clientTag(token: token, parts)) else {
                return reject(.authenticationFailed, "peer \"\(hello.name)\" presented a wrong token proof")
            }
            state = .finished
            session.authenticated = true
            session.keys = SessionKeys.derive(parts, token: token, isClient: false)
            let tag = HandshakeTranscript.serverTag(token: token, parts)
            return [.send(.welcome(AuthenticationTag(tag: tag, maxPayloadBytes: maxPayloadBytes))), .established(session)]
        default:
            return reject(.unexpectedMessage, "unexpected \(message.kind) message during the handshake")
        }
    }
}
