// An outgoing frame on its way into a socket: written in steps, by the caller's thread or the writer thread.

/// The bytes of one frame still to be sent and, for a trailer checksum, the CRC-32C of the payload so far;
/// on an authenticated session, also the frame's running MAC, whose tag goes out last.
///
/// Whoever holds the transmission writes it: the thread that queued the frame writes what the socket takes
/// without waiting, and if bytes are left the connection's writer thread finishes them. With a trailer
/// checksum, the payload goes out in pieces of 512 KiB, each checksummed just before it is sent: the
/// checksum brings the piece into cache and the kernel's copy finds it there, so the payload is read from
/// memory once, and while a piece is being checksummed the earlier ones are already on their way. The last
/// piece may be up to 2.5 times as long, so that a message of about 1 MiB goes out in one `sendmsg`, and the
/// 4 trailer bytes leave with it. An authenticated frame is sent the same way, each piece added to the MAC
/// just before it is sent, and ends with its tag.
struct FrameTransmission: Sendable {
    /// The frame's request id.
    let requestID: UInt64
    /// Payload bytes (the header and trailer not counted).
    let payloadByteCount: Int
    /// Told the outcome once the frame is written or has failed.
    let completion: (@Sendable (TransportError?) -> Void)?
    /// Header, payload segments and, once computed, the trailer.
    private var parts: [ArraySlice<UInt8>]
    /// Header plus payload bytes.
    private let frameByteCount: Int
    /// Every byte to send, trailer included.
    private let totalByteCount: Int
    /// Bytes already handed to the kernel.
    private(set) var sentByteCount = 0
    /// Frame bytes (header included) up to which the payload has been checksummed.
    private var checksummedByteCount: Int
    /// The running trailer checksum (nil without a trailer).
    private var trailerChecksum: CRC32C?
    /// The frame's running MAC (nil on a session without keys).
    private var mac: FrameMAC?
    /// Whether the trailer and tag (whichever the frame has) have been computed and appended to `parts`.
    private var trailerReady = false
    /// Whether the frame is sent in checksummed (or authenticated) pieces.
    private var piecewise: Bool { trailerChecksum != nil || mac != nil }

    /// With a trailer, the payload is checksummed and sent in pieces of this size (see the type's comment).
    static let pieceBytes = 512 << 10

    /// Prepares `frame` for sending; with `authenticator` (the session's sending direction) the frame is
    /// sealed with the authenticator's next sequence number. The frame's header must then have flag
    /// `authenticated` set (`OutgoingFrame(..., flags: .authenticated)`).
    init(_ frame: OutgoingFrame, requestID: UInt64, authenticator: inout FrameAuthenticator?,
         completion: (@Sendable (TransportError?) -> Void)?) {
        self.requestID = requestID
        self.completion = completion
        parts = [frame.header[...]] + frame.segments
        payloadByteCount = frame.payloadByteCount
        frameByteCount = frame.header.count + payloadByteCount
        checksummedByteCount = frame.header.count
        var total = frameByteCount
        if frame.placement == .trailer {
            total += OutgoingFrame.trailerByteCount
            trailerChecksum = CRC32C()
        }
        if authenticator != nil {
            precondition(frame.isAuthenticated, "a frame sealed on an authenticated session needs the authenticated flag")
            mac = frame.header.withUnsafeBytes { authenticator!.begin(header: $0) }
            total += FrameFlags.authenticationTagByteCount
        }
        totalByteCount = total
    }

    /// Whether every byte has been sent.
    var isFinished: Bool { sentByteCount == totalByteCount }

    /// Sends bytes until the frame is finished or, with `wait` false, until the socket is full or
    /// `budgetBytes` have been sent by this call. Returns whether the frame is finished.
    mutating func write(to socket: SocketHandle, wait: Bool, budgetBytes: Int = .max) throws(TransportError) -> Bool {
        var sentNow = 0
        while sentByteCount < totalByteCount {
            // Checksum the next piece once less than a piece of checksummed bytes waits (at the start: the header).
            let checksumming = piecewise && !trailerReady
            if checksumming && checksummedByteCount - sentByteCount < FrameTransmission.pieceBytes {
                let rest = frameByteCount - checksummedByteCount
                let piece = FrameTransmission.pieceBytes
                checksum(upTo: rest <= piece * 5 / 2 ? frameByteCount : checksummedByteCount + piece)
                if checksummedByteCount == frameByteCount { appendTrailer() }
            }
            let limit = piecewise && !trailerReady ? checksummedByteCount : totalByteCount
            let written = try socket.send(bytes(from: sentByteCount, to: limit)[...], firstOffset: 0, wait: wait)
            if written == 0 { return false }
            sentByteCount += written
            sentNow += written
            if !wait && sentNow >= budgetBytes && sentByteCount < totalByteCount { return false }
        }
        return true
    }

    /// Every byte still to send, with the trailer and tag computed (tests and the fuzzer: no socket).
    mutating func remainingBytes() -> [UInt8] {
        if piecewise && !trailerReady {
            checksum(upTo: frameByteCount)
            appendTrailer()
        }
        let rest = Array(bytes(from: sentByteCount, to: totalByteCount).joined())
        sentByteCount = totalByteCount
        return rest
    }

    /// Adds the frame's payload bytes up to `end` to the trailer checksum and the MAC.
    private mutating func checksum(upTo end: Int) {
        guard end > checksummedByteCount else { return }
        for slice in bytes(from: checksummedByteCount, to: end) {
            // The header went into the MAC when it began; only payload bytes are added here.
            slice.withUnsafeBytes { raw in
                trailerChecksum?.update(raw)
                mac?.update(raw)
            }
        }
        checksummedByteCount = end
    }

    /// Appends the finished checksum as the trailer, then the tag (which covers the trailer too).
    private mutating func appendTrailer() {
        if let crc = trailerChecksum {
            let trailer = OutgoingFrame.trailerBytes(crc.value)
            trailer.withUnsafeBytes { mac?.update($0) }
            parts.append(trailer[...])
        }
        if let running = mac { parts.append(running.finish()[...]) }
        trailerReady = true
    }

    /// The frame's bytes in `from..<to` as slices of the parts (no copy).
    private func bytes(from: Int, to: Int) -> [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var position = 0
        for part in parts {
            let partEnd = position + part.count
            if partEnd > from && position < to {
                let lower = part.startIndex + max(0, from - position)
                let upper = part.startIndex + min(part.count, to - position)
                result.append(part[lower..<upper])
            }
            position = partEnd
            if position >= to { break }
        }
        return result
    }
}
