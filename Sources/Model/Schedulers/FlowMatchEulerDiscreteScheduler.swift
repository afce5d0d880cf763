// diffusers FlowMatchEulerDiscreteScheduler (scheduling_flow_match_euler_discrete.py), deterministic Euler steps.
import Foundation

// MARK: - Configuration

/// The fields of a `FlowMatchEulerDiscreteScheduler` scheduler_config.json that this port honours.
///
/// Options diffusers has but we refuse (with an error naming them): `use_dynamic_shifting` (needs a
/// resolution-dependent `mu` the Wan pipelines never pass), `use_karras_sigmas`, `use_exponential_sigmas`,
/// `use_beta_sigmas`, `stochastic_sampling` (draws torch-generator noise). `base_shift`, `max_shift`,
/// `base_image_seq_len`, `max_image_seq_len` and `time_shift_type` only matter with dynamic shifting; they are
/// type-checked and kept so a written config round-trips.
public struct FlowMatchEulerDiscreteConfig: Sendable, Equatable {
    /// `num_train_timesteps`: the training schedule length (timestep = sigma * this).
    public var numTrainTimesteps: Int = 1000
    /// `shift`: the flow-matching shift `shift * s / (1 + (shift - 1) * s)` applied to every sigma.
    public var shift: Double = 1.0
    /// `invert_sigmas`: run from sigma 0 upwards (sigmas become `1 - sigma`, final level 1).
    public var invertSigmas: Bool = false
    /// `shift_terminal`: when set (non-zero), stretch the schedule so the last sigma equals it.
    public var shiftTerminal: Double? = nil
    /// `base_shift` (dynamic shifting only).
    public var baseShift: Double? = 0.5
    /// `max_shift` (dynamic shifting only).
    public var maxShift: Double? = 1.15
    /// `base_image_seq_len` (dynamic shifting only).
    public var baseImageSeqLen: Int = 256
    /// `max_image_seq_len` (dynamic shifting only).
    public var maxImageSeqLen: Int = 4096
    /// `time_shift_type` (dynamic shifting only): `exponential` or `linear`.
    public var timeShiftType: String = "exponential"

    /// The diffusers defaults with the given shift.
    public init(numTrainTimesteps: Int = 1000, shift: Double = 1.0) {
        self.numTrainTimesteps = numTrainTimesteps
        self.shift = shift
    }

    /// Reads and checks the fields of a scheduler_config.json object.
    init(reader: SchedulerConfigReader) throws {
        numTrainTimesteps = try reader.int(
            "num_train_timesteps", default: 1000, range: 1...SchedulerLimits.maxTrainTimesteps)
        shift = try reader.double("shift", default: 1.0)
        invertSigmas = try reader.bool("invert_sigmas", default: false)
        shiftTerminal = try reader.optionalDouble("shift_terminal")
        baseShift = try reader.optionalDouble("base_shift")
        maxShift = try reader.optionalDouble("max_shift")
        baseImageSeqLen = try reader.int("base_image_seq_len", default: 256, range: 0...Int(Int32.max))
        maxImageSeqLen = try reader.int("max_image_seq_len", default: 4096, range: 0...Int(Int32.max))
        timeShiftType = try reader.choice("time_shift_type", default: "exponential", allowed: ["exponential", "linear"])
        try reader.requireFalse(
            "use_dynamic_shifting", reason: "resolution-dependent shifting needs a mu the Wan pipelines never pass; "
                + "use a fixed shift")
        try reader.requireFalse("use_karras_sigmas", reason: "Karras sigmas are not implemented")
        try reader.requireFalse("use_exponential_sigmas", reason: "exponential sigmas are not implemented")
        try reader.requireFalse("use_beta_sigmas", reason: "beta sigmas are not implemented")
        try reader.requireFalse(
            "stochastic_sampling", reason: "stochastic sampling draws torch-generator noise; only the deterministic "
                + "Euler step is implemented")
        try validate()
    }

    /// Checks the values that feed the tables.
    func validate() throws {
        guard (1...SchedulerLimits.maxTrainTimesteps).contains(numTrainTimesteps) else {
            throw SchedulerError.invalidValue(
                field: "num_train_timesteps", value: String(numTrainTimesteps),
                reason: "must be between 1 and \(SchedulerLimits.maxTrainTimesteps)")
        }
        guard shift.isFinite, shift > 0 else {
            throw SchedulerError.invalidValue(field: "shift", value: String(shift), reason: "must be positive")
        }
        try validateShiftTerminal(shiftTerminal)
    }

    /// The scheduler_config.json fields diffusers writes for this config.
    var jsonFields: [String: Any] {
        [
            "_class_name": SchedulerKind.euler.className,
            "num_train_timesteps": numTrainTimesteps,
            "shift": shift,
            "use_dynamic_shifting": false,
            "base_shift": baseShift ?? NSNull(),
            "max_shift": maxShift ?? NSNull(),
            "base_image_seq_len": baseImageSeqLen,
            "max_image_seq_len": maxImageSeqLen,
            "invert_sigmas": invertSigmas,
            "shift_terminal": shiftTerminal ?? NSNull(),
            "use_karras_sigmas": false,
            "use_exponential_sigmas": false,
            "use_beta_sigmas": false,
            "time_shift_type": timeShiftType,
            "stochastic_sampling": false,
        ]
    }
}

/// Checks `shift_terminal`: absent or 0 disables it; otherwise the stretch divides by `1 - value`.
func validateShiftTerminal(_ value: Double?) throws {
    guard let value else { return }
    guard value.isFinite, value >= 0, value < 1 else {
        throw SchedulerError.invalidValue(
            field: "shift_terminal", value: String(value), reason: "must be at least 0 and less than 1")
    }
}

