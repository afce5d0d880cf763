// Faults on whole frames of the Wire protocol: the proxy parses the stream into frames and forges, replays,
// reorders or drops one, the way an attacker on the path could (issue 15).
import Wire

/// What is done to the chosen frame.
enum FrameFaultKind: String, Sendable, CaseIterable {
    /// One payload byte changed and every checksum recomputed (header CRC, payload CRC in the header or
    /// the trailer), so only a keyed MAC can tell.
    case forge
    /// The frame is sent twice.
    case replay
    /// The frame is held back and sent after the next one.
    case reorder
    /// The frame is not sent.
    case drop
}

/// A frame fault: its kind and which frame of a faulted direction it hits.
struct FrameFault: Sendable, CustomStringConvertible {
    var kind: FrameFaultKind
    /// The first frame (counted from 0 in the direction's stream) with at least `minimumPayloadBytes` payload
    /// bytes at or after this index is the one hit.
    var fromFrame = 2
    /// The smallest payload of the frame hit (to hit a work message rather than a heartbeat).
    var minimumPayloadBytes = 0
    /// The message kinds the frame hit may have (empty: any), e.g. 259 and 260 for the micro-batches of a step.
    var messageKinds: Set<UInt16> = []

    var description: String {
        let kinds = messageKinds.isEmpty ? "" : " of kind \(messageKinds.sorted().map(String.init).joined(separator: "/"))"
        return "\(kind.rawValue) frame >= \(fromFrame)\(kinds) with payload >= \(minimumPayloadBytes) B"
    }
}

/// Splits one direction's byte stream into frames and applies a `FrameFault` once; after the fault (or if
/// the stream stops looking like frames) it passes bytes through unchanged.
struct FrameFaultFilter {
    let fault: FrameFault
    /// The largest frame held in memory; a larger one ends frame parsing (bytes pass through).
    static let maxFrameBytes = 1 << 30
    private var pending: [UInt8] = []
    private var frameIndex = 0
    private var held: [UInt8]?
    private(set) var done = false
    /// What was done, for the log, once it happened.
    private(set) var report: String?

    init(fault: FrameFault) { self.fault = fault }

    /// Takes received bytes; returns the bytes to forward now.
    mutating func process(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        if done && pending.isEmpty { return Array(bytes) }
        pending.append(contentsOf: bytes)
        var out: [UInt8] = []
        while !done, let length = nextFrameLength() {
            guard length <= pending.count else { break }
            let frame = Array(pending[0..<length])
            pending.removeFirst(length)
            out += apply(frame)
            frameIndex += 1
        }
        if done {
            out += pending
            pending = []
        }
        return out
    }

    /// The whole length of the frame at the front, or nil if its header is not all there; a header that
    /// is not a frame's ends parsing.
    private mutating func nextFrameLength() -> Int? {
        guard pending.count >= FrameHeader.byteCount else { return nil }
        let magic = UInt32(pending[0]) | UInt32(pending[1]) << 8 | UInt32(pending[2]) << 16 | UInt32(pending[3]) << 24
        let flags = UInt16(pending[8]) | UInt16(pending[9]) << 8
        let payload = Int(UInt32(pending[20]) | UInt32(pending[21]) << 8 | UInt32(pending[22]) << 16
            | UInt32(pending[23]) << 24)
        let extra = (flags & FrameFlags.payloadChecksumTrailer.rawValue != 0 ? 4 : 0)
            + (flags & FrameFlags.authenticated.rawValue != 0 ? FrameFlags.authenticationTagByteCount : 0)
        let total = FrameHeader.byteCount + payload + extra
        guard magic == FrameHeader.magic, total <= FrameFaultFilter.maxFrameBytes else {
            done = true
            report = report ?? "stream is not frames any more; passing it through"
            return nil
        }
        return total
    }

    /// The bytes to send for `frame` (and any frame held back).
    private mutating func apply(_ frame: [UInt8]) -> [UInt8] {
        if let earlier = held {
            held = nil
            done = true
            return frame + earlier
        }
        let payloadLength = frame.count - FrameHeader.byteCount
        let kind = UInt16(frame[6]) | UInt16(frame[7]) << 8
        guard frameIndex >= fault.fromFrame, payloadLength >= max(1, fault.minimumPayloadBytes),
              fault.messageKinds.isEmpty || fault.messageKinds.contains(kind) else { return frame }
        report = "\(fault.kind.rawValue) frame \(frameIndex) (kind \(kind), \(frame.count) bytes)"
        switch fault.kind {
        case .forge:
            done = true
            return Self.forged(frame)
        case .replay:
            done = true
            return frame + frame
        case .reorder:
            held = frame
            return []
        case .drop:
            done = true
            return []
        }
    }

    /// `frame` with its middle payload byte changed and the payload and header CRC-32Cs recomputed.
    static func forged(_ frame: [UInt8]) -> [UInt8] {
        var bytes = frame
        let flags = UInt16(bytes[8]) | UInt16(bytes[9]) << 8
        let payloadLength = Int(UInt32(bytes[20]) | UInt32(bytes[21]) << 8 | UInt32(bytes[22]) << 16
            | UInt32(bytes[23]) << 24)
        let payloadRange = FrameHeader.byteCount..<(FrameHeader.byteCount + payloadLength)
        bytes[payloadRange.lowerBound + payloadLength / 2] ^= 0x01
        let payloadCRC = CRC32C.checksum(bytes: bytes[payloadRange])
        if flags & FrameFlags.payloadChecksum.rawValue != 0 { store(payloadCRC, at: 24, in: &bytes) }
        if flags & FrameFlags.payloadChecksumTrailer.rawValue != 0 { store(payloadCRC, at: payloadRange.upperBound, in: &bytes) }
        store(CRC32C.checksum(bytes: bytes[0..<28]), at: 28, in: &bytes)
        return bytes
    }

    private static func store(_ value: UInt32, at offset: Int, in bytes: inout [UInt8]) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> UInt32(8 * index)) }
    }
}
