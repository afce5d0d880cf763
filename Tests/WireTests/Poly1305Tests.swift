// Poly1305 against RFC 8439 §2.5.2 and A.3 (#1-#11); pieces of any size equal one update.
import Testing
@testable import Wire

@Suite struct Poly1305Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String, key: String, message: [UInt8], tag: String
        var testDescription: String { name }
    }

    static let zeros16 = String(repeating: "00", count: 16)

    static let vectors = [
        Vector(name: "2.5.2", key: "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b",
               message: Array("Cryptographic Forum Research Group".utf8), tag: "a8061dc1305136c6c22b8baf0c0127a9"),
        Vector(name: "A.3 #1", key: zeros16 + zeros16, message: [UInt8](repeating: 0, count: 64), tag: zeros16),
        Vector(name: "A.3 #2", key: zeros16 + "36e5f6b5c5e06070f0efca96227a863e", message: ietfContributionText,
               tag: "36e5f6b5c5e06070f0efca96227a863e"),
        Vector(name: "A.3 #3", key: "36e5f6b5c5e06070f0efca96227a863e" + zeros16, message: ietfContributionText,
               tag: "f3477e7cd95417af89a6b8794c310cf0"),
        Vector(name: "A.3 #4", key: "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
               message: Array(("'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\n"
                   + "All mimsy were the borogoves,\nAnd the mome raths outgrabe.").utf8),
               tag: "4541669a7eaaee61e708dc7cbcc5eb62"),
        Vector(name: "A.3 #5", key: "02" + String(repeating: "00", count: 15) + zeros16,
               message: [UInt8](repeating: 0xff, count: 16), tag: "03" + String(repeating: "00", count: 15)),
        Vector(name: "A.3 #6", key: "02" + String(repeating: "00", count: 15) + String(repeating: "ff", count: 16),
               message: bytes(hex: "02" + String(repeating: "00", count: 15)),
               tag: "03" + String(repeating: "00", count: 15)),
        Vector(name: "A.3 #7", key: "01" + String(repeating: "00", count: 15) + zeros16,
               message: bytes(hex: String(repeating: "ff", count: 16) + "f0" + String(repeating: "ff", count: 15)
                   + "11" + String(repeating: "00", count: 15)),
               tag: "05" + String(repeating: "00", count: 15)),
        Vector(name: "A.3 #8", key: "01" + String(repeating: "00", count: 15) + zeros16,
               message: bytes(hex: String(repeating: "ff", count: 16) + "fb" + String(repeating: "fe", count: 15)
                   + String(repeating: "01", count: 16)),
               tag: zeros16),
        Vector(name: "A.3 #9", key: "02" + String(repeating: "00", count: 15) + zeros16,
               message: bytes(hex: "fd" + String(repeating: "ff", count: 15)),
               tag: "fa" + String(repeating: "ff", count: 15)),
        Vector(name: "A.3 #10", key: "0100000000000000040000000000000000" + String(repeating: "00", count: 15),
               message: bytes(hex: "e33594d7505e43b90000000000000000" + "3394d7505e4379cd0100000000000000"
                   + zeros16 + "01000000000000000000000000000000"),
               tag: "14000000000000005500000000000000"),
        Vector(name: "A.3 #11", key: "0100000000000000040000000000000000" + String(repeating: "00", count: 15),
               message: bytes(hex: "e33594d7505e43b90000000000000000" + "3394d7505e4379cd0100000000000000" + zeros16),
               tag: "13000000000000000000000000000000"),
    ]

    @Test(arguments: vectors)
    func rfc8439(_ vector: Vector) throws {
        #expect(hex(try Poly1305.authenticationCode(for: vector.message, key: bytes(hex: vector.key))) == vector.tag)
    }

    /// Every split of a message into pieces (sizes 1, 2, 7, 15, 16, 17, 100 and uneven) gives the one-shot tag.
    @Test(arguments: [1, 2, 7, 15, 16, 17, 100, 0])
    func piecesEqualOneShot(pieceBytes: Int) throws {
        let key = pseudoRandomBytes(count: 32, seed: 3)
        for length in [0, 1, 15, 16, 17, 31, 32, 33, 1000, 4099] {
            let message = pseudoRandomBytes(count: length, seed: UInt64(length))
            var mac = try Poly1305(key: key)
            var offset = 0
            var step = pieceBytes
            while offset < length {
                if pieceBytes == 0 { step = step % 23 + 3 }  // uneven pieces: 3, 6, 9, ...
                let end = min(length, offset + max(step, 1))
                mac.update(Array(message[offset..<end]))
                offset = end
            }
            #expect(mac.finalize() == (try Poly1305.authenticationCode(for: message, key: key)), "length \(length)")
        }
    }

    /// Long runs (the AVX2 kernel, four blocks per step, where the processor has it) against 16-byte pieces
    /// (always the scalar code), with limbs at their largest: every key and message byte 0xff.
    @Test(arguments: [128, 144, 1024, 65536 + 48])
    func longRunsEqualBlockByBlock(length: Int) throws {
        for key in [[UInt8](repeating: 0xff, count: 32), pseudoRandomBytes(count: 32, seed: UInt64(length))] {
            let message = [UInt8](repeating: 0xff, count: length)
            var pieces = try Poly1305(key: key)
            for start in stride(from: 0, to: length, by: 16) { pieces.update(Array(message[start..<start + 16])) }
            #expect(pieces.finalize() == (try Poly1305.authenticationCode(for: message, key: key)))
        }
    }

    @Test func keyLengthIsChecked() {
        #expect(throws: CryptoError.wrongLength(.poly1305Key, expectedBytes: 32, seenBytes: 16)) {
            try Poly1305(key: [UInt8](repeating: 1, count: 16))
        }
    }

    @Test func constantTimeEqual() {
        #expect(ConstantTime.equal([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equal([0, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equal([], []))
    }
}
