// The stage options the coordinator sends in `assignStage.optionsJSON` (docs/PROTOCOL.md).
import Foundation

/// The settings in `assignStage.optionsJSON`.
public struct StageOptions: Codable, Equatable, Sendable {
    /// Micro-batches the coordinator keeps in flight per stage (the worker queues at most twice this).
    public var maxInflightPerStage: Int
    /// The coordinator's plan number; logged, so a stage's messages can be matched to a plan.
    public var planEpoch: Int
    /// The planner's bytes of one micro-batch's activations (reported back in stageReady).
    public var activationBytes: Int?
    /// The planner's scratch bytes of one block on one micro-batch (reported back in stageReady).
    public var workspaceBytes: Int?

    /// Options with every field given.
    public init(maxInflightPerStage: Int, planEpoch: Int, activationBytes: Int? = nil, workspaceBytes: Int? = nil) {
        self.maxInflightPerStage = maxInflightPerStage
        self.planEpoch = planEpoch
        self.activationBytes = activationBytes
        self.workspaceBytes = workspaceBytes
    }

    enum CodingKeys: String, CodingKey {
        case maxInflightPerStage = "max_inflight_per_stage"
        case planEpoch = "plan_epoch"
        case activationBytes = "activation_bytes"
        case workspaceBytes = "workspace_bytes"
    }
}
