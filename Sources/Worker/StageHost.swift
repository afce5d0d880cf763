// What a worker hosts: one stage (a contiguous block range), the per-job text embeddings, and a bounded queue of
// micro-batches run in order on a dedicated compute thread.
import Foundation
import Model
import Synchronization
import Wire
import Cluster

/// One pipeline stage and its work, shared by every connection of the worker.
///
/// Messages are checked and queued on the connections' tasks; the blocks run on one compute thread so a long
/// micro-batch never occupies the cooperative thread pool. Every assignment starts a new epoch: micro-batches
/// queued or running under an older epoch are dropped instead of delivered.
final class StageHost: Sendable {
    /// A loaded stage.
    struct Stage: Sendable {
        let assignment: AssignStage
        let options: StageOptions
        /// The hosted blocks, through the family's transformer seam.
        let transformer: any StagedTransformer
        /// The next stage, or nil when results go back to the coordinator.
        let next: WireConnection?
        /// The coordinator that assigned the stage.
        let coordinator: WireConnection
        let epoch: UInt64
        let weightBytes: Int
    }

    /// A checked micro-batch waiting for the compute thread.
    struct Batch: Sendable {
        let key: MicroBatchKey
        let state: TransformerStageState
        let epoch: UInt64
        /// The blocks that run it: the stage's, or the job's copy with its LoRA share.
        let transformer: any StagedTransformer
    }

    /// What a job's context leaves on this worker: its projected texts and, with LoRAs, its adapted blocks.
    struct JobConstants: Sendable {
        /// Projected text per branch.
        let texts: [Int: Tensor]
        /// The stage's blocks with the job's LoRA share, when the job has LoRAs for them.
        let transformer: (any StagedTransformer)?
    }

    struct State: ~Copyable {
        var epoch: UInt64 = 0
        var stage: Stage?
        var coordinator: WireConnection?
        /// Each job's constants.
        var jobs: [String: JobConstants] = [:]
        var queue: [Batch] = []
        var batchesRun = 0
        var busyNanoseconds: UInt64 = 0
        var failures = 0
    }

    /// Jobs whose constants a worker keeps at once.
    static let maxJobs = 16

