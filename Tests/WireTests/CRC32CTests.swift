// Tests of CRC-32C: the standard check value, the iSCSI vectors, and folding and hardware against software.
import Testing
@testable import Wire

@Suite struct CRC32CTests {
    @Test func checkValue() {
        #expect(CRC32C.checksum(bytes: Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum(bytes: []) == 0)
    }

    /// RFC 3720 (iSCSI) appendix B.4 vectors.
    @Test func iscsiVectors() {
        #expect(CRC32C.checksum(bytes: [UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum(bytes: [UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum(bytes: (0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum(bytes: (0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func hardwareMatchesSoftwareAtEveryAlignmentAndLength() {
        var generator = SplitMix64(seed: 7)
        let bytes = (0..<4200).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes.withUnsafeBytes { raw in
            for start in 0..<9 {
                for length in [0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 1000, 4191 - start] {
                    let piece = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                    #expect(CRC32C.checksum(piece, using: .hardware) == CRC32C.checksum(piece, using: .software))
                }
            }
        }
    }

    @Test func interleavedChainsMatchSoftwareOnLargeBuffers() {
        var generator = SplitMix64(seed: 9)
        let bytes = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes.withUnsafeBytes { raw in
            for (start, length) in [(0, 65536), (3, 65536 + 7), (1, 200_001), (5, 299_990)] {
                let piece = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                #expect(CRC32C.checksum(piece, using: .hardware) == CRC32C.checksum(piece, using: .software))
            }
        }
    }

    #if arch(x86_64)
    /// The carry-less multiplication kernel (VPCLMULQDQ) against the tables, at every alignment, from its
    /// 256-byte minimum through the lengths where each of its loops and tails starts, and from a register
    /// other than the initial one. On a processor without the instructions the kernel cannot run: the test
    /// then checks that the machine says so and that `.folding` falls back to a correct checksum.
    @Test func foldingMatchesSoftwareAtEveryAlignmentAndLength() {
        var generator = SplitMix64(seed: 12)
        let bytes = (0..<300_100).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let lengths = [0, 100, 255, 256, 257, 271, 272, 319, 320, 383, 384, 511, 512, 513, 767, 1023, 1024, 1040, 4096,
                       4111, 65536 + 7, 262_144, 300_000]
        bytes.withUnsafeBytes { raw in
            for start in 0..<9 {
                for length in lengths {
                    let piece = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                    #expect(CRC32C.checksum(piece, using: .folding) == CRC32C.checksum(piece, using: .software),
                            "start \(start), length \(length)")
                    if CPUFeatures.hasFolding && CPUFeatures.hasSSE42 {
                        #expect(CRC32C.foldingAdvance(0x1234_5678, piece) == CRC32C.softwareAdvance(0x1234_5678, piece),
                                "start \(start), length \(length), register 0x12345678")
                    }
                }
            }
        }
        print("CRC32CTests: folding kernel available: \(CPUFeatures.hasFolding)")
    }

    /// The kernel's multipliers are x^(D+63) and x^(D-1) modulo the polynomial for D = 2048, 512 and 128 bits,
    /// bit-reflected in the high half of a 64-bit lane: derived here again with the table-free multiply.
    @Test func foldingConstantsArePowersOfX() {
        func xPower(_ exponent: Int) -> UInt32 {
            var power: UInt32 = 1 << 31  // x^0 in the reflected order
            var remaining = exponent
            var index = 0
            while remaining != 0 {
                if remaining & 1 != 0 { power = CRC32C.multiply(CRC32C.powersOfXSquared[index], power) }
                remaining >>= 1
                index += 1
            }
            return power
        }
        var expected: [UInt64] = []
        for distance in [2048, 512, 128] {
            expected.append(UInt64(xPower(distance + 63)) << 32)
            expected.append(UInt64(xPower(distance - 1)) << 32)
        }
        #expect(CRC32C.foldingConstants == expected)
    }
    #endif

    @Test func parallelPartsMatchOneThread() {
        var generator = SplitMix64(seed: 10)
        let bytes = (0..<(CRC32C.parallelThresholdBytes + 12345)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        bytes.withUnsafeBytes { raw in
            #expect(~CRC32C.advance(0xFFFF_FFFF, raw) == ~CRC32C.softwareAdvance(0xFFFF_FFFF, raw))
        }
    }

    @Test func shiftEqualsFeedingZeros() {
        let zeros = [UInt8](repeating: 0, count: 1000)
        for register: UInt32 in [0x1234_5678, 0xFFFF_FFFF, 1] {
            let fed = zeros.withUnsafeBytes { CRC32C.softwareAdvance(register, $0) }
            #expect(CRC32C.shift(register, byteCount: 1000) == fed)
        }
    }

    @Test func incrementalEqualsOneShot() {
        var generator = SplitMix64(seed: 8)
        let bytes = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var crc = CRC32C()
        crc.update(bytes: bytes[0..<3])
        crc.update(bytes: bytes[3..<500])
        crc.update(bytes: bytes[500...])
        #expect(crc.value == CRC32C.checksum(bytes: bytes))
    }
}
