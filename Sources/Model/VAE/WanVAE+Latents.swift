// The Wan pipelines' per-channel latent normalisation with the VAE's latents_mean / latents_std.

extension WanVAEConfig {
    /// `(z - mean) * (1 / std)` per channel, as WanImageToVideoPipeline applies after encoding: a raw VAE latent
    /// [B, z, F, h, w] -> the transformer's latent space.
    public func normalizeLatents(_ latents: Tensor) throws(WanVAEError) -> Tensor {
        try applyPerChannel(latents) { value, mean, inverseStd in (value - mean) * inverseStd }
    }

    /// `latents / (1 / std) + mean` per channel, exactly as WanPipeline does before `vae.decode`: the
    /// transformer's latent [B, z, F, h, w] -> a raw VAE latent.
    public func denormalizeLatents(_ latents: Tensor) throws(WanVAEError) -> Tensor {
        try applyPerChannel(latents) { value, mean, inverseStd in value / inverseStd + mean }
    }

    /// Applies `body(value, mean[c], 1 / std[c])` (float32, as torch computes them) to every element of channel c.
    private func applyPerChannel(
        _ latents: Tensor, _ body: (Float, Float, Float) -> Float
    ) throws(WanVAEError) -> Tensor {
        guard latents.rank == 5, latents.shape[1] == zDim, latentsMean.count == zDim, latentsStd.count == zDim else {
            throw .badInput(
                name: "latents", shape: latents.shape,
                reason: "expected [B, \(zDim), F, h, w] with \(zDim) latents_mean/latents_std values")
        }
        let means = latentsMean.map { Float($0) }
        let inverseStds = latentsStd.map { 1 / Float($0) }
        let span = latents.count / max(1, latents.shape[0] * zDim)
        var result = latents
        result.withUnsafeMutableBufferPointer { buffer in
            for index in buffer.indices {
                let channel = (index / span) % zDim
                buffer[index] = body(buffer[index], means[channel], inverseStds[channel])
            }
        }
        return result
    }
}
