// diffusers UniPCMultistepScheduler (scheduling_unipc_multistep.py) with flow sigmas, as the Wan pipelines use it.
import Foundation

// MARK: - Configuration

/// The fields of a `UniPCMultistepScheduler` scheduler_config.json that this port honours.
///
/// Implemented: flow sigmas (`use_flow_sigmas: true`, `prediction_type: flow_prediction`, `predict_x0: true`),
/// `flow_shift`, `solver_order` 1-3, `solver_type` bh1/bh2 (diffusers maps midpoint/heun/logrho to bh2),
/// `lower_order_final`, `disable_corrector`, `final_sigmas_type`, `shift_terminal`. Refused with an error naming
/// the field: the two combinations whose final step diffusers turns into NaN or infinity (bh1, or
/// `lower_order_final: false` with order > 1, when `final_sigmas_type` is zero), other prediction types or
/// `use_flow_sigmas: false` (the beta-schedule sigmas), thresholding, `solver_p`, Karras/exponential/beta
/// sigmas, dynamic shifting. The beta fields, `timestep_spacing`, `steps_offset`, `sigma_min`/`sigma_max` and
/// `rescale_betas_zero_snr` do not affect flow sigmas; they are checked the way diffusers checks them and kept.
public struct UniPCMultistepConfig: Sendable, Equatable {
    /// The largest `solver_order` implemented.
    public static let maxSolverOrder = 3

    /// `num_train_timesteps`: timestep = sigma * this, truncated to a whole number.
    public var numTrainTimesteps: Int = 1000
    /// `flow_shift`: the shift `shift * s / (1 + (shift - 1) * s)` applied to the linear sigmas.
    public var flowShift: Double = 1.0
    /// `solver_order`: how many past data predictions the multistep update uses.
    public var solverOrder: Int = 2
    /// `solver_type`: `bh1` (B(h) = h) or `bh2` (B(h) = e^h - 1).
    public var solverType: String = "bh2"
    /// `lower_order_final`: lower the order over the last steps (stabilises short schedules).
    public var lowerOrderFinal: Bool = true
    /// `disable_corrector`: step indices after which the UniC corrector is skipped.
    public var disableCorrector: [Int] = []
    /// `final_sigmas_type`: the last noise level, `zero` or `sigma_min` (the last schedule sigma).
    public var finalSigmasType: String = "zero"
    /// `shift_terminal`: when set (non-zero), stretch the schedule so the last sigma equals it.
    public var shiftTerminal: Double? = nil
    /// `timestep_spacing` (no effect with flow sigmas): `linspace`, `leading` or `trailing`.
    public var timestepSpacing: String = "linspace"
    /// `beta_start` (no effect with flow sigmas).
    public var betaStart: Double = 0.0001
    /// `beta_end` (no effect with flow sigmas).
    public var betaEnd: Double = 0.02
    /// `beta_schedule` (no effect with flow sigmas).
    public var betaSchedule: String = "linear"
    /// `steps_offset` (no effect with flow sigmas).
    public var stepsOffset: Int = 0

    /// The Wan configuration: flow prediction, flow sigmas, order 2, bh2, lower order final, with `flowShift`.
    public init(numTrainTimesteps: Int = 1000, flowShift: Double = 3.0) {
        self.numTrainTimesteps = numTrainTimesteps
        self.flowShift = flowShift
    }

