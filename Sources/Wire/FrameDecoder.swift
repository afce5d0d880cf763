// The incremental frame decoder: bytes in any chunking in, verified frames out. Production (`FrameReader`),
// the unit tests and the fuzzer all drive this one type.

/// Turns a byte stream into verified frames, validating as bytes arrive.
///
/// Two ways to feed it, which may be mixed:
/// - `append` copies received bytes in (tests, in-memory streams);
/// - `receive` hands out the space the next bytes belong in, so a socket read lands in place: header and
///   trailer bytes go to a small read-ahead buffer, payload bytes straight into the frame's own payload array
///   in steps of at most `payloadStepBytes` (each checksummed while still in cache).
///
/// `next()` returns the next complete frame, or `nil` when more bytes are needed (what it needs is `need`),
/// or throws a `FrameError` when the bytes are wrong. After an error the stream cannot be resynchronised and
/// the connection must be closed. `finish()` at end of stream throws if a partial frame is left.
public struct FrameDecoder: Sendable {
    /// The largest payload accepted; checked against the header before any allocation.
    public var maxPayloadBytes: Int

    /// The default payload limit: 512 MiB.
    public static let defaultMaxPayloadBytes = 512 << 20
    /// The most payload bytes one `receive` takes: each piece is checksummed right after it arrives, while it
    /// is still in cache.
    public static let payloadStepBytes = 512 << 10
    /// The read-ahead buffer's size for `receive`: room for many small frames per system call.
    static let readAheadBytes = 64 << 10

    /// What the decoder needs next.
    public enum Need: Equatable, Sendable {
        /// Header or trailer bytes (or the start of the next frame): any amount, into the read-ahead buffer.
        case bytes
        /// This many more payload bytes of the current frame, which `receive` places in the payload itself.
        case payload(remainingBytes: Int)
    }

    /// Header and trailer bytes, and whatever arrived beyond them; valid bytes are `start..<end`.
    private var buffer: [UInt8] = []
    private var start = 0
    private var end = 0
    /// The current frame's header, once its 32 bytes arrived and passed every check.
    private var header: FrameHeader?
    /// The current frame's payload; bytes `0..<filled` have arrived.
    private var payload: [UInt8] = []
    private var filled = 0
    private var crc = CRC32C()
    private var recycler = PayloadRecycler()
    /// The receiving direction of an authenticated session (nil before the handshake or without a token).
    private var authenticator: FrameAuthenticator?
    /// The current frame's running MAC.
    private var mac: FrameMAC?

    /// A decoder with the given payload limit.
    public init(maxPayloadBytes: Int = FrameDecoder.defaultMaxPayloadBytes) {
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// From the next frame on, every frame must carry a valid tag under `key` (the session's receiving key),
    /// checked with sequence numbers counted from 0.
    public mutating func authenticate(with key: [UInt8]) {
        authenticator = FrameAuthenticator(key: key)
    }

    /// Bytes received but not yet returned as frames (the current frame's header and payload included).
    public var bufferedByteCount: Int { (end - start) + (header == nil ? 0 : FrameHeader.byteCount + filled) }

    /// What the next bytes are for.
    public var need: Need {
        if let header, filled < Int(header.payloadLength) {
            return .payload(remainingBytes: Int(header.payloadLength) - filled)
        }
        return .bytes
    }

    // MARK: - Feeding

    /// Adds received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.removeSubrange(end...)
        buffer.append(contentsOf: bytes)
        end = buffer.count
    }

    /// Adds received bytes.
    public mutating func append<S: Sequence>(contentsOf bytes: S) where S.Element == UInt8 {
        compact()
        buffer.removeSubrange(end...)
        buffer.append(contentsOf: bytes)
        end = buffer.count
    }

