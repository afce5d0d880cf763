// diffusers WanRMS_norm (channel-first, no bias): F.normalize over channels * sqrt(C) * gamma, here fused with SiLU.

/// RMS normalisation over the channel axis of [C, T, H, W] features.
struct VAERMSNorm: Sendable {
    /// Per-channel scale.
    let gamma: [Float]

    /// Loads `prefix.gamma`, shaped [C, 1, 1, 1] (`images: false`, 3D features) or [C, 1, 1] (`images: true`).
    init(_ weights: VAEParameterSource, _ prefix: String, channels: Int, images: Bool) throws {
        gamma = try weights.tensor("\(prefix).gamma", shape: images ? [channels, 1, 1] : [channels, 1, 1, 1]).scalars
    }

    /// Normalises `x`; with `silu`, also applies the SiLU that follows every norm in the residual blocks.
    func callAsFunction(_ x: Tensor, silu: Bool = false) -> Tensor {
        VAEKernels.rmsNorm(x, gamma: gamma, silu: silu)
    }
}
