// Places the transformer's layers on workers: contiguous ranges sized by memory and speed, one or more
// pipelines side by side, with every process's predicted peak memory. Pure: no I/O.
import Foundation
import Model

/// What the planner needs to know about the model and the job, in bytes and counts.
struct PlanningModel: Equatable, Sendable {
    /// Transformer blocks.
    var layerCount: Int
    /// Weight bytes of one block as stored in memory.
    var bytesPerLayer: Int
    /// Bytes of one micro-batch's hidden states crossing a stage boundary ([tokens, dim] float32).
    var activationBytes: Int
    /// Peak scratch bytes while one block runs on one micro-batch (q, k, v, attention output, FFN hidden).
    var workspaceBytes: Int
    /// Per-job constants each stage keeps (text embeddings of both branches, modulation, rotary tables).
    var jobContextBytes: Int
    /// Bytes each hosted block keeps in the prompt cache for the job's prompts (cross-attention keys and values
    /// of every guidance branch's text).
    var promptCacheBytesPerLayer: Int = 0
    /// Fixed cost of a worker process (runtime, BLAS buffers, connection buffers).
    var processOverheadBytes: Int
    /// Micro-batches each step must push through a pipeline (windows x guidance branches).
    var unitsPerStep: Int
    /// Floating-point operations of one block on the largest micro-batch (0 when unknown).
    var flopsPerLayer: Double = 0
}

/// One worker as the planner sees it.
struct PlanningWorker: Equatable, Sendable {
    /// The worker's name.
    var name: String
    /// Its memory budget in bytes.
    var memoryBytes: Int
    /// Its speed in layer-passes per second on one micro-batch: from its calibration when `measured`, otherwise
    /// a relative figure (its thread count).
    var layersPerSecond: Double
    /// Whether `layersPerSecond` comes from a measurement (then predicted times are seconds).
    var measured = false
}

