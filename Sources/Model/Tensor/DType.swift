// Element types that checkpoints and the wire store (safetensors "F32", "F16", "BF16").

/// The element type of stored weights and tensors on disk or on the wire.
public enum DType: String, Sendable, CaseIterable {
    /// IEEE 754 binary32.
    case float32 = "F32"
    /// IEEE 754 binary16.
    case float16 = "F16"
    /// bfloat16: the upper half of a binary32.
    case bfloat16 = "BF16"

    /// Bytes per element.
    @inlinable public var byteSize: Int {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        }
    }
}

// MARK: - Widening and narrowing

extension DType {
    /// Widens `count` elements of this dtype at `source` (any alignment) into float32 `destination`.
    public func widen(_ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .float32:
            (UnsafeMutableRawPointer(destination)).copyMemory(from: source, byteCount: count * 4)
        case .float16:
            for index in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                destination[index] = DType.float16ToFloat(bits)
            }
        case .bfloat16:
            for index in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                destination[index] = Float(bitPattern: UInt32(bits) << 16)
            }
        }
    }

    /// Narrows float32 values into this dtype's little-endian bytes, rounding to nearest even;
    /// NaN stays NaN and infinities stay infinite.
    public func narrow(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutableRawPointer) {
        switch self {
        case .float32:
            destination.copyMemory(from: source, byteCount: count * 4)
        case .float16:
            for index in 0..<count {
                let bits = Float16(source[index]).bitPattern.littleEndian
                destination.storeBytes(of: bits, toByteOffset: index * 2, as: UInt16.self)
            }
        case .bfloat16:
            for index in 0..<count {
                let bits = DType.bfloat16Bits(source[index]).littleEndian
                destination.storeBytes(of: bits, toByteOffset: index * 2, as: UInt16.self)
            }
        }
    }

    /// The float32 value of a binary16 bit pattern, exactly (branch-free, so loops over it vectorise; CPUs
    /// without F16C would otherwise call a library routine per element). The exponent and mantissa bits
    /// shifted into float32 position and scaled by 2^112 give normals and subnormals; infinities and NaNs
    /// (exponent all ones) get the float32 all-ones exponent, keeping the NaN payload.
    @inline(__always)
    public static func float16ToFloat(_ bits: UInt16) -> Float {
        let magnitude = UInt32(bits & 0x7FFF)
        let sign = UInt32(bits & 0x8000) << 16
        let finite = Float(bitPattern: magnitude << 13) * 0x1p112
        let special = Float(bitPattern: (magnitude << 13) | 0x7F80_0000)
        let value = magnitude >= 0x7C00 ? special : finite
        return Float(bitPattern: value.bitPattern | sign)
    }

    /// The bfloat16 bit pattern nearest to `value` (round to nearest, ties to even; NaN kept quiet).
    @inlinable
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let roundingBias = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }
}
