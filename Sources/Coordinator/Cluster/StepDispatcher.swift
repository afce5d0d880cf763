// Deals one denoising step's units of work to pipelines with bounded in-flight counts, re-queues the units of a
// pipeline that fails, and redoes a unit whose result never comes (the watchdog). Pure state machines: events and
// times in, actions out, no I/O.

/// What the dispatcher wants done.
enum DispatchAction<Unit: Hashable & Sendable>: Equatable, Sendable {
    /// Send `unit` into pipeline `pipeline`.
    case send(Unit, pipeline: Int)
    /// Every unit of the step has a result.
    case stepComplete
}

/// The state of one step's dispatch.
///
/// Units are handed out in the order given, each to the open pipeline with the fewest units in flight
/// (lowest index on ties), up to `capacity` per pipeline. Results may arrive in any order; a duplicate or
/// stale result (from a unit that was re-queued after its pipeline failed) is ignored, so a unit counts once.
struct StepDispatcher<Unit: Hashable & Sendable>: Sendable {
    /// Units not yet sent, in order.
    private(set) var queue: [Unit]
    /// Units in flight per pipeline.
    private(set) var inFlight: [Set<Unit>]
    /// Units with a result.
    private(set) var completed: Set<Unit> = []
    /// Pipelines that may take work.
    private(set) var openPipelines: Set<Int>
    /// Most units in flight per pipeline.
    let capacity: Int
    private let total: Int
    /// When each in-flight unit was sent (the caller's clock, seconds).
    private(set) var sentAt: [Unit: Double] = [:]
    /// Units the watchdog declared lost and re-queued, with the pipeline they were lost in (a late result from
    /// there still counts) and how often each was lost this step.
    private(set) var lostFrom: [Unit: Int] = [:]
    private(set) var lossCount: [Unit: Int] = [:]

    /// Starts a step with `units` over `pipelineCount` pipelines.
    init(units: [Unit], pipelineCount: Int, capacityPerPipeline: Int) {
        precondition(pipelineCount > 0 && capacityPerPipeline > 0)
        queue = units
        total = Set(units).count
        inFlight = Array(repeating: [], count: pipelineCount)
        openPipelines = Set(0..<pipelineCount)
        capacity = capacityPerPipeline
    }

    /// Whether every unit has a result.
    var isComplete: Bool { completed.count == total }

    /// Hands out as much work as capacity allows.
    mutating func fill() -> [DispatchAction<Unit>] {
        var actions: [DispatchAction<Unit>] = []
        while !queue.isEmpty {
            let candidates = openPipelines.filter { inFlight[$0].count < capacity }
            guard let pipeline = candidates.min(by: { (inFlight[$0].count, $0) < (inFlight[$1].count, $1) }) else { break }
            let unit = queue.removeFirst()
            if completed.contains(unit) { continue }
            inFlight[pipeline].insert(unit)
            actions.append(.send(unit, pipeline: pipeline))
        }
        if isComplete { actions.append(.stepComplete) }
        return actions
    }

    /// Records that `unit` was sent at `time` (starts its watchdog clock).
    mutating func markSent(_ unit: Unit, at time: Double) {
        sentAt[unit] = time
    }

    /// Records a result; returns `false` when it was not expected (duplicate or stale) and must be dropped.
    ///
    /// A late result of a unit the watchdog took as lost counts if it comes from the pipeline it was lost in: the
    /// unit is taken off the queue, or if it was sent again, that send's result will be the duplicate.
    mutating func complete(_ unit: Unit, pipeline: Int) -> (accepted: Bool, actions: [DispatchAction<Unit>]) {
        guard inFlight.indices.contains(pipeline), !completed.contains(unit) else { return (false, []) }
        if inFlight[pipeline].remove(unit) == nil {
            guard lostFrom[unit] == pipeline else { return (false, []) }
            if let index = queue.firstIndex(of: unit) { queue.remove(at: index) }
            for other in inFlight.indices { inFlight[other].remove(unit) }
        }
        lostFrom[unit] = nil
        sentAt[unit] = nil
        completed.insert(unit)
        return (true, fill())
    }

