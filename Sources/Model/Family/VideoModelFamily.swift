// The seam a model family implements (diffusers WanPipeline's components: text encoder, transformer(s), VAE,
// scheduler), so `generate` and the cluster drive one generation algorithm over any family.

/// What a model family provides to the generation algorithm (`VideoGenerator`, `DenoisingLoop`).
///
/// Wan2.1 (`Wan21Family`) is the first family. The requirements are shaped for the next ones without another
/// redesign: Wan2.2 TI2V-5B is another `layout` (48 channels, 16x spatial compression) whose units carry per-token
/// timesteps (`WorkUnitInput.frameTimesteps`, which the stage state already carries as token rows); Wan2.2 A14B
/// has two `experts`, switched by `expert(forTimestep:)` at its boundary timestep, each with its own blocks; a
/// job's LoRAs make an adapted copy of the family (`adapted(by:)`), whose experts carry the adapters.
public protocol VideoModelFamily: Sendable {
    /// The latent the loop denoises and the transformer's patching of it.
    var layout: LatentLayout { get }
    /// The job settings the model prefers where a job says nothing.
    var defaults: GenerationDefaults { get }
    /// The planner's figures for the transformer blocks (the same for every expert).
    var figures: TransformerFigures { get }
    /// The VAE: encoding known media, decoding the final latent.
    var autoencoder: any VideoAutoencoder { get }
    /// The transformers, one per expert: whole in one process; entry and exit only on a cluster's coordinator.
    var experts: [any StagedTransformer] { get }

    /// The index into `experts` of the transformer that denoises at `timestep`.
    func expert(forTimestep timestep: Float) -> Int
    /// Text encoder states `[1, L, text_dim]` of a prompt, as the family's pipeline makes them.
    func encodePrompt(_ prompt: String, maxSequenceLength: Int) throws -> Tensor
    /// The scheduler of a job: the model's configuration with the job's overrides, for the job's step count.
    func scheduler(for spec: VideoJobSpec) throws -> any DiffusionScheduler
    /// Checks that `stack` fits the family's transformers (every module a linear layer, every width right).
    func check(_ stack: LoRAStack) throws
    /// A copy whose transformers (the parts loaded here) carry `stack`'s adapters; check the stack first.
    func adapted(by stack: LoRAStack) -> any VideoModelFamily
}

extension VideoModelFamily {
    /// A family that takes no LoRAs refuses every non-empty stack.
    public func check(_ stack: LoRAStack) throws {
        guard stack.isEmpty else {
            throw LoRAError(file: stack.adapters.values.first?.first?.source ?? "?", "this model family takes no LoRAs")
        }
    }

    /// Without LoRA support the family stays as it is (`check` has refused any LoRA).
    public func adapted(by stack: LoRAStack) -> any VideoModelFamily { self }
}
