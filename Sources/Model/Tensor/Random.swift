// Deterministic, counter-based random numbers: every value is a pure function of (seed, stream, index).

/// Random normal values keyed by position, so that any split of the work draws the same numbers.
///
/// Value `index` of stream `stream` under `seed` is computed from a 64-bit hash of the three (SplitMix64's
/// finaliser applied twice) turned into two uniforms and then one normal by the Box-Muller transform. Nothing
/// depends on the order in which values are drawn or on how many threads draw them.
public enum KeyedRandom {
    /// A well-mixed 64-bit hash of `value` (the SplitMix64 finaliser).
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The 64 random bits at `index` of `stream` under `seed`.
    @inlinable
    public static func bits(seed: UInt64, stream: UInt64, index: UInt64) -> UInt64 {
        mix(mix(mix(seed) ^ stream) ^ index)
    }

    /// A standard normal value (mean 0, variance 1) at `index` of `stream` under `seed`.
    @inlinable
    public static func normal(seed: UInt64, stream: UInt64, index: UInt64) -> Float {
        let random = bits(seed: seed, stream: stream, index: index)
        // Two 32-bit uniforms in (0, 1]: never zero, so the logarithm is finite.
        let u1 = (Double(random >> 32) + 1) / 4_294_967_296.0
        let u2 = Double(random & 0xFFFF_FFFF) / 4_294_967_296.0
        let radius = (-2 * _log(u1)).squareRoot()
        return Float(radius * _cos(2 * Double.pi * u2))
    }

    /// A uniform value in [0, 1) at `index` of `stream` under `seed`.
    @inlinable
    public static func uniform(seed: UInt64, stream: UInt64, index: UInt64) -> Float {
        Float(bits(seed: seed, stream: stream, index: index) >> 40) / Float(1 << 24)
    }

    /// A stream number derived from a name, so components can draw independent streams ("blocks.0.ffn").
    public static func stream(named name: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a over the UTF-8 bytes
        for byte in name.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3
        }
        return hash
    }
}

extension Tensor {
    /// A tensor of normal values with standard deviation `standardDeviation`, element `i` drawn at index `i`
    /// of `stream` under `seed`.
    public static func randomNormal(
        shape: [Int], seed: UInt64, stream: UInt64, standardDeviation: Float = 1
    ) -> Tensor {
        Tensor(shape: shape) { buffer in
            for index in buffer.indices {
                buffer[index] = standardDeviation * KeyedRandom.normal(seed: seed, stream: stream, index: UInt64(index))
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
@usableFromInline func _log(_ x: Double) -> Double { Glibc.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#elseif canImport(Darwin)
import Darwin
@usableFromInline func _log(_ x: Double) -> Double { Darwin.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
