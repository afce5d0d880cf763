// HKDF-SHA256 against RFC 5869 Appendix A, test cases 1-3.
import Testing
@testable import Wire

@Suite struct HKDFSHA256Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let inputKeyMaterial: [UInt8]
        let salt: [UInt8]
        let info: [UInt8]
        let outputByteCount: Int
        let pseudorandomKey: String
        let output: String
        var testDescription: String { name }
    }

    static let vectors = [
        Vector(name: "A.1 basic", inputKeyMaterial: [UInt8](repeating: 0x0b, count: 22),
               salt: ascendingBytes(from: 0x00, count: 13), info: ascendingBytes(from: 0xf0, count: 10),
               outputByteCount: 42,
               pseudorandomKey: "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
               output: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
        Vector(name: "A.2 longer inputs and outputs", inputKeyMaterial: ascendingBytes(from: 0x00, count: 80),
               salt: ascendingBytes(from: 0x60, count: 80), info: ascendingBytes(from: 0xb0, count: 80),
               outputByteCount: 82,
               pseudorandomKey: "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
               output: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
                   + "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
                   + "cc30c58179ec3e87c14c01d5c1f3434f1d87"),
        Vector(name: "A.3 empty salt and info", inputKeyMaterial: [UInt8](repeating: 0x0b, count: 22),
               salt: [], info: [], outputByteCount: 42,
               pseudorandomKey: "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
               output: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
    ]

    @Test(arguments: vectors)
    func rfc5869(_ vector: Vector) throws {
        let prk = HKDFSHA256.extract(salt: vector.salt, inputKeyMaterial: vector.inputKeyMaterial)
        #expect(hex(prk) == vector.pseudorandomKey)
        let output = try HKDFSHA256.expand(pseudorandomKey: prk, info: vector.info,
                                           outputByteCount: vector.outputByteCount)
        #expect(hex(output) == vector.output)
        let derived = try HKDFSHA256.deriveKey(inputKeyMaterial: vector.inputKeyMaterial, salt: vector.salt,
                                               info: vector.info, outputByteCount: vector.outputByteCount)
        #expect(derived == output)
    }

    @Test func lengthsAreChecked() throws {
        let prk = [UInt8](repeating: 1, count: 32)
        #expect(throws: CryptoError.outputLengthOutOfRange(requestedBytes: 8161, maximumBytes: 8160)) {
            try HKDFSHA256.expand(pseudorandomKey: prk, info: [], outputByteCount: 8161)
        }
        #expect(throws: CryptoError.outputLengthOutOfRange(requestedBytes: -1, maximumBytes: 8160)) {
            try HKDFSHA256.expand(pseudorandomKey: prk, info: [], outputByteCount: -1)
        }
        #expect(throws: CryptoError.tooShort(.hkdfPseudorandomKey, minimumBytes: 32, seenBytes: 31)) {
            try HKDFSHA256.expand(pseudorandomKey: Array(prk.prefix(31)), info: [], outputByteCount: 16)
        }
        #expect(try HKDFSHA256.expand(pseudorandomKey: prk, info: [], outputByteCount: 8160).count == 8160)
        #expect(try HKDFSHA256.expand(pseudorandomKey: prk, info: [], outputByteCount: 0).isEmpty)
    }
}
