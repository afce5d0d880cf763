// Errors of the socket layer and of connections.
#if canImport(Glibc)
import Glibc
#endif

/// Why a connection could not be made, or why it ended.
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An address that cannot be parsed or resolved.
    case badAddress(String, reason: String)
    /// A system call failed.
    case system(operation: String, address: String, errno: Int32)
    /// Connecting took longer than the timeout.
    case connectTimedOut(address: String, seconds: Double)
    /// A read or the handshake took longer than its timeout.
    case timedOut(what: String, seconds: Double)
    /// The connection is closed (cleanly or not); the reason says how.
    case closed(reason: String)
    /// No bytes arrived from the peer for longer than the dead-peer time.
    case peerSilent(seconds: Double)
    /// The server was asked to listen somewhere unsafe without a token.
    case insecureListen(address: String)
    /// The handshake failed.
    case handshake(HandshakeFailure)
    /// The peer sent a bad frame.
    case frame(FrameError)
    /// The peer sent a bad message.
    case message(MessageError)
    /// The peer answered the request with an error.
    case remote(ErrorReport)
    /// The peer's payload limit is below this message's size.
    case messageTooLarge(bytes: Int, peerLimit: UInt64)

    public var description: String {
        switch self {
        case .badAddress(let text, let reason): return "bad address \"\(text)\": \(reason)"
        case .system(let operation, let address, let code):
            return "\(operation) \(address) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .connectTimedOut(let address, let seconds): return "connecting to \(address) timed out after \(seconds) s"
        case .timedOut(let what, let seconds): return "\(what) timed out after \(seconds) s"
        case .closed(let reason): return "connection closed: \(reason)"
        case .peerSilent(let seconds): return "peer silent for \(seconds) s: declared dead"
        case .insecureListen(let address):
            return "refusing to listen on \(address) without a cluster token: anyone who can reach this address could "
                + "use the cluster. Pass --token-file FILE (create one with `coordinator init-token`), or --insecure "
                + "if the network is trusted."
        case .handshake(let failure): return failure.description
        case .frame(let error): return "bad frame from peer: \(error)"
        case .message(let error): return "bad message from peer: \(error)"
        case .remote(let report): return "peer answered with an error: \(report)"
        case .messageTooLarge(let bytes, let limit):
            return "message of \(bytes) bytes is above the peer's payload limit of \(limit) bytes"
        }
    }
}
