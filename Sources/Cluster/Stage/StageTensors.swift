// The stage protocol's tensor names and conversions, shared by the coordinator and the workers.
import Foundation
import Model
import Wire

/// Names and conversions of the tensors that travel between the coordinator and pipeline stages.
///
/// A `forward` carries `hidden_states` [1, N, dim], `timestep_projection` [R, 6 dim], `time_embedding` [R, dim]
/// and `grid` [4] (batch, frames, height, width of the patch grid, as exact small integers in float32). R is 1,
/// unless the micro-batch has per-token timesteps (pinned frames of an image or video prompt): then it also carries
/// `token_timestep_rows` [N], each token's row in 0..<R as an exact integer in float32, with 1 <= R <= 64 (R is 1
/// when every frame of the window is pinned). A
/// `forwardResult` carries `hidden_states` after the last block. A `jobContext` carries the projected text of
/// each guidance branch as `text.0` (conditional) and `text.1` (unconditional), [1, L, dim].
public enum StageTensors {
    /// A micro-batch's activations, [1, N, dim].
    public static let hiddenStates = "hidden_states"
    /// The timestep projection rows, [R, 6 dim].
    public static let timestepProjection = "timestep_projection"
    /// The time embedding rows, [R, dim].
    public static let timeEmbedding = "time_embedding"
    /// The patch grid, [4].
    public static let grid = "grid"
    /// Each token's timestep row, [N].
    public static let tokenTimestepRows = "token_timestep_rows"
    /// The most distinct timesteps one micro-batch may carry.
    public static let maxTimestepRows = 64
    /// The name of a branch's projected text in a job context.
    public static func text(branch: Int) -> String { "text.\(branch)" }

    /// A tensor packed for the wire, narrowed to `dtype` when it is not float32.
    public static func pack(_ name: String, _ tensor: Tensor, as dtype: WireDType = .float32) throws -> NamedTensor {
        let wire = try tensor.withUnsafeBufferPointer { buffer in
            try WireTensor(float32: buffer, shape: tensor.shape, as: dtype)
        }
        return NamedTensor(name: name, tensor: wire)
    }

    /// The tensor called `name` in `tensors`, widened to float32, or an error naming what is missing.
    public static func unpack(_ name: String, from tensors: [NamedTensor], in what: String) throws -> Tensor {
        let matches = tensors.filter { $0.name == name }
        guard matches.count == 1, let wire = matches.first?.tensor else {
            throw StageProtocolError(
                "\(what) must carry exactly one tensor named \"\(name)\", found \(matches.count) (tensors: "
                    + tensors.map(\.name).joined(separator: ", ") + ")")
        }
        return Tensor(shape: wire.shape) { wire.widen(into: $0) }
    }

    /// The patch grid carried by `grid`, checked: four positive integers, batch 1, at most `maxTokens` tokens.
    public static func grid(from tensor: Tensor, maxTokens: Int) throws -> WanPatchGrid {
        guard tensor.shape == [4] else { throw StageProtocolError("grid has shape \(tensor.shape), expected [4]") }
        var values: [Int] = []
        for value in tensor.scalars {
            guard value.isFinite, value >= 1, value <= 1_048_576, value == value.rounded() else {
                throw StageProtocolError("grid value \(value) is not a positive integer up to 2^20")
            }
            values.append(Int(value))
        }
        guard values[0] == 1 else { throw StageProtocolError("grid batch is \(values[0]); stages run batch 1") }
        let tokens = values[1] * values[2] * values[3]
        guard tokens <= maxTokens else {
            throw StageProtocolError("grid \(values) has \(tokens) tokens, above the limit of \(maxTokens)")
        }
        return WanPatchGrid(batch: values[0], frames: values[1], height: values[2], width: values[3])
    }

    /// The optional per-token rows of a `forward`, checked: `tokens` integers in 0..<`rowCount`, every row used.
    public static func tokenRows(from tensors: [NamedTensor], tokens: Int, rowCount: Int) throws -> [Int32]? {
        guard tensors.contains(where: { $0.name == tokenTimestepRows }) else {
            guard rowCount == 1 else {
                throw StageProtocolError("\(rowCount) timestep rows need a \(tokenTimestepRows) tensor")
            }
            return nil
        }
        guard (1...maxTimestepRows).contains(rowCount) else {
            throw StageProtocolError("per-token timesteps need 1...\(maxTimestepRows) rows, got \(rowCount)")
        }
        let tensor = try unpack(tokenTimestepRows, from: tensors, in: "forward")
        guard tensor.shape == [tokens] else {
            throw StageProtocolError("\(tokenTimestepRows) has shape \(tensor.shape), expected [\(tokens)]")
        }
        var used = [Bool](repeating: false, count: rowCount)
        var rows: [Int32] = []
        rows.reserveCapacity(tokens)
        for value in tensor.scalars {
            guard value.isFinite, value >= 0, value < Float(rowCount), value == value.rounded() else {
                throw StageProtocolError("\(tokenTimestepRows) value \(value) is not a row in 0..<\(rowCount)")
            }
            used[Int(value)] = true
            rows.append(Int32(value))
        }
        guard used.allSatisfy({ $0 }) else { throw StageProtocolError("\(tokenTimestepRows) leaves a timestep row unused") }
        return rows
    }

    /// The per-token rows as the float32 tensor `token_timestep_rows`.
    public static func tokenRowsTensor(_ rows: [Int32]) -> Tensor {
        Tensor(shape: [rows.count], scalars: rows.map { Float($0) })
    }

    /// The tensors of a `forward` carrying `state` (hidden states narrowed to `dtype`).
    public static func forwardTensors(_ state: TransformerStageState, dtype: WireDType = .float32) throws -> [NamedTensor] {
        var tensors = [
            try pack(hiddenStates, state.hiddenStates, as: dtype),
            try pack(timestepProjection, state.timestepProjection),
            try pack(timeEmbedding, state.timeEmbedding),
            try pack(grid, gridTensor(state.grid)),
        ]
        if let rows = state.tokenTimestepRows { tensors.append(try pack(tokenTimestepRows, tokenRowsTensor(rows))) }
        return tensors
    }

    /// The grid as the float32 tensor `grid`.
    public static func gridTensor(_ grid: WanPatchGrid) -> Tensor {
        Tensor(shape: [4], scalars: [grid.batch, grid.frames, grid.height, grid.width].map { Float($0) })
    }

    /// SHA-256 of the config as sorted-key JSON: what both sides compare in `assignStage`.
    public static func configHash(_ config: WanTransformerConfig) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return SHA256.hash(Array(try encoder.encode(config)))
    }
}
