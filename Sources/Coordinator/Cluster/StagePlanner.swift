// Places the transformer's layers on workers: contiguous ranges sized by memory and speed, one or more
import Foundation
// pipelines side by side, with every process's predicted peak memory. Pure: no I/O.

/// What the planner needs to know about the model and the job, in bytes and counts.
struct PlanningModel: Equatable, Sendable {
    /// Transformer blocks.
    var layerCount: Int
    /// Weight bytes of one block as stored in memory.
    var bytesPerLayer: Int
    /// Weight bytes of the entry piece (patch + condition embedding).
    var entryBytes: Int
    /// Weight bytes of the exit piece (output norm + projection).
    var exitBytes: Int
    /// Bytes of one micro-batch's hidden states crossing a stage boundary ([tokens, dim] float32).
    var activationBytes: Int
    /// Peak scratch bytes while one block runs on one micro-batch (q, k, v, attention output, FFN hidden).
    var workspaceBytes: Int
    /// Per-job constants each stage keeps (text embeddings of both branches, modulation, rotary tables).
    var jobContextBytes: Int
    /// Fixed cost of a worker process (runtime, BLAS buffers, connection buffers).
    var processOverheadBytes: Int
    /// Micro-batches each step must push through a pipeline (windows x guidance branches).
    var unitsPerStep: Int
}

/// One worker as the planner sees it.
struct PlanningWorker: Equatable, Sendable {
    /// The worker's name.
    var name: String
    /// Its memory budget in bytes.
    var memoryBytes: Int
    /// Its measured speed in layer-passes per second on one micro-batch (from calibration; 1 if unknown).
    var layersPerSecond: Double
}

/// One stage of one pipeline.
struct PlannedStage: Equatable, Sendable {
    /// The worker hosting it.
    var worker: String
    /// The blocks it runs.
    var layers: Range<Int>
    /// Whether it runs the entry piece (first stage) and the exit piece (last stage).
    var hostsEntry: Bool
    var hostsExit: Bool
    /// Predicted peak resident bytes.
    var predictedPeakBytes: Int
    /// Predicted seconds of compute per micro-batch.
    var secondsPerMicroBatch: Double
}

/// A placement: one or more pipelines, each a list of stages covering all layers in order.
struct StagePlan: Equatable, Sendable {
    /// The pipelines; windows are dealt across them.
    var pipelines: [[PlannedStage]]
    /// Predicted seconds per denoising step.
    var predictedSecondsPerStep: Double
    /// Workers that got no stage.
    var idleWorkers: [String]
}

/// Why a job cannot be placed, naming where memory is missing.
struct PlanningError: Error, CustomStringConvertible, Equatable {
    let description: String
}

/// Chooses a placement.
///
/// Each candidate is a number of pipelines `p` (1, 2, ...); the workers are dealt round-robin by speed into
/// `p` groups, and each group's layers are split in proportion to speed, capped by what its memory holds.
/// A pipeline of `k` stages with `u` micro-batches per step takes about `(u / p + k - 1)` times its slowest
/// stage; the candidate with the smallest predicted step time wins, ties going to fewer pipelines (less
/// weight memory). A deeper pipeline is chosen when the model does not fit on fewer workers, or when the
/// job has few windows so replicas would idle.
enum StagePlanner {
    static func plan(model: PlanningModel, workers: [PlanningWorker], maxInflightPerStage: Int) throws -> StagePlan {
        guard !workers.isEmpty else { throw PlanningError(description: "no workers are available") }
        guard model.layerCount > 0 else { throw PlanningError(description: "the model has no layers") }
        var best: StagePlan?
        var firstFailure: PlanningError?
        for pipelineCount in 1...max(1, min(workers.count, model.unitsPerStep)) {
            do {
                let candidate = try planPipelines(
                    count: pipelineCount, model: model, workers: workers, inflight: maxInflightPerStage)
                if best == nil || candidate.predictedSecondsPerStep < best!.predictedSecondsPerStep * 0.98 {
                    best = candidate
                }
            } catch let error as PlanningError {
                if firstFailure == nil { firstFailure = error }
            }
        }
        guard let best else { throw firstFailure! }
        return best
    }

    /// Predicted peak bytes of a stage with `layers` blocks.
    static func peakBytes(model: PlanningModel, layers: Int, entry: Bool, exit: Bool, inflight: Int) -> Int {
        model.processOverheadBytes + layers * model.bytesPerLayer + (entry ? model.entryBytes : 0)
            + (exit ? model.exitBytes : 0) + model.jobContextBytes
            + 2 * inflight * model.activationBytes + model.workspaceBytes
    }

