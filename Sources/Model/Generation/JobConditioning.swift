// From a job's media to what the denoising loop needs: the known video on the output timeline, its VAE latents at
// the pinned positions, the SDEdit start, and the input frames passed through to the output file.

/// What an image- or video-prompted job starts from, derived deterministically from the spec and its media.
public struct PreparedConditioning: Sendable {
    /// The pinned latent frames, or nil when nothing is pinned.
    public let conditioning: LatentConditioning?
    /// The latent the run starts from: the job's noise, or for an edit the input's latent noised to the start level.
    public let initialLatents: Tensor
    /// The scheduler step the run starts at (0, or later for an edit).
    public let beginIndex: Int
    /// Output frame -> the input's own pixels, written instead of the decoded frame.
    public let passthrough: [Int: RGBFrame]
}

/// Builds the conditioning of a job (image and video prompting; see docs/TASKS.md).
public enum JobConditioning {
    /// The known frame of every output frame (nil where nothing is known), with each placement's media loaded by
    /// `load` (called once per distinct source) and fitted to the job's size with the job's `fit`.
    public static func knownFrames(
        spec: VideoJobSpec, load: (String) throws -> [RGBFrame]
    ) throws -> [RGBFrame?] {
        var known = [RGBFrame?](repeating: nil, count: spec.frames)
        var loaded: [String: [RGBFrame]] = [:]
        for (index, placement) in (spec.media ?? []).enumerated() {
            let frames: [RGBFrame]
            if let cached = loaded[placement.source] {
                frames = cached
            } else {
                frames = try MediaLoader.fitted(
                    try load(placement.source), width: spec.width, height: spec.height, fit: spec.fit,
                    option: "media[\(index)] \(placement.source)")
                loaded[placement.source] = frames
            }
            guard placement.sourceFrame + placement.frameCount <= frames.count else {
                throw JobSpecError(
                    field: "media[\(index)]",
                    message: "uses frames \(placement.sourceFrame)..<\(placement.sourceFrame + placement.frameCount) of \(placement.source), which has \(frames.count)")
            }
            for offset in 0..<placement.frameCount {
                known[placement.outputFrame + offset] = frames[placement.sourceFrame + offset]
            }
        }
        return known
    }

    /// The first `count` output frames as a VAE input [1, 3, count, H, W] in [-1, 1]; unknown frames take the
    /// nearest known frame (the earlier one on a tie).
    public static func videoTensor(_ known: [RGBFrame?], count: Int, width: Int, height: Int) throws -> Tensor {
        let knownIndices = known.indices.filter { known[$0] != nil }
        guard !knownIndices.isEmpty else { throw JobSpecError(field: "media", message: "holds no frame") }
        let plane = width * height
        return Tensor(shape: [1, 3, count, height, width]) { out in
            for frame in 0..<count {
                let source = known[frame] ?? known[knownIndices.min { abs($0 - frame) < abs($1 - frame) }!]!
                source.pixels.withUnsafeBufferPointer { pixels in
                    for channel in 0..<3 {
                        let base = (channel * count + frame) * plane
                        for index in 0..<plane { out[base + index] = Float(pixels[index * 3 + channel]) / 255 * 2 - 1 }
                    }
                }
            }
        }
    }

