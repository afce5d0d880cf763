// Checked little-endian reads from a received payload; every failure names the message and the field.

/// Reads the fields of one message payload in order, checking every length against what is left.
public struct PayloadReader {
    /// The payload being read (indices are the slice's own).
    public let bytes: ArraySlice<UInt8>
    /// The index of the next unread byte.
    public private(set) var position: Int
    /// The message kind, for error messages.
    public let kind: MessageKind

    /// A reader at the start of `bytes`.
    public init(_ bytes: ArraySlice<UInt8>, kind: MessageKind) {
        self.bytes = bytes
        self.position = bytes.startIndex
        self.kind = kind
    }

    /// Bytes not read yet.
    public var remaining: Int { bytes.endIndex - position }

    func malformed(_ field: String, _ reason: String) -> MessageError {
        .malformed(kind: kind, field: field, reason: reason)
    }

    /// Takes `count` bytes as a slice sharing the payload's storage.
    public mutating func take(_ count: Int, field: String) throws(MessageError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw malformed(field, "needs \(count) bytes but only \(remaining) remain")
        }
        let slice = bytes[position..<(position + count)]
        position += count
        return slice
    }

    private mutating func littleEndian(_ byteCount: Int, field: String) throws(MessageError) -> UInt64 {
        let raw = try take(byteCount, field: field)
        var value: UInt64 = 0
        for (index, byte) in raw.enumerated() { value |= UInt64(byte) << UInt64(8 * index) }
        return value
    }

    /// Reads one byte.
    public mutating func readUInt8(_ field: String) throws(MessageError) -> UInt8 {
        UInt8(try littleEndian(1, field: field))
    }
    /// Reads a little-endian UInt16.
    public mutating func readUInt16(_ field: String) throws(MessageError) -> UInt16 {
        UInt16(try littleEndian(2, field: field))
    }
    /// Reads a little-endian UInt32.
    public mutating func readUInt32(_ field: String) throws(MessageError) -> UInt32 {
        UInt32(try littleEndian(4, field: field))
    }
    /// Reads a little-endian UInt64.
    public mutating func readUInt64(_ field: String) throws(MessageError) -> UInt64 {
        try littleEndian(8, field: field)
    }
    /// Reads a binary64.
    public mutating func readDouble(_ field: String) throws(MessageError) -> Double {
        Double(bitPattern: try readUInt64(field))
    }
    /// Reads a Bool, which must be 0 or 1.
    public mutating func readBool(_ field: String) throws(MessageError) -> Bool {
        let raw = try readUInt8(field)
        guard raw <= 1 else { throw malformed(field, "boolean byte is \(raw), expected 0 or 1") }
        return raw == 1
    }

    /// Reads a count and checks it against `limit`.
    public mutating func readCount(_ field: String, limit: Int) throws(MessageError) -> Int {
        let raw = try readUInt32(field)
        guard let count = Int(exactly: raw), count <= limit else {
            throw malformed(field, "count \(raw) exceeds the limit \(limit)")
        }
        return count
    }

    /// Reads a UInt32-prefixed UTF-8 string of at most `maxBytes` bytes.
    public mutating func readString(_ field: String, maxBytes: Int) throws(MessageError) -> String {
        let length = try readUInt32(field)
        guard let count = Int(exactly: length), count <= maxBytes else {
            throw malformed(field, "string length \(length) exceeds the limit \(maxBytes)")
        }
        let raw = try take(count, field: field)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw malformed(field, "is not valid UTF-8")
        }
        return text
    }

    /// Reads a UInt32-prefixed blob (a slice sharing the payload's storage).
    public mutating func readBlob(_ field: String, maxBytes: Int = Int(UInt32.max)) throws(MessageError)
        -> ArraySlice<UInt8>
    {
        let length = try readUInt32(field)
        guard let count = Int(exactly: length), count <= maxBytes else {
            throw malformed(field, "blob length \(length) exceeds the limit \(maxBytes)")
        }
        return try take(count, field: field)
    }

    /// Reads exactly `count` bytes into an array (nonces, digests).
    public mutating func readFixed(_ field: String, count: Int) throws(MessageError) -> [UInt8] {
        Array(try take(count, field: field))
    }

    /// Throws if any byte is left: leftover bytes are an error, never silence.
    public func finish() throws(MessageError) {
        guard remaining == 0 else { throw malformed("end of payload", "\(remaining) unexpected trailing bytes") }
    }
}
