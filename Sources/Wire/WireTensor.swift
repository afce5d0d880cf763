// Tensor payloads: dtype, shape and raw little-endian bytes, with float32 -> float16/bfloat16 narrowing.

/// Element types a tensor can have on the wire.
public enum WireDType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// IEEE 754 binary32.
    case float32 = 1
    /// IEEE 754 binary16.
    case float16 = 2
    /// bfloat16 (the upper half of a binary32).
    case bfloat16 = 3

    /// Bytes per element.
    public var byteSize: Int { self == .float32 ? 4 : 2 }

    public var description: String {
        switch self {
        case .float32: return "f32"
        case .float16: return "f16"
        case .bfloat16: return "bf16"
        }
    }
}

/// A tensor as it travels: element type, shape and raw little-endian bytes.
///
/// Layout: dtype u8, rank u8 (0...8), reserved u16 = 0, rank x dim u64, byte count u64, bytes.
/// The byte count must equal the product of the dims times the element size (overflow checked).
public struct WireTensor: Equatable, Sendable {
    /// The largest rank accepted.
    public static let maxRank = 8

    /// Element type.
    public let dtype: WireDType
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// Raw little-endian element bytes (may share storage with a received payload).
    public let bytes: ArraySlice<UInt8>

    /// A tensor from raw bytes; throws if the byte count does not match the shape.
    public init(dtype: WireDType, shape: [Int], bytes: ArraySlice<UInt8>) throws(WireTensorError) {
        let expected = try WireTensor.byteCount(dtype: dtype, shape: shape)
        guard expected == bytes.count else {
            throw .byteCountMismatch(shape: shape, dtype: dtype, expected: expected, actual: bytes.count)
        }
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Element count.
    public var elementCount: Int { bytes.count / dtype.byteSize }

    /// The byte size of a tensor of `shape`, or an error for a negative dim, a rank above 8 or overflow.
    public static func byteCount(dtype: WireDType, shape: [Int]) throws(WireTensorError) -> Int {
        guard shape.count <= maxRank else { throw .rankTooLarge(shape.count) }
        var count = dtype.byteSize
        for dim in shape {
            guard dim >= 0 else { throw .negativeDimension(shape) }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw .sizeOverflow(shape) }
            count = product
        }
        return count
    }

    // MARK: - From and to float32

    /// Packs float32 values, optionally narrowed to float16 or bfloat16 (round to nearest even; NaN stays
    /// NaN, infinities stay infinite, float16 overflow becomes infinity).
    public init(float32 values: UnsafeBufferPointer<Float>, shape: [Int], as dtype: WireDType = .float32)
        throws(WireTensorError)
    {
        let byteCount = try WireTensor.byteCount(dtype: dtype, shape: shape)
        guard byteCount / dtype.byteSize == values.count else {
            throw .byteCountMismatch(shape: shape, dtype: dtype, expected: byteCount, actual: values.count * dtype.byteSize)
        }
        let packed = [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initialized in
            let destination = UnsafeMutableRawPointer(buffer.baseAddress!)
            switch dtype {
            case .float32:
                if byteCount > 0 { destination.copyMemory(from: values.baseAddress!, byteCount: byteCount) }
            case .float16:
                for index in 0..<values.count {
                    destination.storeBytes(of: Float16(values[index]).bitPattern.littleEndian,
                                           toByteOffset: index * 2, as: UInt16.self)
                }
            case .bfloat16:
                for index in 0..<values.count {
                    destination.storeBytes(of: WireTensor.bfloat16Bits(values[index]).littleEndian,
                                           toByteOffset: index * 2, as: UInt16.self)
                }
            }
            initialized = byteCount
        }
        try self.init(dtype: dtype, shape: shape, bytes: packed[...])
    }

    /// Packs an array of float32 values (see `init(float32:shape:as:)`).
    public init(float32 values: [Float], shape: [Int], as dtype: WireDType = .float32) throws(WireTensorError) {
        self = try values.withUnsafeBufferPointer { buffer throws(WireTensorError) in
            try WireTensor(float32: buffer, shape: shape, as: dtype)
        }
    }

