// Errors of the Wire crypto primitives: HKDF-SHA256 (RFC 5869), ChaCha20, Poly1305 and ChaCha20-Poly1305
// (RFC 8439).

/// What was wrong with a call into the crypto primitives: a length, an exhausted block counter, a resumable
/// operation used out of order, or a message that failed authentication.
public enum CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An input that has one fixed size had another: which input, the bytes it must have, the bytes seen.
    case wrongLength(CryptoInput, expectedBytes: Int, seenBytes: Int)
    /// An input with a minimum size was shorter: which input, the fewest bytes allowed, the bytes seen.
    case tooShort(CryptoInput, minimumBytes: Int, seenBytes: Int)
    /// HKDF-Expand was asked for more than 255 hash lengths of output, or for a negative count.
    case outputLengthOutOfRange(requestedBytes: Int, maximumBytes: Int)
    /// ChaCha20's 32-bit block counter would wrap: the request needs `requestedBlocks` more 64-byte blocks but
    /// only `remainingBlocks` are left under this key and nonce (2^32 blocks, 256 GiB, at most).
    case keystreamExhausted(requestedBlocks: UInt64, remainingBlocks: UInt64)
    /// Open was asked to decrypt more bytes than were authenticated (`authenticatedBytes`); `requestedBytes`
    /// is the total that decrypting this piece would have reached.
    case unauthenticatedBytes(requestedBytes: UInt64, authenticatedBytes: UInt64)
    /// The tag did not match the ciphertext and associated data: one of the three was changed. Nothing was
    /// decrypted.
    case authenticationFailed

    public var description: String {
        switch self {
        case .wrongLength(let input, let expected, let seen):
            return "\(input.rawValue) must be \(expected) bytes, got \(seen)"
        case .tooShort(let input, let minimum, let seen):
            return "\(input.rawValue) must be at least \(minimum) bytes, got \(seen)"
        case .outputLengthOutOfRange(let requested, let maximum):
            return "HKDF-Expand output of \(requested) bytes requested; allowed 0...\(maximum)"
        case .keystreamExhausted(let requested, let remaining):
            return "ChaCha20 keystream exhausted: \(requested) more 64-byte blocks needed, \(remaining) left"
                + " under this key and nonce"
        case .unauthenticatedBytes(let requested, let authenticated):
            return "decrypting would reach byte \(requested) but only \(authenticated) bytes were authenticated"
        case .authenticationFailed:
            return "authentication tag mismatch: ciphertext, associated data or tag changed; nothing decrypted"
        }
    }
}

/// The inputs of the crypto primitives that have a checked size (named in `CryptoError`).
public enum CryptoInput: String, Sendable {
    /// A ChaCha20 or ChaCha20-Poly1305 key (32 bytes).
    case chaCha20Key = "ChaCha20 key"
    /// A ChaCha20 nonce (12 bytes).
    case chaCha20Nonce = "ChaCha20 nonce"
    /// A Poly1305 one-time key (32 bytes).
    case poly1305Key = "Poly1305 one-time key"
    /// A Poly1305 or ChaCha20-Poly1305 tag (16 bytes).
    case tag = "authentication tag"
    /// An HKDF pseudorandom key (at least 32 bytes).
    case hkdfPseudorandomKey = "HKDF pseudorandom key"
}
