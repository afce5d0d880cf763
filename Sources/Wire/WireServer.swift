// A listening socket that authenticates each new peer on its own thread and hands out open connections.
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Settings of a server.
public struct ServerOptions: Sendable {
    /// Identity, token, limits and heartbeats used for every accepted connection.
    public var connection: ConnectionOptions
    /// Allow listening on a non-loopback address without a token.
    public var insecure = false
    /// Roles allowed to connect.
    public var allowedRoles: Set<PeerRole> = Set(PeerRole.allCases)
    /// Handshakes that may run at once; further peers are dropped until one finishes.
    public var maxConcurrentHandshakes = 32
    /// Told about every rejected or failed peer, with the reason (for logs).
    public var onEvent: @Sendable (String) -> Void = { _ in }

    /// Options with the given connection settings.
    public init(connection: ConnectionOptions) { self.connection = connection }
}

/// A TCP server for the protocol. Every accepted peer must pass the handshake before it appears on
/// `connections`; a peer that fails is rejected with a logged reason and the server keeps serving.
public final class WireServer: Sendable {
    /// The bound address (with the real port when asked for port 0).
    public let address: SocketAddress
    /// Authenticated connections, as they arrive.
    public let connections: AsyncStream<WireConnection>
    private let listener: SocketHandle
    private let continuation: AsyncStream<WireConnection>.Continuation
    private let options: ServerOptions
    private let stopped = Mutex(false)
    private let handshakes = Mutex(0)

    /// Binds and listens on `address` ("host:port", port 0 for any free port) and starts accepting.
    ///
    /// Refuses a non-loopback address when `options.connection.token` is nil unless `options.insecure`.
    public static func listen(on address: String, options: ServerOptions) throws(TransportError) -> WireServer {
        let candidates = try SocketAddress.resolve(address)
        let target = candidates[0]
        if !target.isLoopback && options.connection.token == nil && !options.insecure {
            throw .insecureListen(address: address)
        }
        let descriptor = socket(target.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .system(operation: "socket", address: address, errno: errno) }
        let handle = SocketHandle(descriptor: descriptor, peerDescription: address)
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if let name = options.connection.socket.congestionControl { try handle.setCongestionControl(name) }
        guard target.withSockAddr({ bind(descriptor, $0, $1) }) == 0 else {
            throw .system(operation: "bind", address: address, errno: errno)
        }
        guard Glibc.listen(descriptor, 128) == 0 else { throw .system(operation: "listen", address: address, errno: errno) }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(descriptor, $0, &length) }
        }
        let bound = withUnsafeBytes(of: &storage) { SocketAddress(raw: $0.baseAddress!, length: Int(length)) }
        let server = WireServer(listener: handle, address: bound, options: options)
        Thread.detachNewThread { [server] in server.acceptLoop() }
        return server
    }

    private init(listener: SocketHandle, address: SocketAddress, options: ServerOptions) {
        self.listener = listener
        self.address = address
        self.options = options
        (connections, continuation) = AsyncStream<WireConnection>.makeStream()
    }

    /// Stops accepting (open connections are not affected) and ends `connections`.
    public func stop() {
        stopped.withLock { $0 = true }
        listener.shutdownBoth()
    }

    private func acceptLoop() {
        defer { continuation.finish() }
        while !stopped.withLock({ $0 }) {
            var poller = pollfd(fd: listener.descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) > 0 else { continue }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let descriptor = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.accept(listener.descriptor, $0, &length)
                }
            }
            guard descriptor >= 0 else {
                if stopped.withLock({ $0 }) { return }
                let code = errno
                if code == EMFILE || code == ENFILE { usleep(50_000) }
                continue
            }
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            let peer = withUnsafeBytes(of: &storage) { SocketAddress(raw: $0.baseAddress!, length: Int(length)) }
            let socket = SocketHandle(descriptor: descriptor, peerDescription: "\(peer)")
            let admitted = handshakes.withLock { count -> Bool in
                guard count < options.maxConcurrentHandshakes else { return false }
                count += 1
                return true
            }
            guard admitted else {
                options.onEvent("dropped \(peer): \(options.maxConcurrentHandshakes) handshakes already running")
                continue
            }
            Thread.detachNewThread { [self] in
                defer { handshakes.withLock { $0 -= 1 } }
                accept(socket)
            }
        }
    }

    private func accept(_ socket: SocketHandle) {
        let connectionOptions = options.connection
        do { try socket.configure(connectionOptions.socket) } catch {
            options.onEvent("dropped \(socket.peerDescription): \(error)")
            return
        }
        var handshake = ServerHandshake(
            token: connectionOptions.token?.bytes, role: connectionOptions.role, name: connectionOptions.name,
            nonce: freshNonce(), heartbeatIntervalMilliseconds: UInt32(connectionOptions.heartbeatIntervalSeconds * 1000),
            maxPayloadBytes: UInt64(connectionOptions.maxPayloadBytes), allowedRoles: options.allowedRoles)
        let reader = handshakeReader(socket: socket, options: connectionOptions)
        do {
            let session = try runHandshake(socket: socket, reader: reader, first: []) { handshake.receive($0) }
            if stopped.withLock({ $0 }) { return }
            continuation.yield(WireConnection(session: session, socket: socket, reader: reader, options: connectionOptions,
                                              initiator: false))
        } catch {
            options.onEvent("rejected \(socket.peerDescription): \(error)")
            if case .frame(let frameError) = error {
                // Tell a confused peer why, if it is listening at all.
                let frame = Self.refusal(frameError)
                try? socket.writeAll([frame.header[...]] + frame.segments)
            }
            lingerThenClose(socket)
        }
    }

    /// The reject frame for a handshake that failed on a bad frame. A peer of an older major gets it in a
    /// header of its own major (versions 1 and 2 share the header layout), so it can read why.
    static func refusal(_ error: FrameError) -> OutgoingFrame {
        guard case .unsupportedVersion(let major, let minor) = error, major >= 1, major < WireVersion.major else {
            return OutgoingFrame(.reject(ErrorReport(code: error.code, message: "\(error)")), requestID: 0)
        }
        let message = "protocol version \(major).\(minor) is not supported: this peer speaks \(WireVersion.major).x, "
            + "which authenticates every frame after the handshake; upgrade the peer"
        var frame = OutgoingFrame(.reject(ErrorReport(code: .unsupportedVersion, message: message)), requestID: 0)
        frame.header = FrameHeader.rewritingMajor(frame.header, to: major)
        return frame
    }

    /// Shuts our side and drains briefly, so a reject already sent is not destroyed by a reset.
    private func lingerThenClose(_ socket: SocketHandle) {
        socket.shutdownWrite()
        var scratch = [UInt8](repeating: 0, count: 4096)
        let deadline = monotonicNanoseconds() + 200_000_000
        while monotonicNanoseconds() < deadline {
            var poller = pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let count = scratch.withUnsafeMutableBytes { recv(socket.descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
        }
    }
}
