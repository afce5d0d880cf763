// Plain POSIX TCP sockets for the proxy: listen, accept, connect, and whole-buffer writes.
#if canImport(Glibc)
import Glibc
#endif

/// A socket error naming the operation, the address and errno's text.
struct ProxySocketError: Error, CustomStringConvertible {
    let description: String
    init(_ operation: String, _ address: String, errno code: Int32 = errno) {
        description = "\(operation) \(address): \(String(cString: strerror(code)))"
    }

    /// An error with its whole message.
    init(_ description: String) { self.description = description }
}

enum ProxySocket {
    /// Resolves an IPv4 host (numeric or by name) and port.
    static func address(host: String, port: UInt16) throws -> sockaddr_in {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list, let raw = first.pointee.ai_addr else {
            throw ProxySocketError("cannot resolve \"\(host)\" as an IPv4 host: \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        return raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
    }

    /// A listening socket bound to `host:port`; returns it and the bound port.
    static func listen(host: String, port: UInt16) throws -> (Int32, UInt16) {
        var address = try address(host: host, port: port)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ProxySocketError("socket", "\(host):\(port)") }
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            let error = ProxySocketError("bind", "\(host):\(port)")
            close(descriptor)
            throw error
        }
        guard Glibc.listen(descriptor, 64) == 0 else {
            let error = ProxySocketError("listen", "\(host):\(port)")
            close(descriptor)
            throw error
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return (descriptor, UInt16(bigEndian: address.sin_port))
    }

    /// Connects to `host:port` (blocking, the kernel's connect timeout).
    static func connect(host: String, port: UInt16) throws -> Int32 {
        var address = try address(host: host, port: port)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ProxySocketError("socket", "\(host):\(port)") }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else {
            let error = ProxySocketError("connect", "\(host):\(port)")
            close(descriptor)
            throw error
        }
        noDelay(descriptor)
        return descriptor
    }

    static func noDelay(_ descriptor: Int32) {
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Writes all of `bytes`; false when the socket failed or closed.
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = send(descriptor, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }
}
