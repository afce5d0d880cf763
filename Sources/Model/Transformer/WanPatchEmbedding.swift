// diffusers WanTransformer3DModel's patch embedding (Conv3d, kernel = stride = patch_size, computed as a linear
// map over flattened patches) and its unpatchify (the reshape/permute after proj_out).

/// The latent grid after patching: samples and patches along frames, height and width.
public struct WanPatchGrid: Sendable, Equatable, Codable {
    /// Samples in the batch.
    public var batch: Int
    /// Patches along time.
    public var frames: Int
    /// Patches along height.
    public var height: Int
    /// Patches along width.
    public var width: Int

    /// Creates a grid.
    public init(batch: Int, frames: Int, height: Int, width: Int) {
        self.batch = batch
        self.frames = frames
        self.height = height
        self.width = width
    }

    /// Tokens per sample: frames x height x width.
    public var tokens: Int { frames * height * width }
}

/// Turns a latent `[B, C, F, H, W]` into patch tokens `[B, N, dim]` (`patch_embedding.weight` `[dim, C, pt, ph,
/// pw]`, `patch_embedding.bias` `[dim]`).
public struct WanPatchEmbedding: Sendable {
    /// Patch extent (frames, height, width).
    public let patch: (frames: Int, height: Int, width: Int)
    /// Latent channels in.
    public let inChannels: Int
    /// The convolution kernel as a matrix `[dim, C * pt * ph * pw]`.
    let weight: Tensor
    let bias: Tensor

    /// Takes `patch_embedding.weight` and `.bias` from `store`.
    public init(store: WeightStore, config: WanTransformerConfig, prefix: String = "patch_embedding") throws {
        let p = config.patchSize
        patch = (p[0], p[1], p[2])
        inChannels = config.inChannels
        let dim = config.innerDim
        weight = try store.take(prefix + ".weight", shape: [dim, config.inChannels, p[0], p[1], p[2]]).float32()
            .reshaped([dim, config.patchInputSize])
        bias = try store.take(prefix + ".bias", shape: [dim]).float32()
    }

    /// The patch grid of a latent of shape `[B, C, F, H, W]`, or an error naming the dimension that does not fit.
    public func grid(ofLatentShape shape: [Int]) throws(TransformerError) -> WanPatchGrid {
        guard shape.count == 5 else {
            throw .invalidInput("hidden_states must be [batch, channels, frames, height, width], got shape \(shape)")
        }
        guard shape[0] > 0 else { throw .invalidInput("hidden_states batch must be at least 1, got \(shape[0])") }
        guard shape[1] == inChannels else {
            throw .invalidInput("hidden_states has \(shape[1]) channels, the model expects in_channels = \(inChannels)")
        }
        let extents = [
            ("frames", shape[2], patch.frames), ("height", shape[3], patch.height),
            ("width", shape[4], patch.width),
        ]
        for (name, extent, size) in extents where extent <= 0 || extent % size != 0 {
            throw .invalidInput(
                "hidden_states \(name) = \(extent) is not a positive multiple of the patch size \(size)")
        }
        return WanPatchGrid(
            batch: shape[0], frames: shape[2] / patch.frames, height: shape[3] / patch.height,
            width: shape[4] / patch.width)
    }

    /// Embeds `latent` `[B, C, F, H, W]` into `[B, N, dim]`, tokens in (frame, row, column) order.
    public func callAsFunction(_ latent: Tensor) throws(TransformerError) -> Tensor {
        let grid = try grid(ofLatentShape: latent.shape)
        let (pt, ph, pw) = patch
        let patchSize = inChannels * pt * ph * pw
        let (frames, height, width) = (latent.shape[2], latent.shape[3], latent.shape[4])
        let rows = grid.batch * grid.tokens
        // Gather each patch's values in the kernel's (channel, kt, kh, kw) order.
        let patches = Tensor(shape: [rows, patchSize]) { out in
            latent.withUnsafeBufferPointer { input in
                Compute.parallelFor(rows) { row in
                    let b = row / grid.tokens
                    let token = row % grid.tokens
                    let f = token / (grid.height * grid.width)
                    let h = (token / grid.width) % grid.height
                    let w = token % grid.width
                    var index = row * patchSize
                    for c in 0..<inChannels {
                        for kt in 0..<pt {
                            for kh in 0..<ph {
                                let base =
                                    (((b * inChannels + c) * frames + f * pt + kt) * height + h * ph + kh) * width
                                    + w * pw
                                for kw in 0..<pw {
                                    out[index] = input[base + kw]
                                    index += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        let embedded = Ops.addRow(Ops.matmul(patches, weight, transposeB: true), bias)
        return embedded.reshaped([grid.batch, grid.tokens, weight.shape[0]])
    }

    /// diffusers' unpatchify: `[B, N, pt * ph * pw * C]` (channels innermost) to `[B, C, F, H, W]`.
    public static func unpatchify(
        _ x: Tensor, grid: WanPatchGrid, patch: (frames: Int, height: Int, width: Int), outChannels: Int
    ) -> Tensor {
        let (pt, ph, pw) = patch
        let (frames, height, width) = (grid.frames * pt, grid.height * ph, grid.width * pw)
        precondition(x.count == grid.batch * grid.tokens * pt * ph * pw * outChannels, "unpatchify size mismatch")
        return Tensor(shape: [grid.batch, outChannels, frames, height, width]) { out in
            x.withUnsafeBufferPointer { input in
                Compute.parallelFor(grid.batch * grid.tokens) { row in
                    let b = row / grid.tokens
                    let token = row % grid.tokens
                    let f = token / (grid.height * grid.width)
                    let h = (token / grid.width) % grid.height
                    let w = token % grid.width
                    var index = row * pt * ph * pw * outChannels
                    for kt in 0..<pt {
                        for kh in 0..<ph {
                            for kw in 0..<pw {
                                for c in 0..<outChannels {
                                    let target =
                                        (((b * outChannels + c) * frames + f * pt + kt) * height + h * ph + kh)
                                        * width + w * pw + kw
                                    out[target] = input[index]
                                    index += 1
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