    /// Widens the elements into `destination` (which must hold `elementCount` floats).
    public func widen(into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count >= elementCount, "widen needs room for \(elementCount) floats")
        bytes.withUnsafeBytes { raw in
            guard let source = raw.baseAddress else { return }
            switch dtype {
            case .float32:
                UnsafeMutableRawPointer(destination.baseAddress!).copyMemory(from: source, byteCount: raw.count)
            case .float16:
                for index in 0..<elementCount {
                    let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                    destination[index] = Float(Float16(bitPattern: bits))
                }
            case .bfloat16:
                for index in 0..<elementCount {
                    let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                    destination[index] = Float(bitPattern: UInt32(bits) << 16)
                }
            }
        }
    }

    /// The elements widened to float32.
    public func float32Values() -> [Float] {
        [Float](unsafeUninitializedCapacity: elementCount) { buffer, initialized in
            widen(into: buffer)
            initialized = elementCount
        }
    }

    /// The bfloat16 bit pattern nearest to `value` (ties to even; NaN stays a quiet NaN with its sign).
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let roundingBias = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    // MARK: - Payload encoding

    /// Writes the tensor (its bytes as their own segment when large).
    public func encode(into writer: inout PayloadWriter) {
        writer.write(dtype.rawValue)
        writer.write(UInt8(shape.count))
        writer.write(UInt16(0))
        for dim in shape { writer.write(UInt64(dim)) }
        writer.write(UInt64(bytes.count))
        writer.appendLarge(bytes)
    }

    /// Reads a tensor, checking dtype, rank, every dim, the byte count against the shape and what is left.
    public static func decode(from reader: inout PayloadReader, field: String) throws(MessageError) -> WireTensor {
        let rawDType = try reader.readUInt8("\(field).dtype")
        guard let dtype = WireDType(rawValue: rawDType) else {
            throw reader.malformed("\(field).dtype", "is \(rawDType), expected 1 (f32), 2 (f16) or 3 (bf16)")
        }
        let rank = Int(try reader.readUInt8("\(field).rank"))
        guard rank <= maxRank else { throw reader.malformed("\(field).rank", "is \(rank), limit \(maxRank)") }
        let reserved = try reader.readUInt16("\(field).reserved")
        guard reserved == 0 else { throw reader.malformed("\(field).reserved", "is \(reserved), expected 0") }
        var shape: [Int] = []
        for axis in 0..<rank {
            let raw = try reader.readUInt64("\(field).shape[\(axis)]")
            guard let dim = Int(exactly: raw), dim <= reader.remaining else {
                throw reader.malformed("\(field).shape[\(axis)]", "is \(raw), more than the payload could hold")
            }
            shape.append(dim)
        }
        let rawCount = try reader.readUInt64("\(field).byteCount")
        let expected: Int
        do { expected = try byteCount(dtype: dtype, shape: shape) } catch {
            throw reader.malformed("\(field).shape", "\(error)")
        }
        guard let count = Int(exactly: rawCount), count == expected else {
            throw reader.malformed("\(field).byteCount", "is \(rawCount), but shape \(shape) of \(dtype) needs \(expected)")
        }
        let bytes = try reader.take(count, field: "\(field).bytes")
        return try! WireTensor(dtype: dtype, shape: shape, bytes: bytes)  // sizes were checked just above
    }
}

/// A tensor whose shape and bytes do not agree.
public enum WireTensorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// More than `WireTensor.maxRank` dims.
    case rankTooLarge(Int)
    /// A dim below zero.
    case negativeDimension([Int])
    /// The byte size overflows Int.
    case sizeOverflow([Int])
    /// The byte count is not dims x element size.
    case byteCountMismatch(shape: [Int], dtype: WireDType, expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .rankTooLarge(let rank): return "tensor rank \(rank) exceeds the limit \(WireTensor.maxRank)"
        case .negativeDimension(let shape): return "tensor shape \(shape) has a negative dimension"
        case .sizeOverflow(let shape): return "tensor shape \(shape) is too large (byte size overflows)"
        case .byteCountMismatch(let shape, let dtype, let expected, let actual):
            return "tensor of shape \(shape) and dtype \(dtype) needs \(expected) bytes, got \(actual)"
        }
    }
}
