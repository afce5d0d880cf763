// A denoising run's state after a completed step, in one safetensors file written atomically, so a crash
// costs at most the step in flight and a resumed run continues bit-exactly.

/// Saves and restores the latent and scheduler state of a `DenoisingLoop`.
///
/// Layout: tensors `latents`, `history.N` (the scheduler's filled history slots) and `last_sample` (when
/// present); `__metadata__` holds the counters (`format`, `scheduler`, `step_count`, `step_index`,
/// `lower_order_count`, `last_order`, `history_slots`) and a caller-chosen `job` string that must match on load.
public enum GenerationCheckpoint {
    /// The format tag written into every checkpoint.
    public static let format = "sora-generation-checkpoint-1"

    /// Writes the loop's state to `path` (temporary file, fsync, rename).
    public static func save(_ loop: DenoisingLoop, job: String, to path: String) throws {
        let state = loop.schedulerState
        var tensors: [(name: String, tensor: Tensor)] = [("latents", loop.latents)]
        for (slot, output) in state.modelOutputs.enumerated() {
            if let output { tensors.append(("history.\(slot)", output)) }
        }
        if let last = state.lastSample { tensors.append(("last_sample", last)) }
        let metadata = [
            "format": format, "job": job, "scheduler": state.kind.rawValue, "step_count": String(state.stepCount),
            "step_index": String(state.stepIndex), "lower_order_count": String(state.lowerOrderCount),
            "last_order": String(state.lastOrder), "history_slots": String(state.modelOutputs.count),
        ]
        try SafeTensorsWriter.write(tensors, dtype: .float32, metadata: metadata, to: path)
    }

    /// Reads a checkpoint written for `job` and rebuilds the loop on `plan`, `guidanceScale` and `scheduler`.
    /// Everything in the file is checked: a file from another job, scheduler or step count is refused.
    public static func load(
        path: String, job: String, plan: WindowPlan, guidanceScale: Float, scheduler: any DiffusionScheduler
    ) throws -> DenoisingLoop {
        let file = try SafeTensorsFile(path: path)
        let metadata = file.metadata
        func field(_ name: String) throws -> String {
            guard let value = metadata[name] else { throw GenerationCheckpointError(path: path, reason: "missing metadata \"\(name)\"") }
            return value
        }
        func number(_ name: String, in range: ClosedRange<Int>) throws -> Int {
            let text = try field(name)
            guard let value = Int(text), range.contains(value) else {
                throw GenerationCheckpointError(path: path, reason: "metadata \"\(name)\" is \"\(text)\", expected \(range)")
            }
            return value
        }
        guard try field("format") == format else {
            throw GenerationCheckpointError(path: path, reason: "not a generation checkpoint (format \(metadata["format"] ?? "none"))")
        }
        guard try field("job") == job else {
            throw GenerationCheckpointError(path: path, reason: "belongs to job \(metadata["job"] ?? ""), not \(job)")
        }
        guard try field("scheduler") == scheduler.kind.rawValue else {
            throw GenerationCheckpointError(path: path, reason: "made with scheduler \(metadata["scheduler"] ?? ""), not \(scheduler.kind.rawValue)")
        }
        let stepCount = try number("step_count", in: scheduler.stepCount...scheduler.stepCount)
        let slots = try number("history_slots", in: 0...UniPCMultistepConfig.maxSolverOrder)
        let latents = try file.tensor(named: "latents").float32()
        var history: [Tensor?] = []
        for slot in 0..<slots {
            history.append(file.info(named: "history.\(slot)") == nil ? nil : try file.tensor(named: "history.\(slot)").float32())
        }
        let lastSample = file.info(named: "last_sample") == nil ? nil : try file.tensor(named: "last_sample").float32()
        for tensor in history.compactMap({ $0 }) + [lastSample].compactMap({ $0 }) where tensor.shape != latents.shape {
            throw GenerationCheckpointError(path: path, reason: "history tensor of shape \(tensor.shape) beside latents \(latents.shape)")
        }
        let state = SchedulerState(
            kind: scheduler.kind, stepCount: stepCount, stepIndex: try number("step_index", in: 0...stepCount),
            lowerOrderCount: try number("lower_order_count", in: 0...slots), lastOrder: try number("last_order", in: 0...max(slots, 1)),
            modelOutputs: history, lastSample: lastSample)
        return try DenoisingLoop(
            plan: plan, guidanceScale: guidanceScale, scheduler: scheduler, latents: latents, schedulerState: state)
    }
}

/// A checkpoint file that does not belong to the run being resumed, or is inconsistent.
public struct GenerationCheckpointError: Error, CustomStringConvertible, Sendable {
    /// The file.
    public let path: String
    /// What was wrong.
    public let reason: String
    /// "checkpoint PATH: REASON".
    public var description: String { "checkpoint \(path): \(reason)" }
}