    /// Lets `body` receive the next bytes in place, and takes what it reports.
    ///
    /// `body` gets two spaces to fill in order, as one scatter read would (`recvmsg` with two `iovec`s), and
    /// returns how many bytes it wrote (0 = end of stream) or a failure. When the decoder needs payload bytes,
    /// the first space is the next step of the payload array itself and the second, offered only when that
    /// step ends the payload, is the read-ahead buffer (for the trailer and the next header, saving a system
    /// call); otherwise the first space is the read-ahead buffer and the second is empty.
    public mutating func receive<E: Error>(
        _ body: (UnsafeMutableRawBufferPointer, UnsafeMutableRawBufferPointer) -> Result<Int, E>
    ) -> Result<Int, E> {
        absorbBufferedPayload()
        if case .payload(let remaining) = need {
            let step = min(FrameDecoder.payloadStepBytes, remaining)
            let last = step == remaining
            // Everything buffered went into the payload, so the read-ahead buffer is free from its start.
            start = 0
            end = 0
            if last { ensureFreeSpace() }
            let offset = filled
            let outcome = payload.withUnsafeMutableBytes { payloadRaw in
                buffer.withUnsafeMutableBytes { aheadRaw in
                    body(UnsafeMutableRawBufferPointer(rebasing: payloadRaw[offset..<(offset + step)]),
                         last ? aheadRaw : UnsafeMutableRawBufferPointer(start: nil, count: 0))
                }
            }
            if case .success(let received) = outcome {
                precondition(received >= 0 && received <= step + (last ? buffer.count : 0), "receive overran its space")
                let payloadPart = min(received, step)
                payload.withUnsafeBytes { raw in
                    let piece = UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + payloadPart)])
                    if header!.flags.checksummed { crc.update(piece) }
                    mac?.update(piece)
                }
                filled += payloadPart
                end = received - payloadPart
            }
            return outcome
        }
        compact()
        ensureFreeSpace()
        let free = end
        let outcome = buffer.withUnsafeMutableBytes { raw in
            body(UnsafeMutableRawBufferPointer(rebasing: raw[free...]), UnsafeMutableRawBufferPointer(start: nil, count: 0))
        }
        if case .success(let received) = outcome {
            precondition(received >= 0 && received <= buffer.count - free, "receive overran its space")
            end += received
        }
        return outcome
    }

    // MARK: - Decoding

    /// The next complete frame, or `nil` if more bytes are needed.
    public mutating func next() throws(FrameError) -> Frame? {
        if header == nil {
            guard end - start >= FrameHeader.byteCount else { return nil }
            let at = start
            let limit = maxPayloadBytes
            let decoded = buffer.withUnsafeBytes { raw in
                Result { () throws(FrameError) -> FrameHeader in
                    try FrameHeader.decode(UnsafeRawBufferPointer(rebasing: raw[at..<(at + FrameHeader.byteCount)]),
                                           maxPayloadBytes: limit)
                }
            }
            let valid = try decoded.get()
            try beginAuthentication(valid, at: at)
            start += FrameHeader.byteCount
            // The length passed the limit check in `decode`, so this allocation is bounded.
            payload = recycler.take(byteCount: Int(valid.payloadLength))
            filled = 0
            crc = CRC32C()
            header = valid
        }
        absorbBufferedPayload()
        guard let header, filled == Int(header.payloadLength) else { return nil }
        var trailer: UInt32?
        guard end - start >= header.trailerByteCount + header.tagByteCount else { return nil }
        if header.trailerByteCount > 0 {
            trailer = UInt32(buffer[start]) | UInt32(buffer[start + 1]) << 8 | UInt32(buffer[start + 2]) << 16
                | UInt32(buffer[start + 3]) << 24
        }
        // The CRC first: a flipped bit on the line is then reported as such, not as tampering.
        if header.flags.checksummed { try header.verifyPayload(checksum: crc.value, trailer: trailer) }
        try verifyTag(header)
        start += header.trailerByteCount + header.tagByteCount
        let frame = Frame(header: header, payload: payload[...])
        recycler.keep(payload)
        self.header = nil
        payload = []
        filled = 0
        return frame
    }

    /// Call at end of stream: throws if part of a frame is left over.
    public func finish() throws(FrameError) {
        guard bufferedByteCount == 0 else { throw .truncated(bufferedBytes: bufferedByteCount) }
    }

    // MARK: - Authentication

    /// Checks that the frame is tagged exactly when the session is authenticated, and starts its MAC over the
    /// header bytes at `at`.
    private mutating func beginAuthentication(_ header: FrameHeader, at: Int) throws(FrameError) {
        let tagged = header.flags.contains(.authenticated)
        guard authenticator != nil else {
            if tagged { throw .unexpectedAuthenticationTag(kind: header.kind, requestID: header.requestID) }
            mac = nil
            return
        }
        guard tagged else { throw .missingAuthenticationTag(kind: header.kind, requestID: header.requestID) }
        mac = buffer.withUnsafeBytes { raw in
            authenticator!.begin(header: UnsafeRawBufferPointer(rebasing: raw[at..<(at + FrameHeader.byteCount)]))
        }
    }

    /// Compares the tag at `start + trailer` with the MAC over the frame and its trailer.
    private mutating func verifyTag(_ header: FrameHeader) throws(FrameError) {
        guard var running = mac, let authenticator else { return }
        let trailerAt = start, tagAt = start + header.trailerByteCount
        buffer.withUnsafeBytes { raw in running.update(UnsafeRawBufferPointer(rebasing: raw[trailerAt..<tagAt])) }
        let expected = running.finish()
        let received = Array(buffer[tagAt..<(tagAt + header.tagByteCount)])
        mac = nil
        guard HMACSHA256.constantTimeEqual(expected, received) else {
            throw .authenticationFailed(kind: header.kind, requestID: header.requestID,
                                        sequence: authenticator.sequence &- 1)
        }
    }

    // MARK: - Buffer keeping

    /// Moves payload bytes that arrived in the read-ahead buffer into the payload, checksumming them.
    private mutating func absorbBufferedPayload() {
        guard let header, end > start else { return }
        let count = min(end - start, Int(header.payloadLength) - filled)
        guard count > 0 else { return }
        let from = start, to = filled
        let checksummed = header.flags.checksummed
        payload.withUnsafeMutableBytes { destination in
            buffer.withUnsafeBytes { source in
                let piece = UnsafeRawBufferPointer(rebasing: source[from..<(from + count)])
                UnsafeMutableRawBufferPointer(rebasing: destination[to..<(to + count)]).copyMemory(from: piece)
                if checksummed { crc.update(piece) }
                mac?.update(piece)
            }
        }
        start += count
        filled += count
    }

    /// Moves the unread bytes to the front of the read-ahead buffer.
    private mutating func compact() {
        guard start > 0 else { return }
        let count = end - start
        if count > 0 {
            let from = start
            buffer.withUnsafeMutableBytes { raw in raw.baseAddress!.copyMemory(from: raw.baseAddress! + from, byteCount: count) }
        }
        start = 0
        end = count
    }

    /// Makes the read-ahead buffer at least `readAheadBytes` long with at least half of that free past `end`
    /// (bytes there are free space), so a receive into it never gets an empty space.
    private mutating func ensureFreeSpace() {
        let wanted = max(FrameDecoder.readAheadBytes, end + FrameDecoder.readAheadBytes / 2)
        if buffer.count < wanted { buffer.append(contentsOf: repeatElement(0, count: wanted - buffer.count)) }
    }
}
