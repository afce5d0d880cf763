// A job made ready to denoise (diffusers WanPipeline.__call__ up to the denoising loop): its encoded prompts, the
// conditioning from its media, its windows and scheduler. `generate` and the cluster's coordinator both build one.

/// The texts of a job: the text encoder's states of each guidance branch's prompt, projected by each expert.
public struct JobTexts: Sendable {
    /// Per expert, per branch: the projected text every block's cross-attention reads, `[1, L, dim]`.
    public let projected: [[GuidanceBranch: Tensor]]

    /// The projected text of `branch` for `expert`, or an error when the job has no such branch (guidance off).
    public func text(expert: Int, branch: GuidanceBranch) throws -> Tensor {
        guard projected.indices.contains(expert), let text = projected[expert][branch] else {
            throw DenoisingLoopError(description: "the job has no \(branch) text for expert \(expert)")
        }
        return text
    }
}

/// Everything a job's denoising loop and its decode need, derived deterministically from the spec and its media.
public struct PreparedJob: Sendable {
    /// The job.
    public let spec: VideoJobSpec
    /// The projected prompts.
    public let texts: JobTexts
    /// The pinned latents, the start latent and step, the pass-through frames.
    public let conditioning: PreparedConditioning
    /// The temporal windows.
    public let plan: WindowPlan
    /// The scheduler (its tables are fixed for the job).
    public let scheduler: any DiffusionScheduler

    /// A fresh loop: from the job's keyed noise (or its edit start) at its first step.
    public func startLoop() throws -> DenoisingLoop {
        try DenoisingLoop(
            plan: plan, guidanceScale: Float(spec.guidanceScale), scheduler: scheduler,
            latents: conditioning.initialLatents,
            schedulerState: try scheduler.initialState(beginIndex: conditioning.beginIndex),
            conditioning: conditioning.conditioning)
    }

    /// The loop saved in the checkpoint at `path` for job `job` (see `GenerationCheckpoint.load`).
    public func resumeLoop(checkpoint path: String, job: String) throws -> DenoisingLoop {
        try GenerationCheckpoint.load(
            path: path, job: job, plan: plan, guidanceScale: Float(spec.guidanceScale), scheduler: scheduler,
            conditioning: conditioning.conditioning)
    }
}