// MARK: - Scheduler

/// diffusers `FlowMatchEulerDiscreteScheduler` after `set_timesteps(stepCount)`: the Euler step
/// `x_next = x + (sigma_next - sigma) * v` on a flow-matching velocity `v`.
public struct FlowMatchEulerDiscreteScheduler: DiffusionScheduler {
    /// The configuration the tables were built from.
    public let config: FlowMatchEulerDiscreteConfig
    /// The number of inference steps the tables were set for.
    public let stepCount: Int
    /// The transformer's timestep at each step (diffusers `scheduler.timesteps`).
    public let timesteps: [Float]
    /// The noise level entering each step, plus the final level (diffusers `scheduler.sigmas`).
    public let sigmas: [Float]
    /// Which algorithm this is.
    public var kind: SchedulerKind { .euler }

    /// Builds the timestep and sigma tables for `stepCount` inference steps, exactly as diffusers' `__init__` and
    /// `set_timesteps` do (the ends of the shifted training table in float32, the inference table in float64 via
    /// numpy, then cast to float32).
    public init(config: FlowMatchEulerDiscreteConfig, stepCount: Int) throws {
        try config.validate()
        guard (1...SchedulerLimits.maxSteps).contains(stepCount) else {
            throw SchedulerError.invalidStepCount(stepCount)
        }
        self.config = config
        self.stepCount = stepCount

        // __init__: the training table's first and last sigma, shifted in float32 (torch).
        let trainCount = Float(config.numTrainTimesteps)
        let shift32 = Float(config.shift)
        let shiftMinusOne32 = Float(config.shift - 1)
        func trainSigma(_ timestep: Float) -> Float {
            let sigma = timestep / trainCount
            let numerator = shift32 * sigma
            let denominator = 1 + shiftMinusOne32 * sigma
            return numerator / denominator
        }
        let sigmaMax = Double(trainSigma(trainCount))
        let sigmaMin = Double(trainSigma(1))

        // set_timesteps: numpy float64.
        let trainCountDouble = Double(config.numTrainTimesteps)
        let times = SchedulerMath.linspace(sigmaMax * trainCountDouble, sigmaMin * trainCountDouble, count: stepCount)
        var sigmas64 = SchedulerMath.shifted(times.map { $0 / trainCountDouble }, shift: config.shift)
        if let terminal = config.shiftTerminal, terminal != 0 {
            sigmas64 = SchedulerMath.stretchedToTerminal(sigmas64, terminal: terminal)
        }
        var sigmas32 = sigmas64.map { Float($0) }
        if config.invertSigmas {
            sigmas32 = sigmas32.map { 1 - $0 }
            timesteps = sigmas32.map { $0 * trainCount }
            sigmas = sigmas32 + [1]
        } else {
            timesteps = sigmas32.map { $0 * trainCount }
            sigmas = sigmas32 + [0]
        }
    }

    /// The state of a run starting at step `beginIndex` (diffusers `set_begin_index`), with an empty history.
    public func initialState(beginIndex: Int) throws -> SchedulerState {
        guard (0...stepCount).contains(beginIndex) else {
            throw SchedulerError.stepIndexOutOfRange(index: beginIndex, stepCount: stepCount)
        }
        return SchedulerState(kind: .euler, stepCount: stepCount, stepIndex: beginIndex, historySlots: 0)
    }

    /// One diffusers `step(model_output, timesteps[state.stepIndex], sample)`; see `DiffusionScheduler.step`.
    public func step(modelOutput: Tensor, sample: Tensor, state: inout SchedulerState) throws -> Tensor {
        try checkState(state, historySlots: 0, sample: sample, modelOutput: modelOutput)
        let index = state.stepIndex
        let delta = sigmas[index + 1] - sigmas[index]
        let next = SchedulerMath.addScaled(sample.scalars, delta, modelOutput.scalars)
        state.stepIndex += 1
        return Tensor(shape: sample.shape, scalars: next)
    }
}

// MARK: - State checks shared by the schedulers

extension DiffusionScheduler {
    /// Checks that `state` belongs to this scheduler, is consistent, and that the tensors fit it.
    func checkState(_ state: SchedulerState, historySlots: Int, sample: Tensor, modelOutput: Tensor) throws {
        guard state.kind == kind else {
            throw SchedulerError.invalidState("the state belongs to the \(state.kind.rawValue) scheduler, "
                + "not \(kind.rawValue)")
        }
        guard state.stepCount == stepCount else {
            throw SchedulerError.invalidState(
                "the state is for \(state.stepCount) steps, the schedule has \(stepCount)")
        }
        guard state.stepIndex >= 0, state.stepIndex <= stepCount else {
            throw SchedulerError.invalidState("step index \(state.stepIndex) outside 0...\(stepCount)")
        }
        guard state.stepIndex < stepCount else { throw SchedulerError.finished(stepCount: stepCount) }
        guard state.modelOutputs.count == historySlots else {
            throw SchedulerError.invalidState("\(state.modelOutputs.count) history slots, expected \(historySlots)")
        }
        guard modelOutput.shape == sample.shape else {
            throw SchedulerError.shapeMismatch(what: "model output", expected: sample.shape, seen: modelOutput.shape)
        }
        for case let stored? in state.modelOutputs + [state.lastSample] where stored.shape != sample.shape {
            throw SchedulerError.shapeMismatch(what: "sample (against the saved state)", expected: stored.shape,
                seen: sample.shape)
        }
    }
}
