// Where the Wan VAE's layers get their weights: a checkpoint folder, or seeded random values for new models.

/// Hands out the VAE's parameters by checkpoint key, checking each shape.
protocol VAEParameterSource: AnyObject {
    /// The float32 values of `key`, which must have `shape`.
    func tensor(_ key: String, shape: [Int]) throws -> Tensor
}

/// Parameters from a checkpoint folder (strict: shapes checked, every key must be used, see `WeightStore`).
final class StoredVAEParameters: VAEParameterSource {
    /// The checkpoint.
    let store: WeightStore

    init(store: WeightStore) { self.store = store }

    func tensor(_ key: String, shape: [Int]) throws -> Tensor {
        try store.take(key, shape: shape).float32()
    }
}

/// Seeded random parameters, each drawn from the `KeyedRandom` stream named after its key, recorded in order.
///
/// Conv weights ~ N(0, 1/fan_in), biases ~ N(0, 0.05^2), RMS-norm gammas ~ 1 + N(0, 0.1^2): not degenerate, so a
/// random model still gives varied, mostly unclamped output.
final class RandomVAEParameters: VAEParameterSource {
    /// The seed every stream is drawn under.
    let seed: UInt64
    /// Every parameter made so far, by key.
    private(set) var made: [(name: String, tensor: Tensor)] = []

    init(seed: UInt64) { self.seed = seed }

    func tensor(_ key: String, shape: [Int]) throws -> Tensor {
        let stream = KeyedRandom.stream(named: key)
        let tensor: Tensor
        if key.hasSuffix(".gamma") {
            let noise = Tensor.randomNormal(shape: shape, seed: seed, stream: stream, standardDeviation: 0.1)
            tensor = Tensor(shape: shape, scalars: noise.scalars.map { 1 + $0 })
        } else if key.hasSuffix(".bias") {
            tensor = Tensor.randomNormal(shape: shape, seed: seed, stream: stream, standardDeviation: 0.05)
        } else {
            let fanIn = max(1, shape.dropFirst().reduce(1, *))
            tensor = Tensor.randomNormal(
                shape: shape, seed: seed, stream: stream, standardDeviation: 1 / Float(fanIn).squareRoot())
        }
        made.append((key, tensor))
        return tensor
    }
}