/// One stage of one pipeline.
struct PlannedStage: Equatable, Sendable {
    /// The worker hosting it.
    var worker: String
    /// The blocks it runs.
    var layers: Range<Int>
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
    /// Whether every placed worker's speed was measured, so `predictedSecondsPerStep` is in seconds (otherwise it
    /// is only good for comparing candidates).
    var secondsAreMeasured = false
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
        guard var best else { throw firstFailure! }
        best.secondsAreMeasured = model.flopsPerLayer > 0 && workers.allSatisfy(\.measured)
        return best
    }

    /// Predicted peak bytes of a stage with `layers` blocks (the entry and exit pieces run on the coordinator).
    static func peakBytes(model: PlanningModel, layers: Int, inflight: Int) -> Int {
        model.processOverheadBytes + layers * (model.bytesPerLayer + model.promptCacheBytesPerLayer) + model.jobContextBytes
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
        // Capacity in layers of each worker.
        var capacity = [Int](repeating: 0, count: n)
        let fixed = peakBytes(model: model, layers: 0, inflight: inflight)
        for (index, worker) in workers.enumerated() {
            capacity[index] = max(0, (worker.memoryBytes - fixed) / max(1, model.bytesPerLayer + model.promptCacheBytesPerLayer))
        }
        let totalCapacity = capacity.reduce(0, +)
        guard totalCapacity >= model.layerCount else {
            let missingLayers = model.layerCount - totalCapacity
            let need = peakBytes(model: model, layers: 1, inflight: inflight)
            let detail = workers.enumerated().map { index, worker in
                 "\(worker.name): budget \(formatBytes(worker.memoryBytes)), holds \(capacity[index]) layers (one layer with its activations needs \(formatBytes(need)))"
            }.joined(separator: "; ")
            throw PlanningError(
                description: "the model's \(model.layerCount) layers do not fit: \(missingLayers) layers (\(formatBytes(missingLayers * model.bytesPerLayer)) of weights) have no room; \(detail)")
        }
        // Water-filling: share layers by speed (largest remainders get the odd layers), clamp to capacity,
        // share what the clamped ones could not take among the others.
        var assigned = [Int](repeating: 0, count: n)
        var remaining = model.layerCount
        var open = (0..<n).filter { capacity[$0] > 0 }
        while remaining > 0 && !open.isEmpty {
            let speedSum = open.map { workers[$0].layersPerSecond }.reduce(0, +)
            let ideal = open.map { Double(remaining) * workers[$0].layersPerSecond / max(speedSum, 1e-12) }
            var given = 0
            for (slot, index) in open.enumerated() {
                let take = min(Int((ideal[slot] + 1e-9).rounded(.down)), capacity[index] - assigned[index])
                assigned[index] += take
                given += take
            }
            let byRemainder = open.indices.sorted {
                let a = ideal[$0] - ideal[$0].rounded(.down), b = ideal[$1] - ideal[$1].rounded(.down)
                if abs(a - b) > 1e-9 { return a > b }
                let speedA = workers[open[$0]].layersPerSecond, speedB = workers[open[$1]].layersPerSecond
                return speedA != speedB ? speedA > speedB : open[$0] < open[$1]
            }
            for slot in byRemainder where given < remaining && assigned[open[slot]] < capacity[open[slot]] {
                assigned[open[slot]] += 1
                given += 1
            }
            remaining -= given
            open = open.filter { assigned[$0] < capacity[$0] }
        }
        var stages: [PlannedStage] = []
        var next = 0
        let used = assigned.indices.filter { assigned[$0] > 0 }
        for index in used {
            let range = next..<(next + assigned[index])
            next = range.upperBound
            stages.append(
                PlannedStage(
                    worker: workers[index].name, layers: range,
                    predictedPeakBytes: peakBytes(model: model, layers: range.count, inflight: inflight),
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

// MARK: - Speeds

/// Turns the workers' calibrations (GFLOP/s from their start-up probe) into the planner's layers per second.
///
/// Noise must not move layers: two equal machines measure a few percent apart from one start to the next. So
/// speeds are taken relative to the fastest worker and rounded to third octaves (steps of 2^(1/3), about 26%)
/// before the split: workers within 11% of the fastest count as exactly as fast, a worker at half the speed stays
/// at exactly half under +-5% jitter of both, and the placement is a deterministic function of those buckets. The fastest speed itself is rounded the same way, so predicted times
/// are stable too. A worker without a calibration (an older worker) counts as its thread count times the median
/// per-thread speed of the measured ones; when none is measured, speeds are the thread counts (relative only).
enum SpeedCalibration {
    /// Buckets per doubling of speed.
    static let bucketsPerOctave = 3.0

    /// Whether a reported speed can be used (finite, positive, below 10 PFLOP/s).
    static func isPlausible(_ gigaflops: Double) -> Bool { gigaflops.isFinite && gigaflops > 1e-3 && gigaflops < 1e7 }

    /// `value` rounded to the nearest third of an octave.
    static func bucket(_ value: Double) -> Double {
        exp2((log2(value) * bucketsPerOctave).rounded() / bucketsPerOctave)
    }

    /// Speeds rounded into buckets relative to the fastest.
    static func bucketed(_ speeds: [Double]) -> [Double] {
        guard let fastest = speeds.max(), fastest > 0 else { return speeds }
        let top = bucket(fastest)
        return speeds.map { top * bucket($0 / fastest) }
    }

    /// The planner's workers for `entries`, with `measured` GFLOP/s by worker name.
    static func planningWorkers(_ entries: [WorkerEntry], measured: [String: Double], flopsPerLayer: Double) -> [PlanningWorker] {
        let known = entries.compactMap { entry in measured[entry.name].map { $0 / Double(max(entry.threads, 1)) } }.sorted()
        guard !known.isEmpty, flopsPerLayer > 0 else {
            return entries.map { PlanningWorker(name: $0.name, memoryBytes: $0.memoryBytes, layersPerSecond: Double($0.threads)) }
        }
        let perThread = known[known.count / 2]
        let raw = entries.map { measured[$0.name] ?? perThread * Double(max($0.threads, 1)) }
        let speeds = bucketed(raw)
        return entries.indices.map { index in
            PlanningWorker(
                name: entries[index].name, memoryBytes: entries[index].memoryBytes,
                layersPerSecond: speeds[index] * 1e9 / flopsPerLayer, measured: measured[entries[index].name] != nil)
        }
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
