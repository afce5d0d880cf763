// The generation loop as a state machine (the diffusers WanPipeline denoising loop, cut into windows):
// given the latent and scheduler state, which transformer passes are needed; given their results, the next
// state. It does no model computation itself, so one process or a whole cluster can drive it.

/// Which classifier-free guidance branch a transformer pass computes.
public enum GuidanceBranch: Int, Codable, Sendable, CaseIterable {
    /// Conditioned on the prompt.
    case conditional = 0
    /// Conditioned on the negative prompt.
    case unconditional = 1
}

/// The stable identity of one transformer pass: (step, window, branch).
public struct WorkUnitID: Hashable, Codable, Sendable, CustomStringConvertible {
    /// The denoising step (0-based index into the scheduler's timesteps).
    public let step: Int
    /// The window's index in the plan.
    public let window: Int
    /// The guidance branch.
    public let branch: GuidanceBranch

    /// Creates a unit identity.
    public init(step: Int, window: Int, branch: GuidanceBranch) {
        self.step = step
        self.window = window
        self.branch = branch
    }

    /// `step 3 window 1 cond`.
    public var description: String {
        "step \(step) window \(window) \(branch == .conditional ? "cond" : "uncond")"
    }
}

/// What the transformer needs for one unit.
public struct WorkUnitInput: Sendable {
    /// The unit.
    public let id: WorkUnitID
    /// The window's latent frames, [1, channels, windowFrames, height, width].
    public let hiddenStates: Tensor
    /// The timestep of this step.
    public let timestep: Float
}

/// An error in driving the loop: a missing or misshapen result.
public struct DenoisingLoopError: Error, CustomStringConvertible, Sendable {
    /// What was wrong.
    public let description: String
}

/// The state of a text-to-video denoising run and the rules that advance it.
///
/// Each step needs one transformer pass per (window, branch). When all results of a step are in, `advance`
/// combines the branches of each window (`uncond + g * (cond - uncond)`), blends windows per latent frame with
/// the plan's fixed weights in window order (so the order in which results arrived does not matter), and takes
/// the scheduler step. With one window and its weight of 1, this is exactly the WanPipeline computation.
public struct DenoisingLoop: Sendable {
    /// The windows.
    public let plan: WindowPlan
    /// The guidance scale; at 1 or below only the conditional branch runs.
    public let guidanceScale: Float
    /// The scheduler (its tables are fixed for the run).
    public let scheduler: any DiffusionScheduler
    /// The current latent, [1, channels, latentFrames, height, width].
    public private(set) var latents: Tensor
    /// The scheduler's run state.
    public private(set) var schedulerState: SchedulerState

    /// Starts (or resumes) a run from a latent and a scheduler state.
    public init(
        plan: WindowPlan, guidanceScale: Float, scheduler: any DiffusionScheduler, latents: Tensor,
        schedulerState: SchedulerState
    ) throws {
        guard latents.rank == 5, latents.shape[0] == 1, latents.shape[2] == plan.latentFrames else {
            throw DenoisingLoopError(
                description: "latents must be [1, C, \(plan.latentFrames), h, w], got \(latents.shape)")
        }
        self.plan = plan
        self.guidanceScale = guidanceScale
        self.scheduler = scheduler
        self.latents = latents
        self.schedulerState = schedulerState
    }

    /// Whether guidance doubles the passes.
    public var usesGuidance: Bool { guidanceScale > 1 }

    /// The index of the step to run next.
    public var stepIndex: Int { schedulerState.stepIndex }

    /// Whether every step has run.
    public var isFinished: Bool { schedulerState.isFinished }

    /// The branches each window runs.
    public var branches: [GuidanceBranch] { usesGuidance ? [.conditional, .unconditional] : [.conditional] }

    /// The passes the current step needs, in a fixed order (window, then branch).
    public func pendingUnits() -> [WorkUnitID] {
        guard !isFinished else { return [] }
        return plan.windows.flatMap { window in
            branches.map { WorkUnitID(step: stepIndex, window: window.index, branch: $0) }
        }
    }

    /// The transformer input of a unit of the current step.
    public func input(for unit: WorkUnitID) throws -> WorkUnitInput {
        guard unit.step == stepIndex, plan.windows.indices.contains(unit.window) else {
            throw DenoisingLoopError(description: "unit \(unit) is not part of step \(stepIndex)")
        }
        return WorkUnitInput(
            id: unit, hiddenStates: Self.gatherFrames(latents, frames: plan.windows[unit.window].frames),
            timestep: scheduler.timesteps[stepIndex])
    }

    /// Takes the results of every pending unit of the current step and moves to the next step.
    public mutating func advance(with results: [WorkUnitID: Tensor]) throws {
        let units = pendingUnits()
        guard !units.isEmpty else { throw DenoisingLoopError(description: "the run is already finished") }
        let shape = latents.shape
        let (channels, frames, planeSize) = (shape[1], shape[2], shape[3] * shape[4])
        var blended = Tensor(zeros: shape)
        for window in plan.windows {
            let expected = [1, channels, window.frames.count, shape[3], shape[4]]
            guard let conditional = results[WorkUnitID(step: stepIndex, window: window.index, branch: .conditional)]
            else { throw DenoisingLoopError(description: "missing result for step \(stepIndex) window \(window.index) cond") }
            guard conditional.shape == expected else {
                throw DenoisingLoopError(description: "result for window \(window.index) has shape \(conditional.shape), expected \(expected)")
            }
            var combined = conditional
            if usesGuidance {
                guard let unconditional = results[WorkUnitID(step: stepIndex, window: window.index, branch: .unconditional)]
                else { throw DenoisingLoopError(description: "missing result for step \(stepIndex) window \(window.index) uncond") }
                guard unconditional.shape == expected else {
                    throw DenoisingLoopError(description: "result for window \(window.index) has shape \(unconditional.shape), expected \(expected)")
                }
                let scale = guidanceScale
                combined.withUnsafeMutableBufferPointer { out in
                    unconditional.withUnsafeBufferPointer { uncond in
                        for index in out.indices {
                            out[index] = uncond[index] + scale * (out[index] - uncond[index])
                        }
                    }
                }
            }
            let windowFrames = window.frames.count
            blended.withUnsafeMutableBufferPointer { destination in
                combined.withUnsafeBufferPointer { source in
                    for channel in 0..<channels {
                        for (local, frame) in window.frames.enumerated() {
                            let weight = window.weights[local]
                            let from = (channel * windowFrames + local) * planeSize
                            let to = (channel * frames + frame) * planeSize
                            for offset in 0..<planeSize {
                                destination[to + offset] += weight * source[from + offset]
                            }
                        }
                    }
                }
            }
        }
        latents = try scheduler.step(modelOutput: blended, sample: latents, state: &schedulerState)
    }

    /// Frames `frames` of a [1, C, T, h, w] latent, as [1, C, frames.count, h, w].
    public static func gatherFrames(_ latents: Tensor, frames: [Int]) -> Tensor {
        let shape = latents.shape
        let (channels, total, planeSize) = (shape[1], shape[2], shape[3] * shape[4])
        return Tensor(shape: [1, channels, frames.count, shape[3], shape[4]]) { out in
            latents.withUnsafeBufferPointer { source in
                for channel in 0..<channels {
                    for (local, frame) in frames.enumerated() {
                        let from = (channel * total + frame) * planeSize
                        let to = (channel * frames.count + local) * planeSize
                        for offset in 0..<planeSize { out[to + offset] = source[from + offset] }
                    }
                }
            }
        }
    }
}
