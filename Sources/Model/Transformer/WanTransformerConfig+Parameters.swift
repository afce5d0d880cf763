// The parameter list of diffusers WanTransformer3DModel (text-to-video) for a config: every key, its shape and how
// PyTorch initialises it.

/// How PyTorch initialises a parameter (used to draw seeded random models of the same scale).
public enum ParameterInitialization: Sendable, Equatable {
    /// nn.Linear / nn.Conv3d weight or bias: kaiming-uniform with a = sqrt(5), i.e. standard deviation
    /// 1 / sqrt(3 fan_in).
    case fanIn(Int)
    /// A norm's weight: ones.
    case ones
    /// A norm's bias: zeros.
    case zeros
    /// `scale_shift_table`: randn / sqrt(dim).
    case scaledNormal(dim: Int)

    /// The standard deviation of the values (0 for constants).
    public var standardDeviation: Float {
        switch self {
        case .fanIn(let fanIn): return 1 / (3 * Float(fanIn)).squareRoot()
        case .scaledNormal(let dim): return 1 / Float(dim).squareRoot()
        case .ones, .zeros: return 0
        }
    }
}

/// One parameter of the model: checkpoint key, shape, initialisation.
public struct ParameterSpec: Sendable, Equatable {
    /// The checkpoint key.
    public let name: String
    /// The tensor's shape.
    public let shape: [Int]
    /// How PyTorch initialises it.
    public let initialization: ParameterInitialization

    /// Element count.
    public var count: Int { shape.reduce(1, *) }
}

extension WanTransformerConfig {
    /// Every parameter of the entry piece (patch and condition embedding).
    public var entryParameters: [ParameterSpec] {
        let dim = innerDim
        var specs = [
            ParameterSpec(
                name: "patch_embedding.weight", shape: [dim, inChannels] + patchSize,
                initialization: .fanIn(patchInputSize)),
            ParameterSpec(name: "patch_embedding.bias", shape: [dim], initialization: .fanIn(patchInputSize)),
        ]
        specs += linearParameters("condition_embedder.time_embedder.linear_1", in: freqDim, out: dim)
        specs += linearParameters("condition_embedder.time_embedder.linear_2", in: dim, out: dim)
        specs += linearParameters("condition_embedder.time_proj", in: dim, out: 6 * dim)
        specs += linearParameters("condition_embedder.text_embedder.linear_1", in: textDim, out: dim)
        specs += linearParameters("condition_embedder.text_embedder.linear_2", in: dim, out: dim)
        return specs
    }

    /// Every parameter of block `index`.
    public func blockParameters(_ index: Int) -> [ParameterSpec] {
        let dim = innerDim
        let prefix = "blocks.\(index)."
        var specs = [
            ParameterSpec(
                name: prefix + "scale_shift_table", shape: [1, 6, dim],
                initialization: .scaledNormal(dim: dim))
        ]
        for attention in ["attn1", "attn2"] {
            for projection in ["to_q", "to_k", "to_v", "to_out.0"] {
                specs += linearParameters(prefix + attention + "." + projection, in: dim, out: dim)
            }
            specs.append(
                ParameterSpec(name: prefix + attention + ".norm_q.weight", shape: [dim], initialization: .ones))
            specs.append(
                ParameterSpec(name: prefix + attention + ".norm_k.weight", shape: [dim], initialization: .ones))
        }
        if crossAttnNorm {
            specs.append(ParameterSpec(name: prefix + "norm2.weight", shape: [dim], initialization: .ones))
            specs.append(ParameterSpec(name: prefix + "norm2.bias", shape: [dim], initialization: .zeros))
        }
        specs += linearParameters(prefix + "ffn.net.0.proj", in: dim, out: ffnDim)
        specs += linearParameters(prefix + "ffn.net.2", in: ffnDim, out: dim)
        return specs
    }

    /// Every parameter of the exit piece (output modulation and projection).
    public var exitParameters: [ParameterSpec] {
        let dim = innerDim
        return [ParameterSpec(name: "scale_shift_table", shape: [1, 2, dim], initialization: .scaledNormal(dim: dim))]
            + linearParameters("proj_out", in: dim, out: patchOutputSize)
    }

    /// Every parameter of the model, entry first, then the blocks in order, then the exit.
    public var allParameters: [ParameterSpec] {
        entryParameters + (0..<numLayers).flatMap { blockParameters($0) } + exitParameters
    }

    /// The number of parameters.
    public var parameterCount: Int { allParameters.reduce(0) { $0 + $1.count } }

    private func linearParameters(_ prefix: String, in inFeatures: Int, out outFeatures: Int) -> [ParameterSpec] {
        [
            ParameterSpec(
                name: prefix + ".weight", shape: [outFeatures, inFeatures], initialization: .fanIn(inFeatures)),
            ParameterSpec(name: prefix + ".bias", shape: [outFeatures], initialization: .fanIn(inFeatures)),
        ]
    }
}
