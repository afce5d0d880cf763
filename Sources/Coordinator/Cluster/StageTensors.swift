// The stage protocol's tensor names and conversions, shared by the coordinator and the workers: this one file
// is compiled into both executables (Sources/Worker/StageTensors.swift is a symbolic link to it), since the
// module layout has no library where Model and Wire meet.
import Foundation
import Model
import Wire

/// Names and conversions of the tensors that travel between the coordinator and pipeline stages.
///
/// A `forward` carries `hidden_states` [1, N, dim], `timestep_projection` [1, 6 dim], `time_embedding` [1, dim]
/// and `grid` [4] (batch, frames, height, width of the patch grid, as exact small integers in float32). A
/// `forwardResult` carries `hidden_states` after the last block. A `jobContext` carries the projected text of
/// each guidance branch as `text.0` (conditional) and `text.1` (unconditional), [1, L, dim].
enum StageTensors {
    static let hiddenStates = "hidden_states"
    static let timestepProjection = "timestep_projection"
    static let timeEmbedding = "time_embedding"
    static let grid = "grid"
    /// The name of a branch's projected text in a job context.
    static func text(branch: Int) -> String { "text.\(branch)" }

    /// A tensor packed for the wire, narrowed to `dtype` when it is not float32.
    static func pack(_ name: String, _ tensor: Tensor, as dtype: WireDType = .float32) throws -> NamedTensor {
        let wire = try tensor.withUnsafeBufferPointer { buffer in
            try WireTensor(float32: buffer, shape: tensor.shape, as: dtype)
        }
        return NamedTensor(name: name, tensor: wire)
    }

    /// The tensor called `name` in `tensors`, widened to float32, or an error naming what is missing.
    static func unpack(_ name: String, from tensors: [NamedTensor], in what: String) throws -> Tensor {
        let matches = tensors.filter { $0.name == name }
        guard matches.count == 1, let wire = matches.first?.tensor else {
            throw StageProtocolError(
                "\(what) must carry exactly one tensor named \"\(name)\", found \(matches.count) (tensors: "
                    + tensors.map(\.name).joined(separator: ", ") + ")")
        }
        return Tensor(shape: wire.shape) { wire.widen(into: $0) }
    }

    /// The patch grid carried by `grid`, checked: four positive integers, batch 1, at most `maxTokens` tokens.
    static func grid(from tensor: Tensor, maxTokens: Int) throws -> WanPatchGrid {
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

    /// The grid as the float32 tensor `grid`.
    static func gridTensor(_ grid: WanPatchGrid) -> Tensor {
        Tensor(shape: [4], scalars: [grid.batch, grid.frames, grid.height, grid.width].map { Float($0) })
    }

    /// SHA-256 of the config as sorted-key JSON: what both sides compare in `assignStage`.
    static func configHash(_ config: WanTransformerConfig) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return SHA256.hash(Array(try encoder.encode(config)))
    }
}

/// The settings in `assignStage.optionsJSON`.
struct StageOptions: Codable, Equatable {
    /// Micro-batches the coordinator keeps in flight per stage (the worker queues at most twice this).
    var maxInflightPerStage: Int
    /// The coordinator's plan number; logged, so a stage's messages can be matched to a plan.
    var planEpoch: Int
    /// The planner's bytes of one micro-batch's activations (reported back in stageReady).
    var activationBytes: Int?
    /// The planner's scratch bytes of one block on one micro-batch (reported back in stageReady).
    var workspaceBytes: Int?

    enum CodingKeys: String, CodingKey {
        case maxInflightPerStage = "max_inflight_per_stage"
        case planEpoch = "plan_epoch"
        case activationBytes = "activation_bytes"
        case workspaceBytes = "workspace_bytes"
    }
}

/// A stage message that breaks the stage protocol's rules.
struct StageProtocolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
