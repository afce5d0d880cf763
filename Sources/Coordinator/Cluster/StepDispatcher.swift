// Deals one denoising step's units of work to pipelines with bounded in-flight counts, and re-queues the
// units of a pipeline that fails. A pure state machine: events in, actions out, no I/O.

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

    /// Records a result; returns `false` when it was not expected (duplicate or stale) and must be dropped.
    mutating func complete(_ unit: Unit, pipeline: Int) -> (accepted: Bool, actions: [DispatchAction<Unit>]) {
        guard inFlight.indices.contains(pipeline), inFlight[pipeline].remove(unit) != nil,
            !completed.contains(unit)
        else { return (false, []) }
        completed.insert(unit)
        return (true, fill())
    }

    /// A pipeline failed: its in-flight units go back to the front of the queue, in their original order.
    mutating func pipelineFailed(_ pipeline: Int, order: [Unit]) -> [DispatchAction<Unit>] {
        guard inFlight.indices.contains(pipeline) else { return [] }
        openPipelines.remove(pipeline)
        let lost = inFlight[pipeline]
        inFlight[pipeline] = []
        queue = order.filter { lost.contains($0) } + queue
        return fill()
    }

    /// Whether no pipeline is left to take the remaining work.
    var isStalled: Bool { !isComplete && openPipelines.isEmpty }
}
