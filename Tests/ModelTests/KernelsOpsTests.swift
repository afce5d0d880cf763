// Tests of the Ops kernels against PyTorch fixtures (scripts/fixtures/kernel_ops.py) and Double-precision formulas.
import Foundation
import Testing
@testable import Model

/// Loads one tensor of a kernels fixture file as float32.
func kernelsFixture(_ file: String, _ key: String) throws -> Tensor {
    try SafeTensorsFile(path: Fixtures.path("kernels/\(file)")).tensor(named: key).float32()
}

/// A deterministic test tensor with values of standard deviation `scale`.
func testTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    Tensor.randomNormal(shape: shape, seed: seed, stream: 7, standardDeviation: scale)
}

@Suite struct KernelsOpsTests {
    // MARK: - Against PyTorch

    @Test func activationsAndNormsMatchTorch() throws {
        let x = try kernelsFixture("ops.safetensors", "x")
        let wide = try kernelsFixture("ops.safetensors", "wide")
        let weight = try kernelsFixture("ops.safetensors", "weight")
        let bias = try kernelsFixture("ops.safetensors", "bias")
        let cases: [(String, Tensor)] = [
            ("layer_norm_affine", Ops.layerNorm(x, weight: weight, bias: bias, eps: 1e-6)),
            ("layer_norm_plain", Ops.layerNorm(x, weight: nil, bias: nil, eps: 1e-6)),
            ("rms_norm", Ops.rmsNorm(x, weight: weight, eps: 1e-6)),
            ("rms_norm_plain", Ops.rmsNorm(x, weight: nil, eps: 1e-5)),
            ("softmax", Ops.softmax(x)),
            ("softmax_wide", Ops.softmax(wide)),
            ("gelu", Ops.gelu(x)),
            ("gelu_tanh", Ops.geluTanh(x)),
            ("silu", Ops.silu(x)),
            ("gelu_tanh_wide", Ops.geluTanh(wide)),
            ("silu_wide", Ops.silu(wide)),
        ]
        for (key, actual) in cases {
            let expected = try kernelsFixture("ops.safetensors", key)
            let error = Numerics.maxRelativeError(actual, expected)
            #expect(error <= 1e-5, "\(key): relative error \(error)")
        }
    }

    // MARK: - Against Double formulas

