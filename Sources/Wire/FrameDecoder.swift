// The incremental frame decoder: bytes in any chunking in, verified frames out.

/// Turns a byte stream, fed in pieces of any size, into verified frames.
///
/// `append` adds received bytes; `next()` returns the next complete frame, or `nil` when more bytes are
/// needed (consuming nothing), or throws a `FrameError` when the bytes are wrong. After an error the
/// stream cannot be resynchronised and the connection must be closed. `finish()` at end of stream throws
/// if a partial frame is left.
public struct FrameDecoder: Sendable {
    /// The largest payload accepted; checked against the header before any allocation.
    public let maxPayloadBytes: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var pendingHeader: FrameHeader?

    /// The default payload limit: 512 MiB.
    public static let defaultMaxPayloadBytes = 512 << 20

    /// A decoder with the given payload limit.
    public init(maxPayloadBytes: Int = FrameDecoder.defaultMaxPayloadBytes) {
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfUseful()
        buffer.append(contentsOf: bytes)
    }

    /// Adds received bytes.
    public mutating func append<S: Sequence>(contentsOf bytes: S) where S.Element == UInt8 {
        compactIfUseful()
        buffer.append(contentsOf: bytes)
    }

    private mutating func compactIfUseful() {
        if readIndex > 0 && (readIndex >= buffer.count || readIndex > 65536) {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
    }

    /// The next complete frame, or `nil` if more bytes are needed.
    public mutating func next() throws(FrameError) -> Frame? {
        let header: FrameHeader
        if let pending = pendingHeader {
            header = pending
        } else {
            guard bufferedByteCount >= FrameHeader.byteCount else { return nil }
            let start = readIndex
            let limit = maxPayloadBytes
            let decoded = buffer.withUnsafeBytes { raw in
                Result { () throws(FrameError) -> FrameHeader in
                    try FrameHeader.decode(
                        UnsafeRawBufferPointer(rebasing: raw[start..<(start + FrameHeader.byteCount)]),
                        maxPayloadBytes: limit)
                }
            }
            header = try decoded.get()
            // The header is valid: remember it so a slow payload does not re-check it on every call.
            pendingHeader = header
        }
        let payloadLength = Int(header.payloadLength)
        guard bufferedByteCount >= FrameHeader.byteCount + payloadLength + header.trailerByteCount else { return nil }
        let payloadStart = readIndex + FrameHeader.byteCount
        let payload = Array(buffer[payloadStart..<(payloadStart + payloadLength)])
        var trailer: UInt32?
        if header.trailerByteCount > 0 {
            let at = payloadStart + payloadLength
            trailer = UInt32(buffer[at]) | UInt32(buffer[at + 1]) << 8 | UInt32(buffer[at + 2]) << 16
                | UInt32(buffer[at + 3]) << 24
        }
        if header.flags.checksummed {
            try header.verifyPayload(checksum: CRC32C.checksum(bytes: payload), trailer: trailer)
        }
        readIndex = payloadStart + payloadLength + header.trailerByteCount
        pendingHeader = nil
        return Frame(header: header, payload: payload[...])
    }

    /// Call at end of stream: throws if part of a frame is left over.
    public func finish() throws(FrameError) {
        guard bufferedByteCount == 0 else { throw .truncated(bufferedBytes: bufferedByteCount) }
    }
}