    /// Reads and checks the fields of a scheduler_config.json object.
    init(reader: SchedulerConfigReader) throws {
        numTrainTimesteps = try reader.int(
            "num_train_timesteps", default: 1000, range: 1...SchedulerLimits.maxTrainTimesteps)
        betaStart = try reader.double("beta_start", default: 0.0001)
        betaEnd = try reader.double("beta_end", default: 0.02)
        betaSchedule = try reader.choice(
            "beta_schedule", default: "linear", allowed: ["linear", "scaled_linear", "squaredcos_cap_v2"])
        solverOrder = try reader.int("solver_order", default: 2, range: 1...Self.maxSolverOrder)
        let predictionType = try reader.choice(
            "prediction_type", default: "epsilon", allowed: ["epsilon", "sample", "v_prediction", "flow_prediction"])
        guard predictionType == "flow_prediction" else {
            throw SchedulerError.unsupportedOption(
                field: "prediction_type", value: "\"\(predictionType)\"",
                reason: "only flow_prediction (the Wan models) is implemented")
        }
        try reader.requireFalse("thresholding", reason: "dynamic thresholding is not implemented")
        _ = try reader.double("dynamic_thresholding_ratio", default: 0.995)
        _ = try reader.double("sample_max_value", default: 1.0)
        guard try reader.bool("predict_x0", default: true) else {
            throw SchedulerError.invalidValue(
                field: "predict_x0", value: "false", reason: "flow_prediction needs the data-prediction (x0) solver")
        }
        let solverType = try reader.choice(
            "solver_type", default: "bh2", allowed: ["bh1", "bh2", "midpoint", "heun", "logrho"])
        self.solverType = solverType == "bh1" ? "bh1" : "bh2"
        lowerOrderFinal = try reader.bool("lower_order_final", default: true)
        disableCorrector = try reader.intList(
            "disable_corrector", maxCount: SchedulerLimits.maxSteps, range: 0...SchedulerLimits.maxSteps)
        try reader.requireNull("solver_p", reason: "a separate predictor scheduler is not implemented")
        try reader.requireFalse("use_karras_sigmas", reason: "Karras sigmas are not implemented")
        try reader.requireFalse("use_exponential_sigmas", reason: "exponential sigmas are not implemented")
        try reader.requireFalse("use_beta_sigmas", reason: "beta sigmas are not implemented")
        guard try reader.bool("use_flow_sigmas", default: false) else {
            throw SchedulerError.unsupportedOption(
                field: "use_flow_sigmas", value: "false",
                reason: "only flow sigmas (the Wan configuration) are implemented, not the beta-schedule sigmas")
        }
        flowShift = try reader.double("flow_shift", default: 1.0)
        timestepSpacing = try reader.choice(
            "timestep_spacing", default: "linspace", allowed: ["linspace", "leading", "trailing"])
        stepsOffset = try reader.int("steps_offset", default: 0, range: 0...SchedulerLimits.maxTrainTimesteps)
        finalSigmasType = try reader.choice("final_sigmas_type", default: "zero", allowed: ["zero", "sigma_min"])
        _ = try reader.bool("rescale_betas_zero_snr", default: false)
        try reader.requireFalse(
            "use_dynamic_shifting", reason: "resolution-dependent shifting needs a mu the Wan pipelines never pass; "
                + "use flow_shift")
        _ = try reader.choice("time_shift_type", default: "exponential", allowed: ["exponential", "linear"])
        _ = try reader.optionalDouble("sigma_min")
        _ = try reader.optionalDouble("sigma_max")
        shiftTerminal = try reader.optionalDouble("shift_terminal")
        try validate()
    }

    /// Checks the values that feed the tables and the solver.
    func validate() throws {
        guard (1...SchedulerLimits.maxTrainTimesteps).contains(numTrainTimesteps) else {
            throw SchedulerError.invalidValue(
                field: "num_train_timesteps", value: String(numTrainTimesteps),
                reason: "must be between 1 and \(SchedulerLimits.maxTrainTimesteps)")
        }
        guard flowShift.isFinite, flowShift > 0 else {
            throw SchedulerError.invalidValue(field: "flow_shift", value: String(flowShift), reason: "must be positive")
        }
        guard (1...Self.maxSolverOrder).contains(solverOrder) else {
            throw SchedulerError.invalidValue(
                field: "solver_order", value: String(solverOrder),
                reason: "must be between 1 and \(Self.maxSolverOrder)")
        }
        guard ["bh1", "bh2"].contains(solverType) else {
            throw SchedulerError.invalidValue(field: "solver_type", value: solverType, reason: "must be bh1 or bh2")
        }
        guard ["zero", "sigma_min"].contains(finalSigmasType) else {
            throw SchedulerError.invalidValue(
                field: "final_sigmas_type", value: finalSigmasType, reason: "must be zero or sigma_min")
        }
        try validateShiftTerminal(shiftTerminal)
        // Two combinations diffusers accepts but whose final step (sigma 0, so h = +inf) yields NaN or infinity.
        if finalSigmasType == "zero", solverType == "bh1" {
            throw SchedulerError.unsupportedOption(
                field: "solver_type", value: "\"bh1\"",
                reason: "with final_sigmas_type \"zero\" diffusers' bh1 update makes the final step NaN "
                    + "(B(h) = -inf times 0); use bh2 or final_sigmas_type \"sigma_min\"")
        }
        if finalSigmasType == "zero", !lowerOrderFinal, solverOrder > 1 {
            throw SchedulerError.unsupportedOption(
                field: "lower_order_final", value: "false",
                reason: "with final_sigmas_type \"zero\" and solver_order > 1 diffusers' final step divides by a "
                    + "zero step ratio and returns infinities; use lower_order_final true")
        }
    }

