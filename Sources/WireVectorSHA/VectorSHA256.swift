// SHA-256 compression (FIPS 180-4) with the x86 SHA extensions: `sha256rnds2` runs two rounds on the state
// held as ABEF and CDGH in two 128-bit registers, `sha256msg1` and `sha256msg2` extend the message schedule.
//
// This module is compiled with `-parse-stdlib`, which gives it the `Builtin` module and so the LLVM
// intrinsics `Builtin.int_x86_sha256rnds2`, `int_x86_sha256msg1` and `int_x86_sha256msg2`, and with
// `-Xcc -msha -Xcc -msse4.1` (Package.swift), which lets the compiler emit those and SSE4.1 instructions
// anywhere in it. Wire's SHA256 calls it only after /proc/cpuinfo listed `sha_ni`.
import Swift

#if arch(x86_64)

/// The SHA-NI SHA-256 block function.
public enum VectorSHA256 {
    /// Runs the compression function over `blockCount` 64-byte blocks at `blocks`, updating the eight state
    /// words at `state` (a, b, c, d, e, f, g, h, native-endian). The processor must have SHA and SSE4.1.
    public static func compress(state: UnsafeMutablePointer<UInt32>, blocks: UnsafeRawPointer, blockCount: Int) {
        // Intel's register layout: lanes (f, e, b, a) and (h, g, d, c).
        var abef = SIMD4<UInt32>(state[5], state[4], state[1], state[0])
        var cdgh = SIMD4<UInt32>(state[7], state[6], state[3], state[2])
        for block in 0..<blockCount {
            let base = blocks + 64 * block
            let savedABEF = abef
            let savedCDGH = cdgh
            var w0 = bigEndianWords(base, 0), w1 = bigEndianWords(base, 16)
            var w2 = bigEndianWords(base, 32), w3 = bigEndianWords(base, 48)
            fourRounds(&abef, &cdgh, w0, 0)
            fourRounds(&abef, &cdgh, w1, 1)
            fourRounds(&abef, &cdgh, w2, 2)
            fourRounds(&abef, &cdgh, w3, 3)
            var group = 4
            while group < 16 {
                w0 = schedule(w0, w1, w2, w3); fourRounds(&abef, &cdgh, w0, group)
                w1 = schedule(w1, w2, w3, w0); fourRounds(&abef, &cdgh, w1, group + 1)
                w2 = schedule(w2, w3, w0, w1); fourRounds(&abef, &cdgh, w2, group + 2)
                w3 = schedule(w3, w0, w1, w2); fourRounds(&abef, &cdgh, w3, group + 3)
                group += 4
            }
            abef &+= savedABEF
            cdgh &+= savedCDGH
        }
        state[0] = abef[3]; state[1] = abef[2]; state[4] = abef[1]; state[5] = abef[0]
        state[2] = cdgh[3]; state[3] = cdgh[2]; state[6] = cdgh[1]; state[7] = cdgh[0]
    }

    /// Four message words, loaded big-endian.
    @inline(__always)
    static func bigEndianWords(_ base: UnsafeRawPointer, _ offset: Int) -> SIMD4<UInt32> {
        let words = base.loadUnaligned(fromByteOffset: offset, as: SIMD4<UInt32>.self)
        return SIMD4(words[0].byteSwapped, words[1].byteSwapped, words[2].byteSwapped, words[3].byteSwapped)
    }

    /// Words t..t+3 of the schedule from the sixteen before them (`older` is t-16..t-13, then t-12, t-8, t-4).
    @inline(__always)
    static func schedule(_ older: SIMD4<UInt32>, _ old: SIMD4<UInt32>, _ recent: SIMD4<UInt32>,
                         _ newest: SIMD4<UInt32>) -> SIMD4<UInt32>
    {
        var partial = SIMD4<UInt32>()
        partial._storage._value = Builtin.int_x86_sha256msg1(older._storage._value, old._storage._value)
        partial &+= SIMD4(recent[1], recent[2], recent[3], newest[0])  // words t-7..t-4
        var words = SIMD4<UInt32>()
        words._storage._value = Builtin.int_x86_sha256msg2(partial._storage._value, newest._storage._value)
        return words
    }

    /// Rounds 4 group ..< 4 group + 4 with message words `words`.
    @inline(__always)
    static func fourRounds(_ abef: inout SIMD4<UInt32>, _ cdgh: inout SIMD4<UInt32>, _ words: SIMD4<UInt32>,
                           _ group: Int)
    {
        let k = roundConstants[group]
        let first = words &+ k
        let second = SIMD4<UInt32>(first[2], first[3], first[0], first[0])
        cdgh._storage._value = Builtin.int_x86_sha256rnds2(cdgh._storage._value, abef._storage._value,
                                                           first._storage._value)
        abef._storage._value = Builtin.int_x86_sha256rnds2(abef._storage._value, cdgh._storage._value,
                                                           second._storage._value)
    }

    /// FIPS 180-4's 64 round constants, four per group.
    static let roundConstants: [SIMD4<UInt32>] = [
        SIMD4(0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5),
        SIMD4(0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5),
        SIMD4(0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3),
        SIMD4(0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174),
        SIMD4(0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc),
        SIMD4(0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da),
        SIMD4(0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7),
        SIMD4(0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967),
        SIMD4(0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13),
        SIMD4(0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85),
        SIMD4(0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3),
        SIMD4(0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070),
        SIMD4(0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5),
        SIMD4(0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3),
        SIMD4(0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208),
        SIMD4(0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2),
    ]
}

#endif
