// ChaCha20-Poly1305 against RFC 8439 §2.8.2 and A.5; tampering, pieces, in place, lengths.
import Testing
@testable import Wire

@Suite struct ChaCha20Poly1305Tests {
    static let key282 = bytes(hex: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
    static let nonce282 = bytes(hex: "070000004041424344454647")
    static let aad282 = bytes(hex: "50515253c0c1c2c3c4c5c6c7")
    static let ciphertext282 = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
        + "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
        + "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
        + "3ff4def08e4b7a9de576d26586cec64b6116"
    static let tag282 = "1ae10b594f09e26a7e902ecbd0600691"

    @Test func seal282() throws {
        let aead = try ChaCha20Poly1305(key: Self.key282)
        let (ciphertext, tag) = try aead.seal(sunscreenText, nonce: Self.nonce282, authenticating: Self.aad282)
        #expect(hex(ciphertext) == Self.ciphertext282)
        #expect(hex(tag) == Self.tag282)
        #expect(try aead.open(ciphertext, tag: tag, nonce: Self.nonce282, authenticating: Self.aad282)
                == sunscreenText)
    }

    @Test func openA5() throws {
        let aead = try ChaCha20Poly1305(key: bytes(hex:
            "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0"))
        let ciphertext = bytes(hex: "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
            + "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
            + "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
            + "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
            + "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
            + "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
            + "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
            + "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
            + "a6ad5cb4022b02709b")
        let plaintext = try aead.open(ciphertext, tag: bytes(hex: "eead9d67890cbb22392336fea1851f38"),
                                      nonce: bytes(hex: "000000000102030405060708"),
                                      authenticating: bytes(hex: "f33388860000000000004e91"))
        #expect(String(decoding: plaintext, as: UTF8.self) == "Internet-Drafts are draft documents valid for a"
            + " maximum of six months and may be updated, replaced, or obsoleted by other documents at any time."
            + " It is inappropriate to use Internet-Drafts as reference material or to cite them other than as"
            + " /\u{201C}work in progress./\u{201D}")
    }

    /// Changing any one byte of the tag, the ciphertext or the associated data makes `open` throw, and an
    /// in-place open leaves the buffer as ciphertext.
    @Test func everyChangedByteIsRejected() throws {
        let aead = try ChaCha20Poly1305(key: Self.key282)
        let ciphertext = bytes(hex: Self.ciphertext282)
        let tag = bytes(hex: Self.tag282)
        func opens(_ ciphertext: [UInt8], _ tag: [UInt8], _ aad: [UInt8]) -> Bool {
            var buffer = ciphertext
            let opened = buffer.withUnsafeMutableBytes { text in
                aad.withUnsafeBytes { aad in
                    (try? aead.open(inPlace: text, tag: tag, nonce: Self.nonce282, authenticating: aad)) != nil
                }
            }
            if !opened { #expect(buffer == ciphertext, "a failed open changed the buffer") }
            return opened
        }
        #expect(opens(ciphertext, tag, Self.aad282))
        for index in tag.indices {
            var changed = tag
            changed[index] ^= 0x01
            #expect(!opens(ciphertext, changed, Self.aad282), "tag byte \(index)")
        }
        for index in ciphertext.indices {
            var changed = ciphertext
            changed[index] ^= 0x80
            #expect(!opens(changed, tag, Self.aad282), "ciphertext byte \(index)")
        }
        for index in Self.aad282.indices {
            var changed = Self.aad282
            changed[index] ^= 0x10
            #expect(!opens(ciphertext, tag, changed), "associated data byte \(index)")
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try aead.open(ciphertext, tag: tag, nonce: Self.nonce282, authenticating: [])
        }
        #expect(throws: CryptoError.wrongLength(.tag, expectedBytes: 16, seenBytes: 15)) {
            try aead.open(ciphertext, tag: Array(tag.prefix(15)), nonce: Self.nonce282, authenticating: Self.aad282)
        }
    }

    /// Sealing in pieces (512 KiB as the wire sends, and odd sizes) equals one seal; opening in pieces works.
    @Test(arguments: [1, 13, 64, 4096 + 5, 512 << 10])
    func piecesEqualOneShot(pieceBytes: Int) throws {
        let aead = try ChaCha20Poly1305(key: pseudoRandomBytes(count: 32, seed: 9))
        let nonce = pseudoRandomBytes(count: 12, seed: 10)
        let aad = pseudoRandomBytes(count: 21, seed: 11)
        let length = pieceBytes >= 4096 ? 3 * pieceBytes + 77 : 40 * pieceBytes + 3
        let plaintext = pseudoRandomBytes(count: length, seed: 12)
        let (expected, expectedTag) = try aead.seal(plaintext, nonce: nonce, authenticating: aad)

        var text = plaintext
        let tag = try text.withUnsafeMutableBytes { buffer -> [UInt8] in
            var sealer = try aead.makeSealer(nonce: nonce, authenticating: aad)
            for range in Self.pieces(length, pieceBytes) {
                try sealer.seal(UnsafeMutableRawBufferPointer(rebasing: buffer[range]))
            }
            return sealer.finalize()
        }
        #expect(text == expected)
        #expect(tag == expectedTag)

        var opener = try aead.makeOpener(nonce: nonce, authenticating: aad)
        text.withUnsafeBytes { buffer in
            for range in Self.pieces(length, pieceBytes) {
                opener.authenticate(UnsafeRawBufferPointer(rebasing: buffer[range]))
            }
        }
        var decryptor = try opener.verify(tag: tag)
        try text.withUnsafeMutableBytes { buffer in
            for range in Self.pieces(length, pieceBytes / 2 + 1) {
                try decryptor.decrypt(UnsafeMutableRawBufferPointer(rebasing: buffer[range]))
            }
        }
        var extra: [UInt8] = [0]
        #expect(throws: CryptoError.unauthenticatedBytes(requestedBytes: UInt64(length + 1),
                                                         authenticatedBytes: UInt64(length))) {
            try extra.withUnsafeMutableBytes { try decryptor.decrypt($0) }
        }
        #expect(text == plaintext)
    }

    static func pieces(_ length: Int, _ pieceBytes: Int) -> [Range<Int>] {
        stride(from: 0, to: length, by: pieceBytes).map { $0..<min(length, $0 + pieceBytes) }
    }

    @Test func emptyPlaintextAuthenticatesAssociatedData() throws {
        let aead = try ChaCha20Poly1305(key: Self.key282)
        let (ciphertext, tag) = try aead.seal([], nonce: Self.nonce282, authenticating: Self.aad282)
        #expect(ciphertext.isEmpty)
        #expect(try aead.open([], tag: tag, nonce: Self.nonce282, authenticating: Self.aad282).isEmpty)
        #expect(throws: CryptoError.authenticationFailed) {
            try aead.open([], tag: tag, nonce: Self.nonce282, authenticating: Array(Self.aad282.dropLast()))
        }
    }

    @Test func keyAndNonceLengthsAreChecked() throws {
        #expect(throws: CryptoError.wrongLength(.chaCha20Key, expectedBytes: 32, seenBytes: 16)) {
            try ChaCha20Poly1305(key: [UInt8](repeating: 0, count: 16))
        }
        let aead = try ChaCha20Poly1305(key: Self.key282)
        #expect(throws: CryptoError.wrongLength(.chaCha20Nonce, expectedBytes: 12, seenBytes: 11)) {
            try aead.seal([1, 2, 3], nonce: [UInt8](repeating: 0, count: 11))
        }
    }
}

