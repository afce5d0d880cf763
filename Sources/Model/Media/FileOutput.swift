// A buffered, append-only output file on a POSIX file descriptor, written atomically (temp file + rename).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes bytes to `path` through a temporary sibling file that is fsync'd and renamed into place on `commit()`,
/// so a reader never sees a half-written file. If it is never committed, the temporary file is removed.
public final class AtomicFileOutput {
    /// The final path.
    public let path: String
    private let temporaryPath: String
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private let bufferLimit = 1 << 20

    /// Opens a temporary file beside `path`.
    public init(path: String) throws {
        self.path = path
        self.temporaryPath = path + ".partial-\(getpid())"
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw MediaError("cannot create \(temporaryPath): \(String(cString: strerror(errno)))")
        }
        buffer.reserveCapacity(bufferLimit)
    }

    deinit {
        if descriptor >= 0 {
            close(descriptor)
            unlink(temporaryPath)
        }
    }

    /// Appends bytes.
    public func write<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= bufferLimit { try flush() }
    }

    /// Appends the UTF-8 bytes of a string.
    public func write(_ text: String) throws {
        try write(Array(text.utf8))
    }

    private func flush() throws {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { raw in
                Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw MediaError("cannot write \(temporaryPath): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, fsyncs and renames the file into place.
    public func commit() throws {
        try flush()
        guard fsync(descriptor) == 0 else {
            throw MediaError("cannot fsync \(temporaryPath): \(String(cString: strerror(errno)))")
        }
        close(descriptor)
        descriptor = -1
        guard rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw MediaError("cannot rename \(temporaryPath) to \(path): \(reason)")
        }
    }
}