    /// The scheduler_config.json fields diffusers writes for this config.
    var jsonFields: [String: Any] {
        [
            "_class_name": SchedulerKind.unipc.className,
            "num_train_timesteps": numTrainTimesteps,
            "beta_start": betaStart,
            "beta_end": betaEnd,
            "beta_schedule": betaSchedule,
            "trained_betas": NSNull(),
            "solver_order": solverOrder,
            "prediction_type": "flow_prediction",
            "thresholding": false,
            "dynamic_thresholding_ratio": 0.995,
            "sample_max_value": 1.0,
            "predict_x0": true,
            "solver_type": solverType,
            "lower_order_final": lowerOrderFinal,
            "disable_corrector": disableCorrector,
            "solver_p": NSNull(),
            "use_karras_sigmas": false,
            "use_exponential_sigmas": false,
            "use_beta_sigmas": false,
            "use_flow_sigmas": true,
            "flow_shift": flowShift,
            "timestep_spacing": timestepSpacing,
            "steps_offset": stepsOffset,
            "final_sigmas_type": finalSigmasType,
            "rescale_betas_zero_snr": false,
            "use_dynamic_shifting": false,
            "time_shift_type": "exponential",
            "sigma_min": NSNull(),
            "sigma_max": NSNull(),
            "shift_terminal": shiftTerminal ?? NSNull(),
        ]
    }
}

// MARK: - Scheduler

/// diffusers `UniPCMultistepScheduler` after `set_timesteps(stepCount)`, with flow sigmas and data prediction:
/// each step converts the velocity to a data prediction `x0 = x - sigma * v`, corrects the incoming sample with
/// UniC (using this step's x0 and the previous ones), then predicts the next sample with UniP of order
/// `min(solver_order, steps taken + 1)` (and, with `lower_order_final`, `min(.., steps left)`).
/// Coefficients are float32, as diffusers computes them on float32 0-dim tensors.
public struct UniPCMultistepScheduler: DiffusionScheduler {
    /// The configuration the tables were built from.
    public let config: UniPCMultistepConfig
    /// The number of inference steps the tables were set for.
    public let stepCount: Int
    /// The transformer's timestep at each step (diffusers `scheduler.timesteps`).
    public let timesteps: [Float]
    /// The noise level entering each step, plus the final level (diffusers `scheduler.sigmas`).
    public let sigmas: [Float]
    /// Which algorithm this is.
    public var kind: SchedulerKind { .unipc }

    /// Builds the tables for `stepCount` inference steps as diffusers' `set_timesteps` does with flow sigmas:
    /// linear sigmas from 1 to 1/num_train_timesteps, shifted in float64, the first nudged below 1 by 1e-6,
    /// timesteps = trunc(sigma * num_train_timesteps), sigmas cast to float32 plus the final level.
    public init(config: UniPCMultistepConfig, stepCount: Int) throws {
        try config.validate()
        guard (1...SchedulerLimits.maxSteps).contains(stepCount) else {
            throw SchedulerError.invalidStepCount(stepCount)
        }
        self.config = config
        self.stepCount = stepCount
        let trainCount = Double(config.numTrainTimesteps)
        let linear = SchedulerMath.linspace(1, 1 / trainCount, count: stepCount + 1).dropLast()
        var sigmas64 = SchedulerMath.shifted(Array(linear), shift: config.flowShift)
        if let terminal = config.shiftTerminal, terminal != 0 {
            sigmas64 = SchedulerMath.stretchedToTerminal(sigmas64, terminal: terminal)
        }
        let epsilon = 1e-6
        if abs(sigmas64[0] - 1) < epsilon {
            sigmas64[0] -= epsilon
        }
        timesteps = sigmas64.map { Float(($0 * trainCount).rounded(.towardZero)) }
        let last = config.finalSigmasType == "sigma_min" ? sigmas64[sigmas64.count - 1] : 0
        sigmas = (sigmas64 + [last]).map { Float($0) }
    }