    /// The watchdog: every in-flight unit sent more than `bound` seconds before `now` is taken as lost, re-queued
    /// at the front (in `order`) and sent again as capacity allows. Returns the lost units with their pipelines.
    mutating func expire(now: Double, bound: Double, order: [Unit]) -> (lost: [(unit: Unit, pipeline: Int)], actions: [DispatchAction<Unit>]) {
        var lost: [(unit: Unit, pipeline: Int)] = []
        for pipeline in inFlight.indices where openPipelines.contains(pipeline) {
            for unit in inFlight[pipeline] {
                guard let sent = sentAt[unit], now - sent > bound else { continue }
                lost.append((unit, pipeline))
            }
        }
        guard !lost.isEmpty else { return ([], []) }
        let rank = Dictionary(order.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
        lost.sort { (rank[$0.unit] ?? Int.max, $0.pipeline) < (rank[$1.unit] ?? Int.max, $1.pipeline) }
        for (unit, pipeline) in lost {
            inFlight[pipeline].remove(unit)
            sentAt[unit] = nil
            lostFrom[unit] = pipeline
            lossCount[unit, default: 0] += 1
        }
        queue = lost.map(\.unit) + queue
        return (lost, fill())
    }

    /// A pipeline failed: its in-flight units go back to the front of the queue, in their original order.
    mutating func pipelineFailed(_ pipeline: Int, order: [Unit]) -> [DispatchAction<Unit>] {
        guard inFlight.indices.contains(pipeline) else { return [] }
        openPipelines.remove(pipeline)
        let lost = inFlight[pipeline]
        inFlight[pipeline] = []
        for unit in lost { sentAt[unit] = nil }
        for (unit, from) in lostFrom where from == pipeline { lostFrom[unit] = nil }
        queue = order.filter { lost.contains($0) } + queue
        return fill()
    }

    /// Whether no pipeline is left to take the remaining work.
    var isStalled: Bool { !isComplete && openPipelines.isEmpty }
}

// MARK: - Watchdog bound

/// How long a micro-batch may go without a result before the coordinator takes it as lost (while every worker
/// still heartbeats: a dead or silent worker is caught sooner by the connection's dead-peer time).
///
/// The bound is `observedFactor` times the slowest round trip (send to result) seen in this job, or before any,
/// `predictedFactor` times the planner's prediction when speeds were measured (`unmeasuredSeconds` otherwise);
/// never less than `floorSeconds`. A round trip includes waiting behind the other micro-batches in flight, so the
/// slowest seen already covers a full pipeline.
struct UnitWatchdog: Sendable {
    static let floorSeconds = 10.0
    static let observedFactor = 4.0
    static let predictedFactor = 10.0
    static let unmeasuredSeconds = 600.0
    /// Losses of one unit in one step after which its pipeline is taken as broken and the step re-planned.
    static let maxLossesPerUnit = 3

    /// The slowest round trip seen in this job.
    private(set) var slowestObserved: Double?
    /// The planner's predicted round trip (nil when speeds were not measured).
    var predicted: Double?

    /// Records a round trip.
    mutating func observe(_ seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        slowestObserved = max(slowestObserved ?? 0, seconds)
    }

    /// Seconds after which an unanswered micro-batch is lost.
    var boundSeconds: Double {
        let derived = slowestObserved.map { Self.observedFactor * $0 }
            ?? predicted.map { Self.predictedFactor * $0 } ?? Self.unmeasuredSeconds
        return max(Self.floorSeconds, derived)
    }

    /// The planner's round trip of one micro-batch: through every stage of the slowest pipeline, behind the
    /// `inflight` micro-batches the first stage may hold. Nil when the plan's seconds are not measured.
    static func predictedRoundTrip(_ plan: StagePlan, inflight: Int) -> Double? {
        guard plan.secondsAreMeasured else { return nil }
        return plan.pipelines.map { stages in
            stages.map(\.secondsPerMicroBatch).reduce(0, +) + Double(max(inflight, 1) - 1) * (stages.map(\.secondsPerMicroBatch).max() ?? 0)
        }.max()
    }
}
