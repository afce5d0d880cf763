// Progress events of a generation, for progress bars.

/// What a generation is doing, for progress bars.
public enum GenerationProgress: Sendable {
    /// Tokenizing and encoding the prompts.
    case encodingText
    /// The texts and conditioning are ready; the denoising loop starts.
    case denoising
    /// One transformer pass finished: `unitsDone` of `unitsPerStep` in step `step` of `steps`.
    case unit(step: Int, steps: Int, unitsDone: Int, unitsPerStep: Int)
    /// The scheduler took step `step` (1-based) of `steps`.
    case stepFinished(step: Int, steps: Int)
    /// `framesDone` of `frames` video frames are decoded.
    case decoding(framesDone: Int, frames: Int)
}
