// HKDF with HMAC-SHA256 (RFC 5869): extract a pseudorandom key, then expand it into output keying material.

/// HKDF-SHA256 (RFC 5869), built on `HMACSHA256`.
///
/// `deriveKey(inputKeyMaterial:salt:info:outputByteCount:)` is Extract then Expand; the two steps are also
/// public for callers that expand one pseudorandom key several times with different `info`.
public enum HKDFSHA256 {
    /// The hash length: the pseudorandom key's size and Expand's block size.
    public static let hashByteCount = SHA256.digestByteCount
    /// The most bytes Expand can produce (255 hash lengths).
    public static let maximumOutputByteCount = 255 * SHA256.digestByteCount

    /// HKDF-Extract: the 32-byte pseudorandom key HMAC-SHA256(salt, inputKeyMaterial). An empty salt means
    /// 32 zero bytes, as RFC 5869 §2.2 says.
    public static func extract(salt: [UInt8], inputKeyMaterial: [UInt8]) -> [UInt8] {
        let key = salt.isEmpty ? [UInt8](repeating: 0, count: hashByteCount) : salt
        return HMACSHA256.authenticationCode(for: inputKeyMaterial, key: key)
    }

    /// HKDF-Expand: `outputByteCount` bytes T(1) | T(2) | ... where T(i) = HMAC(PRK, T(i-1) | info | i).
    ///
    /// Throws `.tooShort` for a pseudorandom key under 32 bytes and `.outputLengthOutOfRange` for a count
    /// outside 0...8160.
    public static func expand(pseudorandomKey: [UInt8], info: [UInt8], outputByteCount: Int) throws(CryptoError)
        -> [UInt8]
    {
        guard pseudorandomKey.count >= hashByteCount else {
            throw .tooShort(.hkdfPseudorandomKey, minimumBytes: hashByteCount, seenBytes: pseudorandomKey.count)
        }
        guard outputByteCount >= 0, outputByteCount <= maximumOutputByteCount else {
            throw .outputLengthOutOfRange(requestedBytes: outputByteCount, maximumBytes: maximumOutputByteCount)
        }
        var output: [UInt8] = []
        output.reserveCapacity(outputByteCount + hashByteCount)
        var previous: [UInt8] = []
        var index: UInt8 = 1
        while output.count < outputByteCount {
            previous = HMACSHA256.authenticationCode(for: previous + info + [index], key: pseudorandomKey)
            output.append(contentsOf: previous)
            index &+= 1  // at most 255 rounds, checked above
        }
        return Array(output.prefix(outputByteCount))
    }

    /// Extract then Expand: `outputByteCount` bytes of keying material from `inputKeyMaterial`.
    public static func deriveKey(inputKeyMaterial: [UInt8], salt: [UInt8], info: [UInt8], outputByteCount: Int)
        throws(CryptoError) -> [UInt8]
    {
        try expand(pseudorandomKey: extract(salt: salt, inputKeyMaterial: inputKeyMaterial), info: info,
                   outputByteCount: outputByteCount)
    }
}