    /// Everything the loop and the sink need for `spec`: known latents of the pinned frames (VAE-encoded from the
    /// known video over the frames they depend on), the SDEdit start, the pass-through frames. `noise` is the
    /// job's initial noise [1, C, T, h, w].
    public static func prepare(
        spec: VideoJobSpec, vae: any VideoAutoencoder, noise: Tensor, scheduler: any DiffusionScheduler,
        load: (String) throws -> [RGBFrame]
    ) throws -> PreparedConditioning {
        guard !(spec.media ?? []).isEmpty else {
            return PreparedConditioning(conditioning: nil, initialLatents: noise, beginIndex: 0, passthrough: [:])
        }
        let known = try knownFrames(spec: spec, load: load)
        let pins = (spec.pins ?? []).sorted { $0.latentFrame < $1.latentFrame }
        var latents: Tensor?
        if spec.timeline == .looping {
            // A loop has no start: the whole clip is encoded as a circle (`WanVAE.encodeLooping`).
            if spec.editStrength != nil || !pins.isEmpty {
                let video = try videoTensor(known, count: spec.frames, width: spec.width, height: spec.height)
                latents = try vae.encodeLatents(video, timeline: .looping)
            }
        } else {
            // Latent frames needed: through the last pinned one (the causal encoder needs nothing after it), or all.
            let latentCount = spec.editStrength != nil ? spec.latentFrames : (pins.last.map { $0.latentFrame + 1 } ?? 0)
            if latentCount > 0 {
                let frames = spec.pixelSpan(ofLatentFrame: latentCount - 1).upperBound
                let video = try videoTensor(known, count: frames, width: spec.width, height: spec.height)
                latents = try vae.encodeLatents(video, timeline: .ordinary)
            }
        }
        var conditioning: LatentConditioning?
        if let latents, !pins.isEmpty {
            let positions = pins.map(\.latentFrame)
            conditioning = try LatentConditioning(
                positions: positions, strengths: pins.map { Float($0.strength) },
                known: DenoisingLoop.gatherFrames(latents, frames: positions),
                noise: DenoisingLoop.gatherFrames(noise, frames: positions))
        }
        var initial = noise
        var begin = 0
        if let strength = spec.editStrength, let latents {
            begin = try scheduler.beginIndex(strength: strength)
            // At index 0 the level is pure noise: start from the noise itself, exactly as text-to-video does.
            if begin > 0 { initial = try scheduler.noised(latents, noise: noise, stepIndex: begin) }
        }
        var passthrough: [Int: RGBFrame] = [:]
        if spec.passesMediaThrough {
            for (frame, pixels) in known.enumerated() { if let pixels { passthrough[frame] = pixels } }
        }
        return PreparedConditioning(
            conditioning: conditioning, initialLatents: initial, beginIndex: begin, passthrough: passthrough)
    }
}

/// Writes the input's own pixels instead of the decoded frames where the job passes media through.
public final class PassthroughVideoSink: VideoSink {
    private let inner: VideoSink
    private let frames: [Int: RGBFrame]
    private var next = 0

    /// Wraps `inner`, replacing output frame `i` by `frames[i]` where present.
    public init(_ inner: VideoSink, frames: [Int: RGBFrame]) {
        self.inner = inner
        self.frames = frames
    }

    public func consume(_ chunk: Tensor) throws {
        let (count, height, width) = (chunk.shape[2], chunk.shape[3], chunk.shape[4])
        defer { next += count }
        if let file = inner as? FrameFileVideoSink {
            // Frame files take the input's frames themselves (with any Y'CbCr samples they were read from).
            var frames = DecodedVideo.frames(of: chunk)
            for local in frames.indices {
                guard let frame = self.frames[next + local] else { continue }
                guard frame.width == width, frame.height == height else {
                    throw MediaError("pass-through frame \(next + local) is \(frame.width)x\(frame.height), the video \(width)x\(height)")
                }
                frames[local] = frame
            }
            try file.write(frames: frames)
            return
        }
        let plane = height * width
        var chunk = chunk
        for local in 0..<count {
            guard let frame = frames[next + local] else { continue }
            guard frame.width == width, frame.height == height else {
                throw MediaError("pass-through frame \(next + local) is \(frame.width)x\(frame.height), the video \(width)x\(height)")
            }
            chunk.withUnsafeMutableBufferPointer { out in
                for channel in 0..<3 {
                    let base = (channel * count + local) * plane
                    for index in 0..<plane { out[base + index] = Self.signedUnit(frame.pixels[index * 3 + channel]) }
                }
            }
        }
        try inner.consume(chunk)
    }

    public func finish(latents: Tensor) throws {
        try inner.finish(latents: latents)
    }

    /// The [-1, 1] value that the output conversion (`x / 2 + 0.5`, times 255, rounded) turns back into `byte`.
    public static func signedUnit(_ byte: UInt8) -> Float {
        Float(byte) / 255 * 2 - 1
    }
}
