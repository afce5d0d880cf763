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

/// Where an outgoing frame carries its payload checksum.
public enum PayloadChecksumPlacement: Sendable {
    /// No payload checksum.
    case none
    /// In the header (computed before anything is sent).
    case header
    /// In 4 bytes after the payload (computed piece by piece while sending; see `FrameFlags`).
    case trailer
}

/// A frame ready to send: the 32 header bytes and the payload as segments for `writev`.
public struct OutgoingFrame: Sendable {
    /// The encoded header.
    public var header: [UInt8]
    /// The payload in order; large tensor bytes are shared, not copied.
    public var segments: [ArraySlice<UInt8>]
    /// Where the payload checksum goes; with `.trailer` the sender appends it (see `trailerBytes`).
    public let placement: PayloadChecksumPlacement

    /// Encodes `message` for `requestID`, with or without a payload checksum in the header.
    public init(_ message: Message, requestID: UInt64, payloadChecksum: Bool = true) {
        self.init(message, requestID: requestID, placement: payloadChecksum ? .header : .none)
    }

    /// Encodes `message` for `requestID` with the checksum placed as asked (and extra header flags, such as
    /// `authenticated` for a frame to be sealed).
    public init(_ message: Message, requestID: UInt64, placement: PayloadChecksumPlacement,
                flags extraFlags: FrameFlags = []) {
        var writer = PayloadWriter()
        message.encode(into: &writer)
        self.init(kind: message.kind.rawValue, requestID: requestID, segments: writer.finish(), placement: placement,
                  flags: extraFlags)
    }

    /// Frames raw payload segments under any kind number (tests use it to craft unknown kinds).
    public init(kind: UInt16, requestID: UInt64, segments: [ArraySlice<UInt8>], payloadChecksum: Bool = true,
                flags extraFlags: FrameFlags = []) {
        self.init(kind: kind, requestID: requestID, segments: segments,
                  placement: payloadChecksum ? .header : .none, flags: extraFlags)
    }

    /// Frames raw payload segments with the checksum placed as asked.
    public init(kind: UInt16, requestID: UInt64, segments: [ArraySlice<UInt8>], placement: PayloadChecksumPlacement,
                flags extraFlags: FrameFlags = []) {
        var crc = CRC32C()
        var length = 0
        for segment in segments {
            length += segment.count
            if placement == .header { crc.update(bytes: segment) }
        }
        precondition(length <= Int(UInt32.max), "a frame payload is limited to 4 GiB - 1 bytes, got \(length)")
        var flags = extraFlags
        if placement == .header { flags.insert(.payloadChecksum) }
        if placement == .trailer { flags.insert(.payloadChecksumTrailer) }
        let header = FrameHeader(kind: kind, flags: flags, requestID: requestID, payloadLength: UInt32(length),
                                 payloadChecksum: placement == .header ? crc.value : 0)
        self.header = header.encoded()
        self.segments = segments
        self.placement = placement
    }

    /// Whether the header has flag `authenticated` (the frame must be sealed with a tag when sent).
    public var isAuthenticated: Bool { header[8] & UInt8(FrameFlags.authenticated.rawValue) != 0 }

    /// The whole frame as one array, sealed with the next sequence number of `authenticator` when it is
    /// non-nil (the header must then have flag `authenticated`); tests and the fuzzer use it.
    func sealed(_ authenticator: inout FrameAuthenticator?) -> [UInt8] {
        var transmission = FrameTransmission(self, requestID: 0, authenticator: &authenticator, completion: nil)
        return transmission.remainingBytes()
    }

    /// Payload bytes.
    public var payloadByteCount: Int { segments.reduce(0) { $0 + $1.count } }

    /// Total bytes on the wire.
    public var byteCount: Int {
        header.count + payloadByteCount + (placement == .trailer ? OutgoingFrame.trailerByteCount : 0)
    }

    /// The size of the payload checksum trailer.
    public static let trailerByteCount = 4

    /// The 4 trailer bytes for a finished checksum.
    public static func trailerBytes(_ checksum: UInt32) -> [UInt8] {
        [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: checksum >> UInt32($0)) }
    }

    /// The whole frame as one array (tests, small frames); computes the trailer when there is one.
    public var joined: [UInt8] {
        var all = header
        all.reserveCapacity(byteCount)
        var crc = CRC32C()
        for segment in segments {
            all.append(contentsOf: segment)
            if placement == .trailer { crc.update(bytes: segment) }
        }
        if placement == .trailer { all.append(contentsOf: OutgoingFrame.trailerBytes(crc.value)) }
        return all
    }
}

/// Encoding helpers.
public enum FrameEncoder {
    /// One contiguous frame for `message`.
    public static func encode(_ message: Message, requestID: UInt64, payloadChecksum: Bool = true) -> [UInt8] {
        OutgoingFrame(message, requestID: requestID, payloadChecksum: payloadChecksum).joined
    }

    /// One contiguous frame for `message` with the checksum placed as asked.
    public static func encode(_ message: Message, requestID: UInt64, placement: PayloadChecksumPlacement) -> [UInt8] {
        OutgoingFrame(message, requestID: requestID, placement: placement).joined
    }
}
