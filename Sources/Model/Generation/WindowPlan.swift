// Temporal windows over the latent timeline and the fixed weights that blend their outputs.

/// One temporal window: the latent frames a transformer pass sees, in order.
public struct TemporalWindow: Sendable, Hashable, Codable {
    /// The window's position in the plan (0-based); its stable identity within a job.
    public let index: Int
    /// The global latent frame indices the window covers, in the order the transformer sees them.
    /// Consecutive, except in a looping plan where the last window wraps around to frame 0.
    public let frames: [Int]
    /// The blend weight of each of `frames`, already normalised: for every latent frame, the weights of the
    /// windows that cover it sum to one.
    public let weights: [Float]
}

/// Errors in window settings.
public struct WindowPlanError: Error, CustomStringConvertible, Sendable {
    /// What was wrong, with the values seen.
    public let description: String
}

/// How a long latent timeline is cut into overlapping windows, each denoised as if it were a short clip.
///
/// Windows have `windowFrames` latent frames and overlap their neighbours by at least `overlap` frames; they
/// are spread evenly so that the last one ends at the last frame. Inside an overlap, the weight of the
/// window that ends ramps down linearly while the weight of the window that starts ramps up, so the blended
/// output fades from one window to the next instead of jumping. A timeline that fits in one window is one
/// window of weight 1: exactly the single-clip computation.
///
/// With `looping`, the timeline is a circle: windows are spread over it evenly and the last one wraps onto
/// the first frames, so the clip's end flows into its start.
public struct WindowPlan: Sendable, Hashable, Codable {
    /// Latent frames in the whole clip.
    public let latentFrames: Int
    /// Latent frames per window.
    public let windowFrames: Int
    /// The least overlap between neighbouring windows, in latent frames.
    public let overlap: Int
    /// Whether the timeline wraps around.
    public let looping: Bool
    /// The windows, in order.
    public let windows: [TemporalWindow]

    /// Plans windows for a clip of `latentFrames` latent frames.
    public init(latentFrames: Int, windowFrames: Int, overlap: Int, looping: Bool = false) throws(WindowPlanError) {
        guard latentFrames >= 1 else {
            throw WindowPlanError(description: "a clip needs at least one latent frame, got \(latentFrames)")
        }
        guard windowFrames >= 1 else {
            throw WindowPlanError(description: "window_frames must be at least 1, got \(windowFrames)")
        }
        guard overlap >= 0, overlap < windowFrames else {
            throw WindowPlanError(
                description: "window_overlap must be in 0..<window_frames (\(windowFrames)), got \(overlap)")
        }
        if looping && latentFrames < 2 {
            throw WindowPlanError(description: "a looping clip needs at least 2 latent frames, got \(latentFrames)")
        }
        self.latentFrames = latentFrames
        self.windowFrames = windowFrames
        self.overlap = overlap
        self.looping = looping

        let starts: [Int]
        let span = min(windowFrames, latentFrames)
        if looping {
            // Spread n windows evenly around the circle so that consecutive starts are at most W - overlap apart.
            let stride = windowFrames - overlap
            let count = latentFrames <= windowFrames - overlap ? 1 : (latentFrames + stride - 1) / stride
            starts = (0..<count).map { $0 * latentFrames / count }
        } else if latentFrames <= windowFrames {
            starts = [0]
        } else {
            let stride = windowFrames - overlap
            let count = (latentFrames - overlap + stride - 1) / stride
            let travel = latentFrames - windowFrames
            starts = (0..<count).map { count == 1 ? 0 : ($0 * travel + (count - 1) / 2) / (count - 1) }
        }
        let frameLists: [[Int]] = starts.map { start in
            (0..<span).map { looping ? (start + $0) % latentFrames : start + $0 }
        }
        if looping && starts.count == 1 {
            // One window covers the circle; it sees the frames in order and needs no blending.
            windows = [TemporalWindow(index: 0, frames: Array(0..<latentFrames), weights: [Float](repeating: 1, count: latentFrames))]
            return
        }
        windows = WindowPlan.blendWeights(frameLists: frameLists, latentFrames: latentFrames, looping: looping)
    }

    /// Linear ramps over each window's overlaps with its neighbours, normalised per latent frame.
    private static func blendWeights(frameLists: [[Int]], latentFrames: Int, looping: Bool) -> [TemporalWindow] {
        let count = frameLists.count
        var raw: [[Double]] = []
        for (index, frames) in frameLists.enumerated() {
            let hasPrevious = looping || index > 0
            let hasNext = looping || index < count - 1
            let previous = hasPrevious ? Set(frameLists[(index + count - 1) % count]) : []
            let next = hasNext ? Set(frameLists[(index + 1) % count]) : []
            // Overlap lengths at the window's start and end (counted along the window's own order).
            let leading = count == 1 ? 0 : frames.prefix { previous.contains($0) }.count
            let trailing = count == 1 ? 0 : frames.reversed().prefix { next.contains($0) }.count
            raw.append(
                frames.indices.map { position in
                    let up = leading == 0 ? 1 : min(1, Double(position + 1) / Double(leading + 1))
                    let down = trailing == 0 ? 1 : min(1, Double(frames.count - position) / Double(trailing + 1))
                    return up * down
                })
        }
        var totals = [Double](repeating: 0, count: latentFrames)
        for (frames, weights) in zip(frameLists, raw) {
            for (frame, weight) in zip(frames, weights) { totals[frame] += weight }
        }
        return frameLists.enumerated().map { index, frames in
            TemporalWindow(
                index: index, frames: frames,
                weights: zip(frames, raw[index]).map { frame, weight in Float(weight / totals[frame]) })
        }
    }

    /// How many windows cover each latent frame.
    public var coverage: [Int] {
        var counts = [Int](repeating: 0, count: latentFrames)
        for window in windows {
            for frame in window.frames { counts[frame] += 1 }
        }
        return counts
    }
}
