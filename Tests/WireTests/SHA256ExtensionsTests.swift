// SHA-256 on the SHA extensions (WireVectorSHA) against the portable block function, across block edges.
import Testing
@testable import Wire

@Suite struct SHA256ExtensionsTests {
    /// On a processor without the extensions both hashers run the portable code and this compares it with
    /// itself; the NIST and RFC 4231 vectors in SHA256Tests run on whichever this machine uses.
    @Test(arguments: [0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 100_003])
    func extensionsEqualPortable(length: Int) {
        let data = pseudoRandomBytes(count: length, seed: UInt64(length) + 100)
        var fast = SHA256(usesSHAExtensions: true)
        var portable = SHA256(usesSHAExtensions: false)
        fast.update(Array(data.prefix(length / 3)))
        fast.update(Array(data.dropFirst(length / 3)))
        portable.update(data)
        #expect(fast.finalize() == portable.finalize())
    }
}
