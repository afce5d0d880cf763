// An outgoing frame on its way into a socket: written in steps, by the caller's thread or the writer thread.

/// The bytes of one frame still to be sent and, for a trailer checksum, the CRC-32C of the payload so far.
///
/// Whoever holds the transmission writes it: the thread that queued the frame writes what the socket takes
/// without waiting, and if bytes are left the connection's writer thread finishes them. With a trailer
/// checksum, each piece of the payload is checksummed just before it is sent (so it is read from memory
/// once, while in cache) and the trailer goes out in the same `sendmsg` as the last piece.
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
    /// Bytes that may be sent now: with a trailer, only payload bytes already checksummed.
    private var readyByteCount: Int
    /// The running trailer checksum (nil without a trailer).
    private var trailerChecksum: CRC32C?

    /// The payload is checksummed (trailer form) and sent in pieces of this size.
    static let pieceBytes = 256 << 10

    /// Prepares `frame` for sending.
    init(_ frame: OutgoingFrame, requestID: UInt64, completion: (@Sendable (TransportError?) -> Void)?) {
        self.requestID = requestID
        self.completion = completion
        parts = [frame.header[...]] + frame.segments
        payloadByteCount = frame.payloadByteCount
        frameByteCount = frame.header.count + payloadByteCount
        if frame.placement == .trailer {
            totalByteCount = frameByteCount + OutgoingFrame.trailerByteCount
            readyByteCount = frame.header.count
            trailerChecksum = CRC32C()
        } else {
            totalByteCount = frameByteCount
            readyByteCount = frameByteCount
        }
    }

    /// Whether every byte has been sent.
    var isFinished: Bool { sentByteCount == totalByteCount }

    /// Sends bytes until the frame is finished or, with `wait` false, until the socket is full or
    /// `budgetBytes` have been sent by this call. Returns whether the frame is finished.
    mutating func write(to socket: SocketHandle, wait: Bool, budgetBytes: Int = .max) throws(TransportError) -> Bool {
        var sentNow = 0
        while sentByteCount < totalByteCount {
            if sentByteCount == readyByteCount { checksumNextPiece() }
            let pending = bytes(from: sentByteCount, to: readyByteCount)
            let written = try socket.send(pending[...], firstOffset: 0, wait: wait)
            if written == 0 { return false }
            sentByteCount += written
            sentNow += written
            if !wait && sentNow >= budgetBytes && sentByteCount < totalByteCount { return false }
        }
        return true
    }

    /// Checksums the next piece of the payload; after the last one, appends the trailer.
    private mutating func checksumNextPiece() {
        guard var crc = trailerChecksum else { return }
        let end = min(frameByteCount, readyByteCount + FrameTransmission.pieceBytes)
        for slice in bytes(from: readyByteCount, to: end) { crc.update(bytes: slice) }
        trailerChecksum = crc
        readyByteCount = end
        if end == frameByteCount {
            parts.append(OutgoingFrame.trailerBytes(crc.value)[...])
            readyByteCount = totalByteCount
        }
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
