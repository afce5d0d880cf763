// Periodic (looping) encoding and decoding with the causal Wan VAE: a clip whose end flows into its start.

/// How a clip's frames sit on its latent timeline.
///
/// An ordinary clip starts somewhere: latent frame 0 is the causal VAE's image latent of video frame 0 alone, and
/// every later latent frame stands for four frames (`1 + 4(F - 1)` video frames in all). A looping clip has no
/// first frame: all of its `F` latent frames stand for four frames each (`4F` video frames), and the frame after
/// the last is frame 0 again.
public enum ClipTimeline: Sendable, Equatable {
    /// A clip with a start: `1 + 4(F - 1)` frames.
    case ordinary
    /// A clip that wraps around: `4F` frames.
    case looping

    /// Video frames of a clip of `latentFrames` latent frames.
    public func videoFrames(latentFrames: Int) -> Int {
        switch self {
        case .ordinary: return latentFrames <= 0 ? 0 : 1 + (latentFrames - 1) * 4
        case .looping: return 4 * latentFrames
        }
    }

    /// Latent frames of a clip of `videoFrames` frames (which must have this timeline's form).
    public func latentFrames(videoFrames: Int) -> Int {
        switch self {
        case .ordinary: return videoFrames <= 0 ? 0 : (videoFrames - 1) / 4 + 1
        case .looping: return videoFrames / 4
        }
    }

    /// The video frames latent frame `latent` stands for.
    public func videoSpan(ofLatentFrame latent: Int) -> Range<Int> {
        switch self {
        case .ordinary: return latent == 0 ? 0..<1 : (4 * latent - 3)..<(4 * latent + 1)
        case .looping: return (4 * latent)..<(4 * latent + 4)
        }
    }
}

extension WanVAE {
    /// Latent frames run through the VAE before a looping clip's first one, taken cyclically from its end.
    ///
    /// The causal encoder and decoder carry state from frame to frame (two frames per causal convolution, through
    /// some thirty of them), so a chunk's output depends on what came before it, fading with distance. Feeding the
    /// clip's own end first puts the VAE in the state it will be in when the clip wraps, so that the frames on
    /// both sides of the seam are made the same way as any other neighbouring frames. With the demo model the seam
    /// difference stops changing after about 12 latent frames of warm-up (docs/TASKS.md); 16 leaves a margin.
    public static let loopWarmUpLatentFrames = 16

    /// Encodes a looping clip: video [1, 3, 4N, H, W] in [-1, 1] -> raw latent mean [1, z, N, H/8, W/8], where latent
    /// frame j stands for video frames 4j..<4j+4.
    ///
    /// The encoder first sees `1 + 4 * warmUp` frames taken cyclically from the clip's end; the latents of that
    /// warm-up are dropped.
    public func encodeLooping(_ video: Tensor, warmUp: Int = WanVAE.loopWarmUpLatentFrames) throws -> Tensor {
        let shape = video.shape
        guard shape.count == 5, shape[0] == 1, shape[2] >= 4, shape[2] % 4 == 0, warmUp >= 0 else {
            throw WanVAEError.badInput(
                name: "sample", shape: shape, reason: "a looping clip is [1, 3, 4N, H, W] with N >= 1")
        }
        try checkLoopingTimeline()
        let frames = shape[2]
        let lead = 1 + 4 * warmUp
        let order = (0..<(lead + frames)).map { ((($0 - lead) % frames) + frames) % frames }
        let latents = try encode(DenoisingLoop.gatherFrames(video, frames: order))
        return Ops.slice(latents, axis: 2, range: (1 + warmUp)..<(1 + warmUp + frames / 4))
    }

    /// Decodes a looping clip's raw latent [1, z, N, h, w] into 4N video frames, handing `onChunk` four frames per
    /// latent frame, [1, 3, 4, H, W] in [-1, 1], in order.
    ///
    /// The decoder first runs over `warmUp` latent frames taken cyclically from the clip's end, and their frames
    /// are dropped; so the last frame of the output leads into its first as any frame leads into the next.
    public func decodeLooping(
        _ latents: Tensor, warmUp: Int = WanVAE.loopWarmUpLatentFrames, onChunk: (Tensor) throws -> Void
    ) throws {
        let shape = try checkLatents(latents)
        guard shape.batch == 1, warmUp >= 0 else {
            throw WanVAEError.badInput(name: "latents", shape: latents.shape, reason: "a looping clip is one clip (batch 1)")
        }
        try checkLoopingTimeline()
        let count = shape.frames
        var stream = makeDecodingStream()
        // The stream's first latent frame decodes to a single frame; a warm-up of at least one absorbs it.
        let lead = max(1, warmUp)
        for step in 0..<lead {
            let frame = (((step - lead) % count) + count) % count
            _ = try stream.decode(Ops.slice(latents, axis: 2, range: frame..<(frame + 1)))
        }
        for frame in 0..<count {
            try onChunk(try stream.decode(Ops.slice(latents, axis: 2, range: frame..<(frame + 1))))
        }
    }

    /// `ClipTimeline` counts four frames per latent frame, as every Wan2.1 VAE has.
    private func checkLoopingTimeline() throws(WanVAEError) {
        guard config.temporalCompression == 4 else {
            throw .unsupportedConfig(
                field: "temperal_downsample", value: "\(config.temperalDownsample)",
                reason: "looping clips are implemented for 4x temporal compression, this VAE has \(config.temporalCompression)x")
        }
    }

    /// Decodes a clip's raw latent on its timeline, chunk by chunk (see `decode(_:onChunk:)`, `decodeLooping`).
    public func decode(_ latents: Tensor, timeline: ClipTimeline, onChunk: (Tensor) throws -> Void) throws {
        switch timeline {
        case .ordinary: try decode(latents, onChunk: onChunk)
        case .looping: try decodeLooping(latents, onChunk: onChunk)
        }
    }
}

extension WanVAE {
    /// Decodes a clip's final latent, in the transformer's (normalised) latent space, into `sink` on its timeline;
    /// `progress(framesDone, frames)` follows each chunk. What `generate` and a cluster's coordinator both run.
    public func decodeClip(
        _ latents: Tensor, timeline: ClipTimeline, into sink: VideoSink, progress: (Int, Int) -> Void = { _, _ in }
    ) throws {
        let raw = try config.denormalizeLatents(latents)
        let frames = timeline.videoFrames(latentFrames: latents.shape[2])
        var done = 0
        progress(0, frames)
        try decode(raw, timeline: timeline) { chunk in
            try sink.consume(chunk)
            done += chunk.shape[2]
            progress(done, frames)
        }
        try sink.finish(latents: latents)
    }
}
