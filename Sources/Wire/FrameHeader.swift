// The 32-byte frame header: layout, encoding and the checks made before a payload is read.

/// Protocol version numbers. Peers with the same major interoperate; the minor is negotiated down.
public enum WireVersion {
    /// Incompatible changes bump the major.
    public static let major: UInt8 = 1
    /// Compatible additions (new kinds, new advisory flags) bump the minor.
    public static let minor: UInt8 = 1
}

/// Bits of the header's flags field.
public struct FrameFlags: OptionSet, Hashable, Sendable {
    /// The bit pattern.
    public let rawValue: UInt16
    /// Wraps a bit pattern.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The payload checksum field holds the payload's CRC-32C and must be verified.
    public static let payloadChecksum = FrameFlags(rawValue: 0x0001)
    /// The payload's CRC-32C follows the payload as 4 extra bytes (not counted in the payload length), so a
    /// sender can checksum a large payload piece by piece while sending it. Excludes `payloadChecksum`.
    public static let payloadChecksumTrailer = FrameFlags(rawValue: 0x0002)

    /// Whether the payload is checksummed (in the header or in a trailer).
    public var checksummed: Bool { !isDisjoint(with: [.payloadChecksum, .payloadChecksumTrailer]) }

    /// Bits 0-7: must-understand. A receiver that sees one it does not know rejects the frame.
    public static let requiredMask: UInt16 = 0x00FF
    /// Bits 8-15: advisory. A receiver ignores the ones it does not know.
    public static let advisoryMask: UInt16 = 0xFF00
    /// The must-understand bits this version knows.
    public static let knownRequired: UInt16 = 0x0003
}

/// The fixed frame header.
///
/// ```
/// offset size field
///  0     4    magic "SWIR" (0x52495753 little-endian)
///  4     1    major version
///  5     1    minor version
///  6     2    kind
///  8     2    flags
/// 10     2    reserved, 0
/// 12     8    request id
/// 20     4    payload length
/// 24     4    payload CRC-32C (0 unless flag payloadChecksum)
/// 28     4    header CRC-32C over bytes 0..<28
/// ```
/// With flag payloadChecksumTrailer the payload is followed by its 4-byte CRC-32C instead.
public struct FrameHeader: Hashable, Sendable {
    /// "SWIR" read as a little-endian UInt32.
    public static let magic: UInt32 = 0x5249_5753
    /// Header size in bytes.
    public static let byteCount = 32

    /// The sender's major version.
    public var major: UInt8 = WireVersion.major
    /// The sender's minor version.
    public var minor: UInt8 = WireVersion.minor
    /// The message kind number (may be unknown to this peer).
    public var kind: UInt16
    /// Flags (see `FrameFlags`).
    public var flags: FrameFlags
    /// The request this frame belongs to; 0 for unsolicited frames.
    public var requestID: UInt64
    /// Payload length in bytes.
    public var payloadLength: UInt32
    /// The payload's CRC-32C, or 0 when the flag is off.
    public var payloadChecksum: UInt32

    /// A header with the given fields and this build's version.
    public init(kind: UInt16, flags: FrameFlags, requestID: UInt64, payloadLength: UInt32, payloadChecksum: UInt32) {
        self.kind = kind
        self.flags = flags
        self.requestID = requestID
        self.payloadLength = payloadLength
        self.payloadChecksum = payloadChecksum
    }

    /// The 32 header bytes, header checksum included.
    public func encoded() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: FrameHeader.byteCount)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: FrameHeader.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
            raw[4] = major
            raw[5] = minor
            raw.storeBytes(of: kind.littleEndian, toByteOffset: 6, as: UInt16.self)
            raw.storeBytes(of: flags.rawValue.littleEndian, toByteOffset: 8, as: UInt16.self)
            raw.storeBytes(of: requestID.littleEndian, toByteOffset: 12, as: UInt64.self)
            raw.storeBytes(of: payloadLength.littleEndian, toByteOffset: 20, as: UInt32.self)
            raw.storeBytes(of: payloadChecksum.littleEndian, toByteOffset: 24, as: UInt32.self)
            let checksum = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<28]))
            raw.storeBytes(of: checksum.littleEndian, toByteOffset: 28, as: UInt32.self)
        }
        return bytes
    }

    /// Decodes and checks 32 header bytes: magic, version, header checksum, flags, reserved field and the
    /// payload length against `maxPayloadBytes`, in that order.
    public static func decode(_ raw: UnsafeRawBufferPointer, maxPayloadBytes: Int) throws(FrameError) -> FrameHeader {
        precondition(raw.count >= byteCount, "FrameHeader.decode needs \(byteCount) bytes")
        let magicSeen = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        guard magicSeen == magic else { throw .badMagic(magicSeen) }
        let major = raw[4], minor = raw[5]
        guard major == WireVersion.major else { throw .unsupportedVersion(major: major, minor: minor) }
        let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 28, as: UInt32.self))
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<28]))
        guard stored == computed else { throw .headerChecksumMismatch(stored: stored, computed: computed) }
        let flags = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        let unknownRequired = flags & FrameFlags.requiredMask & ~FrameFlags.knownRequired
        guard unknownRequired == 0 else { throw .unknownRequiredFlags(unknownRequired) }
        let reserved = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        guard reserved == 0 else { throw .reservedFieldNotZero(reserved) }
        let length = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
        guard let lengthInt = Int(exactly: length), lengthInt <= maxPayloadBytes else {
            throw .payloadTooLarge(length: length, limit: maxPayloadBytes)
        }
        let payloadChecksum = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt32.self))
        let frameFlags = FrameFlags(rawValue: flags & (FrameFlags.knownRequired | FrameFlags.advisoryMask))
        guard !frameFlags.isSuperset(of: [.payloadChecksum, .payloadChecksumTrailer]) else {
            throw .conflictingFlags(flags)
        }
        guard frameFlags.contains(.payloadChecksum) || payloadChecksum == 0 else {
            throw .unexpectedPayloadChecksum(payloadChecksum)
        }
        var header = FrameHeader(
            kind: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 6, as: UInt16.self)),
            flags: frameFlags,
            requestID: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 12, as: UInt64.self)),
            payloadLength: length, payloadChecksum: payloadChecksum)
        header.major = major
        header.minor = minor
        return header
    }

    /// Bytes after the payload: 4 with a checksum trailer, else 0.
    public var trailerByteCount: Int { flags.contains(.payloadChecksumTrailer) ? 4 : 0 }

    /// Checks a received payload's CRC-32C against the header's field or the trailer's value.
    public func verifyPayload(checksum computed: UInt32, trailer: UInt32? = nil) throws(FrameError) {
        let stored: UInt32
        if flags.contains(.payloadChecksum) {
            stored = payloadChecksum
        } else if flags.contains(.payloadChecksumTrailer), let trailer {
            stored = trailer
        } else {
            return
        }
        guard computed == stored else {
            throw .payloadChecksumMismatch(kind: kind, requestID: requestID, stored: stored, computed: computed)
        }
    }
}
