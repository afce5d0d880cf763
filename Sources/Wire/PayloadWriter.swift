// Little-endian payload encoding into segments, so large tensor bytes are sent without being copied.

/// Builds a message payload as a list of byte segments.
///
/// Small fields go into a growing scratch buffer; `appendLarge` closes it and adds the caller's bytes as
/// their own segment (shared, not copied), which is how tensor data reaches `writev` untouched.
public struct PayloadWriter: Sendable {
    /// The finished segments, in order.
    public private(set) var segments: [ArraySlice<UInt8>] = []
    private var scratch: [UInt8] = []

    /// Bytes below this size are copied into the scratch buffer instead of becoming their own segment.
    static let copyThresholdBytes = 4096

    /// An empty payload.
    public init() {}

    /// Total payload length so far.
    public var byteCount: Int { segments.reduce(0) { $0 + $1.count } + scratch.count }

    /// Closes the scratch buffer and returns all segments.
    public mutating func finish() -> [ArraySlice<UInt8>] {
        flush()
        return segments
    }

    /// The payload as one contiguous array (tests and small messages).
    public mutating func joined() -> [UInt8] {
        flush()
        var all: [UInt8] = []
        all.reserveCapacity(byteCount)
        for segment in segments { all.append(contentsOf: segment) }
        return all
    }

    private mutating func flush() {
        if !scratch.isEmpty {
            segments.append(scratch[...])
            scratch = []
        }
    }

    // MARK: - Fields

    /// Appends one byte.
    public mutating func write(_ value: UInt8) { scratch.append(value) }
    /// Appends a little-endian UInt16.
    public mutating func write(_ value: UInt16) { appendLittleEndian(UInt64(value), byteCount: 2) }
    /// Appends a little-endian UInt32.
    public mutating func write(_ value: UInt32) { appendLittleEndian(UInt64(value), byteCount: 4) }
    /// Appends a little-endian UInt64.
    public mutating func write(_ value: UInt64) { appendLittleEndian(value, byteCount: 8) }
    /// Appends an IEEE 754 binary64, little-endian.
    public mutating func write(_ value: Double) { write(value.bitPattern) }
    /// Appends a Bool as one byte, 0 or 1.
    public mutating func write(_ value: Bool) { scratch.append(value ? 1 : 0) }

    /// Appends bytes with no length prefix (fixed-size fields such as nonces and digests).
    public mutating func writeFixed(_ bytes: [UInt8]) { scratch.append(contentsOf: bytes) }

    /// Appends a string as UInt32 byte count + UTF-8.
    public mutating func write(_ value: String) {
        let utf8 = Array(value.utf8)
        write(UInt32(utf8.count))
        scratch.append(contentsOf: utf8)
    }

    /// Appends a blob as UInt32 byte count + bytes (large blobs become their own segment).
    public mutating func writeBlob(_ bytes: ArraySlice<UInt8>) {
        write(UInt32(bytes.count))
        appendLarge(bytes)
    }

    /// Appends bytes with no prefix, as their own segment when large.
    public mutating func appendLarge(_ bytes: ArraySlice<UInt8>) {
        if bytes.count < PayloadWriter.copyThresholdBytes {
            scratch.append(contentsOf: bytes)
        } else {
            flush()
            segments.append(bytes)
        }
    }

    private mutating func appendLittleEndian(_ value: UInt64, byteCount: Int) {
        for index in 0..<byteCount { scratch.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * index))) }
    }
}
