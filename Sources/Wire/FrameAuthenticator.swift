// Frame authentication after the handshake: a keyed MAC over the header and the payload of every frame, under
// an implicit per-direction sequence number, and the session keys it uses (docs/PROTOCOL.md §6.1).

/// One direction of an authenticated session: its key and the sequence number of the next frame.
///
/// The sequence number is never sent: both ends count the frames of the direction from 0 (the first frame
/// after the handshake), so a frame replayed, reordered or dropped on the way is verified under another
/// number than it was sealed with and fails, as does any changed byte.
///
/// The MAC is the ChaCha20-Poly1305 tag (RFC 8439 §2.8) of a message with the frame's 32 header bytes as
/// associated data and the rest of the frame (payload and CRC trailer) as its "ciphertext", under the
/// direction's key and the nonce `0x00000000 || u64 sequence`: Poly1305 keyed once per frame by ChaCha20
/// block 0, which is what the AEAD's integrity proof covers (RFC 8439 §4; Procter, "A Security Analysis of
/// the Composition of ChaCha20 and Poly1305", 2014). The nonce never repeats under a key: the sequence only
/// grows and every connection and direction has keys of its own.
struct FrameAuthenticator: Sendable {
    /// The tag that follows each authenticated frame.
    static let tagByteCount = ChaCha20Poly1305.tagByteCount
    private let aead: ChaCha20Poly1305
    /// The sequence number the next frame is sealed or checked with.
    private(set) var sequence: UInt64 = 0

    /// A direction keyed with `key` (32 bytes from the key schedule), starting at sequence number 0.
    init(key: [UInt8]) {
        do { aead = try ChaCha20Poly1305(key: key) } catch {
            preconditionFailure("a frame key comes from the key schedule and has 32 bytes: \(error)")
        }
    }

    /// The 12-byte nonce of frame `sequence`: four zero bytes, then the sequence number (little-endian).
    static func nonce(_ sequence: UInt64) -> [UInt8] {
        [0, 0, 0, 0] + withUnsafeBytes(of: sequence.littleEndian) { Array($0) }
    }

    /// Starts the MAC of the next frame, whose 32 header bytes are `header`, and advances the sequence number.
    mutating func begin(header: UnsafeRawBufferPointer) -> FrameMAC {
        let authenticator: ChaCha20Poly1305.Authenticator
        do { authenticator = try aead.makeAuthenticator(nonce: Self.nonce(sequence), header: Array(header)) } catch {
            preconditionFailure("the frame nonce has 12 bytes: \(error)")
        }
        sequence &+= 1
        return FrameMAC(authenticator: authenticator)
    }
}

/// The MAC of one frame, fed piece by piece (payload pieces as they arrive or leave, then the trailer).
struct FrameMAC: Sendable {
    fileprivate var authenticator: ChaCha20Poly1305.Authenticator

    /// Adds bytes of the frame.
    mutating func update(_ bytes: UnsafeRawBufferPointer) { authenticator.update(bytes) }

    /// The frame's tag (`FrameAuthenticator.tagByteCount` bytes).
    func finish() -> [UInt8] { authenticator.finalize() }
}

/// The keys of an authenticated session, one per direction, from the key schedule (`SessionKeys.derive`).
public struct SessionKeys: Equatable, Sendable {
    /// The key of the frames this peer sends.
    public let sending: [UInt8]
    /// The key of the frames this peer receives.
    public let receiving: [UInt8]

    /// The label of the key schedule's HKDF info (and of the protocol version it belongs to).
    static let label = "SWIR-v2 session keys"

    /// The session keys for one side of a handshake (RFC 5869 HKDF-SHA256):
    /// `OKM = HKDF(IKM = token, salt = Nc || Ns, info = label || 0x00 || roleC || roleS || minor, L = 64)`;
    /// the connecting peer sends with `OKM[0..<32]` and the accepting peer with `OKM[32..<64]`.
    static func derive(token: [UInt8], clientNonce: [UInt8], serverNonce: [UInt8], clientRole: PeerRole,
                       serverRole: PeerRole, minor: UInt8, isClient: Bool) -> SessionKeys {
        let info = Array(label.utf8) + [0, clientRole.rawValue, serverRole.rawValue, minor]
        let okm: [UInt8]
        do {
            okm = try HKDFSHA256.deriveKey(inputKeyMaterial: token, salt: clientNonce + serverNonce, info: info,
                                           outputByteCount: 64)
        } catch {
            preconditionFailure("64 bytes are within HKDF-SHA256's output limit: \(error)")
        }
        let clientToServer = Array(okm[0..<32]), serverToClient = Array(okm[32..<64])
        return isClient ? SessionKeys(sending: clientToServer, receiving: serverToClient)
            : SessionKeys(sending: serverToClient, receiving: clientToServer)
    }
}

extension SessionKeys {
    /// The keys for one side of the handshake described by `parts`.
    static func derive(_ parts: HandshakeTranscript.Parts, token: [UInt8], isClient: Bool) -> SessionKeys {
        derive(token: token, clientNonce: parts.clientNonce, serverNonce: parts.serverNonce,
               clientRole: parts.clientRole, serverRole: parts.serverRole, minor: parts.minor, isClient: isClient)
    }
}