/// Frames authenticated but not encrypted: the tag is the AEAD tag with the body in the ciphertext's place.
@Suite struct ChaCha20Poly1305AuthenticatorTests {
    @Test func tagEqualsSealTagOfTheBodyAsCiphertext() throws {
        let aead = try ChaCha20Poly1305(key: ChaCha20Poly1305Tests.key282)
        let body = bytes(hex: ChaCha20Poly1305Tests.ciphertext282)
        var authenticator = try aead.makeAuthenticator(nonce: ChaCha20Poly1305Tests.nonce282,
                                                       header: ChaCha20Poly1305Tests.aad282)
        body.withUnsafeBytes { whole in
            authenticator.update(UnsafeRawBufferPointer(rebasing: whole[0..<50]))
            authenticator.update(UnsafeRawBufferPointer(rebasing: whole[50...]))
        }
        #expect(authenticator.bodyByteCount == 114)
        #expect(hex(authenticator.finalize()) == ChaCha20Poly1305Tests.tag282)
    }

    @Test func verifyRejectsAChangedBodyOrNonce() throws {
        let aead = try ChaCha20Poly1305(key: pseudoRandomBytes(count: 32, seed: 20))
        let header = pseudoRandomBytes(count: 32, seed: 21)
        var body = pseudoRandomBytes(count: 1000, seed: 22)
        func tag(_ body: [UInt8], sequence: UInt8) throws -> [UInt8] {
            var authenticator = try aead.makeAuthenticator(nonce: [UInt8](repeating: 0, count: 11) + [sequence],
                                                           header: header)
            body.withUnsafeBytes { authenticator.update($0) }
            return authenticator.finalize()
        }
        let good = try tag(body, sequence: 1)
        var checker = try aead.makeAuthenticator(nonce: [UInt8](repeating: 0, count: 11) + [1], header: header)
        body.withUnsafeBytes { checker.update($0) }
        try checker.verify(tag: good)
        #expect(try tag(body, sequence: 2) != good)
        body[999] ^= 1
        var changed = try aead.makeAuthenticator(nonce: [UInt8](repeating: 0, count: 11) + [1], header: header)
        body.withUnsafeBytes { changed.update($0) }
        #expect(throws: CryptoError.authenticationFailed) { try changed.verify(tag: good) }
    }
}
