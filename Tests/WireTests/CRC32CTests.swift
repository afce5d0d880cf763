// Tests of CRC-32C: the standard check value, the iSCSI vectors, and the vector and hardware paths against software.
import Testing
@testable import Wire
import WireVectorCRC

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
    /// The AVX-512 kernel's loop, its lane reduction and its three chains, joined in Wire, against the tables:
    /// every length around the kernel's minimum and iteration size, odd alignments, and registers mid-stream.
    @Test(.enabled(if: CRC32C.Implementation.vector.isAvailable, "needs AVX-512F and VPCLMULQDQ"))
    func vectorMatchesSoftware() {
        var generator = SplitMix64(seed: 11)
        let bytes = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let minimum = VectorCRC32C.minimumByteCount
        var lengths = Array((minimum - 3)...(3 * minimum + 5)) + [4096, 65536 + 7, 1 << 18, 299_990]
        lengths += [0, 1, 100, 255, 256, 257]
        bytes.withUnsafeBytes { raw in
            for (index, length) in lengths.enumerated() {
                let start = index % 9
                let piece = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                let register = UInt32(truncatingIfNeeded: generator.next())
                #expect(CRC32C.advance(register, piece, using: .vector) == CRC32C.softwareAdvance(register, piece),
                        "length \(length) at offset \(start)")
            }
        }
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
