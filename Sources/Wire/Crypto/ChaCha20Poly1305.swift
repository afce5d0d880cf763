// ChaCha20-Poly1305 authenticated encryption with associated data (RFC 8439 §2.8).

/// ChaCha20-Poly1305 AEAD (RFC 8439 §2.8) under one 256-bit key.
///
/// Each message needs a nonce never used before with this key (a frame sequence number, for example):
/// Poly1305's one-time key is ChaCha20 block 0 of the key and nonce, and the plaintext is encrypted from
/// block 1. `open` checks the tag before decrypting anything and throws `CryptoError.authenticationFailed`
/// when the ciphertext, the associated data or the tag was changed.
///
/// For buffers that should not be copied, the in-place functions take an `UnsafeMutableRawBufferPointer`;
/// for messages sent in pieces, `makeSealer` and `makeOpener` (ChaCha20Poly1305+Pieces.swift) give the same
/// bytes and tags as one call over the whole message.
public struct ChaCha20Poly1305: Sendable {
    /// Key size in bytes.
    public static let keyByteCount = 32
    /// Nonce size in bytes.
    public static let nonceByteCount = 12
    /// Tag size in bytes.
    public static let tagByteCount = 16

    let key: [UInt8]

    /// An AEAD under the 32-byte `key`.
    public init(key: [UInt8]) throws(CryptoError) {
        guard key.count == ChaCha20Poly1305.keyByteCount else {
            throw .wrongLength(.chaCha20Key, expectedBytes: ChaCha20Poly1305.keyByteCount, seenBytes: key.count)
        }
        self.key = key
    }

    /// Encrypts `plaintext` and authenticates it with `associatedData`: the ciphertext (as long as the
    /// plaintext) and the 16-byte tag.
    public func seal(_ plaintext: [UInt8], nonce: [UInt8], authenticating associatedData: [UInt8] = [])
        throws(CryptoError) -> (ciphertext: [UInt8], tag: [UInt8])
    {
        var ciphertext = plaintext
        let tag = try ciphertext.withCryptoBytes { (buffer) throws(CryptoError) in
            try associatedData.withCryptoBytes { (aad) throws(CryptoError) in
                try seal(inPlace: buffer, nonce: nonce, authenticating: aad)
            }
        }
        return (ciphertext, tag)
    }

    /// Checks `tag` against `ciphertext` and `associatedData`, then decrypts: the plaintext. Throws
    /// `.authenticationFailed` (and decrypts nothing) when they do not match.
    public func open(_ ciphertext: [UInt8], tag: [UInt8], nonce: [UInt8], authenticating associatedData: [UInt8] = [])
        throws(CryptoError) -> [UInt8]
    {
        var plaintext = ciphertext
        try plaintext.withCryptoBytes { (buffer) throws(CryptoError) in
            try associatedData.withCryptoBytes { (aad) throws(CryptoError) in
                try open(inPlace: buffer, tag: tag, nonce: nonce, authenticating: aad)
            }
        }
        return plaintext
    }

    /// Encrypts `buffer` in place and returns the 16-byte tag over `associatedData` and the ciphertext.
    public func seal(inPlace buffer: UnsafeMutableRawBufferPointer, nonce: [UInt8],
                     authenticating associatedData: UnsafeRawBufferPointer) throws(CryptoError) -> [UInt8]
    {
        var sealer = try makeSealer(nonce: nonce, authenticating: associatedData)
        try sealer.seal(buffer)
        return sealer.finalize()
    }

    /// Checks `tag` against `associatedData` and the ciphertext in `buffer`, then decrypts `buffer` in place.
    /// On `.authenticationFailed` the buffer is left as it was (still ciphertext).
    public func open(inPlace buffer: UnsafeMutableRawBufferPointer, tag: [UInt8], nonce: [UInt8],
                     authenticating associatedData: UnsafeRawBufferPointer) throws(CryptoError)
    {
        var opener = try makeOpener(nonce: nonce, authenticating: associatedData)
        opener.authenticate(UnsafeRawBufferPointer(buffer))
        var decryptor = try opener.verify(tag: tag)
        try decryptor.decrypt(buffer)
    }

    /// The Poly1305 authenticator for one message, keyed with ChaCha20 block 0 (RFC 8439 §2.6), having
    /// absorbed the padded associated data; and the cipher positioned at block 1.
    func start(nonce: [UInt8], associatedData: UnsafeRawBufferPointer) throws(CryptoError) -> (ChaCha20, Poly1305) {
        var cipher = try ChaCha20(key: key, nonce: nonce, counter: 0)
        var oneTimeKey = [UInt8](repeating: 0, count: ChaCha20.blockByteCount)
        try oneTimeKey.withCryptoBytes { (block) throws(CryptoError) in try cipher.apply(to: block) }
        var mac = oneTimeKey.withUnsafeBytes { Poly1305(key: $0.baseAddress!) }
        mac.update(associatedData)
        mac.padToBlock()
        return (cipher, mac)
    }

    /// The tag: pads the ciphertext, adds both lengths as 64-bit little-endian numbers, finishes Poly1305.
    static func finish(_ mac: consuming Poly1305, associatedDataByteCount: UInt64, textByteCount: UInt64) -> [UInt8] {
        mac.padToBlock()
        withUnsafeBytes(of: (associatedDataByteCount.littleEndian, textByteCount.littleEndian)) { mac.update($0) }
        return mac.finalize()
    }
}
