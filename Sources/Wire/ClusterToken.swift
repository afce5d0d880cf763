// The shared cluster token: a file of 64 hex digits, created with mode 0600, refused if others can read it.
#if canImport(Glibc)
import Glibc
#endif

/// The secret every cluster member holds; proven in the handshake, never sent.
public struct ClusterToken: Equatable, Sendable {
    /// The secret bytes (32 when created by `create`).
    public let bytes: [UInt8]

    /// Fewest secret bytes accepted from a file.
    public static let minimumByteCount = 16
    /// Most secret bytes accepted from a file.
    public static let maximumByteCount = 256

    /// Wraps secret bytes.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// A token of 32 bytes from the system's secure random source (getrandom).
    public static func random() -> ClusterToken {
        var generator = SystemRandomNumberGenerator()
        return ClusterToken(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// The token as lowercase hex (what the file holds).
    public var hex: String { bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

    /// Creates a new random token file at `path` with mode 0600. Refuses to replace an existing file
    /// unless `overwrite`.
    @discardableResult
    public static func create(at path: String, overwrite: Bool = false) throws(ClusterTokenError) -> ClusterToken {
        let token = random()
        if overwrite { unlink(path) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST { throw .alreadyExists(path: path) }
            throw .system(path: path, operation: "create", errno: code)
        }
        defer { close(descriptor) }
        // The umask cannot widen 0600, but make the mode exact in case the file system did.
        fchmod(descriptor, 0o600)
        let text = Array((token.hex + "\n").utf8)
        let written = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == text.count else { throw .system(path: path, operation: "write", errno: errno) }
        guard fsync(descriptor) == 0 else { throw .system(path: path, operation: "fsync", errno: errno) }
        return token
    }

    /// Loads a token file: a regular file, not readable or writable by group or others, holding 32 to 512
    /// hex digits (surrounding whitespace allowed).
    public static func load(from path: String) throws(ClusterTokenError) -> ClusterToken {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT { throw .missing(path: path) }
            throw .system(path: path, operation: "open", errno: code)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system(path: path, operation: "stat", errno: errno) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw .notRegularFile(path: path) }
        let mode = UInt32(status.st_mode) & 0o777
        guard mode & 0o077 == 0 else { throw .tooOpen(path: path, mode: mode) }
        let limit = 4096
        guard status.st_size <= limit else { throw .malformed(path: path, reason: "file is \(status.st_size) bytes, limit \(limit)") }
        var buffer = [UInt8](repeating: 0, count: limit)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, limit) }
        guard count >= 0 else { throw .system(path: path, operation: "read", errno: errno) }
        let text = String(decoding: buffer[0..<count], as: UTF8.self)
            .trimmingWhitespace()
        return try parse(hex: text, path: path)
    }

    static func parse(hex text: String, path: String) throws(ClusterTokenError) -> ClusterToken {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else {
            throw .malformed(path: path, reason: "\(digits.count) hex digits, expected an even number")
        }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else {
                throw .malformed(path: path, reason: "character at offset \(index) is not a hex digit")
            }
            bytes.append(high << 4 | low)
        }
        guard bytes.count >= minimumByteCount, bytes.count <= maximumByteCount else {
            throw .malformed(path: path, reason: "token has \(bytes.count) bytes, expected \(minimumByteCount) to \(maximumByteCount)")
        }
        return ClusterToken(bytes: bytes)
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}

/// Why a token file could not be created or used.
public enum ClusterTokenError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No file at the path.
    case missing(path: String)
    /// `create` found a file already there.
    case alreadyExists(path: String)
    /// Not a regular file.
    case notRegularFile(path: String)
    /// Group or others have access.
    case tooOpen(path: String, mode: UInt32)
    /// Not 32-512 hex digits.
    case malformed(path: String, reason: String)
    /// A system call failed.
    case system(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .missing(let path):
            return "cluster token file \(path) does not exist (create one with `coordinator init-token --out \(path)`)"
        case .alreadyExists(let path):
            return "cluster token file \(path) already exists; refusing to overwrite it"
        case .notRegularFile(let path):
            return "cluster token file \(path) is not a regular file"
        case .tooOpen(let path, let mode):
            return "cluster token file \(path) has mode 0\(String(mode, radix: 8)): group or others can access it; "
                + "run `chmod 600 \(path)`"
        case .malformed(let path, let reason):
            return "cluster token file \(path) is malformed: \(reason)"
        case .system(let path, let operation, let code):
            return "cluster token file \(path): \(operation) failed: \(String(cString: strerror(code)))"
        }
    }
}
