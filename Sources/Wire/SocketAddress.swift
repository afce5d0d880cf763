// "host:port" parsing and resolution to IPv4 / IPv6 socket addresses (getaddrinfo).
#if canImport(Glibc)
import Glibc
#endif

/// A resolved TCP endpoint.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The raw `sockaddr_in` or `sockaddr_in6` bytes.
    let storage: [UInt8]
    /// AF_INET or AF_INET6.
    public let family: Int32

    /// Parses "host:port", "[ipv6]:port" or "ipv6-literal" forms and resolves the host (numeric or by name).
    /// Returns every address found, IPv4 and IPv6, in resolver order.
    public static func resolve(_ text: String) throws(TransportError) -> [SocketAddress] {
        let (host, port) = try split(text)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw .badAddress(text, reason: "cannot resolve host \"\(host)\": \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        var result: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr, entry.pointee.ai_family == AF_INET || entry.pointee.ai_family == AF_INET6 {
                let bytes = Array(UnsafeRawBufferPointer(start: address, count: Int(entry.pointee.ai_addrlen)))
                let candidate = SocketAddress(storage: bytes, family: entry.pointee.ai_family)
                if !result.contains(candidate) { result.append(candidate) }
            }
            cursor = entry.pointee.ai_next
        }
        guard !result.isEmpty else { throw .badAddress(text, reason: "no IPv4 or IPv6 address for \"\(host)\"") }
        return result
    }

    /// Splits "host:port" / "[v6]:port" and checks the port.
    static func split(_ text: String) throws(TransportError) -> (host: String, port: UInt16) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .badAddress(text, reason: "missing ']'") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .badAddress(text, reason: "expected ':port' after ']'") }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .badAddress(text, reason: "expected host:port") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else {
                throw .badAddress(text, reason: "IPv6 addresses need brackets, as in [::1]:7700")
            }
        }
        guard !host.isEmpty else { throw .badAddress(text, reason: "empty host") }
        guard let port = UInt16(portText) else { throw .badAddress(text, reason: "port \"\(portText)\" is not 0-65535") }
        return (String(host), port)
    }

    /// Wraps a `sockaddr` returned by the kernel.
    init(raw: UnsafeRawPointer, length: Int) {
        let bytes = Array(UnsafeRawBufferPointer(start: raw, count: length))
        self.storage = bytes
        self.family = Int32(raw.load(as: sa_family_t.self))
    }

    private init(storage: [UInt8], family: Int32) {
        self.storage = storage
        self.family = family
    }

    /// The port number.
    public var port: UInt16 {
        storage.withUnsafeBytes { raw in
            family == AF_INET6
                ? UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
                : UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
        }
    }

    /// The numeric host.
    public var host: String {
        storage.withUnsafeBytes { raw -> String in
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            if family == AF_INET6 {
                var address = raw.load(as: sockaddr_in6.self).sin6_addr
                inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            } else {
                var address = raw.load(as: sockaddr_in.self).sin_addr
                inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
            }
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Whether the address is on the loopback network (127.0.0.0/8, ::1, ::ffff:127.x.x.x).
    public var isLoopback: Bool {
        storage.withUnsafeBytes { raw in
            if family == AF_INET {
                let address = UInt32(bigEndian: raw.load(as: sockaddr_in.self).sin_addr.s_addr)
                return address >> 24 == 127
            }
            let bytes = withUnsafeBytes(of: raw.load(as: sockaddr_in6.self).sin6_addr) { Array($0) }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
        }
    }

    /// Calls `body` with the `sockaddr` pointer and length.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        storage.withUnsafeBytes { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
    }

    public var description: String { family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
