// The coordinator's share of a model: the family with its transformer's entry and exit pieces (the blocks run on the
// workers), driven by the same `VideoGenerator` as `generate`, plus what only the coordinator needs: the config hash
// every worker checks and the planner's view of a job.
import Foundation
import Model
import Cluster

/// The coordinator's share of the model, loaded once by `serve`.
///
/// The entry piece (patch + condition embedding) and the exit piece (output norm, projection, unpatchify) are a
/// few linear layers: a tiny share of a step's compute next to the blocks, so they stay here and the stages only
/// ever exchange `[tokens, dim]` activations.
final class CoordinatorModel: Sendable {
    /// The model family, its transformer loaded without blocks.
    let family: Wan21Family
    /// The generation algorithm over the family: job preparation, each unit's entry and exit, the decode.
    let generator: VideoGenerator
    /// SHA-256 of the transformer config, checked by every worker.
    let configHash: [UInt8]

    init(path: String) throws {
        family = try Wan21Family(folder: try ModelFolder(path: path), transformer: .entryAndExit)
        generator = VideoGenerator(family: family)
        configHash = try StageTensors.configHash(family.transformer.config)
    }

    /// The model's preferred job settings.
    var defaults: GenerationDefaults { family.defaults }

    /// Refuses jobs this model cannot run (bad fields, sizes it cannot patch).
    func check(_ spec: VideoJobSpec) throws {
        try family.layout.check(spec)
    }

    /// Reads the job's LoRAs and checks them against the model: what `submit` refuses a job for, before it is
    /// queued. Returns the bytes they hold (each stage holds at most that share of them).
    func checkLoRAs(_ spec: VideoJobSpec, displayNames: [String: String] = [:]) throws -> Int {
        guard let references = spec.loras, !references.isEmpty else { return 0 }
        let stack = try LoRAStack.load(references, displayNames: displayNames)
        try family.check(stack)
        return stack.byteCount
    }

    /// The planner's view of a job on this model, whose LoRAs hold `loraBytes` (a stage's share is at most that).
    func planningModel(for spec: VideoJobSpec, loraBytes: Int = 0) throws -> PlanningModel {
        var model = try Self.planningModel(layout: family.layout, figures: family.figures, spec: spec)
        model.jobContextBytes += loraBytes
        return model
    }

    /// Bytes per micro-batch and per block from the family's figures and the job's largest window (see
    /// docs/CLUSTER.md).
    static func planningModel(layout: LatentLayout, figures: TransformerFigures, spec: VideoJobSpec) throws -> PlanningModel {
        let plan = try spec.windowPlan()
        let tokens = try layout.largestWindowTokens(of: spec)
        let textLength = spec.maxSequenceLength
        let branches = spec.usesGuidance ? 2 : 1
        return PlanningModel(
            layerCount: figures.blockCount, bytesPerLayer: figures.bytesPerBlock,
            activationBytes: figures.activationBytes(tokens: tokens),
            workspaceBytes: figures.workspaceBytes(tokens: tokens, textLength: textLength),
            jobContextBytes: branches * figures.textBytes(textLength: textLength),
            promptCacheBytesPerLayer: branches * figures.promptCacheBytesPerBlock(textLength: textLength),
            processOverheadBytes: ClusterConstants.processOverheadBytes,
            unitsPerStep: plan.windows.count * branches,
            flopsPerLayer: figures.flopsPerBlock(tokens: tokens, textLength: textLength))
    }
}
