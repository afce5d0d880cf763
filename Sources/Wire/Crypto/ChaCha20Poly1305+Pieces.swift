// ChaCha20-Poly1305 (RFC 8439 §2.8) over a message that arrives or leaves in pieces: a sealer that encrypts
// and authenticates piece by piece, an opener that authenticates every piece before any is decrypted, and
// an authenticator for frames that are authenticated but not encrypted.

extension ChaCha20Poly1305 {
    /// A sealer for one message under `nonce`, with all of its associated data.
    public func makeSealer(nonce: [UInt8], authenticating associatedData: UnsafeRawBufferPointer)
        throws(CryptoError) -> Sealer
    {
        let (cipher, mac) = try start(nonce: nonce, associatedData: associatedData)
        return Sealer(cipher: cipher, authenticator: Authenticator(mac: mac, associatedData: associatedData.count))
    }

    /// A sealer for one message under `nonce`, with all of its associated data in an array.
    public func makeSealer(nonce: [UInt8], authenticating associatedData: [UInt8] = []) throws(CryptoError) -> Sealer {
        try associatedData.withCryptoBytes { (aad) throws(CryptoError) in
            try makeSealer(nonce: nonce, authenticating: aad)
        }
    }

    /// An opener for one message under `nonce`, with all of its associated data.
    public func makeOpener(nonce: [UInt8], authenticating associatedData: UnsafeRawBufferPointer)
        throws(CryptoError) -> Opener
    {
        let (cipher, mac) = try start(nonce: nonce, associatedData: associatedData)
        return Opener(cipher: cipher, authenticator: Authenticator(mac: mac, associatedData: associatedData.count))
    }

    /// An opener for one message under `nonce`, with all of its associated data in an array.
    public func makeOpener(nonce: [UInt8], authenticating associatedData: [UInt8] = []) throws(CryptoError) -> Opener {
        try associatedData.withCryptoBytes { (aad) throws(CryptoError) in
            try makeOpener(nonce: nonce, authenticating: aad)
        }
    }

    /// An authenticator for one message under `nonce` that is not encrypted: `header` is authenticated as
    /// associated data, the body passed to `update` as if it were ciphertext. The tag is the one `seal` would
    /// give a message whose ciphertext is the body, so a frame MAC costs Poly1305 over the frame plus one
    /// ChaCha20 block for the one-time key (RFC 8439 §2.6).
    public func makeAuthenticator(nonce: [UInt8], header: [UInt8] = []) throws(CryptoError) -> Authenticator {
        let (_, mac) = try header.withCryptoBytes { (aad) throws(CryptoError) in
            try start(nonce: nonce, associatedData: aad)
        }
        return Authenticator(mac: mac, associatedData: header.count)
    }

    /// The Poly1305 tag of one message: associated data (already absorbed), then the body in pieces.
    public struct Authenticator: Sendable {
        var mac: Poly1305
        let associatedDataByteCount: UInt64
        /// Body bytes authenticated so far.
        public private(set) var bodyByteCount: UInt64 = 0

        init(mac: Poly1305, associatedData byteCount: Int) {
            self.mac = mac
            associatedDataByteCount = UInt64(byteCount)
        }

        /// Adds the next piece of the body (the ciphertext, for an encrypted message) to the tag.
        public mutating func update(_ piece: UnsafeRawBufferPointer) {
            mac.update(piece)
            bodyByteCount += UInt64(piece.count)
        }

        /// The 16-byte tag of everything added.
        public consuming func finalize() -> [UInt8] {
            ChaCha20Poly1305.finish(mac, associatedDataByteCount: associatedDataByteCount, textByteCount: bodyByteCount)
        }

