// Settings of a connection: identity, token, limits, heartbeats and timeouts.

/// How a connection identifies itself, authenticates, and decides its peer is dead.
public struct ConnectionOptions: Sendable {
    /// Our role in the handshake.
    public var role: PeerRole
    /// Our name in the handshake (for the peer's logs).
    public var name: String
    /// The cluster token, or nil to run without authentication.
    public var token: ClusterToken?
    /// The largest payload we accept (announced to the peer; checked before allocating).
    public var maxPayloadBytes: Int = FrameDecoder.defaultMaxPayloadBytes
    /// Whether frames we send carry a payload CRC-32C (received frames are verified whenever they carry one).
    public var payloadChecksums = true
    /// Send a heartbeat after this long without sending anything.
    public var heartbeatIntervalSeconds = 1.0
    /// Declare the peer dead after this long without receiving a byte.
    public var deadAfterSeconds = 5.0
    /// Give up connecting after this long.
    public var connectTimeoutSeconds = 5.0
    /// Give up on a handshake that has not finished after this long.
    public var handshakeTimeoutSeconds = 5.0
    /// Messages from the peer that may wait for the application before we stop reading (TCP backpressure).
    public var maxBufferedIncomingMessages = 256
    /// Socket settings.
    public var socket = SocketOptions()

    /// Options with the given identity and defaults for the rest.
    public init(role: PeerRole, name: String, token: ClusterToken?) {
        self.role = role
        self.name = name
        self.token = token
    }
}

/// A message from the peer that is not a reply to one of our requests: a request (reply with
/// `WireConnection.reply(to:with:)`) or a notification (request id 0).
public struct IncomingMessage: Sendable {
    /// The peer's request id (0 for notifications).
    public let requestID: UInt64
    /// The message.
    public let message: Message
}
