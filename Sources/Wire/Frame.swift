// A received frame (header + payload) and an outgoing frame (header + payload segments).

/// A frame whose header and checksums have been verified; its kind may still be unknown.
public struct Frame: Equatable, Sendable {
    /// The verified header.
    public var header: FrameHeader
    /// The payload bytes.
    public var payload: ArraySlice<UInt8>

    /// Pairs a header with its payload.
    public init(header: FrameHeader, payload: ArraySlice<UInt8>) {
        self.header = header
        self.payload = payload
    }

    /// The request id from the header.
    public var requestID: UInt64 { header.requestID }

    /// Decodes the payload into a message (throws `MessageError.unknownKind` or `.malformed`).
    public func message() throws(MessageError) -> Message {
        try Message.decode(kind: header.kind, payload: payload)
    }
}

/// A frame ready to send: the 32 header bytes and the payload as segments for `writev`.
public struct OutgoingFrame: Sendable {
    /// The encoded header.
    public var header: [UInt8]
    /// The payload in order; large tensor bytes are shared, not copied.
    public var segments: [ArraySlice<UInt8>]

    /// Encodes `message` for `requestID`, with or without a payload checksum.
    public init(_ message: Message, requestID: UInt64, payloadChecksum: Bool = true) {
        var writer = PayloadWriter()
        message.encode(into: &writer)
        self.init(kind: message.kind.rawValue, requestID: requestID, segments: writer.finish(),
                  payloadChecksum: payloadChecksum)
    }

    /// Frames raw payload segments under any kind number (tests use it to craft unknown kinds).
    public init(kind: UInt16, requestID: UInt64, segments: [ArraySlice<UInt8>], payloadChecksum: Bool = true,
                flags extraFlags: FrameFlags = []) {
        var crc = CRC32C()
        var length = 0
        for segment in segments {
            length += segment.count
            if payloadChecksum { crc.update(bytes: segment) }
        }
        precondition(length <= Int(UInt32.max), "a frame payload is limited to 4 GiB - 1 bytes, got \(length)")
        var flags = extraFlags
        if payloadChecksum { flags.insert(.payloadChecksum) }
        let header = FrameHeader(kind: kind, flags: flags, requestID: requestID, payloadLength: UInt32(length),
                                 payloadChecksum: payloadChecksum ? crc.value : 0)
        self.header = header.encoded()
        self.segments = segments
    }

    /// Total bytes on the wire.
    public var byteCount: Int { header.count + segments.reduce(0) { $0 + $1.count } }

    /// Header and payload as one array (tests, small frames).
    public var joined: [UInt8] {
        var all = header
        all.reserveCapacity(byteCount)
        for segment in segments { all.append(contentsOf: segment) }
        return all
    }
}

/// Encoding helpers.
public enum FrameEncoder {
    /// One contiguous frame for `message`.
    public static func encode(_ message: Message, requestID: UInt64, payloadChecksum: Bool = true) -> [UInt8] {
        OutgoingFrame(message, requestID: requestID, payloadChecksum: payloadChecksum).joined
    }
}
