// Tests of the keyed random numbers: determinism, independence of order, and their distribution.
import Testing
@testable import Model

@Suite struct RandomTests {
    @Test func valuesDependOnlyOnTheirKey() {
        let forward = (0..<1000).map { KeyedRandom.normal(seed: 7, stream: 3, index: UInt64($0)) }
        let backward = (0..<1000).reversed().map { KeyedRandom.normal(seed: 7, stream: 3, index: UInt64($0)) }
        #expect(forward == Array(backward.reversed()))
        #expect(KeyedRandom.normal(seed: 8, stream: 3, index: 0) != forward[0])
        #expect(KeyedRandom.normal(seed: 7, stream: 4, index: 0) != forward[0])
    }

    @Test func normalValuesHaveUnitMomentsAndNoCorrelation() {
        let count = 200_000
        let values = Tensor.randomNormal(shape: [count], seed: 42, stream: 1).scalars.map(Double.init)
        let mean = values.reduce(0, +) / Double(count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(count)
        let lagCorrelation = zip(values, values.dropFirst()).map { $0 * $1 }.reduce(0, +) / Double(count - 1)
        #expect(abs(mean) < 0.01)
        #expect(abs(variance - 1) < 0.02)
        #expect(abs(lagCorrelation) < 0.01)
        #expect(values.allSatisfy { $0.isFinite })
    }
}