        /// Compares `tag` with the tag of everything added, in constant time; throws `.authenticationFailed`
        /// when they differ and `.wrongLength` for a tag that is not 16 bytes.
        public consuming func verify(tag: [UInt8]) throws(CryptoError) {
            guard tag.count == ChaCha20Poly1305.tagByteCount else {
                throw .wrongLength(.tag, expectedBytes: ChaCha20Poly1305.tagByteCount, seenBytes: tag.count)
            }
            guard ConstantTime.equal(finalize(), tag) else { throw .authenticationFailed }
        }
    }

    /// Encrypts and authenticates one message in pieces of any size, in order; the ciphertext and tag equal
    /// those of one `seal` over the whole. Keep one copy: two copies sealing different texts would encrypt
    /// them with the same keystream. (Not `~Copyable`: Swift 6.3's optimiser crashes inlining closures that
    /// capture a noncopyable value, which is how callers use these.)
    public struct Sealer: Sendable {
        var cipher: ChaCha20
        var authenticator: Authenticator

        /// Bytes encrypted between authenticating: small enough to still be in the L1/L2 cache when
        /// Poly1305 reads what ChaCha20 wrote.
        static let stripeByteCount = 16 << 10

        /// Encrypts the next piece of plaintext in place and adds the ciphertext to the tag.
        public mutating func seal(_ piece: UnsafeMutableRawBufferPointer) throws(CryptoError) {
            guard let base = piece.baseAddress else { return }
            _ = try cipher.reserve(byteCount: piece.count)  // all or nothing: no stripe encrypted, then a throw
            var offset = 0
            while offset < piece.count {
                let stripe = UnsafeMutableRawBufferPointer(start: base + offset,
                                                           count: min(Sealer.stripeByteCount, piece.count - offset))
                try cipher.apply(to: stripe)
                authenticator.update(UnsafeRawBufferPointer(stripe))
                offset += stripe.count
            }
        }

        /// Finishes the message: the 16-byte tag.
        public consuming func finalize() -> [UInt8] { authenticator.finalize() }
    }

    /// Authenticates one message's ciphertext in pieces, then (once `verify(tag:)` accepted the tag) hands
    /// out a `Decryptor`: no plaintext exists before the whole message is authenticated.
    public struct Opener: Sendable {
        var cipher: ChaCha20
        var authenticator: Authenticator

        /// Adds the next piece of ciphertext to the tag (the piece is not changed).
        public mutating func authenticate(_ piece: UnsafeRawBufferPointer) {
            authenticator.update(piece)
        }

        /// Compares `tag` with the tag of everything authenticated, in constant time. On a match, returns the
        /// decryptor for exactly those bytes; otherwise throws `.authenticationFailed` (or `.wrongLength` for
        /// a tag that is not 16 bytes).
        public consuming func verify(tag: [UInt8]) throws(CryptoError) -> Decryptor {
            let authenticatedByteCount = authenticator.bodyByteCount
            try authenticator.verify(tag: tag)
            return Decryptor(cipher: cipher, authenticatedByteCount: authenticatedByteCount)
        }
    }

    /// Decrypts an authenticated message's ciphertext, in the same pieces or others, in order.
    public struct Decryptor: Sendable {
        var cipher: ChaCha20
        /// Bytes the tag covered; decrypting more is refused.
        public let authenticatedByteCount: UInt64
        /// Bytes decrypted so far.
        public private(set) var decryptedByteCount: UInt64 = 0

        init(cipher: ChaCha20, authenticatedByteCount: UInt64) {
            self.cipher = cipher
            self.authenticatedByteCount = authenticatedByteCount
        }

        /// Decrypts the next piece of ciphertext in place. Throws `.unauthenticatedBytes` (changing nothing)
        /// if the pieces would go past the authenticated bytes.
        public mutating func decrypt(_ piece: UnsafeMutableRawBufferPointer) throws(CryptoError) {
            let total = decryptedByteCount + UInt64(piece.count)
            guard total <= authenticatedByteCount else {
                throw .unauthenticatedBytes(requestedBytes: total, authenticatedBytes: authenticatedByteCount)
            }
            try cipher.apply(to: piece)
            decryptedByteCount = total
        }
    }
}