    @Test func elementwiseMatchDoubleFormulas() {
        // Values over a wide range, including the exp clamps, zero and large magnitudes; 1,000 + a ragged tail.
        var values: [Float] = (0..<1003).map { Float($0 - 501) * 0.19 }
        values += [0, -0.0, 1e-8, -1e-8, 95, -95, 88.5, -88.5]
        let x = Tensor(shape: [values.count], scalars: values)
        let silu = Ops.silu(x).scalars
        let geluTanh = Ops.geluTanh(x).scalars
        let gelu = Ops.gelu(x).scalars
        for (index, value) in values.enumerated() {
            let v = Double(value)
            let expectedSilu = v / (1 + Foundation.exp(-v))
            let expectedTanh = 0.5 * v * (1 + Foundation.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))
            let expectedGelu = 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot()))
            #expect(abs(Double(silu[index]) - expectedSilu) <= 2e-6 * max(1, abs(expectedSilu)), "silu(\(value))")
            #expect(abs(Double(geluTanh[index]) - expectedTanh) <= 2e-6 * max(1, abs(expectedTanh)), "geluTanh(\(value))")
            #expect(abs(Double(gelu[index]) - expectedGelu) <= 2e-6 * max(1, abs(expectedGelu)), "gelu(\(value))")
        }
    }

    @Test func fastExpIsAccurate() {
        var worst = 0.0
        var value: Float = -87
        while value < 87.9 {
            let exact = Foundation.exp(Double(value))
            worst = max(worst, abs(Double(FastMath.exp(value)) - exact) / exact)
            value += 0.000_913
        }
        #expect(worst < 3e-7, "fast exp worst relative error \(worst)")
        let edges: [Float] = [-.infinity, -1000, -87.5, 0, .infinity, 89]
        #expect(edges.map(FastMath.exp) == [0, 0, 0, 1, .infinity, .infinity])
        #expect(FastMath.exp(.nan).isNaN)
    }

    @Test func softmaxAndNormsMatchDoubleFormulas() {
        let x = testTensor([5, 1537], seed: 11, scale: 4)
        let weight = testTensor([1537], seed: 12)
        let bias = testTensor([1537], seed: 13)
        let softmax = Ops.softmax(x)
        let layer = Ops.layerNorm(x, weight: weight, bias: bias, eps: 1e-6)
        let rms = Ops.rmsNorm(x, weight: weight, eps: 1e-6)
        var expectedSoftmax = [Float](), expectedLayer = [Float](), expectedRMS = [Float]()
        for row in 0..<5 {
            let values = x.scalars[(row * 1537)..<((row + 1) * 1537)].map(Double.init)
            let maximum = values.max()!
            let exps = values.map { Foundation.exp($0 - maximum) }
            let total = exps.reduce(0, +)
            expectedSoftmax += exps.map { Float($0 / total) }
            let mean = values.reduce(0, +) / 1537
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 1537
            let meanSquare = values.map { $0 * $0 }.reduce(0, +) / 1537
            for column in 0..<1537 {
                let normalised = (values[column] - mean) / (variance + 1e-6).squareRoot()
                expectedLayer.append(Float(normalised * Double(weight.scalars[column]) + Double(bias.scalars[column])))
                expectedRMS.append(Float(values[column] / (meanSquare + 1e-6).squareRoot() * Double(weight.scalars[column])))
            }
        }
        #expect(Numerics.maxRelativeError(softmax.scalars, expectedSoftmax) <= 1e-5)
        #expect(Numerics.maxRelativeError(layer.scalars, expectedLayer) <= 1e-5)
        #expect(Numerics.maxRelativeError(rms.scalars, expectedRMS) <= 1e-5)
    }

    // MARK: - Matrix products and shapes

    /// Naive Double matrix product of row-major [m, k] x [k, n].
    func naiveProduct(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
        var result = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += Double(a[i * k + p]) * Double(b[p * n + j]) }
                result[i * n + j] = Float(sum)
            }
        }
        return result
    }

    @Test func matmulWithTransposesAndBatches() {
        let a = testTensor([2, 5, 3], seed: 1)
        let b = testTensor([2, 3, 4], seed: 2)
        let product = Ops.matmul(a, b)
        #expect(product.shape == [2, 5, 4])
        for entry in 0..<2 {
            let expected = naiveProduct(
                Array(a.scalars[(entry * 15)..<(entry * 15 + 15)]), Array(b.scalars[(entry * 12)..<(entry * 12 + 12)]),
                m: 5, k: 3, n: 4)
            #expect(Numerics.maxRelativeError(Array(product.scalars[(entry * 20)..<(entry * 20 + 20)]), expected) <= 1e-6)
        }
        let a2 = Ops.slice(a, axis: 0, range: 0..<1).reshaped([5, 3])
        let b2 = Ops.slice(b, axis: 0, range: 0..<1).reshaped([3, 4])
        let plain = Ops.matmul(a2, b2).scalars
        let viaTransposes = Ops.matmul(Ops.permute(a2, [1, 0]), Ops.permute(b2, [1, 0]), transposeA: true, transposeB: true)
        #expect(viaTransposes.scalars == plain)
        let shared = Ops.matmul(a, b2)
        #expect(shared.shape == [2, 5, 4])
        #expect(Array(shared.scalars[0..<20]) == plain)
    }

    @Test func permuteConcatenateSlice() {
        let x = Tensor(shape: [2, 3, 4], scalars: (0..<24).map(Float.init))
        let permuted = Ops.permute(x, [2, 0, 1])
        #expect(permuted.shape == [4, 2, 3])
        for i in 0..<4 {
            for j in 0..<2 {
                for k in 0..<3 {
                    #expect(permuted.scalars[(i * 2 + j) * 3 + k] == x.scalars[(j * 3 + k) * 4 + i])
                }
            }
        }
        let joined = Ops.concatenate([x, Ops.scale(x, by: -1)], axis: 1)
        #expect(joined.shape == [2, 6, 4])
        #expect(Ops.slice(joined, axis: 1, range: 0..<3) == x)
        #expect(Ops.slice(joined, axis: 1, range: 3..<6) == Ops.scale(x, by: -1))
        #expect(Ops.slice(x, axis: 2, range: 1..<3).scalars == [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22])
        let row = Tensor(shape: [4], scalars: [1, 2, 3, 4])
        #expect(Ops.addRow(x, row).scalars[4..<8] == [5, 7, 9, 11])
        #expect(Ops.add(x, x) == Ops.scale(x, by: 2))
        #expect(Ops.multiply(x, x).scalars[3] == 9)
    }

    @Test func linearMatchesNaiveForEachDType() throws {
        let weight = testTensor([37, 19], seed: 3)
        let bias = testTensor([37], seed: 4)
        let x = testTensor([2, 5, 19], seed: 5)
        for dtype in DType.allCases {
            let storedWeight = StoredTensor(name: "w", tensor: weight, dtype: dtype)
            let widened = storedWeight.float32()
            let layer = Linear(weight: storedWeight, bias: StoredTensor(name: "b", tensor: bias))
            let y = layer(x)
            #expect(y.shape == [2, 5, 37])
            let transposed = Ops.permute(widened, [1, 0]).scalars
            var expected = naiveProduct(x.scalars, transposed, m: 10, k: 19, n: 37)
            for index in expected.indices { expected[index] += bias.scalars[index % 37] }
            #expect(Numerics.maxRelativeError(y.scalars, expected) <= 1e-5, "\(dtype)")
        }
        let noBias = Linear(weight: StoredTensor(name: "w", tensor: weight), bias: nil)
        #expect(noBias(x).shape == [2, 5, 37])
    }

    @Test func sixteenBitWeightsGiveTheirWidenedResultExactly() {
        let x = testTensor([1100, 40], seed: 25)
        let weight = testTensor([2100, 40], seed: 26)
        for dtype in [DType.float16, .bfloat16] {
            let stored = StoredTensor(name: "w", tensor: weight, dtype: dtype)
            let narrow = Linear(weight: stored, bias: nil)(x)
            let widened = Linear(weight: StoredTensor(name: "w", tensor: stored.float32()), bias: nil)(x)
            #expect(narrow == widened, "\(dtype)")
        }
    }

    @Test func float16WideningIsExactForEveryBitPattern() {
        for pattern in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: pattern))
            let actual = DType.float16ToFloat(pattern)
            if expected.isNaN {
                #expect(actual.isNaN && actual.sign == expected.sign, "\(pattern)")
            } else if actual.bitPattern != expected.bitPattern {
                Issue.record("float16 \(pattern): \(actual) != \(expected)")
                return
            }
        }
    }

    @Test func resultsDoNotDependOnThreadCount() {
        let previous = Compute.threadCount
        defer { Compute.setThreadCount(previous) }
        let x = testTensor([300, 129], seed: 21, scale: 3)
        let w = testTensor([131, 129], seed: 22)
        // Large enough for a 3 x 2 grid of sgemm blocks.
        let tall = testTensor([1100, 40], seed: 23)
        let wide = testTensor([2100, 40], seed: 24)
        #expect(Ops.gemmGrid(m: 1100, n: 2100, k: 40) == (rows: 3, columns: 2))
        func run() -> [Tensor] {
            let layer = Linear(weight: StoredTensor(name: "w", tensor: w), bias: nil)
            let wideLayer = Linear(weight: StoredTensor(name: "w", tensor: wide, dtype: .bfloat16), bias: nil)
            return [
                Ops.softmax(x), Ops.layerNorm(x, weight: nil, bias: nil, eps: 1e-5), Ops.geluTanh(x), Ops.silu(x),
                layer(x), Ops.matmul(x, w, transposeB: true), Ops.matmul(tall, wide, transposeB: true), wideLayer(tall),
            ]
        }
        Compute.setThreadCount(1)
        let single = run()
        Compute.setThreadCount(2)
        let double = run()
        #expect(single == double)
    }
}