    /// The state of a run starting at step `beginIndex` (diffusers `set_begin_index`), with an empty history.
    public func initialState(beginIndex: Int) throws -> SchedulerState {
        guard (0...stepCount).contains(beginIndex) else {
            throw SchedulerError.stepIndexOutOfRange(index: beginIndex, stepCount: stepCount)
        }
        return SchedulerState(
            kind: .unipc, stepCount: stepCount, stepIndex: beginIndex, historySlots: config.solverOrder)
    }

    /// One diffusers `step(model_output, timesteps[state.stepIndex], sample)`; see `DiffusionScheduler.step`.
    public func step(modelOutput: Tensor, sample: Tensor, state: inout SchedulerState) throws -> Tensor {
        try checkState(state, historySlots: config.solverOrder, sample: sample, modelOutput: modelOutput)
        try checkHistory(state)
        let index = state.stepIndex
        let history = state.modelOutputs.map { $0?.scalars ?? [] }

        // convert_model_output: the data prediction from the flow velocity.
        let converted = SchedulerMath.subtractScaled(sample.scalars, sigmas[index], modelOutput.scalars)

        var current = sample.scalars
        if index > 0, !config.disableCorrector.contains(index - 1), let lastSample = state.lastSample {
            current = corrected(
                converted, lastSample: lastSample.scalars, history: history, order: state.lastOrder, index: index)
        }

        var next = state
        next.modelOutputs.removeFirst()
        next.modelOutputs.append(Tensor(shape: sample.shape, scalars: converted))
        var order = config.lowerOrderFinal ? min(config.solverOrder, stepCount - index) : config.solverOrder
        order = min(order, state.lowerOrderCount + 1)
        next.lastOrder = order
        next.lastSample = Tensor(shape: sample.shape, scalars: current)
        let predicted = self.predicted(
            current, history: next.modelOutputs.map { $0?.scalars ?? [] }, order: order, index: index)
        next.lowerOrderCount = min(state.lowerOrderCount + 1, config.solverOrder)
        next.stepIndex = index + 1
        state = next
        return Tensor(shape: sample.shape, scalars: predicted)
    }

    /// Checks that a (possibly decoded) state has the history the next step reads.
    private func checkHistory(_ state: SchedulerState) throws {
        let order = config.solverOrder
        guard (0...order).contains(state.lowerOrderCount), (0...order).contains(state.lastOrder) else {
            throw SchedulerError.invalidState(
                "lower order count \(state.lowerOrderCount) / last order \(state.lastOrder) outside 0...\(order)")
        }
        var needed = state.lowerOrderCount
        if state.lastSample != nil {
            guard state.lastOrder >= 1, state.stepIndex >= state.lastOrder else {
                throw SchedulerError.invalidState(
                    "last order \(state.lastOrder) does not fit a corrector at step \(state.stepIndex)")
            }
            needed = max(needed, state.lastOrder)
        }
        guard state.stepIndex >= state.lowerOrderCount else {
            throw SchedulerError.invalidState(
                "lower order count \(state.lowerOrderCount) exceeds the step index \(state.stepIndex)")
        }
        let filled = state.modelOutputs.reversed().prefix { $0 != nil }.count
        guard filled >= needed else {
            throw SchedulerError.invalidState("the next step needs \(needed) stored model outputs, \(filled) present")
        }
    }

    // MARK: - UniP / UniC

    /// lambda = log(alpha) - log(sigma) with alpha = 1 - sigma.
    private func lambda(_ sigma: Float) -> Float {
        let alpha = 1 - sigma
        return log(alpha) - log(sigma)
    }

    /// torch.pow(x, n) for the small whole exponents the solver uses.
    private func power(_ x: Float, _ exponent: Int) -> Float {
        switch exponent {
        case 0: return 1
        case 1: return x
        case 2: return x * x
        default: return x * x * x
        }
    }

    /// The coefficients shared by predictor and corrector for a step from `sigmaS0` to `sigmaT` with past ratios
    /// `rks` (the last entry 1): the matrix R, the vector b, h*phi_1(h), B(h), alpha_t and the sigma ratio.
    private struct Coefficients {
        var rows: [[Float]] = []
        var b: [Float] = []
        var hPhi1: Float = 0
        var bH: Float = 0
    }

