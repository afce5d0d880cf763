// Errors from reading, validating and loading safetensors checkpoints.

/// Why a checkpoint file or folder could not be read or loaded. Every message names the file and, where
/// there is one, the tensor key and the values seen.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// No such file (or no checkpoint in a folder).
    case fileNotFound(path: String)
    /// An operating-system call failed on the file.
    case io(path: String, operation: String, errno: Int32)
    /// The file is shorter than its header says.
    case truncated(file: String, reason: String)
    /// The header (or an index file) is not valid for the format.
    case invalidHeader(file: String, reason: String)
    /// A tensor entry in the header is malformed (bad offsets, shape or byte count).
    case invalidTensor(key: String, file: String, reason: String)
    /// Two tensors' byte ranges overlap.
    case overlappingTensors(first: String, second: String, file: String)
    /// A tensor has a dtype other than F32, F16 or BF16.
    case unsupportedDType(key: String, dtype: String, file: String)
    /// A key that the model needs is not in the checkpoint.
    case missingKey(key: String, file: String)
    /// A tensor has another shape than the model needs.
    case shapeMismatch(key: String, file: String, expected: [Int], found: [Int])
    /// Keys in the checkpoint that the model did not use, with the file each is in.
    case unusedKeys(keys: [String], files: [String])
    /// A sharded index is inconsistent with its shards.
    case invalidIndex(file: String, reason: String)
    /// A tensor could not be written.
    case cannotWrite(path: String, reason: String)

    /// A one-line explanation naming the file, key and values.
    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "checkpoint file not found: \(path)"
        case .io(let path, let operation, let errno):
            return "\(operation) failed for \(path): errno \(errno)"
        case .truncated(let file, let reason):
            return "truncated safetensors file \(file): \(reason)"
        case .invalidHeader(let file, let reason):
            return "invalid safetensors header in \(file): \(reason)"
        case .invalidTensor(let key, let file, let reason):
            return "invalid tensor \"\(key)\" in \(file): \(reason)"
        case .overlappingTensors(let first, let second, let file):
            return "tensors \"\(first)\" and \"\(second)\" overlap in \(file)"
        case .unsupportedDType(let key, let dtype, let file):
            return "unsupported dtype \(dtype) for tensor \"\(key)\" in \(file) (supported: F32, F16, BF16)"
        case .missingKey(let key, let file):
            return "missing tensor \"\(key)\" in \(file)"
        case .shapeMismatch(let key, let file, let expected, let found):
            return "shape mismatch for \"\(key)\" in \(file): expected \(expected), found \(found)"
        case .unusedKeys(let keys, let files):
            let shown = keys.prefix(20).map { "\"\($0)\"" }.joined(separator: ", ")
            let more = keys.count > 20 ? " and \(keys.count - 20) more" : ""
            return "\(keys.count) unused tensor(s) in \(files.joined(separator: ", ")): \(shown)\(more)"
        case .invalidIndex(let file, let reason):
            return "invalid checkpoint index \(file): \(reason)"
        case .cannotWrite(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }
}
