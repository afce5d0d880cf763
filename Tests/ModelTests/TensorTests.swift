// Tests of the Tensor value type and dtype conversions.
import Testing
@testable import Model

@Suite struct TensorTests {
    @Test func shapeAndCount() {
        let tensor = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(tensor.count == 6)
        #expect(tensor.rank == 2)
        #expect(tensor.reshaped([3, 2]).shape == [3, 2])
        #expect(Tensor(zeros: []).count == 1)
    }

    @Test(arguments: [DType.float16, .bfloat16])
    func narrowThenWidenKeepsSpecialValues(dtype: DType) {
        let values: [Float] = [0, -0.0, 1, -2.5, .infinity, -.infinity, 65504, 1e-3]
        var bytes = [UInt8](repeating: 0, count: values.count * dtype.byteSize)
        var back = [Float](repeating: .nan, count: values.count)
        values.withUnsafeBufferPointer { source in
            bytes.withUnsafeMutableBytes { dtype.narrow(source.baseAddress!, count: values.count, into: $0.baseAddress!) }
        }
        bytes.withUnsafeBytes { raw in
            back.withUnsafeMutableBufferPointer { dtype.widen(raw.baseAddress!, into: $0.baseAddress!, count: values.count) }
        }
        for (original, roundTripped) in zip(values, back) {
            if original.isInfinite {
                #expect(roundTripped == original)
            } else {
                #expect(abs(roundTripped - original) <= abs(original) * 1e-2 + 1e-6)
            }
        }
        var nanBytes = [UInt8](repeating: 0, count: dtype.byteSize)
        var nanBack: Float = 0
        [Float.nan].withUnsafeBufferPointer { source in
            nanBytes.withUnsafeMutableBytes { dtype.narrow(source.baseAddress!, count: 1, into: $0.baseAddress!) }
        }
        nanBytes.withUnsafeBytes { raw in withUnsafeMutablePointer(to: &nanBack) { dtype.widen(raw.baseAddress!, into: $0, count: 1) } }
        #expect(nanBack.isNaN)
    }

    @Test func bfloat16RoundsToNearestEven() {
        // 1 + 2^-8 lies exactly between two bfloat16 values (1 and 1 + 2^-7): ties go to the even one, 1.
        #expect(DType.bfloat16Bits(1 + 1.0 / 256) == 0x3F80)
        // 1 + 3 * 2^-8 lies between 1 + 2^-7 (odd) and 1 + 2^-6 (even): ties go up to the even one.
        #expect(DType.bfloat16Bits(1 + 3.0 / 256) == 0x3F82)
    }
}
