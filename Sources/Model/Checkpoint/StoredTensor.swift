// A checkpoint tensor as stored (memory-mapped F32/F16/BF16 bytes, or values in memory), widened on use.

/// A tensor as stored: its bytes stay in their dtype (often memory-mapped from the file) until used.
public struct StoredTensor: Sendable {
    /// Where the bytes live.
    enum Storage: Sendable {
        /// `byteCount` bytes at `byteOffset` in a mapped file.
        case mapped(MappedFile, byteOffset: Int)
        /// float32 values in memory.
        case float32([Float])
        /// Little-endian 16-bit values in memory.
        case bytes([UInt8])
    }

    /// The checkpoint key.
    public let name: String
    /// The stored element type.
    public let dtype: DType
    /// The shape.
    public let shape: [Int]
    let storage: Storage

    init(name: String, dtype: DType, shape: [Int], storage: Storage) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
    }

    /// A stored tensor holding `tensor`'s float32 values in memory (for weights made in code).
    public init(name: String, tensor: Tensor) {
        self.init(name: name, dtype: .float32, shape: tensor.shape, storage: .float32(tensor.scalars))
    }

    /// A stored tensor holding `tensor` narrowed to `dtype` in memory (rounded to nearest even).
    public init(name: String, tensor: Tensor, dtype: DType) {
        if dtype == .float32 {
            self.init(name: name, tensor: tensor)
            return
        }
        var bytes = [UInt8](repeating: 0, count: tensor.count * dtype.byteSize)
        tensor.withUnsafeBufferPointer { source in
            bytes.withUnsafeMutableBytes { destination in
                if let from = source.baseAddress, let to = destination.baseAddress {
                    dtype.narrow(from, count: tensor.count, into: to)
                }
            }
        }
        self.init(name: name, dtype: dtype, shape: tensor.shape, storage: .bytes(bytes))
    }

    /// The number of elements.
    public var count: Int { Tensor.elementCount(of: shape) }

    /// The number of stored bytes.
    public var byteCount: Int { count * dtype.byteSize }

    /// The values widened to a float32 tensor.
    public func float32() -> Tensor {
        if case .float32(let values) = storage { return Tensor(shape: shape, scalars: values) }
        let count = self.count
        return Tensor(shape: shape) { buffer in
            withUnsafeRawBytes { raw in
                if let source = raw.baseAddress, let destination = buffer.baseAddress {
                    dtype.widen(source, into: destination, count: count)
                }
            }
        }
    }

    /// Widens elements `range` (in row-major order) into `destination`.
    public func widen(elements range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "element range \(range) outside \(count)")
        if range.isEmpty { return }
        withUnsafeRawBytes { raw in
            dtype.widen(raw.baseAddress! + range.lowerBound * dtype.byteSize, into: destination, count: range.count)
        }
    }

    /// Calls `body` with the stored bytes (`byteCount` of them, little-endian `dtype` elements).
    public func withUnsafeRawBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case .mapped(let file, let byteOffset):
            return try body(UnsafeRawBufferPointer(start: file.base.map { $0 + byteOffset }, count: byteCount))
        case .float32(let values):
            return try values.withUnsafeBytes(body)
        case .bytes(let bytes):
            return try bytes.withUnsafeBytes(body)
        }
    }

    /// Calls `body` with a float32 pointer to the values when they are stored as float32 and 4-byte aligned
    /// (no copy); otherwise returns nil without calling it.
    func withFloat32PointerIfStored<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R? {
        guard dtype == .float32, count > 0 else { return nil }
        return try withUnsafeRawBytes { raw -> R? in
            guard let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else {
                return nil
            }
            return try body(base.assumingMemoryBound(to: Float.self))
        }
    }
}
