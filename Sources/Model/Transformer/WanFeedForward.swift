// diffusers FeedForward(dim, inner_dim=ffn_dim, activation_fn="gelu-approximate"): linear, tanh-GELU, linear.

/// The feed-forward network of a Wan block (`ffn.net.0.proj`, tanh-GELU, `ffn.net.2`).
public struct WanFeedForward: Sendable {
    var projectIn: Linear
    var projectOut: Linear
    /// Rows processed at a time, bounding the `rows x ffn_dim` intermediate; a fixed number, so results do not
    /// depend on anything but the input.
    public static let rowsPerChunk = 2048

    /// Takes `<prefix>.net.0.proj` and `<prefix>.net.2` weights from `store`.
    public init(store: WeightStore, prefix: String, dim: Int, innerDim: Int) throws {
        projectIn = try Linear(store: store, prefix: prefix + ".net.0.proj", inFeatures: dim, outFeatures: innerDim)
        projectOut = try Linear(store: store, prefix: prefix + ".net.2", inFeatures: innerDim, outFeatures: dim)
    }

    /// Applies the network to `x` `[..., dim]`, in chunks of `rowsPerChunk` rows.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let dim = projectIn.inFeatures
        let rows = x.count / dim
        if rows <= WanFeedForward.rowsPerChunk { return run(x) }
        var output = [Float]()
        output.reserveCapacity(x.count)
        let flat = x.reshaped([rows, dim])
        var start = 0
        while start < rows {
            let end = min(rows, start + WanFeedForward.rowsPerChunk)
            let chunk = OpProfile.measure("ffn chunk copies") { Ops.slice(flat, axis: 0, range: start..<end) }
            let result = run(chunk)
            OpProfile.measure("ffn chunk copies") { output.append(contentsOf: result.scalars) }
            start = end
        }
        return Tensor(shape: x.shape, scalars: output)
    }

    /// up projection, tanh-GELU, down projection on one chunk of rows.
    private func run(_ x: Tensor) -> Tensor {
        let hidden = OpProfile.measure("ffn up projection") { projectIn(x) }
        let activated = OpProfile.measure("ffn geluTanh") { Ops.geluTanh(hidden) }
        return OpProfile.measure("ffn down projection") { projectOut(activated) }
    }
}