    private static func planPipelines(
        count: Int, model: PlanningModel, workers: [PlanningWorker], inflight: Int
    ) throws -> StagePlan {
        // Deal workers into groups, fastest first, so groups are balanced; keep config order inside a group.
        let order = workers.indices.sorted { workers[$0].layersPerSecond > workers[$1].layersPerSecond || (workers[$0].layersPerSecond == workers[$1].layersPerSecond && $0 < $1) }
        var groups = [[Int]](repeating: [], count: count)
        for (rank, index) in order.enumerated() { groups[rank % count].append(index) }
        var pipelines: [[PlannedStage]] = []
        var idle: [String] = []
        var slowestStep = 0.0
        for group in groups {
            let members = group.sorted().map { workers[$0] }
            let stages = try splitLayers(model: model, workers: members, inflight: inflight)
            for worker in members where !stages.contains(where: { $0.worker == worker.name }) { idle.append(worker.name) }
            let slowest = stages.map(\.secondsPerMicroBatch).max() ?? 0
            let unitsHere = Double((model.unitsPerStep + count - 1) / count)
            slowestStep = max(slowestStep, (unitsHere + Double(stages.count - 1)) * slowest)
            pipelines.append(stages)
        }
        return StagePlan(pipelines: pipelines, predictedSecondsPerStep: slowestStep, idleWorkers: idle)
    }

    /// Splits all layers over `workers` (in order) in proportion to speed, within each one's memory.
    private static func splitLayers(model: PlanningModel, workers: [PlanningWorker], inflight: Int) throws -> [PlannedStage] {
        let n = workers.count
        // Capacity in layers of each worker, assuming it might host entry and exit (first/last).
        var capacity = [Int](repeating: 0, count: n)
        for (index, worker) in workers.enumerated() {
            let fixed = peakBytes(model: model, layers: 0, entry: index == 0, exit: index == n - 1, inflight: inflight)
            capacity[index] = max(0, (worker.memoryBytes - fixed) / max(1, model.bytesPerLayer))
        }
        let totalCapacity = capacity.reduce(0, +)
        guard totalCapacity >= model.layerCount else {
            let missingLayers = model.layerCount - totalCapacity
            let detail = workers.enumerated().map { index, worker in
                let need = peakBytes(model: model, layers: 1, entry: index == 0, exit: index == n - 1, inflight: inflight)
                return "\(worker.name): budget \(formatBytes(worker.memoryBytes)), holds \(capacity[index]) layers (one layer with its activations needs \(formatBytes(need)))"
            }.joined(separator: "; ")
            throw PlanningError(
                description: "the model's \(model.layerCount) layers do not fit: \(missingLayers) layers (\(formatBytes(missingLayers * model.bytesPerLayer)) of weights) have no room; \(detail)")
        }
        // Water-filling: share layers by speed, clamp to capacity, redistribute the rest.
        var assigned = [Int](repeating: 0, count: n)
        var remaining = model.layerCount
        var open = Set(0..<n)
        while remaining > 0 && !open.isEmpty {
            let speedSum = open.map { workers[$0].layersPerSecond }.reduce(0, +)
            var given = 0
            for index in open.sorted() {
                let share = Int((Double(remaining) * workers[index].layersPerSecond / max(speedSum, 1e-12)).rounded(.down))
                let take = min(share, capacity[index] - assigned[index])
                assigned[index] += take
                given += take
            }
            remaining -= given
            if given == 0 {
                // Hand out single layers to the fastest open workers with room.
                for index in open.sorted(by: { workers[$0].layersPerSecond > workers[$1].layersPerSecond || (workers[$0].layersPerSecond == workers[$1].layersPerSecond && $0 < $1) }) where remaining > 0 {
                    if assigned[index] < capacity[index] {
                        assigned[index] += 1
                        remaining -= 1
                    }
                }
            }
            open = open.filter { assigned[$0] < capacity[$0] }
        }
        var stages: [PlannedStage] = []
        var next = 0
        let used = assigned.indices.filter { assigned[$0] > 0 }
        for (position, index) in used.enumerated() {
            let range = next..<(next + assigned[index])
            next = range.upperBound
            let entry = position == 0, exit = position == used.count - 1
            stages.append(
                PlannedStage(
                    worker: workers[index].name, layers: range, hostsEntry: entry, hostsExit: exit,
                    predictedPeakBytes: peakBytes(model: model, layers: range.count, entry: entry, exit: exit, inflight: inflight),
                    secondsPerMicroBatch: Double(range.count) / max(workers[index].layersPerSecond, 1e-12)))
        }
        for stage in stages {
            let budget = workers.first { $0.name == stage.worker }!.memoryBytes
            guard stage.predictedPeakBytes <= budget else {
                throw PlanningError(
                    description: "worker \(stage.worker) would need \(formatBytes(stage.predictedPeakBytes)) for layers \(stage.layers.lowerBound)..<\(stage.layers.upperBound) but its budget is \(formatBytes(budget)); \(formatBytes(stage.predictedPeakBytes - budget)) missing")
            }
        }
        return stages
    }
}

/// `1.50 GiB`, `512.0 MiB`, `300 B`.
func formatBytes(_ bytes: Int) -> String {
    let value = Double(bytes)
    if abs(value) >= Double(1 << 30) { return String(format: "%.2f GiB", value / Double(1 << 30)) }
    if abs(value) >= Double(1 << 20) { return String(format: "%.1f MiB", value / Double(1 << 20)) }
    if abs(value) >= Double(1 << 10) { return String(format: "%.1f KiB", value / Double(1 << 10)) }
    return "\(bytes) B"
}
