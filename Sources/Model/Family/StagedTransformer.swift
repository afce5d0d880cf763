// The seam between the generation loop and a diffusion transformer (diffusers WanTransformer3DModel.forward cut into
// entry / blocks / exit), so one process or a pipeline of workers can run the same pieces.

/// A diffusion transformer, or the part of it one pipeline stage hosts, run in pieces: the entry (patch, timestep
/// and position embedding), any contiguous range of blocks, the exit (output norm, projection, unpatchify).
///
/// Run in sequence, the pieces give the whole forward pass bit for bit, whichever processes host them. What travels
/// between pieces is a `TransformerStageState`: every family we plan for (Wan2.1, Wan2.2 TI2V-5B with per-token
/// timesteps, each expert of Wan2.2 A14B) is a WanTransformer3DModel, whose blocks all read that state. A block
/// cache (first-block cache, TeaCache, MagCache) decides per unit, before dispatch, which `blocks` ranges to run;
/// a sequence-parallel stage group splits a state's tokens and runs `blocks` on each share.
public protocol StagedTransformer: Sendable {
    /// Blocks of the whole model.
    var blockCount: Int { get }
    /// The blocks this instance holds.
    var hostedBlocks: Range<Int> { get }
    /// Width of the activations between blocks (`dim`): what a stage's text and hidden states must have.
    var hiddenSize: Int { get }

    /// The text every block's cross-attention reads, from the text encoder's output; once per job and branch.
    func projectText(_ encoderHiddenStates: Tensor) throws -> Tensor
    /// The entry piece of one unit of work, with its branch's projected text.
    func entry(_ input: WorkUnitInput, projectedText: Tensor) throws -> TransformerStageState
    /// Blocks `range` (hosted here, starting at the state's next block) on a state.
    func blocks(_ range: Range<Int>, _ state: TransformerStageState) throws -> TransformerStageState
    /// The exit piece after the last block: the model output for the unit's window, shaped like its latent input.
    func exit(_ state: TransformerStageState) throws -> Tensor
    /// The rotary tables of a patch grid, which a stage receiving a state rebuilds instead of receiving them.
    func rotaryTables(for grid: WanPatchGrid) throws -> WanRotaryTables
    /// A copy carrying a job's LoRA share: every module of `stack` must be a layer this instance hosts.
    func adapted(share stack: LoRAStack) throws -> any StagedTransformer
}

extension WanTransformer: StagedTransformer {
    /// `config.numLayers`.
    public var blockCount: Int { config.numLayers }
    /// `layers`.
    public var hostedBlocks: Range<Int> { layers }
    /// `config.innerDim`.
    public var hiddenSize: Int { config.innerDim }

    /// `entry(hiddenStates:timestep:projectedText:)` on the unit's window and timesteps.
    public func entry(_ input: WorkUnitInput, projectedText: Tensor) throws -> TransformerStageState {
        try entry(
            hiddenStates: input.hiddenStates, timestep: input.timestepTensor(patchSize: config.patchSize),
            projectedText: projectedText)
    }

    /// `runBlocks`.
    public func blocks(_ range: Range<Int>, _ state: TransformerStageState) throws -> TransformerStageState {
        try runBlocks(range, state)
    }

    /// `finish`.
    public func exit(_ state: TransformerStageState) throws -> Tensor {
        try finish(state)
    }

    /// `adapted(by:)` after checking the share against the model and the hosted parts.
    public func adapted(share stack: LoRAStack) throws -> any StagedTransformer {
        try config.check(stack)
        for module in stack.adapters.keys.sorted() {
            let hosted = LoRAStack.block(of: module).map { layers.contains($0) }
                ?? (module == "proj_out" ? hostsExit : hostsEntry)
            guard hosted else {
                throw TransformerError.invalidInput(
                    "a LoRA adapter for \(module), which this stage (blocks \(layers.lowerBound)..<\(layers.upperBound)) does not host")
            }
        }
        return adapted(by: stack)
    }
}
