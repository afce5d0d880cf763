// The activations that travel between the pieces of diffusers WanTransformer3DModel.forward: after the patch and
// condition embedding, between blocks, into the output norm.

/// Everything a range of Wan blocks and the exit piece need: the hidden states and the per-forward conditioning.
///
/// Produced by `WanTransformer.embed`, advanced by `WanTransformer.runBlocks`, consumed by `WanTransformer.finish`.
/// A pipeline stage that receives it over the network may rebuild `rotary` from `grid` with
/// `WanTransformer.rotaryTables(for:)` instead of sending the tables.
public struct TransformerStageState: Sendable, Equatable {
    /// Token activations `[B, N, dim]`.
    public var hiddenStates: Tensor
    /// The time embedding `temb`, `[rows, dim]`: one row per sample, or for per-token timesteps one row per
    /// distinct timestep value.
    public var timeEmbedding: Tensor
    /// The blocks' modulation input `[rows, 6 * dim]`, rows as in `timeEmbedding`.
    public var timestepProjection: Tensor
    /// For per-token timesteps, the row of `timeEmbedding` / `timestepProjection` each of the `B x N` tokens
    /// uses (sample-major); nil when row `b` serves every token of sample `b`.
    ///
    /// diffusers computes a `[B, N, 6 * dim]` projection for per-token timesteps; keeping one row per distinct
    /// timestep (conditioning frames use two or three) gives the same values without `N x 6 x dim` floats.
    public var tokenTimestepRows: [Int32]?
    /// The projected text `[B, L, dim]`.
    public var textEmbeddings: Tensor
    /// The rotary tables of the N tokens.
    public var rotary: WanRotaryTables
    /// The patch grid (and batch size) the tokens come from.
    public var grid: WanPatchGrid
    /// The index of the next block to run (0 after `embed`, `num_layers` before `finish`).
    public var nextBlock: Int

    /// Creates a state from its parts (for stages that receive them from elsewhere).
    public init(
        hiddenStates: Tensor, timeEmbedding: Tensor, timestepProjection: Tensor, tokenTimestepRows: [Int32]?,
        textEmbeddings: Tensor, rotary: WanRotaryTables, grid: WanPatchGrid, nextBlock: Int
    ) {
        self.hiddenStates = hiddenStates
        self.timeEmbedding = timeEmbedding
        self.timestepProjection = timestepProjection
        self.tokenTimestepRows = tokenTimestepRows
        self.textEmbeddings = textEmbeddings
        self.rotary = rotary
        self.grid = grid
        self.nextBlock = nextBlock
    }
}
