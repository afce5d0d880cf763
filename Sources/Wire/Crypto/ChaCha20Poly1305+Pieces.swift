// ChaCha20-Poly1305 (RFC 8439 §2.8) over a message that arrives or leaves in pieces: a sealer that encrypts
// and authenticates piece by piece, and an opener that authenticates every piece before any is decrypted.

extension ChaCha20Poly1305 {
    /// A sealer for one message under `nonce`, with all of its associated data.
    public func makeSealer(nonce: [UInt8], authenticating associatedData: UnsafeRawBufferPointer)
        throws(CryptoError) -> Sealer
    {
        let (cipher, mac) = try start(nonce: nonce, associatedData: associatedData)
        return Sealer(cipher: cipher, mac: mac, associatedDataByteCount: UInt64(associatedData.count))
    }

    /// A sealer for one message under `nonce`, with all of its associated data in an array.
    public func makeSealer(nonce: [UInt8], authenticating associatedData: [UInt8] = []) throws(CryptoError) -> Sealer {
        let (cipher, mac) = try associatedData.withCryptoBytes { (aad) throws(CryptoError) in
            try start(nonce: nonce, associatedData: aad)
        }
        return Sealer(cipher: cipher, mac: mac, associatedDataByteCount: UInt64(associatedData.count))
    }

    /// An opener for one message under `nonce`, with all of its associated data in an array.
    public func makeOpener(nonce: [UInt8], authenticating associatedData: [UInt8] = []) throws(CryptoError) -> Opener {
        let (cipher, mac) = try associatedData.withCryptoBytes { (aad) throws(CryptoError) in
            try start(nonce: nonce, associatedData: aad)
        }
        return Opener(cipher: cipher, mac: mac, associatedDataByteCount: UInt64(associatedData.count))
    }

    /// An opener for one message under `nonce`, with all of its associated data.
    public func makeOpener(nonce: [UInt8], authenticating associatedData: UnsafeRawBufferPointer)
        throws(CryptoError) -> Opener
    {
        let (cipher, mac) = try start(nonce: nonce, associatedData: associatedData)
        return Opener(cipher: cipher, mac: mac, associatedDataByteCount: UInt64(associatedData.count))
    }

    /// Encrypts and authenticates one message in pieces of any size, in order; the ciphertext and tag equal
    /// those of one `seal` over the whole. Keep one copy: two copies sealing different texts would encrypt
    /// them with the same keystream. (Not `~Copyable`: Swift 6.3's optimiser crashes inlining closures that
    /// capture a noncopyable value, which is how callers use these.)
    public struct Sealer: Sendable {
        var cipher: ChaCha20
        var mac: Poly1305
        let associatedDataByteCount: UInt64
        var textByteCount: UInt64 = 0

        init(cipher: ChaCha20, mac: Poly1305, associatedDataByteCount: UInt64) {
            self.cipher = cipher
            self.mac = mac
            self.associatedDataByteCount = associatedDataByteCount
        }

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
                mac.update(UnsafeRawBufferPointer(stripe))
                offset += stripe.count
            }
            textByteCount += UInt64(piece.count)
        }

        /// Finishes the message: the 16-byte tag.
        public consuming func finalize() -> [UInt8] {
            ChaCha20Poly1305.finish(mac, associatedDataByteCount: associatedDataByteCount, textByteCount: textByteCount)
        }
    }

    /// Authenticates one message's ciphertext in pieces, then (once `verify(tag:)` accepted the tag) hands
    /// out a `Decryptor`: no plaintext exists before the whole message is authenticated.
    public struct Opener: Sendable {
        var cipher: ChaCha20
        var mac: Poly1305
        let associatedDataByteCount: UInt64
        var textByteCount: UInt64 = 0

        init(cipher: ChaCha20, mac: Poly1305, associatedDataByteCount: UInt64) {
            self.cipher = cipher
            self.mac = mac
            self.associatedDataByteCount = associatedDataByteCount
        }

        /// Adds the next piece of ciphertext to the tag (the piece is not changed).
        public mutating func authenticate(_ piece: UnsafeRawBufferPointer) {
            mac.update(piece)
            textByteCount += UInt64(piece.count)
        }

        /// Compares `tag` with the tag of everything authenticated, in constant time. On a match, returns the
        /// decryptor for exactly those bytes; otherwise throws `.authenticationFailed` (or `.wrongLength` for
        /// a tag that is not 16 bytes).
        public consuming func verify(tag: [UInt8]) throws(CryptoError) -> Decryptor {
            guard tag.count == ChaCha20Poly1305.tagByteCount else {
                throw .wrongLength(.tag, expectedBytes: ChaCha20Poly1305.tagByteCount, seenBytes: tag.count)
            }
            let expected = ChaCha20Poly1305.finish(mac, associatedDataByteCount: associatedDataByteCount,
                                                   textByteCount: textByteCount)
            guard ConstantTime.equal(expected, tag) else { throw .authenticationFailed }
            return Decryptor(cipher: cipher, authenticatedByteCount: textByteCount)
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
