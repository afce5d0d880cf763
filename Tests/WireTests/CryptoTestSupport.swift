// Helpers for the crypto tests: RFC test vectors are written as hex dumps.

/// The bytes of a hex string; spaces, colons and line breaks between digits are ignored.
func bytes(hex text: String) -> [UInt8] {
    let digits = text.unicodeScalars.filter { $0.properties.isASCIIHexDigit }.map { Character($0) }
    precondition(digits.count % 2 == 0, "odd number of hex digits in test vector")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// `count` bytes counting up from `first` (RFC 5869's inputs are written this way).
func ascendingBytes(from first: UInt8, count: Int) -> [UInt8] {
    (0..<count).map { first &+ UInt8(truncatingIfNeeded: $0) }
}

/// A deterministic pseudo-random byte string for round-trip and chunking tests.
func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
}

/// RFC 8439 A.2 #2 and A.3 #2-#3 authenticate and encrypt this IETF text (375 bytes).
let ietfContributionText = Array(("Any submission to the IETF intended by the Contributor for publication as all or"
    + " part of an IETF Internet-Draft or RFC and any statement made within the context of an IETF activity is"
    + " considered an \"IETF Contribution\". Such statements include oral statements in IETF sessions, as well as"
    + " written and electronic communications made at any time or place, which are addressed to").utf8)

/// RFC 8439 §2.4.2 and §2.8.2 encrypt this sentence (114 bytes).
let sunscreenText = Array(("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future,"
    + " sunscreen would be it.").utf8)
