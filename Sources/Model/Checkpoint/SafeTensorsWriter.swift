// The safetensors file format, write side: sorted keys, 8-byte padded header, atomic replace.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `.safetensors` files.
public enum SafeTensorsWriter {
    /// Writes `tensors` narrowed to `dtype`, with `metadata` as `__metadata__`, to `path`.
    ///
    /// Keys are sorted and the data laid out in that order; the JSON header is padded with spaces to a
    /// multiple of 8 bytes, as the reference writer does. The file appears atomically: the bytes go to a
    /// temporary file in the same folder, which is fsync'd and then renamed over `path`.
    public static func write(
        _ tensors: [(name: String, tensor: Tensor)], dtype: DType = .float32, metadata: [String: String] = [:],
        to path: String
    ) throws {
        let sorted = tensors.sorted { $0.name < $1.name }
        for index in sorted.indices.dropFirst() where sorted[index].name == sorted[index - 1].name {
            throw CheckpointError.cannotWrite(path: path, reason: "duplicate tensor name \"\(sorted[index].name)\"")
        }
        if sorted.contains(where: { $0.name == "__metadata__" }) {
            throw CheckpointError.cannotWrite(path: path, reason: "\"__metadata__\" is reserved and cannot name a tensor")
        }
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(JSONValue.quoted($0)):\(JSONValue.quoted(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for (name, tensor) in sorted {
            let byteCount = tensor.count * dtype.byteSize
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append(
                "\(JSONValue.quoted(name)):{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(shape)],"
                    + "\"data_offsets\":[\(offset),\(offset + byteCount)]}")
            offset += byteCount
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }

        let temporaryPath = path + ".tmp-\(getpid())"
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if descriptor < 0 { throw CheckpointError.io(path: temporaryPath, operation: "open", errno: errno) }
        var closed = false
        defer {
            if !closed {
                close(descriptor)
                unlink(temporaryPath)
            }
        }
        var lengthBytes = [UInt8](repeating: 0, count: 8)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { lengthBytes = Array($0) }
        try writeAll(descriptor, lengthBytes, path: temporaryPath)
        try writeAll(descriptor, header, path: temporaryPath)
        let chunkElements = 1 << 20
        var chunk = [UInt8](repeating: 0, count: chunkElements * dtype.byteSize)
        for (_, tensor) in sorted {
            try tensor.withUnsafeBufferPointer { values in
                var start = 0
                while start < values.count {
                    let count = min(chunkElements, values.count - start)
                    chunk.withUnsafeMutableBytes { dtype.narrow(values.baseAddress! + start, count: count, into: $0.baseAddress!) }
                    try chunk.withUnsafeBytes {
                        try writeAll(descriptor, UnsafeRawBufferPointer(rebasing: $0[0..<(count * dtype.byteSize)]), path: temporaryPath)
                    }
                    start += count
                }
            }
        }
        if fsync(descriptor) != 0 { throw CheckpointError.io(path: temporaryPath, operation: "fsync", errno: errno) }
        closed = true
        if close(descriptor) != 0 {
            unlink(temporaryPath)
            throw CheckpointError.io(path: temporaryPath, operation: "close", errno: errno)
        }
        if rename(temporaryPath, path) != 0 {
            let code = errno
            unlink(temporaryPath)
            throw CheckpointError.io(path: path, operation: "rename", errno: code)
        }
        // Make the rename itself durable.
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let folderDescriptor = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            _ = fsync(folderDescriptor)
            close(folderDescriptor)
        }
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { try writeAll(descriptor, $0, path: path) }
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var written = 0
        while written < bytes.count {
            let result = systemWrite(descriptor, bytes.baseAddress! + written, bytes.count - written)
            if result < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.io(path: path, operation: "write", errno: errno)
            }
            written += result
        }
    }
}

/// POSIX write(2), named apart from `SafeTensorsWriter.write`.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
