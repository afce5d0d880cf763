// The safetensors file format, read side (huggingface/safetensors): memory-mapped, header validated strictly.

/// One memory-mapped `.safetensors` file whose header has been validated.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON, then the data section. Validation:
/// N <= `maximumHeaderBytes` and inside the file; the JSON is an object whose entries are tensors
/// (`dtype`, `shape`, `data_offsets`, nothing else) plus an optional `__metadata__` string map; dtypes are
/// F32, F16 or BF16; every tensor's offsets lie inside the data section with begin <= end and a byte count
/// equal to the element count times the dtype size (overflow checked); no two tensors overlap.
public final class SafeTensorsFile: Sendable {
    /// The largest header accepted (100 MB, as the reference implementation allows).
    public static let maximumHeaderBytes = 100_000_000

    /// A validated header entry.
    struct Entry: Sendable {
        let dtype: DType
        let shape: [Int]
        /// Byte offset from the start of the file.
        let fileOffset: Int
        let byteCount: Int
    }

    /// The path the file was opened from.
    public let path: String
    private let mapping: MappedFile
    private let entries: [String: Entry]
    /// The `__metadata__` map (empty when absent).
    public let metadata: [String: String]

    /// The file name without its folder, for messages.
    var fileName: String { path.split(separator: "/").last.map(String.init) ?? path }

    /// Maps `path` and validates its header.
    public init(path: String) throws {
        self.path = path
        let mapping = try MappedFile(path: path)
        self.mapping = mapping
        let name = path.split(separator: "/").last.map(String.init) ?? path
        (entries, metadata) = try SafeTensorsFile.parseHeader(mapping, fileName: name)
    }

    /// The tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// The dtype and shape of `named`, or nil when absent.
    public func info(named name: String) -> (dtype: DType, shape: [Int])? {
        entries[name].map { ($0.dtype, $0.shape) }
    }

    /// The tensor `named` (bytes stay mapped).
    public func tensor(named name: String) throws -> StoredTensor {
        guard let entry = entries[name] else { throw CheckpointError.missingKey(key: name, file: fileName) }
        return StoredTensor(
            name: name, dtype: entry.dtype, shape: entry.shape,
            storage: .mapped(mapping, byteOffset: entry.fileOffset))
    }

    // MARK: - Header validation

    private static func parseHeader(
        _ mapping: MappedFile, fileName: String
    ) throws(CheckpointError) -> ([String: Entry], [String: String]) {
        guard mapping.size >= 8, let base = mapping.base else {
            throw .truncated(file: fileName, reason: "\(mapping.size) bytes, shorter than the 8-byte header length")
        }
        let rawLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard rawLength <= UInt64(maximumHeaderBytes) else {
            throw .invalidHeader(file: fileName, reason: "header length \(rawLength) exceeds the limit \(maximumHeaderBytes)")
        }
        let headerLength = Int(rawLength)
        guard headerLength <= mapping.size - 8 else {
            throw .truncated(
                file: fileName, reason: "header length \(headerLength) runs past the end of the \(mapping.size)-byte file")
        }
        let headerBytes = UnsafeBufferPointer(
            start: (base + 8).assumingMemoryBound(to: UInt8.self), count: headerLength)
        let json: JSONValue
        do {
            json = try JSONParser.parse(headerBytes)
        } catch {
            throw .invalidHeader(file: fileName, reason: "bad JSON: \(error)")
        }
        guard case .object(let members) = json else {
            throw .invalidHeader(file: fileName, reason: "the header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        let dataSize = mapping.size - dataStart
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        var ranges: [(name: String, begin: Int, end: Int)] = []
        for (key, value) in members {
            if key == "__metadata__" {
                guard case .object(let map) = value else {
                    throw .invalidHeader(file: fileName, reason: "__metadata__ is not an object")
                }
                for (metaKey, metaValue) in map {
                    guard case .string(let text) = metaValue else {
                        throw .invalidHeader(file: fileName, reason: "__metadata__ value for \"\(metaKey)\" is not a string")
                    }
                    metadata[metaKey] = text
                }
                continue
            }
            let (entry, begin, end) = try parseEntry(key: key, value: value, fileName: fileName, dataSize: dataSize)
            entries[key] = Entry(dtype: entry.dtype, shape: entry.shape, fileOffset: dataStart + begin, byteCount: end - begin)
            ranges.append((key, begin, end))
        }
        ranges.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var previous: (name: String, end: Int)?
        for range in ranges where range.end > range.begin {
            if let previous, range.begin < previous.end {
                throw .overlappingTensors(first: previous.name, second: range.name, file: fileName)
            }
            previous = (range.name, range.end)
        }
        return (entries, metadata)
    }

    private static func parseEntry(
        key: String, value: JSONValue, fileName: String, dataSize: Int
    ) throws(CheckpointError) -> (entry: (dtype: DType, shape: [Int]), begin: Int, end: Int) {
        guard case .object(let fields) = value else {
            throw .invalidTensor(key: key, file: fileName, reason: "the entry is not an object")
        }
        for field in fields.keys where !["dtype", "shape", "data_offsets"].contains(field) {
            throw .invalidTensor(key: key, file: fileName, reason: "unknown field \"\(field)\"")
        }
        guard case .string(let dtypeName)? = fields["dtype"] else {
            throw .invalidTensor(key: key, file: fileName, reason: "missing or non-string dtype")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw .unsupportedDType(key: key, dtype: dtypeName, file: fileName)
        }
        guard case .array(let shapeValues)? = fields["shape"] else {
            throw .invalidTensor(key: key, file: fileName, reason: "missing or non-array shape")
        }
        guard shapeValues.count <= 16 else {
            throw .invalidTensor(key: key, file: fileName, reason: "rank \(shapeValues.count) exceeds 16")
        }
        var shape: [Int] = []
        var elementCount = 1
        for dimensionValue in shapeValues {
            guard let dimension = dimensionValue.nonNegativeInteger else {
                throw .invalidTensor(key: key, file: fileName, reason: "shape entry \(dimensionValue) is not a non-negative integer")
            }
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw .invalidTensor(key: key, file: fileName, reason: "element count of shape \(shapeValues) overflows")
            }
            elementCount = product
            shape.append(dimension)
        }
        let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else {
            throw .invalidTensor(key: key, file: fileName, reason: "byte count of shape \(shape) overflows")
        }
        guard case .array(let offsetValues)? = fields["data_offsets"], offsetValues.count == 2,
            let begin = offsetValues[0].nonNegativeInteger, let end = offsetValues[1].nonNegativeInteger
        else {
            throw .invalidTensor(key: key, file: fileName, reason: "data_offsets is not two non-negative integers")
        }
        guard begin <= end else {
            throw .invalidTensor(key: key, file: fileName, reason: "data_offsets [\(begin), \(end)] begin after end")
        }
        guard end - begin == byteCount else {
            throw .invalidTensor(
                key: key, file: fileName,
                reason: "data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but \(dtypeName) \(shape) needs \(byteCount)")
        }
        guard end <= dataSize else {
            throw .truncated(
                file: fileName,
                reason: "tensor \"\(key)\" ends at data byte \(end), but the data section has \(dataSize) bytes")
        }
        return ((dtype, shape), begin, end)
    }
}