    let settings: WorkerSettings
    let root: ModelRoot
    let peerOptions: ConnectionOptions
    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)

    init(settings: WorkerSettings, root: ModelRoot, peerOptions: ConnectionOptions) {
        self.settings = settings
        self.root = root
        self.peerOptions = peerOptions
        log = Log("worker \(settings.name)")
        Thread.detachNewThread { [self] in runComputeLoop() }
    }

    /// Lines start with `worker NAME`.
    let log: Log

    // MARK: - Connections

    /// Serves one authenticated peer until it goes away.
    func serve(_ connection: WireConnection) async {
        let role = connection.session.peerRole
        log("\(role) \(connection.session.peerName) connected from \(connection.peerAddress)")
        for await incoming in connection.incoming {
            let reply: Message?
            do {
                reply = try await handle(incoming.message, from: connection, role: role)
            } catch let report as ErrorReport {
                reply = .error(report)
            } catch {
                reply = .error(ErrorReport(code: .invalidArgument, message: "\(error)"))
            }
            if let reply, incoming.requestID != 0 {
                if case .error(let report) = reply { log("refused \(incoming.message.kind): \(report.message)") }
                try? await connection.reply(to: incoming, with: reply)
            }
        }
        log("\(role) \(connection.session.peerName) disconnected: \(connection.closeReason.map { "\($0)" } ?? "")")
        if role == .coordinator { coordinatorLeft(connection) }
    }

    private func handle(_ message: Message, from connection: WireConnection, role: PeerRole) async throws -> Message? {
        func requireCoordinator() throws {
            guard role == .coordinator else {
                throw ErrorReport(code: .unexpectedMessage, message: "\(message.kind) is only accepted from the coordinator, not a \(role)")
            }
        }
        // Job state belongs to the coordinator that assigned the stage; another one (same token) may not touch it.
        func requireOwner() throws {
            try requireCoordinator()
            let owner = state.withLock { $0.coordinator }
            guard owner == nil || owner === connection else {
                throw ErrorReport(code: .unavailable, message: "this worker already serves another coordinator")
            }
        }
        switch message {
        case .assignStage(let assignment):
            try requireCoordinator()
            return try await assign(assignment, from: connection)
        case .jobContext(let context):
            try requireOwner()
            try storeContext(context)
            return .ok
        case .forward(let forward):
            guard role == .coordinator || role == .worker else {
                throw ErrorReport(code: .unexpectedMessage, message: "forward is not accepted from a \(role)")
            }
            if role == .coordinator { try requireOwner() }
            try enqueue(forward)
            return .ok
        case .releaseJob(let job), .cancel(let job):
            try requireOwner()
            release(job.jobID)
            return .ok
        case .statsRequest:
            return .stats(stats())
        case .ok, .error, .heartbeat, .heartbeatAck, .goodbye:
            return nil
        default:
            throw ErrorReport(code: .unexpectedMessage, message: "a worker does not accept \(message.kind)")
        }
    }

    private func coordinatorLeft(_ connection: WireConnection) {
        let dropped: Stage? = state.withLock { state in
            guard state.coordinator === connection else { return nil }
            state.coordinator = nil
            state.epoch += 1
            state.queue = []
            state.jobs = [:]
            let stage = state.stage
            state.stage = nil
            return stage
        }
        if let dropped {
            log("coordinator gone: dropped stage \(dropped.assignment.stageIndex) and every job's state")
            if let next = dropped.next { Task { await next.close(reason: "coordinator gone") } }
        }
    }

    // MARK: - Assignment

    private func assign(_ assignment: AssignStage, from connection: WireConnection) async throws -> Message {
        let busy = state.withLock { state -> Bool in
            if let current = state.coordinator, current !== connection, current.closeReason == nil { return true }
            return false
        }
        if busy {
            throw ErrorReport(code: .unavailable, message: "this worker already serves another coordinator")
        }
        guard assignment.optionsJSON.count <= 64 << 10 else {
            throw ErrorReport(code: .invalidArgument, message: "optionsJSON is \(assignment.optionsJSON.count) bytes, limit 64 KiB")
        }
        let options: StageOptions
        do {
            options = try JSONDecoder().decode(StageOptions.self, from: Data(assignment.optionsJSON))
        } catch {
            throw ErrorReport(code: .invalidArgument, message: "optionsJSON is not valid stage options: \(error)")
        }
        guard (1...64).contains(options.maxInflightPerStage) else {
            throw ErrorReport(code: .invalidArgument, message: "max_inflight_per_stage must be in 1...64, got \(options.maxInflightPerStage)")
        }
        let modelPath: String
        do { modelPath = try root.resolve(assignment.modelReference) } catch {
            throw ErrorReport(code: .notFound, message: "\(error)")
        }
        let started = Date()
        let layers = Int(assignment.layerStart)..<Int(assignment.layerEnd)
        let budget = settings.memoryBytes
        let loaded: (any StagedTransformer, Int) = try await onThread {
            let config = try Wan21Family.transformerConfig(modelPath: modelPath)
            guard try StageTensors.configHash(config) == assignment.configHash else {
                throw ErrorReport(
                    code: .configMismatch,
                    message: "the transformer config of \(assignment.modelReference) differs from the coordinator's (config hash mismatch)")
            }
            guard !layers.isEmpty, layers.upperBound <= config.numLayers else {
                throw ErrorReport(
                    code: .invalidArgument,
                    message: "layer range \(layers.lowerBound)..<\(layers.upperBound) is empty or outside the model's 0..<\(config.numLayers)")
            }
            let weightBytes = try Wan21Family.storedBlockBytes(directory: modelPath, config: config, blocks: layers)
            let need = weightBytes + ClusterConstants.processOverheadBytes
            guard need <= budget else {
                throw ErrorReport(
                    code: .resourceExhausted,
                    message: "layers \(layers.lowerBound)..<\(layers.upperBound) need \(need) bytes (weights \(weightBytes) + process \(ClusterConstants.processOverheadBytes)); the --memory budget is \(budget)")
            }
            return (try Wan21Family.loadBlocks(modelPath: modelPath, blocks: layers), weightBytes)
        }
        var next: WireConnection?
        if !assignment.nextHop.isEmpty {
            do {
                next = try await WireConnection.connect(to: assignment.nextHop, options: peerOptions)
            } catch {
                throw ErrorReport(code: .unavailable, message: "cannot reach the next stage at \(assignment.nextHop): \(error)")
            }
        }
        let (old, epoch) = state.withLock { state -> (Stage?, UInt64) in
            state.epoch += 1
            let old = state.stage
            state.stage = Stage(
                assignment: assignment, options: options, transformer: loaded.0, next: next, coordinator: connection,
                epoch: state.epoch, weightBytes: loaded.1)
            state.coordinator = connection
            state.queue = []
            state.jobs = [:]
            return (old, state.epoch)
        }
        if let oldNext = old?.next { Task { await oldNext.close(reason: "stage reassigned") } }
        let milliseconds = UInt64(Date().timeIntervalSince(started) * 1000)
        log("stage \(assignment.stageIndex + 1)/\(assignment.stageCount): blocks \(layers.lowerBound)..<\(layers.upperBound) of \(assignment.modelReference), next \(assignment.nextHop.isEmpty ? "coordinator" : assignment.nextHop), plan \(options.planEpoch), epoch \(epoch), loaded in \(milliseconds) ms")
        let workspace = 2 * options.maxInflightPerStage * (options.activationBytes ?? 0) + (options.workspaceBytes ?? 0)
        return .stageReady(StageReady(
            stageIndex: assignment.stageIndex, weightBytes: UInt64(loaded.1), workspaceBytes: UInt64(workspace),
            residentBytes: UInt64(ResourceUsage.residentBytes ?? 0), budgetBytes: UInt64(budget),
            loadMilliseconds: milliseconds))
    }

    // MARK: - Job constants

    private func storeContext(_ context: JobContext) throws {
        guard let stage = state.withLock({ $0.stage }) else {
            throw ErrorReport(code: .unavailable, message: "no stage is assigned yet; send assignStage first")
        }
        guard !context.jobID.isEmpty else { throw ErrorReport(code: .invalidArgument, message: "jobContext has an empty jobID") }
        let dim = stage.transformer.hiddenSize
        var texts: [Int: Tensor] = [:]
        for branch in 0..<2 {
            let name = StageTensors.text(branch: branch)
            guard context.tensors.contains(where: { $0.name == name }) else { continue }
            let text = try StageTensors.unpack(name, from: context.tensors, in: "jobContext")
            guard text.rank == 3, text.shape[0] == 1, text.shape[1] >= 1, text.shape[1] <= 65536, text.shape[2] == dim else {
                throw ErrorReport(code: .invalidArgument, message: "jobContext \(name) has shape \(text.shape), expected [1, L, \(dim)]")
            }
            texts[branch] = text
        }
        guard texts[0] != nil else {
            throw ErrorReport(code: .invalidArgument, message: "jobContext must carry \(StageTensors.text(branch: 0))")
        }
        let adapted: (any StagedTransformer)?
        do {
            let share = try StageTensors.loraStack(from: context.tensors)
            adapted = share.isEmpty ? nil : try stage.transformer.adapted(share: share)
            if !share.isEmpty {
                log("job \(context.jobID): LoRA share of \(share.adapters.count) layers, \(share.byteCount) bytes")
            }
        } catch {
            throw ErrorReport(code: .invalidArgument, message: "jobContext of \(context.jobID): \(error)")
        }
        try state.withLock { state in
            if state.jobs[context.jobID] == nil && state.jobs.count >= Self.maxJobs {
                throw ErrorReport(code: .resourceExhausted, message: "already holding \(Self.maxJobs) jobs; release one first")
            }
            state.jobs[context.jobID] = JobConstants(texts: texts, transformer: adapted)
        }
    }

    private func release(_ jobID: String) {
        state.withLock { state in
            state.jobs[jobID] = nil
            state.queue.removeAll { $0.key.jobID == jobID }
        }
    }

    // MARK: - Micro-batches

    private func enqueue(_ forward: Forward) throws {
        let key = forward.key
        guard let (stage, constants) = state.withLock({ state -> (Stage, JobConstants?)? in
            guard let stage = state.stage else { return nil }
            return (stage, state.jobs[key.jobID])
        }) else {
            throw ErrorReport(code: .unavailable, message: "micro-batch \(key): no stage is assigned")
        }
        guard key.branch <= 1 else {
            throw ErrorReport(code: .invalidArgument, message: "micro-batch \(key): branch must be 0 or 1")
        }
        guard let text = constants?.texts[Int(key.branch)] else {
            throw ErrorReport(code: .notFound, message: "micro-batch \(key): no jobContext for job \(key.jobID) branch \(key.branch)")
        }
        let transformer = constants?.transformer ?? stage.transformer
        let dim = stage.transformer.hiddenSize
        let hidden = try StageTensors.unpack(StageTensors.hiddenStates, from: forward.tensors, in: "forward")
        let projection = try StageTensors.unpack(StageTensors.timestepProjection, from: forward.tensors, in: "forward")
        let embedding = try StageTensors.unpack(StageTensors.timeEmbedding, from: forward.tensors, in: "forward")
        let grid = try StageTensors.grid(
            from: try StageTensors.unpack(StageTensors.grid, from: forward.tensors, in: "forward"), maxTokens: 1 << 24)
        guard hidden.shape == [1, grid.tokens, dim] else {
            throw ErrorReport(code: .invalidArgument, message: "micro-batch \(key): hidden_states has shape \(hidden.shape), expected [1, \(grid.tokens), \(dim)]")
        }
        let rowCount = projection.rank == 2 ? projection.shape[0] : 0
        guard (1...StageTensors.maxTimestepRows).contains(rowCount), projection.shape == [rowCount, 6 * dim],
              embedding.shape == [rowCount, dim] else {
            throw ErrorReport(code: .invalidArgument, message: "micro-batch \(key): timestep_projection \(projection.shape) / time_embedding \(embedding.shape), expected [R, \(6 * dim)] / [R, \(dim)] with R in 1...\(StageTensors.maxTimestepRows)")
        }
        let rows: [Int32]?
        do { rows = try StageTensors.tokenRows(from: forward.tensors, tokens: grid.tokens, rowCount: rowCount) } catch {
            throw ErrorReport(code: .invalidArgument, message: "micro-batch \(key): \(error)")
        }
        let rotary: WanRotaryTables
        do { rotary = try stage.transformer.rotaryTables(for: grid) } catch {
            throw ErrorReport(code: .invalidArgument, message: "micro-batch \(key): \(error)")
        }
        let stageState = TransformerStageState(
            hiddenStates: hidden, timeEmbedding: embedding, timestepProjection: projection, tokenTimestepRows: rows, textEmbeddings: text,
            rotary: rotary, grid: grid, nextBlock: stage.transformer.hostedBlocks.lowerBound)
        if FaultHooks.dropsThisForward() { return log("fault hook SORA_FAULT_DROP_FORWARDS: dropping micro-batch \(key)") }
        let limit = 2 * stage.options.maxInflightPerStage + 2
        try state.withLock { state in
            guard state.queue.count < limit else {
                throw ErrorReport(code: .resourceExhausted, message: "micro-batch \(key): \(state.queue.count) micro-batches already queued (limit \(limit))")
            }
            state.queue.append(Batch(key: key, state: stageState, epoch: stage.epoch, transformer: transformer))
        }
        wakeup.signal()
    }

    private func runComputeLoop() {
        while true {
            wakeup.wait()
            let work: (Batch, Stage)? = state.withLock { state in
                while !state.queue.isEmpty {
                    let batch = state.queue.removeFirst()
                    if let stage = state.stage, stage.epoch == batch.epoch { return (batch, stage) }
                }
                return nil
            }
            guard let (batch, stage) = work else { continue }
            let started = DispatchTime.now().uptimeNanoseconds
            let outcome = Result { try batch.transformer.blocks(batch.transformer.hostedBlocks, batch.state) }
            let elapsed = DispatchTime.now().uptimeNanoseconds - started
            state.withLock { $0.batchesRun += 1; $0.busyNanoseconds += elapsed }
            deliver(outcome, batch: batch, stage: stage, computeNanoseconds: elapsed)
        }
    }

    private func deliver(
        _ outcome: Result<TransformerStageState, Error>, batch: Batch, stage: Stage, computeNanoseconds: UInt64
    ) {
        Task {
            do {
                let output = try outcome.get()
                let dtype = stage.assignment.activationDType
                if let next = stage.next {
                    let tensors = try StageTensors.forwardTensors(output, dtype: dtype)
                    _ = try await next.request(.forward(Forward(key: batch.key, tensors: tensors)))
                } else {
                    let tensors = [try StageTensors.pack(StageTensors.hiddenStates, output.hiddenStates, as: dtype)]
                    try await stage.coordinator.send(.forwardResult(ForwardResult(
                        key: batch.key, computeNanoseconds: computeNanoseconds, tensors: tensors)))
                }
            } catch {
                let current = state.withLock { state -> Bool in
                    state.failures += 1
                    return state.stage?.epoch == stage.epoch
                }
                guard current else { return }  // the stage was replaced meanwhile; nobody waits for this batch
                log("micro-batch \(batch.key) failed: \(error)")
                try? await stage.coordinator.send(Self.failureReport(error, batch: batch, stage: stage))
            }
        }
    }

    // MARK: - Stats

    private func stats() -> Stats {
        let snapshot = state.withLock { state in
            (state.batchesRun, state.busyNanoseconds, state.queue.count, state.jobs.count, state.failures,
             state.stage?.weightBytes ?? 0)
        }
        var statistics = WorkerStatistics()
        statistics.microBatchesRun = snapshot.0
        statistics.busySeconds = Double(snapshot.1) / 1e9
        statistics.queuedMicroBatches = snapshot.2
        statistics.jobs = snapshot.3
        statistics.failedDeliveries = snapshot.4
        statistics.weightBytes = snapshot.5
        statistics.residentBytes = ResourceUsage.residentBytes ?? 0
        statistics.peakResidentBytes = ResourceUsage.peakResidentBytes ?? 0
        statistics.budgetBytes = settings.memoryBytes
        SpeedProbe.current.record(in: &statistics)
        return statistics.stats
    }

    /// The report of a micro-batch that failed on this stage, with the plan number as a field.
    static func failureReport(_ error: any Error, batch: Batch, stage: Stage) -> Message {
        .stageFailed(StageFailure(
            planEpoch: UInt32(clamping: stage.options.planEpoch), stageIndex: stage.assignment.stageIndex,
            key: batch.key, code: .unavailable, message: "\(error)"))
    }
}
