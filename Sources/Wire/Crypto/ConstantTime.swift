// Comparison of secret byte strings (tags) in time that does not depend on where they differ.

/// Comparisons whose running time depends only on the lengths compared.
public enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes. Every byte is visited whatever the contents: the differences
    /// are ORed together and tested once, so timing tells an attacker nothing about how many leading bytes of
    /// a forged tag were right. (Lengths are not secret: unequal lengths return false at once.)
    public static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return isZero(difference)
    }

    /// Whether two byte arrays hold the same bytes, in time independent of their contents.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { first in b.withUnsafeBytes { second in equal(first, second) } }
    }

    /// `difference == 0`, behind a call the optimiser may not look into, so it cannot turn the loop above
    /// into one that stops at the first difference.
    @inline(never) @_optimize(none)
    static func isZero(_ difference: UInt8) -> Bool { difference == 0 }
}
