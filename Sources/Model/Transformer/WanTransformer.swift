// diffusers WanTransformer3DModel (text-to-video): patch + condition embedding, the blocks, output norm and
// projection, unpatchify; callable whole or in pieces (entry, any contiguous block range, exit).
import Foundation

/// The Wan video diffusion transformer, or the part of it one pipeline stage hosts.
///
/// `callAsFunction` is the whole forward pass; `embed`, `runBlocks` and `finish` are its pieces, which produce
/// bit-identical results when run in sequence, whichever stages host them.
public struct WanTransformer: Sendable {
    /// The model's configuration.
    public let config: WanTransformerConfig
    /// The blocks this instance holds (all of `0..<num_layers` for a whole model).
    public let layers: Range<Int>
    /// The patch embedding, when this instance hosts the entry piece.
    public let patchEmbedding: WanPatchEmbedding?
    /// The condition embedder, when this instance hosts the entry piece.
    public internal(set) var conditionEmbedder: WanConditionEmbedder?
    /// The blocks of `layers`, in order.
    public internal(set) var blocks: [WanTransformerBlock]
    /// The rotary position embedding (no weights).
    public let rope: WanRotaryPosEmbed
    var exitHead: ExitHead?
    /// The projected text and the blocks' cross-attention keys and values of the prompts seen last.
    var promptCache = WanPromptCache()

    /// The output norm's modulation table and `proj_out`.
    struct ExitHead: Sendable {
        let scaleShiftTable: Tensor
        var projection: Linear
    }

    /// Whether the entry piece (patch + condition embedding) is loaded.
    public var hostsEntry: Bool { patchEmbedding != nil }
    /// Whether the exit piece (output norm, projection, unpatchify) is loaded.
    public var hostsExit: Bool { exitHead != nil }

    // MARK: - Loading

    /// Builds the model (or a stage of it) from `store`: blocks `layers` (default all), plus the entry and exit
    /// weights when asked. Every weight of the hosted parts must be present with the right shape, and no other key
    /// under the hosted parts' prefixes may be left over (for the whole model: no key at all).
    public init(
        store: WeightStore, config: WanTransformerConfig, layers: Range<Int>? = nil, includeEntry: Bool = true,
        includeExit: Bool = true
    ) throws {
        try config.validate()
        let layers = layers ?? 0..<config.numLayers
        guard layers.lowerBound >= 0, layers.upperBound <= config.numLayers else {
            throw TransformerError.invalidInput(
                "layer range \(layers.lowerBound)..<\(layers.upperBound) is outside the model's 0..<\(config.numLayers)"
            )
        }
        self.config = config
        self.layers = layers
        rope = WanRotaryPosEmbed(headDim: config.attentionHeadDim, maxSeqLen: config.ropeMaxSeqLen)
        if includeEntry {
            patchEmbedding = try WanPatchEmbedding(store: store, config: config)
            conditionEmbedder = try WanConditionEmbedder(store: store, config: config)
        } else {
            patchEmbedding = nil
            conditionEmbedder = nil
        }
        blocks = try layers.map { try WanTransformerBlock(store: store, prefix: "blocks.\($0)", config: config) }
        if includeExit {
            let dim = config.innerDim
            exitHead = ExitHead(
                scaleShiftTable: try store.take("scale_shift_table", shape: [1, 2, dim]).float32().reshaped([2 * dim]),
                projection: try Linear(
                    store: store, prefix: "proj_out", inFeatures: dim, outFeatures: config.patchOutputSize))
        } else {
            exitHead = nil
        }
        let whole = includeEntry && includeExit && layers == 0..<config.numLayers
        if whole {
            try store.verifyAllUsed()
        } else {
            var prefixes = layers.map { "blocks.\($0)." }
            if includeEntry { prefixes += ["patch_embedding.", "condition_embedder."] }
            if includeExit { prefixes += ["scale_shift_table", "norm_out.", "proj_out."] }
            try store.verifyAllUsed(prefixes: prefixes)
        }
    }

