// A TCP socket file descriptor with its options, connect with a timeout, and full reads and writes.
#if canImport(Glibc)
import Glibc
#endif

/// Socket settings shared by connecting and accepting peers.
public struct SocketOptions: Sendable {
    /// SO_SNDBUF and SO_RCVBUF request, in bytes (the kernel may cap it at net.core.*mem_max).
    public var bufferBytes: Int32 = 4 << 20
    /// How long a single blocking write may make no progress before the connection is declared dead.
    public var sendTimeoutSeconds: Double = 30
    /// The TCP congestion control algorithm by name (Linux TCP_CONGESTION: "reno", "cubic", "bbr", ...), or
    /// nil for the system's default. Unprivileged processes may pick only the names listed in
    /// /proc/sys/net/ipv4/tcp_allowed_congestion_control. A name the system refuses fails the connect or
    /// the listen.
    public var congestionControl: String?

    /// Defaults: 4 MiB buffers, 30 s send timeout, the system's congestion control.
    public init() {}
}

/// Owns one socket descriptor; closed when the last reference goes away, so no thread can ever use a
/// descriptor number after it was reused.
public final class SocketHandle: Sendable {
    /// The descriptor.
    public let descriptor: Int32
    /// Where the socket is connected (for messages).
    public let peerDescription: String

    init(descriptor: Int32, peerDescription: String) {
        self.descriptor = descriptor
        self.peerDescription = peerDescription
    }

    deinit { close(descriptor) }

    /// Wakes any thread blocked on the socket; both directions end.
    func shutdownBoth() { _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }

    /// Ends our sending direction (the peer reads end-of-stream after our last byte).
    func shutdownWrite() { _ = Glibc.shutdown(descriptor, Int32(SHUT_WR)) }

    /// Sets TCP_NODELAY, buffer sizes, the send timeout and the congestion control.
    func configure(_ options: SocketOptions) throws(TransportError) {
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var size = options.bufferBytes
        setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        setTimeout(SO_SNDTIMEO, seconds: options.sendTimeoutSeconds)
        if let name = options.congestionControl { try setCongestionControl(name) }
    }

    /// Chooses the TCP congestion control algorithm (accepted sockets inherit the listener's).
    func setCongestionControl(_ name: String) throws(TransportError) {
        let status = name.withCString {
            setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_CONGESTION, $0, socklen_t(strlen($0)))
        }
        guard status == 0 else {
            throw .system(operation: "choosing TCP congestion control \"\(name)\" for", address: peerDescription,
                          errno: errno)
        }
    }

    func setTimeout(_ option: Int32, seconds: Double) {
        var time = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(descriptor, SOL_SOCKET, option, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    // MARK: - Connecting

    /// Connects to the first reachable of `addresses` within `timeoutSeconds` each.
    static func connect(to addresses: [SocketAddress], text: String, timeoutSeconds: Double,
                        options: SocketOptions) throws(TransportError) -> SocketHandle {
        var lastError = TransportError.badAddress(text, reason: "no addresses")
        for address in addresses {
            do { return try connect(to: address, timeoutSeconds: timeoutSeconds, options: options) } catch {
                lastError = error
            }
        }
        throw lastError
    }

    static func connect(to address: SocketAddress, timeoutSeconds: Double, options: SocketOptions)
        throws(TransportError) -> SocketHandle
    {
        let descriptor = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .system(operation: "socket", address: "\(address)", errno: errno) }
        let handle = SocketHandle(descriptor: descriptor, peerDescription: "\(address)")
        try handle.configure(options)
        let flags = fcntl(descriptor, F_GETFL)
        _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
        let status = address.withSockAddr { Glibc.connect(descriptor, $0, $1) }
        if status != 0 {
            guard errno == EINPROGRESS else { throw .system(operation: "connect", address: "\(address)", errno: errno) }
            var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&poller, 1, Int32(max(1, timeoutSeconds * 1000)))
            guard ready > 0 else { throw .connectTimedOut(address: "\(address)", seconds: timeoutSeconds) }
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &code, &length)
            guard code == 0 else { throw .system(operation: "connect", address: "\(address)", errno: code) }
        }
        _ = fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK)
        return handle
    }

    // MARK: - Writing

    /// Writes every byte of `parts` (sendmsg with an iovec list, retried on partial writes and EINTR).
    func writeAll(_ parts: [ArraySlice<UInt8>]) throws(TransportError) {
        var index = 0
        var offset = 0
        while index < parts.count {
            if parts[index].count == offset { index += 1; offset = 0; continue }
            var remaining = try send(parts[index...], firstOffset: offset, wait: true)
            while remaining > 0 {
                let left = parts[index].count - offset
                if remaining >= left {
                    remaining -= left
                    index += 1
                    offset = 0
                } else {
                    offset += remaining
                    remaining = 0
                }
            }
        }
    }

    /// One `sendmsg` of up to 64 of `parts` (the first one from `firstOffset`); returns how many bytes the
    /// kernel took. With `wait` false it never blocks and returns 0 when the send buffer is full; with
    /// `wait` true it blocks for room, and a send that makes no progress for the send timeout throws.
    func send(_ parts: ArraySlice<ArraySlice<UInt8>>, firstOffset: Int, wait: Bool) throws(TransportError) -> Int {
        let batch = parts.prefix(64)
        // MSG_NOSIGNAL: a peer that went away is an error here, not a SIGPIPE for the process.
        let flags = Int32(MSG_NOSIGNAL) | (wait ? 0 : Int32(MSG_DONTWAIT))
        while true {
            let written: Int = withIOVectors(batch, firstOffset: firstOffset) { vectors in
                var header = msghdr()
                header.msg_iov = vectors.baseAddress
                header.msg_iovlen = vectors.count
                return sendmsg(descriptor, &header, flags)
            }
            if written >= 0 { return written }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                if !wait { return 0 }
                throw .timedOut(what: "sending to \(peerDescription) (peer not reading)", seconds: 0)
            }
            throw .system(operation: "send to", address: peerDescription, errno: code)
        }
    }

    private func withIOVectors<R>(_ parts: ArraySlice<ArraySlice<UInt8>>, firstOffset: Int,
                                  _ body: (UnsafeMutableBufferPointer<iovec>) -> R) -> R {
        // Pointers into the parts stay valid while the nested withUnsafeBytes calls are active.
        var vectors = [iovec](repeating: iovec(), count: parts.count)
        func nest(_ position: Int) -> R {
            if position == parts.count { return vectors.withUnsafeMutableBufferPointer { body($0) } }
            let part = parts[parts.startIndex + position]
            return part.withUnsafeBytes { raw in
                let skip = position == 0 ? firstOffset : 0
                vectors[position] = iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress.map { $0 + skip }),
                                          iov_len: raw.count - skip)
                return nest(position + 1)
            }
        }
        return nest(0)
    }
}
