// Tensor payloads: size checks and float32 -> float16 / bfloat16 narrowing against known bit patterns.
import Testing
@testable import Wire

@Suite struct WireTensorTests {
    @Test func byteCountMustMatchShape() {
        #expect(throws: WireTensorError.byteCountMismatch(shape: [2, 3], dtype: .float32, expected: 24, actual: 20)) {
            try WireTensor(dtype: .float32, shape: [2, 3], bytes: [UInt8](repeating: 0, count: 20)[...])
        }
        #expect(throws: WireTensorError.sizeOverflow([Int.max, 2])) {
            try WireTensor.byteCount(dtype: .float16, shape: [Int.max, 2])
        }
        #expect(throws: WireTensorError.negativeDimension([-1])) { try WireTensor.byteCount(dtype: .float32, shape: [-1]) }
        #expect(throws: WireTensorError.rankTooLarge(9)) {
            try WireTensor.byteCount(dtype: .float32, shape: [Int](repeating: 1, count: 9))
        }
        #expect((try? WireTensor.byteCount(dtype: .bfloat16, shape: [])) == 2)
        #expect((try? WireTensor.byteCount(dtype: .float32, shape: [0, 5])) == 0)
    }

    static func bits16(_ tensor: WireTensor) -> [UInt16] {
        stride(from: 0, to: tensor.bytes.count, by: 2).map {
            UInt16(tensor.bytes[tensor.bytes.startIndex + $0]) | UInt16(tensor.bytes[tensor.bytes.startIndex + $0 + 1]) << 8
        }
    }

    /// Bit patterns from IEEE 754 binary16: 1.0 = 0x3C00, 65504 = max, 65520 rounds to infinity, the
    /// smallest subnormal 2^-24 = 0x0001, 2^-25 ties to even (0), 1 + 2^-11 ties to even (1.0), 1 + 3*2^-11
    /// ties up to 0x3C02.
    @Test func float16Narrowing() throws {
        let values: [Float] = [1, -2, 65504, 65520, .infinity, -.infinity, 0x1p-24, 0x1p-25, 1 + 0x1p-11,
                               1 + 3 * 0x1p-11, -0.0]
        let tensor = try WireTensor(float32: values, shape: [values.count], as: .float16)
        #expect(Self.bits16(tensor) == [0x3C00, 0xC000, 0x7BFF, 0x7C00, 0x7C00, 0xFC00, 0x0001, 0x0000, 0x3C00,
                                        0x3C02, 0x8000])
        let nan = try WireTensor(float32: [.nan, -.nan], shape: [2], as: .float16).float32Values()
        #expect(nan[0].isNaN && nan[1].isNaN)
    }

    /// bfloat16 is the top half of binary32, rounded to nearest even: 1 + 2^-8 ties to 1.0, 1 + 3 * 2^-8 ties
    /// up, the largest finite float rounds to infinity, NaN stays NaN (quiet) with its sign.
    @Test func bfloat16Narrowing() throws {
        let values: [Float] = [1, 1 + 0x1p-8, 1 + 3 * 0x1p-8, -.infinity, .greatestFiniteMagnitude, 0x1p-130]
        let tensor = try WireTensor(float32: values, shape: [2, 3], as: .bfloat16)
        #expect(Self.bits16(tensor) == [0x3F80, 0x3F80, 0x3F82, 0xFF80, 0x7F80, 0x0000 | 0x0008])
        let nan = try WireTensor(float32: [Float(bitPattern: 0x7F80_0001), -.nan], shape: [2], as: .bfloat16)
        let bits = Self.bits16(nan)
        #expect(bits[0] & 0x7F80 == 0x7F80 && bits[0] & 0x007F != 0)
        #expect(bits[1] & 0x8000 != 0)
        #expect(nan.float32Values().allSatisfy { $0.isNaN })
    }

    @Test func float32IsExact() throws {
        var generator = SplitMix64(seed: 3)
        let values = (0..<257).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator)) }
        let back = try WireTensor(float32: values, shape: [257]).float32Values()
        #expect(zip(values, back).allSatisfy { $0.bitPattern == $1.bitPattern })
    }

    @Test func widenedHalfValuesRoundTripExactly() throws {
        // Every float16 value widens to float32 and narrows back to the same bits.
        let all = (0...UInt16.max).map { Float(Float16(bitPattern: $0)) }
        let narrowed = try WireTensor(float32: all, shape: [all.count], as: .float16)
        let bits = Self.bits16(narrowed)
        for (index, value) in bits.enumerated() where !all[index].isNaN {
            #expect(value == UInt16(index))
        }
    }
}