    /// The transformer folder inside `path`: `path/transformer` when it holds a `config.json`, else `path` itself.
    public static func transformerDirectory(_ path: String) -> String {
        let nested = (path as NSString).appendingPathComponent("transformer")
        if FileManager.default.fileExists(atPath: (nested as NSString).appendingPathComponent("config.json")) {
            return nested
        }
        return path
    }

    /// Loads a diffusers transformer folder (or a model folder containing `transformer/`): its `config.json` and
    /// `diffusion_pytorch_model.safetensors` (or the sharded index). See `init(store:...)` for the stage options.
    public static func load(
        _ path: String, layers: Range<Int>? = nil, includeEntry: Bool = true, includeExit: Bool = true
    ) throws -> WanTransformer {
        let directory = transformerDirectory(path)
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw TransformerError.io(
                "no transformer config: neither \(path)/transformer/config.json nor \(configPath) exists")
        }
        let config = try WanTransformerConfig.load(path: configPath)
        let store = try WeightStore(directory: directory, fileStem: "diffusion_pytorch_model")
        return try WanTransformer(
            store: store, config: config, layers: layers, includeEntry: includeEntry, includeExit: includeExit)
    }

    // MARK: - The pieces

    /// The rotary tables for a patch grid.
    public func rotaryTables(for grid: WanPatchGrid) throws(TransformerError) -> WanRotaryTables {
        try rope.tables(frames: grid.frames, height: grid.height, width: grid.width)
    }

    /// The entry piece: checks the inputs, embeds the patches, the timesteps and the text, builds the rotary
    /// tables.
    ///
    /// - Parameters:
    ///   - hiddenStates: the latent `[B, in_channels, F, H, W]`, F/H/W multiples of the patch size.
    ///   - timestep: `[B]`, or `[B, T]` per-token timesteps with T = tokens (or 1).
    ///   - encoderHiddenStates: text encoder states `[B, L, text_dim]`.
    public func embed(hiddenStates: Tensor, timestep: Tensor, encoderHiddenStates: Tensor) throws
        -> TransformerStageState
    {
        let grid = try checkEntryInputs(hiddenStates: hiddenStates, timestep: timestep)
        let text = encoderHiddenStates.shape
        guard text.count == 3, text[0] == grid.batch, text[1] > 0, text[2] == config.textDim else {
            throw TransformerError.invalidInput(
                "encoder_hidden_states has shape \(text), expected [\(grid.batch), length >= 1, \(config.textDim)]")
        }
        return try entry(
            hiddenStates: hiddenStates, timestep: timestep, projectedText: try projectText(encoderHiddenStates))
    }

    /// The condition embedder's text branch: what every block's cross-attention reads, `[B, L, dim]` from the text
    /// encoder's `[B, L, text_dim]`. It depends on the prompt only, so a job computes it once per guidance branch.
    public func projectText(_ encoderHiddenStates: Tensor) throws -> Tensor {
        guard let conditionEmbedder else {
            throw TransformerError.invalidInput("this stage does not host the entry piece (condition embedding)")
        }
        let text = encoderHiddenStates.shape
        guard text.count == 3, text[1] > 0, text[2] == config.textDim else {
            throw TransformerError.invalidInput(
                "encoder_hidden_states has shape \(text), expected [batch, length >= 1, \(config.textDim)]")
        }
        // The same text comes back at every step: its projection is kept (by the exact bytes of the text).
        return promptCache.textEmbeddings(for: encoderHiddenStates) { text in
            OpProfile.measure("entry: text embedding") { conditionEmbedder.embedText(text) }
        }
    }

    /// The entry piece with the text already projected (`projectText`): patch and timestep embedding and the
    /// rotary tables. `embed` is this after `projectText`, value for value.
    public func entry(hiddenStates: Tensor, timestep: Tensor, projectedText: Tensor) throws -> TransformerStageState {
        let grid = try checkEntryInputs(hiddenStates: hiddenStates, timestep: timestep)
        let text = projectedText.shape
        guard text.count == 3, text[0] == grid.batch, text[1] > 0, text[2] == config.innerDim else {
            throw TransformerError.invalidInput(
                "projected text has shape \(text), expected [\(grid.batch), length >= 1, \(config.innerDim)]")
        }
        guard let patchEmbedding, let conditionEmbedder else {
            throw TransformerError.invalidInput("this stage does not host the entry piece (patch and condition embedding)")
        }
        let rotary = try OpProfile.measure("entry: rotary tables") { try rotaryTables(for: grid) }
        let tokens = try OpProfile.measure("entry: patch embedding") { try patchEmbedding(hiddenStates) }
        var tokenRows: [Int32]?
        var timesteps = timestep.scalars
        if timestep.rank == 2 {
            // Per-token timesteps: embed each distinct value once and give every token the row of its value.
            let perSample = timestep.shape[1]
            let perToken = (0..<(grid.batch * grid.tokens)).map { index in
                timesteps[(index / grid.tokens) * perSample + (perSample == 1 ? 0 : index % grid.tokens)]
            }
            (timesteps, tokenRows) = TokenTimesteps.rows(of: perToken)
        }
        let (embedding, projection) = OpProfile.measure("entry: timestep embedding") {
            conditionEmbedder.embedTimesteps(timesteps)
        }
        return TransformerStageState(
            hiddenStates: tokens, timeEmbedding: embedding, timestepProjection: projection,
            tokenTimestepRows: tokenRows, textEmbeddings: projectedText, rotary: rotary, grid: grid, nextBlock: 0)
    }

    /// The patch grid of the entry's latent input, after checking that the entry piece is hosted and that the
    /// timestep has one of the accepted shapes.
    private func checkEntryInputs(hiddenStates: Tensor, timestep: Tensor) throws -> WanPatchGrid {
        guard let patchEmbedding else {
            throw TransformerError.invalidInput(
                "this stage does not host the entry piece (patch and condition embedding)")
        }
        let grid = try patchEmbedding.grid(ofLatentShape: hiddenStates.shape)
        let batch = grid.batch
        switch timestep.rank {
        case 1:
            guard timestep.shape[0] == batch else {
                throw TransformerError.invalidInput(
                    "timestep has shape \(timestep.shape), expected [\(batch)] (one per sample)")
            }
        case 2:
            guard timestep.shape[0] == batch, timestep.shape[1] == grid.tokens || timestep.shape[1] == 1 else {
                throw TransformerError.invalidInput(
                    "timestep has shape \(timestep.shape), expected [\(batch), \(grid.tokens)] (one per token) "
                        + "or [\(batch), 1]")
            }
        default:
            throw TransformerError.invalidInput(
                "timestep must be [batch] or [batch, tokens], got shape \(timestep.shape)")
        }
        return grid
    }

    /// Runs blocks `range` (hosted by this instance, starting at the state's next block) on the state.
    public func runBlocks(_ range: Range<Int>, _ state: TransformerStageState) throws -> TransformerStageState {
        guard range.lowerBound >= layers.lowerBound, range.upperBound <= layers.upperBound else {
            throw TransformerError.invalidInput(
                "blocks \(range.lowerBound)..<\(range.upperBound) are not all hosted here (this stage holds "
                    + "\(layers.lowerBound)..<\(layers.upperBound))")
        }
        guard range.lowerBound == state.nextBlock else {
            throw TransformerError.invalidInput(
                "the activations are ready for block \(state.nextBlock), not block \(range.lowerBound)")
        }
        try checkState(state)
        var state = state
        let prompt = promptCache.entry(for: state.textEmbeddings)
        for index in range {
            let block = blocks[index - layers.lowerBound]
            let text = state.textEmbeddings
            let keysValues = prompt?.keysValues(block: index) { block.textKeysValues(text) }
            state.hiddenStates = block(
                state.hiddenStates, text: text, timestepProjection: state.timestepProjection,
                tokenTimestepRows: state.tokenTimestepRows, rotary: state.rotary, textKeysValues: keysValues)
            state.nextBlock = index + 1
        }
        return state
    }

    /// The exit piece: output norm with its modulation, `proj_out`, unpatchify to `[B, out_channels, F, H, W]`.
    public func finish(_ state: TransformerStageState) throws -> Tensor {
        guard let exitHead else {
            throw TransformerError.invalidInput("this stage does not host the exit piece (output norm and projection)")
        }
        guard state.nextBlock == config.numLayers else {
            throw TransformerError.invalidInput(
                "the activations have passed \(state.nextBlock) of \(config.numLayers) blocks; the exit needs all")
        }
        try checkState(state)
        let dim = config.innerDim
        let modulation = WanModulation(
            table: exitHead.scaleShiftTable, projection: state.timeEmbedding, tokenRows: state.tokenTimestepRows,
            dim: dim, sharedProjection: true)
        let normed = OpProfile.measure("exit: output norm and modulation") {
            modulation.modulate(
                Ops.layerNorm(state.hiddenStates, weight: nil, bias: nil, eps: Float(config.eps)), shift: 0, scale: 1)
        }
        let projected = OpProfile.measure("exit: output projection") { exitHead.projection(normed) }
        let p = config.patchSize
        return OpProfile.measure("exit: unpatchify") {
            WanPatchEmbedding.unpatchify(
                projected, grid: state.grid, patch: (p[0], p[1], p[2]), outChannels: config.outChannels)
        }
    }

    /// The whole forward pass: `embed`, every block, `finish`.
    public func callAsFunction(hiddenStates: Tensor, timestep: Tensor, encoderHiddenStates: Tensor) throws -> Tensor {
        guard hostsEntry, hostsExit, layers == 0..<config.numLayers else {
            throw TransformerError.invalidInput(
                "the whole forward pass needs the whole model; this instance is a stage")
        }
        let state = try embed(hiddenStates: hiddenStates, timestep: timestep, encoderHiddenStates: encoderHiddenStates)
        return try finish(runBlocks(layers, state))
    }

    /// Checks that a state (possibly received from elsewhere) has consistent shapes for this model.
    func checkState(_ state: TransformerStageState) throws(TransformerError) {
        let dim = config.innerDim
        let grid = state.grid
        let batch = grid.batch
        func check(_ condition: Bool, _ message: @autoclosure () -> String) throws(TransformerError) {
            if !condition { throw .invalidInput("stage state: " + message()) }
        }
        try check(batch > 0 && grid.tokens > 0, "empty grid \(grid)")
        try check(
            state.hiddenStates.shape == [batch, grid.tokens, dim],
            "hidden states \(state.hiddenStates.shape), expected [\(batch), \(grid.tokens), \(dim)]")
        let projection = state.timestepProjection.shape
        let embedding = state.timeEmbedding.shape
        try check(
            projection.count == 2 && projection[0] > 0 && projection[1] == 6 * dim,
            "timestep projection \(projection), expected [rows, \(6 * dim)]")
        try check(
            embedding == [projection[0], dim], "time embedding \(embedding), expected [\(projection[0]), \(dim)]")
        if let rows = state.tokenTimestepRows {
            try check(
                rows.count == batch * grid.tokens,
                "\(rows.count) token timestep rows, expected \(batch * grid.tokens) (batch x tokens)")
            try check(
                rows.allSatisfy { $0 >= 0 && Int($0) < projection[0] },
                "a token timestep row is outside the projection's \(projection[0]) rows")
        } else {
            try check(projection[0] == batch, "timestep projection has \(projection[0]) rows for batch \(batch)")
        }
        let text = state.textEmbeddings.shape
        try check(
            text.count == 3 && text[0] == batch && text[1] > 0 && text[2] == dim,
            "text embeddings \(text), expected [\(batch), length, \(dim)]")
        try check(
            state.rotary.cosines.shape == [grid.tokens, config.attentionHeadDim / 2]
                && state.rotary.sines.shape == state.rotary.cosines.shape,
            "rotary tables \(state.rotary.cosines.shape), expected [\(grid.tokens), \(config.attentionHeadDim / 2)]")
    }
}
