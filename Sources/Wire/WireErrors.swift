// The errors the codec throws: one case per way a frame or a payload can be wrong.

/// A frame whose header or checksums are wrong. The connection that produced it cannot continue.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The first four bytes are not "SWIR".
    case badMagic(UInt32)
    /// The major version is not one this build speaks.
    case unsupportedVersion(major: UInt8, minor: UInt8)
    /// The header's CRC-32C does not match its bytes.
    case headerChecksumMismatch(stored: UInt32, computed: UInt32)
    /// The payload's CRC-32C does not match its bytes.
    case payloadChecksumMismatch(kind: UInt16, requestID: UInt64, stored: UInt32, computed: UInt32)
    /// The payload length is above the receiver's limit (checked before any allocation).
    case payloadTooLarge(length: UInt32, limit: Int)
    /// A must-understand flag bit (0x00FC) that this version does not define is set.
    case unknownRequiredFlags(UInt16)
    /// Both checksum flags (header field and trailer) are set.
    case conflictingFlags(UInt16)
    /// The reserved header field is not zero.
    case reservedFieldNotZero(UInt16)
    /// No payload-checksum flag, yet the payload checksum field is not zero.
    case unexpectedPayloadChecksum(UInt32)
    /// The stream ended inside a frame.
    case truncated(bufferedBytes: Int)
    /// An authenticated frame's tag does not match: the frame was changed, replayed, reordered, or one before
    /// it was dropped (`sequence` is the number it was checked under).
    case authenticationFailed(kind: UInt16, requestID: UInt64, sequence: UInt64)
    /// A frame on an authenticated session carries no tag.
    case missingAuthenticationTag(kind: UInt16, requestID: UInt64)
    /// A frame carries a tag on a session without keys (it cannot be checked).
    case unexpectedAuthenticationTag(kind: UInt16, requestID: UInt64)

    public var description: String {
        switch self {
        case .badMagic(let value):
            return "bad frame magic 0x\(String(value, radix: 16)) (expected 0x\(String(FrameHeader.magic, radix: 16)), \"SWIR\")"
        case .unsupportedVersion(let major, let minor):
            return "unsupported protocol version \(major).\(minor) (this peer speaks \(WireVersion.major).x)"
        case .headerChecksumMismatch(let stored, let computed):
            return "frame header checksum mismatch: stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16))"
        case .payloadChecksumMismatch(let kind, let requestID, let stored, let computed):
            return "payload checksum mismatch in frame kind \(kind) request \(requestID): stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16))"
        case .payloadTooLarge(let length, let limit):
            return "frame payload of \(length) bytes is larger than the limit of \(limit) bytes"
        case .unknownRequiredFlags(let flags):
            return "frame has unknown must-understand flag bits 0x\(String(flags, radix: 16))"
        case .conflictingFlags(let flags):
            return "frame flags 0x\(String(flags, radix: 16)) ask for both a header and a trailer payload checksum"
        case .reservedFieldNotZero(let value):
            return "frame header reserved field is \(value), expected 0"
        case .unexpectedPayloadChecksum(let value):
            return "frame has no payload-checksum flag but a payload checksum 0x\(String(value, radix: 16))"
        case .truncated(let buffered):
            return "stream ended inside a frame (\(buffered) bytes of it received)"
        case .authenticationFailed(let kind, let requestID, let sequence):
            return "frame authentication failed for frame \(sequence) (kind \(kind), request \(requestID)): "
                + "changed, replayed, reordered, or a frame before it dropped"
        case .missingAuthenticationTag(let kind, let requestID):
            return "frame kind \(kind) request \(requestID) has no authentication tag on an authenticated session"
        case .unexpectedAuthenticationTag(let kind, let requestID):
            return "frame kind \(kind) request \(requestID) carries an authentication tag on a session without keys"
        }
    }
}

/// A well-framed message whose kind or payload is wrong.
public enum MessageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kind number is not one this version defines.
    case unknownKind(UInt16)
    /// A field of the payload is wrong: too short, too long, out of range, inconsistent.
    case malformed(kind: MessageKind, field: String, reason: String)

    public var description: String {
        switch self {
        case .unknownKind(let kind): return "unknown message kind \(kind)"
        case .malformed(let kind, let field, let reason): return "malformed \(kind) message: \(field) \(reason)"
        }
    }

    /// The stable code to send back in an `error` message.
    public var code: WireErrorCode {
        switch self {
        case .unknownKind: return .unknownKind
        case .malformed: return .malformedMessage
        }
    }
}

extension FrameError {
    /// The stable code to send back in an `error` or `reject` message before closing.
    public var code: WireErrorCode {
        switch self {
        case .unsupportedVersion: return .unsupportedVersion
        case .payloadTooLarge: return .payloadTooLarge
        case .headerChecksumMismatch, .payloadChecksumMismatch: return .checksumMismatch
        case .authenticationFailed, .missingAuthenticationTag, .unexpectedAuthenticationTag: return .authenticationFailed
        default: return .malformedFrame
        }
    }
}
