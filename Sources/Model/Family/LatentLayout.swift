// The latent space of a model family (diffusers AutoencoderKLWan z_dim and scale factors, WanTransformer3DModel
// patch_size): how a job's video maps to the latent the loop denoises and to the transformer's token grid.

/// How a family's VAE and transformer see a video: latent channels, spatial compression, patch size.
///
/// Time is not a per-family figure: every Wan VAE (2.1's 16-channel 4x8x8 and 2.2's 48-channel 4x16x16 alike)
/// keeps the first frame and compresses the rest 4x, which `ClipTimeline` and `VideoJobSpec.latentFrames` encode.
public struct LatentLayout: Sendable, Equatable {
    /// Channels of the latent (the VAE's `z_dim`, the transformer's `in_channels` and `out_channels`).
    public let channels: Int
    /// Pixels per latent position along height and width (8 for Wan2.1, 16 for Wan2.2 TI2V-5B).
    public let spatialCompression: Int
    /// Latent positions per token along (frames, height, width): the transformer's `patch_size`.
    public let patchSize: [Int]

    /// A layout; every figure must be positive and the patch size three numbers.
    public init(channels: Int, spatialCompression: Int, patchSize: [Int]) throws(JobSpecError) {
        guard channels > 0, spatialCompression > 0, patchSize.count == 3, patchSize.allSatisfy({ $0 > 0 }) else {
            throw JobSpecError(
                field: "latent layout",
                message: "needs positive channels, compression and a 3-number patch size, got \(channels), "
                    + "\(spatialCompression), \(patchSize)")
        }
        self.channels = channels
        self.spatialCompression = spatialCompression
        self.patchSize = patchSize
    }

    /// The multiple of pixels a width or height must be: one token's span.
    public var pixelMultiple: Int { spatialCompression * max(patchSize[1], patchSize[2]) }

    /// The latent of a job: [1, channels, latent frames, height / compression, width / compression].
    public func latentShape(for spec: VideoJobSpec) -> [Int] {
        [1, channels, spec.latentFrames, spec.height / spatialCompression, spec.width / spatialCompression]
    }

    /// Tokens of a window of `latentFrames` latent frames of `spec`'s size.
    public func tokens(latentFrames: Int, of spec: VideoJobSpec) -> Int {
        let height = spec.height / spatialCompression / patchSize[1]
        let width = spec.width / spatialCompression / patchSize[2]
        return (latentFrames / patchSize[0]) * height * width
    }

    /// Tokens of the job's largest window: what one micro-batch carries at most.
    public func largestWindowTokens(of spec: VideoJobSpec) throws -> Int {
        let plan = try spec.windowPlan()
        return tokens(latentFrames: plan.windows.map(\.frames.count).max() ?? 1, of: spec)
    }

    /// Checks `spec` (`VideoJobSpec.validate`) and that its size patches into whole tokens.
    public func check(_ spec: VideoJobSpec) throws(JobSpecError) {
        try spec.validate()
        let multiple = pixelMultiple
        guard spec.width % multiple == 0, spec.height % multiple == 0 else {
            throw JobSpecError(
                field: "width",
                message: "and height must be multiples of \(multiple) for this model, got \(spec.width)x\(spec.height)")
        }
    }
}
