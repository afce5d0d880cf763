// The seam between the generation algorithm and a family's video VAE (diffusers AutoencoderKLWan encode / decode):
// encoding known media for conditioning, streaming the final latent's decode into a sink, and its memory figures.

/// A causal video VAE as generation uses it, in the transformer's (normalised) latent space.
public protocol VideoAutoencoder: Sendable {
    /// The normalised latent of `video` [1, 3, F, H, W] in [-1, 1] on `timeline` (a loop is encoded as a circle):
    /// the known content of an image- or video-prompted job.
    func encodeLatents(_ video: Tensor, timeline: ClipTimeline) throws -> Tensor
    /// Decodes a clip's final normalised latent into `sink` chunk by chunk on its timeline, then finishes the sink;
    /// `progress(framesDone, frames)` follows each chunk.
    func decodeClip(
        _ latents: Tensor, timeline: ClipTimeline, into sink: VideoSink, progress: (Int, Int) -> Void) throws
    /// Predicted peak working bytes of decoding a `width` x `height` clip of `frames` frames.
    func decodingBytes(width: Int, height: Int, frames: Int) -> Int
    /// Predicted peak working bytes of encoding `width` x `height` media.
    func encodingBytes(width: Int, height: Int) -> Int
}

extension WanVAE: VideoAutoencoder {
    /// `encode` (or `encodeLooping` for a loop), then `normalizeLatents`.
    public func encodeLatents(_ video: Tensor, timeline: ClipTimeline) throws -> Tensor {
        switch timeline {
        case .ordinary: return try config.normalizeLatents(try encode(video))
        case .looping: return try config.normalizeLatents(try encodeLooping(video))
        }
    }

    /// One chunk at full resolution: `4 bytes x channels x k` per output pixel, with k = 16 for a single frame and
    /// 52 for a chunk of four (calibrated on the demo VAE: 713 and 2,197 bytes per pixel measured, 768 and 2,496
    /// predicted).
    public func decodingBytes(width: Int, height: Int, frames: Int) -> Int {
        4 * config.decoderDim * (config.dimMult.first ?? 1) * (frames == 1 ? 16 : 52) * width * height
    }

    /// The encoder's full-resolution level in chunks of four frames.
    public func encodingBytes(width: Int, height: Int) -> Int {
        4 * config.baseDim * (config.dimMult.first ?? 1) * 52 * width * height
    }
}
