// Tests of the tiled online-softmax attention against PyTorch and a naive Double reference.
import Foundation
import Testing
@testable import Model

@Suite struct KernelsAttentionTests {
    /// softmax(Q K^T * scale + bias + mask) V in Double, materialising the full score matrix.
    func naiveAttention(
        query: Tensor, key: Tensor, value: Tensor, heads: Int, scale: Double, keyMask: Tensor?, bias: Tensor?
    ) -> [Float] {
        let batch = query.shape[0], lq = query.shape[1], width = query.shape[2], lk = key.shape[1]
        let d = width / heads
        var output = [Float](repeating: 0, count: batch * lq * width)
        for b in 0..<batch {
            for h in 0..<heads {
                for i in 0..<lq {
                    var scores = [Double](repeating: 0, count: lk)
                    for j in 0..<lk {
                        var dot = 0.0
                        for c in 0..<d {
                            dot += Double(query.scalars[(b * lq + i) * width + h * d + c])
                                * Double(key.scalars[(b * lk + j) * width + h * d + c])
                        }
                        scores[j] = dot * scale
                        if let bias {
                            let batchOffset = bias.rank == 4 ? b * heads * lq * lk : 0
                            scores[j] += Double(bias.scalars[batchOffset + (h * lq + i) * lk + j])
                        }
                        if let keyMask, keyMask.scalars[b * lk + j] == 0 { scores[j] = -.infinity }
                    }
                    let maximum = scores.max()!
                    if maximum == -.infinity { continue }  // fully masked: zeros by definition
                    let weights = scores.map { Foundation.exp($0 - maximum) }
                    let total = weights.reduce(0, +)
                    for c in 0..<d {
                        var sum = 0.0
                        for j in 0..<lk { sum += weights[j] * Double(value.scalars[(b * lk + j) * width + h * d + c]) }
                        output[(b * lq + i) * width + h * d + c] = Float(sum / total)
                    }
                }
            }
        }
        return output
    }

    @Test func matchesTorchWithMaskAndBias() throws {
        let file = "attention.safetensors"
        let q = try kernelsFixture(file, "q"), k = try kernelsFixture(file, "k"), v = try kernelsFixture(file, "v")
        let mask = try kernelsFixture(file, "mask"), bias = try kernelsFixture(file, "bias")
        let out = Ops.attention(query: q, key: k, value: v, heads: 3, keyMask: mask, bias: bias)
        #expect(Numerics.maxRelativeError(out, try kernelsFixture(file, "out")) <= 1e-5)
        let plain = Ops.attention(query: q, key: k, value: v, heads: 3, scale: 0.3)
        #expect(Numerics.maxRelativeError(plain, try kernelsFixture(file, "out_plain_scale_0_3")) <= 1e-5)
    }

    @Test func matchesNaiveAcrossTilesWithBatchBias() {
        // Lq and Lk cross several tiles and are not multiples of the tile sizes.
        let batch = 2, heads = 2, headDim = 16, lq = 261, lk = 517
        let q = testTensor([batch, lq, heads * headDim], seed: 31, scale: 2)
        let k = testTensor([batch, lk, heads * headDim], seed: 32, scale: 2)
        let v = testTensor([batch, lk, heads * headDim], seed: 33)
        let bias = testTensor([batch, heads, lq, lk], seed: 34)
        var mask = Tensor(repeating: 1, shape: [batch, lk])
        for j in stride(from: 0, to: lk, by: 5) { mask.scalars[j] = 0 }
        for j in 300..<lk { mask.scalars[lk + j] = 0 }  // batch 1: the last key tiles are fully masked
        let out = Ops.attention(query: q, key: k, value: v, heads: heads, keyMask: mask, bias: bias)
        let expected = naiveAttention(
            query: q, key: k, value: v, heads: heads, scale: 1 / Double(headDim).squareRoot(), keyMask: mask, bias: bias)
        #expect(Numerics.maxRelativeError(out.scalars, expected) <= 1e-5)
    }

    @Test func sharedBiasAndNoMask() {
        let q = testTensor([1, 130, 24], seed: 41), k = testTensor([1, 257, 24], seed: 42)
        let v = testTensor([1, 257, 24], seed: 43), bias = testTensor([3, 130, 257], seed: 44, scale: 3)
        let out = Ops.attention(query: q, key: k, value: v, heads: 3, scale: 0.5, bias: bias)
        let expected = naiveAttention(query: q, key: k, value: v, heads: 3, scale: 0.5, keyMask: nil, bias: bias)
        #expect(Numerics.maxRelativeError(out.scalars, expected) <= 1e-5)
    }

    @Test func fullyMaskedRowsGiveZerosNotNaN() {
        let q = testTensor([2, 3, 8], seed: 51), k = testTensor([2, 300, 8], seed: 52), v = testTensor([2, 300, 8], seed: 53)
        var mask = Tensor(repeating: 1, shape: [2, 300])
        for j in 0..<300 { mask.scalars[j] = 0 }
        let out = Ops.attention(query: q, key: k, value: v, heads: 2, keyMask: mask)
        #expect(out.scalars[0..<24].allSatisfy { $0 == 0 })
        #expect(out.scalars.allSatisfy { !$0.isNaN })
        #expect(out.scalars[24...].contains { $0 != 0 })
    }

    @Test func bitIdenticalForOneAndTwoThreads() {
        let previous = Compute.threadCount
        defer { Compute.setThreadCount(previous) }
        let q = testTensor([2, 300, 64], seed: 61), k = testTensor([2, 333, 64], seed: 62)
        let v = testTensor([2, 333, 64], seed: 63), bias = testTensor([4, 300, 333], seed: 64)
        Compute.setThreadCount(1)
        let single = Ops.attention(query: q, key: k, value: v, heads: 4, bias: bias)
        Compute.setThreadCount(2)
        let double = Ops.attention(query: q, key: k, value: v, heads: 4, bias: bias)
        #expect(single == double)
    }
}
