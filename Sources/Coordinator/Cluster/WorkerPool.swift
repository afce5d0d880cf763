// The coordinator's connections to the workers of cluster.yaml: connecting and reconnecting, what each one
// currently hosts, and one stream of events (results, failures, arrivals) for the job runner.
import Foundation
import Wire
import Cluster

/// Something a worker did that the job runner must hear about.
enum PoolEvent: Sendable {
    /// The last stage of a pipeline returned a micro-batch.
    case result(worker: String, generation: Int, ForwardResult)
    /// A worker's connection ended, or it reported a micro-batch it could not run or pass on; `planEpoch` is the
    /// plan a stage failure was reported under (nil when the failure is not a stage's report).
    case failure(worker: String, generation: Int, reason: String, planEpoch: Int?)
    /// A worker (re)connected.
    case joined(worker: String)
    /// Nothing happened, look again (cancellation, timers).
    case wake
}

/// What a worker is told to host; equal keys need no new `assignStage`.
struct StageKey: Equatable, Sendable {
    var layers: Range<Int>
    var stageIndex: Int
    var stageCount: Int
    var nextHop: String
    var maxInflight: Int
}

/// The connected workers.
actor WorkerPool {
    struct Link {
        let entry: WorkerEntry
        let connection: WireConnection
        let generation: Int
        var stage: StageKey?
        /// The plan number the current stage was assigned under (the worker tags its failure reports with it).
        var stageEpoch = 0
        var contexts: Set<String> = []
        /// What the worker reported when it connected: its calibrated speed and its own `--memory`.
        var report = WorkerReport()
    }

    let entries: [WorkerEntry]
    let options: ConnectionOptions
    nonisolated let events: AsyncStream<PoolEvent>
    private let sink: AsyncStream<PoolEvent>.Continuation
    private var links: [String: Link] = [:]
    private var connecting: Set<String> = []
    private var generation = 0
    private var lastFailure: [String: String] = [:]

    init(entries: [WorkerEntry], options: ConnectionOptions) {
        self.entries = entries
        self.options = options
        (events, sink) = AsyncStream<PoolEvent>.makeStream()
    }

    nonisolated func post(_ event: PoolEvent) { sink.yield(event) }

    let log = Log("coordinator")

    /// Tries to connect every configured worker that has no connection.
    func connectMissing() async {
        for entry in entries where links[entry.name] == nil && !connecting.contains(entry.name) {
            connecting.insert(entry.name)
            Task { await self.connect(entry) }
        }
    }

    private func connect(_ entry: WorkerEntry) async {
        defer { connecting.remove(entry.name) }
        do {
            let connection = try await WireConnection.connect(to: entry.address.description, options: options)
            guard connection.session.peerRole == .worker else {
                connection.abort(reason: "not a worker")
                throw ClusterError("\(entry.address) answered as a \(connection.session.peerRole), not a worker")
            }
            let report = await WorkerReport.ask(connection)
            generation += 1
            var link = Link(entry: entry, connection: connection, generation: generation)
            link.report = report
            links[entry.name] = link
            lastFailure[entry.name] = nil
            var described = report.gigaflops.map { String(format: "measured speed %.1f GFLOP/s", $0) } ?? "no speed measurement (planned by threads)"
            if let budget = report.budgetBytes, budget < entry.memoryBytes {
                described += "; its --memory \(formatBytes(budget)) is below cluster.yaml's \(formatBytes(entry.memoryBytes)) and is planned with"
            }
            log("worker \(entry.name) connected at \(entry.address), \(described)")
            let generation = link.generation
            Task { await self.read(link.connection, worker: entry.name, generation: generation) }
            post(.joined(worker: entry.name))
        } catch {
            let text = "\(error)"
            if lastFailure[entry.name] != text { log("worker \(entry.name) at \(entry.address) unreachable: \(text)") }
            lastFailure[entry.name] = text
        }
    }

    private func read(_ connection: WireConnection, worker: String, generation: Int) async {
        for await incoming in connection.incoming {
            switch incoming.message {
            case .forwardResult(let result):
                post(.result(worker: worker, generation: generation, result))
                if incoming.requestID != 0 { try? await connection.reply(to: incoming, with: .ok) }
            case .stageFailed(let failure):
                post(.failure(worker: worker, generation: generation, reason: failure.description,
                              planEpoch: Int(failure.planEpoch)))
            case .error(let report):
                post(.failure(worker: worker, generation: generation, reason: report.message, planEpoch: nil))
            default:
                if incoming.requestID != 0 {
                    try? await connection.reply(to: incoming, with: .error(ErrorReport(
                        code: .unexpectedMessage, message: "the coordinator does not accept \(incoming.message.kind) from a worker")))
                }
            }
        }
        let reason = connection.closeReason.map { "\($0)" } ?? "closed"
        drop(worker, generation: generation, reason: reason)
    }

    /// Forgets a worker's connection (it will be reconnected by `connectMissing`).
    func drop(_ worker: String, generation: Int, reason: String) {
        guard let link = links[worker], link.generation == generation else { return }
        links[worker] = nil
        link.connection.abort(reason: reason)
        log("worker \(worker) lost: \(reason)")
        post(.failure(worker: worker, generation: generation, reason: reason, planEpoch: nil))
    }

    /// Connected workers, in cluster.yaml order.
    func connected() -> [WorkerEntry] { entries.filter { links[$0.name] != nil } }

    /// The planner's view of `workers`: budgets from cluster.yaml (or the worker's own smaller `--memory`), speeds
    /// from their calibration.
    func planningWorkers(_ workers: [WorkerEntry], model: PlanningModel) -> [PlanningWorker] {
        WorkerReport.planningWorkers(workers, reports: links.mapValues(\.report), model: model)
    }

    func link(_ worker: String) -> Link? { links[worker] }

    /// Assigns a stage unless the worker already hosts exactly this one; returns its report (nil when unchanged).
    func assign(_ worker: String, key: StageKey, epoch: Int, message: AssignStage) async throws -> StageReady? {
        guard let link = links[worker] else { throw ClusterError("worker \(worker) is not connected") }
        if link.stage == key { return nil }
        links[worker]?.stage = nil
        links[worker]?.contexts = []
        let reply = try await link.connection.request(.assignStage(message), timeoutSeconds: 600)
        guard case .stageReady(let ready) = reply else {
            throw ClusterError("worker \(worker) answered assignStage with \(reply.kind)")
        }
        if links[worker]?.generation == link.generation {
            links[worker]?.stage = key
            links[worker]?.stageEpoch = epoch
            links[worker]?.contexts = []
        }
        return ready
    }

    /// Sends a job's constants unless the worker has them.
    func sendContext(_ worker: String, context: JobContext) async throws {
        guard let link = links[worker] else { throw ClusterError("worker \(worker) is not connected") }
        if link.contexts.contains(context.jobID) { return }
        _ = try await link.connection.request(.jobContext(context), timeoutSeconds: 120)
        if links[worker]?.generation == link.generation { links[worker]?.contexts.insert(context.jobID) }
    }

    /// Tells every worker to drop a job's state.
    func release(_ jobID: String, reason: String) async {
        for (name, link) in links where link.contexts.contains(jobID) {
            links[name]?.contexts.remove(jobID)
            _ = try? await link.connection.request(.releaseJob(JobReference(jobID: jobID, reason: reason)), timeoutSeconds: 10)
        }
    }

    /// Forgets what every worker hosts, so the next placement assigns afresh.
    func forgetStages() {
        for name in links.keys { links[name]?.stage = nil; links[name]?.contexts = [] }
    }
}
