// Pinned latent frames (image and video prompting): which latent positions are held at known content, how
// strongly, and the per-frame timesteps the transformer sees for them.

/// The known latents a denoising run holds at chosen latent positions.
///
/// A full pin (strength 1) holds the clean known latent at every step, and the transformer sees that frame at
/// timestep 0 (clean). A partial pin (strength s < 1) holds the known latent noised to the current level,
/// `sigma * noise + (1 - sigma) * known`, for the first `ceil(s * steps)` steps of the schedule and then lets the
/// position evolve freely; the transformer sees it at the step's own timestep.
public struct LatentConditioning: Sendable, Equatable {
    /// The pinned latent frames, ascending.
    public let positions: [Int]
    /// The strength of each position, in (0, 1].
    public let strengths: [Float]
    /// The known (normalised) latents of the positions, [1, C, positions.count, h, w].
    public let known: Tensor
    /// The noise partial pins are noised with (the job's initial noise at those positions), same shape.
    public let noise: Tensor

    /// Creates a conditioning; positions must be distinct and the tensors [1, C, positions.count, h, w].
    public init(positions: [Int], strengths: [Float], known: Tensor, noise: Tensor) throws {
        guard positions.count == strengths.count, !positions.isEmpty, Set(positions).count == positions.count else {
            throw DenoisingLoopError(description: "conditioning needs distinct positions, one strength each, got \(positions) and \(strengths)")
        }
        guard known.rank == 5, known.shape[0] == 1, known.shape[2] == positions.count, noise.shape == known.shape else {
            throw DenoisingLoopError(description: "conditioning latents \(known.shape) / noise \(noise.shape) do not hold \(positions.count) frames")
        }
        guard strengths.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
            throw DenoisingLoopError(description: "conditioning strengths must be in (0, 1], got \(strengths)")
        }
        let order = positions.indices.sorted { positions[$0] < positions[$1] }
        self.positions = order.map { positions[$0] }
        self.strengths = order.map { strengths[$0] }
        self.known = DenoisingLoop.gatherFrames(known, frames: order)
        self.noise = DenoisingLoop.gatherFrames(noise, frames: order)
    }

    /// Whether position `index` (into `positions`) is a full pin.
    public func isFull(_ index: Int) -> Bool { strengths[index] >= 1 }

    /// The number of steps from the start of the schedule during which a partial pin of `strength` is held.
    public static func heldSteps(strength: Float, stepCount: Int) -> Int {
        min(stepCount, Int((Double(strength) * Double(stepCount)).rounded(.up)))
    }

    /// The latent of position `index` entering step `stepIndex`, or nil when that position is released.
    func heldFrame(_ index: Int, stepIndex: Int, scheduler: any DiffusionScheduler) throws -> Tensor? {
        let known = DenoisingLoop.gatherFrames(self.known, frames: [index])
        if isFull(index) { return known }
        guard stepIndex < Self.heldSteps(strength: strengths[index], stepCount: scheduler.stepCount) else { return nil }
        let noise = DenoisingLoop.gatherFrames(self.noise, frames: [index])
        return try scheduler.noised(known, noise: noise, stepIndex: stepIndex)
    }

    /// Writes the held positions into `latents` [1, C, T, h, w] for the sample entering step `stepIndex`.
    func hold(_ latents: inout Tensor, stepIndex: Int, scheduler: any DiffusionScheduler) throws {
        let shape = latents.shape
        let (channels, frames, planeSize) = (shape[1], shape[2], shape[3] * shape[4])
        for (index, position) in positions.enumerated() {
            guard position < frames else {
                throw DenoisingLoopError(description: "pinned latent frame \(position) is outside the clip's \(frames) frames")
            }
            guard let frame = try heldFrame(index, stepIndex: stepIndex, scheduler: scheduler) else { continue }
            guard frame.shape == [1, channels, 1, shape[3], shape[4]] else {
                throw DenoisingLoopError(description: "known latent \(frame.shape) does not fit the clip's latent \(shape)")
            }
            latents.withUnsafeMutableBufferPointer { out in
                frame.withUnsafeBufferPointer { source in
                    for channel in 0..<channels {
                        let to = (channel * frames + position) * planeSize
                        for offset in 0..<planeSize { out[to + offset] = source[channel * planeSize + offset] }
                    }
                }
            }
        }
    }

    /// The timestep of each of `frames` at a step with timestep `timestep`: 0 for full pins, else `timestep`.
    /// Nil when no frame of the list is fully pinned (the transformer then takes one timestep, as for text-to-video).
    public func frameTimesteps(frames: [Int], timestep: Float) -> [Float]? {
        let full = Set(positions.indices.filter(isFull).map { positions[$0] })
        guard frames.contains(where: full.contains) else { return nil }
        return frames.map { full.contains($0) ? 0 : timestep }
    }
}

/// Per-token timesteps as the transformer's entry piece groups them.
public enum TokenTimesteps {
    /// The `[1, tokens]` timesteps of a window whose latent frames have `frameTimesteps`, for a patch grid of
    /// `tokenFrames x tokensPerFrame` tokens with temporal patch `temporalPatch`: a token covering several latent
    /// frames takes the largest of their timesteps (it is clean only when all of them are).
    public static func tensor(frameTimesteps: [Float], temporalPatch: Int, tokensPerFrame: Int) -> Tensor {
        let tokenFrames = frameTimesteps.count / max(temporalPatch, 1)
        var values: [Float] = []
        values.reserveCapacity(tokenFrames * tokensPerFrame)
        for frame in 0..<tokenFrames {
            let covered = frameTimesteps[(frame * temporalPatch)..<((frame + 1) * temporalPatch)]
            values += [Float](repeating: covered.max() ?? 0, count: tokensPerFrame)
        }
        return Tensor(shape: [1, values.count], scalars: values)
    }

    /// The distinct timesteps in order of first appearance and each token's row among them (-0 and +0 are one
    /// value): how `WanTransformer.entry` embeds per-token timesteps, each distinct value once.
    public static func rows(of timesteps: [Float]) -> (distinct: [Float], rows: [Int32]) {
        var rowOfValue: [UInt32: Int32] = [:]
        var distinct: [Float] = []
        var rows = [Int32](repeating: 0, count: timesteps.count)
        for (token, value) in timesteps.enumerated() {
            let key = value == 0 ? 0 : value.bitPattern
            if let row = rowOfValue[key] {
                rows[token] = row
            } else {
                let row = Int32(distinct.count)
                rowOfValue[key] = row
                distinct.append(value)
                rows[token] = row
            }
        }
        return (distinct, rows)
    }
}
