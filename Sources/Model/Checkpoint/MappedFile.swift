// A read-only memory mapping of a whole file (POSIX mmap), released when the last reference goes.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file mapped read-only into memory. `munmap` runs in `deinit`.
///
/// `@unchecked Sendable` is safe: the mapping is created `PROT_READ` in `init`, its address and size are
/// immutable `let`s, nothing ever writes through it, and it is unmapped only in `deinit`, when no thread can
/// hold a reference any more.
final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from.
    let path: String
    /// The first byte (nil for an empty file, which cannot be mapped).
    let base: UnsafeRawPointer?
    /// The file size in bytes.
    let size: Int

    /// Opens and maps `path`.
    init(path: String) throws(CheckpointError) {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            let code = errno
            if code == ENOENT { throw .fileNotFound(path: path) }
            throw .io(path: path, operation: "open", errno: code)
        }
        defer { close(descriptor) }
        var status = stat()
        if fstat(descriptor, &status) != 0 { throw .io(path: path, operation: "fstat", errno: errno) }
        if (status.st_mode & S_IFMT) != S_IFREG {
            throw .io(path: path, operation: "open (not a regular file)", errno: EISDIR)
        }
        guard let size = Int(exactly: status.st_size), size >= 0 else {
            throw .io(path: path, operation: "fstat (bad size)", errno: EINVAL)
        }
        self.size = size
        if size == 0 {
            base = nil
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        if address == MAP_FAILED || address == nil { throw .io(path: path, operation: "mmap", errno: errno) }
        base = UnsafeRawPointer(address!)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }
}
