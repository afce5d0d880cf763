// The image and video prompting tasks (animate, extend, connect, edit) as placements of input frames on the
// output timeline and pinned latent frames: how each task fills a job's conditioning fields.

/// One prompting task with the frame counts of its media.
public enum MediaTask: Sendable, Equatable {
    /// Animate an image: it becomes frame 0, pinned.
    case animate(image: String)
    /// Continue a video of `frames` frames by `addedFrames` frames; the video stays at the start.
    case extendForward(video: String, frames: Int, addedFrames: Int)
    /// Lead into a video of `frames` frames with `addedFrames` new frames; the video stays at the end.
    case extendBackward(video: String, frames: Int, addedFrames: Int)
    /// A transition of `frames` frames from the last frame of `first` to the first four frames of `second`.
    case connect(first: String, firstFrames: Int, second: String, secondFrames: Int, frames: Int)
    /// Regenerate a video of `frames` frames from its latent noised to `strength` (SDEdit).
    case edit(video: String, frames: Int, strength: Double)

    /// Sets `spec`'s frame count, media placements, pins and edit strength for this task. `frames` of `spec` is
    /// used only by `animate`; the others derive the length from their media. Set `spec.looping` first: a loop's
    /// frame count is a multiple of 4 and its latent frames all stand for four frames (`ClipTimeline`).
    public func configure(_ spec: inout VideoJobSpec) throws(JobSpecError) {
        func fail(_ field: String, _ message: String) -> JobSpecError { JobSpecError(field: field, message: message) }
        func fullyInside(_ range: Range<Int>, of spec: VideoJobSpec) -> [LatentPin] {
            (0..<spec.latentFrames).filter {
                let span = spec.pixelSpan(ofLatentFrame: $0)
                return span.lowerBound >= range.lowerBound && span.upperBound <= range.upperBound
            }.map { LatentPin(latentFrame: $0) }
        }
        let limit = VideoJobSpec.Limits.maxFrames
        switch self {
        case .animate(let image):
            spec.media = [MediaPlacement(source: image, sourceFrame: 0, frameCount: 1, outputFrame: 0)]
            spec.pins = [LatentPin(latentFrame: 0)]
        case .extendForward(let video, let frames, let added), .extendBackward(let video, let frames, let added):
            guard frames >= 1, added >= 1, frames + added <= limit else {
                throw fail("frames", "extending \(frames) frames by \(added) is outside 1...\(limit) frames")
            }
            let total = spec.validFrameCount(atLeast: frames + added)
            guard total <= limit else {
                throw fail("frames", "the extended video would have \(total) frames, above \(limit)")
            }
            spec.frames = total
            let forward: Bool
            if case .extendForward = self { forward = true } else { forward = false }
            let start = forward ? 0 : total - frames
            spec.media = [MediaPlacement(source: video, sourceFrame: 0, frameCount: frames, outputFrame: start)]
            spec.pins = fullyInside(start..<(start + frames), of: spec)
            guard !(spec.pins ?? []).isEmpty else {
                throw fail("media", "the video's \(frames) frames cover no whole latent frame at output frames \(start)..<\(start + frames); give a longer video")
            }
        case .connect(let first, let firstFrames, let second, let secondFrames, let frames):
            guard firstFrames >= 1, secondFrames >= 1 else {
                throw fail("media", "connecting needs frames in both videos, got \(firstFrames) and \(secondFrames)")
            }
            let total = spec.validFrameCount(atLeast: frames)
            let least = spec.validFrameCount(atLeast: 6)
            guard total >= least, total <= limit else {
                throw fail("frames", "a transition needs \(least)...\(limit) frames (the ends take 1 + 4), got \(total)")
            }
            spec.frames = total
            let head = min(4, secondFrames)
            spec.media = [
                MediaPlacement(source: first, sourceFrame: firstFrames - 1, frameCount: 1, outputFrame: 0),
                MediaPlacement(source: second, sourceFrame: 0, frameCount: head, outputFrame: total - 4),
            ]
            spec.pins = [LatentPin(latentFrame: 0), LatentPin(latentFrame: spec.latentFrames - 1)]
        case .edit(let video, let frames, let strength):
            guard frames >= 1 else { throw fail("media", "the video to edit has no frame") }
            let total = spec.looping == true ? min(limit, frames / 4 * 4) : min(limit, frames <= 1 ? 1 : (frames - 1) / 4 * 4 + 1)
            guard total >= spec.validFrameCount(atLeast: 1) else {
                throw fail("media", "a loop needs a video of at least 8 frames to edit, got \(frames)")
            }
            spec.frames = total
            spec.media = [MediaPlacement(source: video, sourceFrame: 0, frameCount: total, outputFrame: 0)]
            spec.editStrength = strength
        }
    }
}
