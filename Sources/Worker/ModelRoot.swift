// Resolves the coordinator's model reference inside --model-root, refusing anything that escapes it.
import Foundation

/// The folder every model reference is resolved in.
struct ModelRoot: Sendable {
    /// The root, with symbolic links resolved.
    let path: String

    init(_ path: String) throws {
        guard let real = realpath(path, nil) else {
            throw WorkerError("--model-root \(path) does not exist (errno \(errno))")
        }
        defer { free(real) }
        self.path = String(cString: real)
    }

    /// The real path of `reference` inside the root. Refuses absolute paths, `..` components, empty or
    /// oversized references, and links that lead outside the root.
    func resolve(_ reference: String) throws -> String {
        guard !reference.isEmpty, reference.utf8.count <= 4096 else {
            throw WorkerError("model reference must be 1 to 4096 bytes, got \(reference.utf8.count)")
        }
        guard !reference.hasPrefix("/") else {
            throw WorkerError("model reference \"\(reference)\" is absolute; it must be relative to the model root")
        }
        let components = reference.split(separator: "/", omittingEmptySubsequences: true)
        guard !components.contains("..") else {
            throw WorkerError("model reference \"\(reference)\" contains '..'; it must stay inside the model root")
        }
        guard !reference.utf8.contains(0) else { throw WorkerError("model reference contains a NUL byte") }
        let joined = (path as NSString).appendingPathComponent(reference)
        guard let real = realpath(joined, nil) else {
            throw WorkerError("model \"\(reference)\" not found under the model root \(path)")
        }
        defer { free(real) }
        let resolved = String(cString: real)
        guard resolved == path || resolved.hasPrefix(path.hasSuffix("/") ? path : path + "/") else {
            throw WorkerError("model reference \"\(reference)\" leads to \(resolved), outside the model root \(path)")
        }
        return resolved
    }
}