    private func coefficients(h: Float, rks: [Float], order: Int) -> Coefficients {
        var result = Coefficients()
        let hh = -h
        result.hPhi1 = expm1(hh)
        var hPhiK = result.hPhi1 / hh - 1
        var factorial = 1
        result.bH = config.solverType == "bh1" ? hh : expm1(hh)
        for i in 1...order {
            result.rows.append(rks.map { power($0, i - 1) })
            let scaled = hPhiK * Float(factorial)
            result.b.append(scaled / result.bH)
            factorial *= i + 1
            hPhiK = hPhiK / hh - Float(1 / Double(factorial))
        }
        return result
    }

    /// The past ratios r_k and differences D1_k = (m_k - m0) / r_k for the outputs before `history.last`,
    /// where output `history[count - 1 - k]` sits at noise level `sigmas[baseIndex - k]`.
    private func differences(history: [[Float]], order: Int, baseIndex: Int, lambdaS0: Float, h: Float)
        -> (rks: [Float], d1s: [[Float]])
    {
        let m0 = history[history.count - 1]
        var rks: [Float] = []
        var d1s: [[Float]] = []
        for k in 1..<max(order, 1) {
            let lambdaSk = lambda(sigmas[baseIndex - k])
            let rk = (lambdaSk - lambdaS0) / h
            rks.append(rk)
            d1s.append(SchedulerMath.differenceOver(history[history.count - 1 - k], m0, rk))
        }
        rks.append(1)
        return (rks, d1s)
    }

    /// sum_k rho_k * D1_k.
    private func weightedSum(_ rhos: [Float], _ d1s: [[Float]]) -> [Float] {
        var result = d1s[0].map { rhos[0] * $0 }
        for k in 1..<d1s.count {
            result = SchedulerMath.addScaled(result, rhos[k], d1s[k])
        }
        return result
    }

    /// UniP (`multistep_uni_p_bh_update`): the sample at `sigmas[index + 1]` from `x` at `sigmas[index]`.
    private func predicted(_ x: [Float], history: [[Float]], order: Int, index: Int) -> [Float] {
        let sigmaT = sigmas[index + 1]
        let sigmaS0 = sigmas[index]
        let alphaT = 1 - sigmaT
        let lambdaS0 = lambda(sigmaS0)
        let h = lambda(sigmaT) - lambdaS0
        let (rks, d1s) = differences(history: history, order: order, baseIndex: index, lambdaS0: lambdaS0, h: h)
        let c = coefficients(h: h, rks: rks, order: order)
        let m0 = history[history.count - 1]
        let base = SchedulerMath.scaledDifference(sigmaT / sigmaS0, x, alphaT * c.hPhi1, m0)
        guard !d1s.isEmpty else { return base }
        let rhos: [Float]
        if order == 2 {
            rhos = [0.5]
        } else {
            rhos = SchedulerMath.solve(
                Array(c.rows.dropLast().map { Array($0.dropLast()) }), Array(c.b.dropLast()))
        }
        return SchedulerMath.subtractScaled(base, alphaT * c.bH, weightedSum(rhos, d1s))
    }

    /// UniC (`multistep_uni_c_bh_update`): the corrected sample at `sigmas[index]`, recomputed from the previous
    /// sample `lastSample` with this step's data prediction `modelT`; `history` is before this step's shift-in.
    private func corrected(_ modelT: [Float], lastSample x: [Float], history: [[Float]], order: Int, index: Int)
        -> [Float]
    {
        let sigmaT = sigmas[index]
        let sigmaS0 = sigmas[index - 1]
        let alphaT = 1 - sigmaT
        let lambdaS0 = lambda(sigmaS0)
        let h = lambda(sigmaT) - lambdaS0
        let (rks, d1s) = differences(history: history, order: order, baseIndex: index - 1, lambdaS0: lambdaS0, h: h)
        let c = coefficients(h: h, rks: rks, order: order)
        let rhos = order == 1 ? [Float(0.5)] : SchedulerMath.solve(c.rows, c.b)
        let m0 = history[history.count - 1]
        let base = SchedulerMath.scaledDifference(sigmaT / sigmaS0, x, alphaT * c.hPhi1, m0)
        let d1t = SchedulerMath.differenceOver(modelT, m0, 1)
        var correction = d1t.map { rhos[rhos.count - 1] * $0 }
        if !d1s.isEmpty {
            correction = SchedulerMath.addScaled(weightedSum(Array(rhos.dropLast()), d1s), rhos[rhos.count - 1], d1t)
        }
        return SchedulerMath.subtractScaled(base, alphaT * c.bH, correction)
    }
}
