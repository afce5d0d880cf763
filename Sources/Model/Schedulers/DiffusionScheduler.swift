// The common face of the diffusers schedulers the generation loop drives (diffusers SchedulerMixin, flow matching).

/// Which scheduler algorithm; the raw value is the command-line spelling (`--scheduler unipc|euler`).
public enum SchedulerKind: String, Codable, Sendable, CaseIterable {
    /// diffusers `UniPCMultistepScheduler` with flow sigmas (the Wan default).
    case unipc
    /// diffusers `FlowMatchEulerDiscreteScheduler`.
    case euler

    /// Parses a command-line name, throwing an error that names the value when it is unknown.
    public init(name: String) throws {
        guard let kind = SchedulerKind(rawValue: name) else { throw SchedulerError.unknownSchedulerName(name) }
        self = kind
    }

    /// The diffusers class name written as `_class_name` in scheduler_config.json.
    public var className: String {
        switch self {
        case .unipc: return "UniPCMultistepScheduler"
        case .euler: return "FlowMatchEulerDiscreteScheduler"
        }
    }
}

/// A scheduler whose timestep table is set for a fixed number of inference steps, stepping a latent from noise
/// towards data. It holds no mutable state: the run's state is a `SchedulerState` value the caller keeps, saves
/// after every step and restores, so a resumed run continues bit-exactly.
///
/// The loop is:
/// ```
/// var state = try scheduler.initialState(beginIndex: 0)
/// for index in state.stepIndex..<scheduler.stepCount {
///     let output = model(sample, timestep: scheduler.timesteps[index])
///     sample = try scheduler.step(modelOutput: output, sample: sample, state: &state)
/// }
/// ```
public protocol DiffusionScheduler: Sendable {
    /// Which algorithm this is.
    var kind: SchedulerKind { get }
    /// The number of inference steps the tables were set for.
    var stepCount: Int { get }
    /// The timestep handed to the transformer at each step (`stepCount` values), as diffusers' `scheduler.timesteps`
    /// (UniPC's are whole numbers, diffusers keeps them as int64; the transformer embeds them as floats).
    var timesteps: [Float] { get }
    /// The noise level of the sample entering each step, plus the final level (`stepCount + 1` values, float32).
    var sigmas: [Float] { get }
    /// The state of a run that starts at step `beginIndex` (0 normally; later for SDEdit, see `beginIndex(strength:)`).
    func initialState(beginIndex: Int) throws -> SchedulerState
    /// One denoising step: from the sample at `sigmas[state.stepIndex]` and the model output for it, the sample at
    /// `sigmas[state.stepIndex + 1]`. Advances `state`; leaves it unchanged when it throws.
    func step(modelOutput: Tensor, sample: Tensor, state: inout SchedulerState) throws -> Tensor
}

extension DiffusionScheduler {
    /// The flow-matching forward process at a step's noise level: `sigma * noise + (1 - sigma) * clean` with
    /// `sigma = sigmas[stepIndex]` (diffusers `scale_noise` / `add_noise`). `stepIndex == stepCount` is the final
    /// level (0 for the usual schedules, giving `clean`). Use it for the SDEdit start and for pinned positions held
    /// at a known latent noised to the level of the sample entering step `stepIndex`.
    public func noised(_ clean: Tensor, noise: Tensor, stepIndex: Int) throws -> Tensor {
        guard (0...stepCount).contains(stepIndex) else {
            throw SchedulerError.stepIndexOutOfRange(index: stepIndex, stepCount: stepCount)
        }
        guard clean.shape == noise.shape else {
            throw SchedulerError.shapeMismatch(what: "noise", expected: clean.shape, seen: noise.shape)
        }
        return Tensor(
            shape: clean.shape,
            scalars: SchedulerMath.noised(clean: clean.scalars, noise: noise.scalars, sigma: sigmas[stepIndex]))
    }

    /// The first step of an SDEdit run at `strength` in [0, 1], as the diffusers Wan video-to-video pipeline picks
    /// it (`get_timesteps`): `stepCount - min(Int(stepCount * strength), stepCount)`. Strength 1 starts from pure
    /// noise (index 0); strength 0 runs no step at all (index `stepCount`, the input is returned unchanged).
    /// Start the sample at `noised(input, noise:, stepIndex:)` of this index and the state at
    /// `initialState(beginIndex:)` of it.
    public func beginIndex(strength: Double) throws -> Int {
        guard strength.isFinite, (0...1).contains(strength) else {
            throw SchedulerError.invalidValue(
                field: "strength", value: String(strength), reason: "must be between 0 and 1")
        }
        let noisedSteps = min(Int(Double(stepCount) * strength), stepCount)
        return max(stepCount - noisedSteps, 0)
    }
}
