// Runs one cluster job: text on the coordinator, each denoising step's (window, branch) passes through the
// workers' pipelines, the step and a checkpoint on the coordinator, then the VAE decode into the result file.
import Foundation
import Model
import Wire
import Cluster

/// Where the job's stages are: one list of worker names per pipeline, stage by stage.
struct Placement: Sendable {
    var epoch: Int
    var pipelines: [[String]]
    /// The connection generation of each worker when it was assigned (a failure of an older one is stale).
    var generations: [String: Int]
    /// The plan number each worker's stage was assigned under (a report tagged with an older one is stale).
    var stageEpochs: [String: Int]
    var plan: StagePlan
}

/// A step could not finish because a worker of the placement failed.
struct StepFailure: Error, CustomStringConvertible {
    let worker: String
    let reason: String
    var description: String { "worker \(worker): \(reason)" }
}

/// The job was cancelled by a client.
struct JobCancelled: Error {}

/// Runs jobs one after the other; owns the pool's event stream while it does.
final class JobRunner {
    /// Attempts of one step (each after a re-plan) before the job fails: lost workers come back or are planned
    /// around well within this many; a failure that survives them all is not a fault of one worker.
    static let maxAttemptsPerStep = 25

    let model: CoordinatorModel
    let pool: WorkerPool
    let book: JobBook
    let config: ClusterConfig
    private var events: AsyncStream<PoolEvent>.Iterator
    private var epoch = 0
    /// Takes a micro-batch that never returns as lost (reset per job).
    private var watchdog = UnitWatchdog()

    init(model: CoordinatorModel, pool: WorkerPool, book: JobBook, config: ClusterConfig) {
        self.model = model
        self.pool = pool
        self.book = book
        self.config = config
        events = pool.events.makeAsyncIterator()
    }

    let log = Log("coordinator")

    /// Waits for the next pool event (a wake arrives at least every second).
    func nextEvent() async -> PoolEvent {
        await events.next() ?? .wake
    }

    // MARK: - A job

    func run(_ record: JobRecord) async {
        let id = record.id
        watchdog = UnitWatchdog()
        await book.update(id) { $0.state = .running; $0.phase = .encodingText; $0.startedAt = Date().timeIntervalSince1970; $0.message = nil }
        log("\(id): started (\(record.spec.width)x\(record.spec.height), \(record.spec.frames) frames, \(record.spec.steps) steps)")
        do {
            try await execute(record)
            await pool.release(id, reason: "finished")
        } catch is JobCancelled {
            await book.update(id) { $0.state = .cancelled; $0.phase = .cancelled; $0.finishedAt = Date().timeIntervalSince1970 }
            log("\(id): cancelled")
            await pool.release(id, reason: "cancelled")
        } catch {
            await book.update(id) {
                $0.state = .failed; $0.phase = .failed; $0.message = "\(error)"; $0.finishedAt = Date().timeIntervalSince1970
            }
            log("\(id): failed: \(error)")
            await pool.release(id, reason: "failed")
        }
    }

    /// A job from its texts to its result file: prepared through the same `VideoGenerator` as `generate`, denoised on
    /// the workers step by step, decoded here.
    private func execute(_ record: JobRecord) async throws {
        let (id, spec, folder) = (record.id, record.spec, book.folder(of: record.id))
        // The job's LoRAs (read and checked again: the files are the ones submit checked, by content) adapt the entry
        // and exit pieces here; each stage gets its blocks' share with the job's context.
        let base = model.generator
        let generator = try await onThread { try base.forJob(spec) }
        let texts = try await onThread { try generator.encodeTexts(for: spec) }
        // Image and video prompts: the known latents are recomputed from the stored media (also on resume; the
        // checkpoint holds only the loop's latent and scheduler state).
        if !(spec.media ?? []).isEmpty { await book.update(id) { $0.phase = .encodingMedia } }
        let job = try await onThread { try generator.prepare(spec, texts: texts) }
        var loop = try resumeOrStart(id: id, job: job, folder: folder)
        // The stages host the blocks of the family's one expert (Wan2.1); its projected text per branch.
        let context = JobContext(
            jobID: id,
            tensors: try GuidanceBranch.allCases.compactMap { branch in
                try texts.projected[0][branch].map { try StageTensors.pack(StageTensors.text(branch: branch.rawValue), $0) }
            })
        let planning = try model.planningModel(for: spec, loraBytes: generator.loras.byteCount)
        var placement: Placement?
        while !loop.isFinished {
            try await checkCancelled(id)
            let stepStarted = Date()
            let results = try await runStepRetrying(
                id: id, loop: loop, job: job, generator: generator, placement: &placement, context: context,
                planning: planning)
            let current = loop
            loop = try await onThread {
                var next = current
                try next.advance(with: results)
                return next
            }
            let done = loop
            try await whileStorageFails(id, "checkpoint") { try StateStore.saveCheckpoint(done, job: id, folder: folder) }
            log(String(format: "\(id): step \(loop.stepIndex)/\(spec.steps) in %.3f s", Date().timeIntervalSince(stepStarted)))
            await book.update(id) { $0.stepsDone = done.stepIndex; $0.phase = .denoising }
        }
        try await checkCancelled(id)
        await book.update(id) { $0.phase = .decoding }
        let (size, final) = try await writeResult(record, latents: loop.latents, job: job)
        try await whileStorageFails(id, "finished job.json") {
            try await book.updateDurably(id) {
                $0.state = .finished; $0.phase = .finished; $0.resultBytes = size; $0.finishedAt = Date().timeIntervalSince1970
            }
        }
        log("\(id): finished, \(size) bytes in \(final)")
    }

    /// One step's results, re-planning after a failed attempt. A failure that repeats whatever the placement (a
    /// worker refusing the same micro-batch every time) must not spin: it backs off, and fails the job after
    /// `maxAttemptsPerStep` attempts.
    private func runStepRetrying(
        id: String, loop: DenoisingLoop, job: PreparedJob, generator: VideoGenerator, placement: inout Placement?,
        context: JobContext, planning: PlanningModel
    ) async throws -> [WorkUnitID: Tensor] {
        var results: [WorkUnitID: Tensor] = [:]
        var failedAttempts = 0
        while true {
            if placement == nil {
                placement = try await place(id: id, planning: planning, context: context, loras: generator.loras)
            }
            let attemptStarted = Date()
            do {
                try await runStep(id: id, loop: loop, job: job, generator: generator, placement: placement!, results: &results)
                return results
            } catch let failure as StepFailure {
                log("\(id): step \(loop.stepIndex + 1) failed on \(failure); re-planning over the remaining workers")
                placement = nil
                await pool.forgetStages()
                let lost = Date().timeIntervalSince(attemptStarted)
                await book.update(id) { $0.stepsRedone += 1; $0.secondsLost += lost; $0.message = "step \(loop.stepIndex + 1) redone after \(failure)" }
                failedAttempts += 1
                guard failedAttempts < Self.maxAttemptsPerStep else {
                    throw ClusterError("step \(loop.stepIndex + 1) failed \(failedAttempts) times in a row; the last: \(failure)")
                }
                if failedAttempts >= 3 {
                    let delay = min(5.0, 0.1 * Double(1 << min(failedAttempts - 3, 6)))
                    try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
                }
            }
        }
    }

    /// Decodes the final latent into `result.<ext>` (written as a partial file, then renamed); returns its size and
    /// path.
    private func writeResult(_ record: JobRecord, latents: Tensor, job: PreparedJob) async throws -> (Int, String) {
        let (id, spec, kind, generator) = (record.id, record.spec, record.output, model.generator)
        let folder = book.folder(of: id)
        let partial = (folder as NSString).appendingPathComponent("result.partial.\(kind.rawValue)")
        let final = (folder as NSString).appendingPathComponent(record.resultName)
        try await whileStorageFails(id, "result") {
            do {
                try await onThread {
                    let file = try kind.makeSink(
                        path: partial, width: spec.width, height: spec.height, frames: spec.frames, fps: spec.framesPerSecond)
                    try generator.decode(latents, timeline: spec.timeline, passthrough: job.conditioning.passthrough, into: file)
                }
                guard rename(partial, final) == 0 else { throw StateWriteError(path: final, operation: "rename", code: errno) }
            } catch {
                unlink(partial)
                throw error
            }
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: final)[.size] as? Int) ?? 0
        return (size, final)
    }

    /// The loop from the newest whole checkpoint of the job, or a fresh one when there is none (see
    /// `StateStore.loadCheckpoint`: a truncated or corrupt file is refused, never read back).
    private func resumeOrStart(id: String, job: PreparedJob, folder: String) throws -> DenoisingLoop {
        var refused: [StateStore.RefusedCheckpoint] = []
        let resumed = StateStore.loadCheckpoint(folder: folder, refused: &refused) {
            try job.resumeLoop(checkpoint: $0, job: id)
        }
        for refusal in refused { log("\(id): checkpoint \(refusal)") }
        if let resumed {
            log("\(id): resuming from the checkpoint after step \(resumed.stepIndex)")
            return resumed
        }
        if !refused.isEmpty { log("\(id): no usable checkpoint; the job starts again from its first step") }
        return try job.startLoop()
    }

    private func checkCancelled(_ id: String) async throws {
        if await book.isCancelRequested(id) { throw JobCancelled() }
    }

    // MARK: - Placement

    /// Plans stages over the connected workers, assigns them and sends the job's constants. While the model does
    /// not fit, the job waits in the "waiting" state and retries whenever a worker arrives.
    private func place(id: String, planning: PlanningModel, context: JobContext, loras: LoRAStack) async throws -> Placement {
        var excluded: [String: String] = [:]
        while true {
            try await checkCancelled(id)
            let workers = await pool.connected().filter { excluded[$0.name] == nil }
            let plan: StagePlan
            do {
                plan = try StagePlanner.plan(
                    model: planning, workers: await pool.planningWorkers(workers, model: planning),
                    maxInflightPerStage: config.scheduler.maxInflightPerStage)
            } catch let error as PlanningError {
                let note = excluded.isEmpty ? "" : " (refused: " + excluded.map { "\($0.key): \($0.value)" }.joined(separator: "; ") + ")"
                let message = "insufficient workers: \(workers.count) of \(config.workers.count) connected; \(error.description)\(note)"
                let previous = await book.record(id)
                if previous?.state != .waiting || previous?.message != message {
                    log("\(id): waiting: \(message)")
                    await book.update(id) { $0.state = .waiting; $0.phase = .waitingForWorkers; $0.message = message }
                }
                _ = await nextEvent()
                excluded = [:]
                continue
            }
            epoch += 1
            var generations: [String: Int] = [:]
            var stageEpochs: [String: Int] = [:]
            var failed = false
            let pipelines = plan.pipelines.map { $0.map(\.worker) }
            let described = plan.pipelines.map { $0.map { "\($0.worker)[\($0.layers.lowerBound)..<\($0.layers.upperBound)]" } }
            for stages in plan.pipelines where !failed {
                for (index, stage) in stages.enumerated().reversed() {
                    let nextHop = index + 1 < stages.count
                        ? config.workers.first { $0.name == stages[index + 1].worker }!.address.description : ""
                    let key = StageKey(
                        layers: stage.layers, stageIndex: index, stageCount: stages.count, nextHop: nextHop,
                        maxInflight: config.scheduler.maxInflightPerStage)
                    let options = StageOptions(
                        maxInflightPerStage: config.scheduler.maxInflightPerStage, planEpoch: epoch,
                        activationBytes: planning.activationBytes, workspaceBytes: planning.workspaceBytes)
                    let message = AssignStage(
                        stageIndex: UInt16(index), stageCount: UInt16(stages.count), modelReference: config.model,
                        layerStart: UInt32(stage.layers.lowerBound), layerEnd: UInt32(stage.layers.upperBound),
                        configHash: model.configHash, activationDType: .float32,
                        nextHop: nextHop, optionsJSON: ArraySlice(try JSONEncoder().encode(options)))
                    do {
                        guard let link = await pool.link(stage.worker) else { throw ClusterError("not connected") }
                        generations[stage.worker] = link.generation
                        let ready = try await pool.assign(stage.worker, key: key, epoch: epoch, message: message)
                        stageEpochs[stage.worker] = await pool.link(stage.worker)?.stageEpoch ?? epoch
                        if let ready {
                            log("\(id): \(stage.worker) hosts blocks \(stage.layers.lowerBound)..<\(stage.layers.upperBound) (stage \(index + 1)/\(stages.count)), weights \(formatBytes(Int(ready.weightBytes))), resident \(formatBytes(Int(ready.residentBytes))), loaded in \(ready.loadMilliseconds) ms")
                        }
                        var stageContext = context
                        stageContext.tensors += try StageTensors.loraTensors(loras.share(blocks: stage.layers, entryAndExit: false))
                        try await pool.sendContext(stage.worker, context: stageContext)
                    } catch {
                        log("\(id): \(stage.worker) could not take its stage: \(error)")
                        if case TransportError.remote(let report) = error,
                           [.resourceExhausted, .configMismatch, .notFound, .invalidArgument].contains(report.code) {
                            excluded[stage.worker] = report.message
                        }
                        await pool.forgetStages()
                        failed = true
                        break
                    }
                }
            }
            if failed {
                try await Task.sleep(nanoseconds: 200_000_000)
                continue
            }
            await book.update(id) { $0.state = .running; $0.placement = described; if $0.phase == .waitingForWorkers { $0.message = nil }; $0.phase = .denoising }
            log("\(id): placement \(epoch): " + described.map { $0.joined(separator: " -> ") }.joined(separator: " | "))
            return Placement(epoch: epoch, pipelines: pipelines, generations: generations, stageEpochs: stageEpochs, plan: plan)
        }
    }

    // MARK: - One step

    private func runStep(
        id: String, loop: DenoisingLoop, job: PreparedJob, generator: VideoGenerator, placement: Placement,
        results: inout [WorkUnitID: Tensor]
    ) async throws {
        let units = loop.pendingUnits().filter { results[$0] == nil }
        guard !units.isEmpty else { return }
        var dispatcher = StepDispatcher(
            units: units, pipelineCount: placement.pipelines.count,
            capacityPerPipeline: config.scheduler.maxInflightPerStage)
        var entries: [WorkUnitID: EnteredUnit] = [:]
        watchdog.predicted = UnitWatchdog.predictedRoundTrip(placement.plan, inflight: config.scheduler.maxInflightPerStage)
        func perform(_ actions: [DispatchAction<WorkUnitID>]) async throws {
            for case .send(let unit, let pipeline) in actions {
                let input = try loop.input(for: unit)
                let entered = try await onThread { try generator.entry(input, job: job) }
                entries[unit] = entered
                let tensors = try StageTensors.forwardTensors(entered.state)
                let key = MicroBatchKey(
                    jobID: id, step: UInt32(unit.step), window: UInt32(unit.window), branch: UInt8(unit.branch.rawValue))
                let first = placement.pipelines[pipeline][0]
                guard let link = await pool.link(first), link.generation == placement.generations[first] else {
                    throw StepFailure(worker: first, reason: "not connected")
                }
                do {
                    _ = try await link.connection.request(.forward(Forward(key: key, tensors: tensors)), timeoutSeconds: 60)
                    dispatcher.markSent(unit, at: ProcessInfo.processInfo.systemUptime)
                } catch {
                    throw StepFailure(worker: first, reason: "forward refused: \(error)")
                }
            }
        }
        try await perform(dispatcher.fill())
        while !dispatcher.isComplete {
            try await perform(try await expireLostUnits(id: id, dispatcher: &dispatcher, order: units, placement: placement))
            let event = await nextEvent()
            try await checkCancelled(id)
            switch event {
            case .result(let worker, _, let result):
                let key = result.key
                guard key.jobID == id, Int(key.step) == loop.stepIndex,
                      let branch = GuidanceBranch(rawValue: Int(key.branch)),
                      let pipeline = placement.pipelines.firstIndex(where: { $0.last == worker }) else { continue }
                let unit = WorkUnitID(step: Int(key.step), window: Int(key.window), branch: branch)
                let sent = dispatcher.sentAt[unit]
                let (accepted, actions) = dispatcher.complete(unit, pipeline: pipeline)
                guard accepted, let entered = entries.removeValue(forKey: unit) else { continue }
                if let sent { watchdog.observe(ProcessInfo.processInfo.systemUptime - sent) }
                let hidden = try StageTensors.unpack(StageTensors.hiddenStates, from: result.tensors, in: "forwardResult")
                results[unit] = try await onThread { try generator.exit(entered, blocksOutput: hidden) }
                try await perform(actions)
            case .failure(let worker, let generation, let reason, let reported):
                guard placement.generations[worker] == generation else { continue }
                if let reported, reported < placement.stageEpochs[worker, default: 0] { continue }
                throw StepFailure(worker: worker, reason: reason)
            case .joined, .wake:
                continue
            }
        }
    }

    /// The watchdog: re-queues micro-batches that got no result within its bound and returns the sends to do; a unit
    /// lost too often fails the step on its pipeline's first worker (the step is then re-planned).
    private func expireLostUnits(
        id: String, dispatcher: inout StepDispatcher<WorkUnitID>, order: [WorkUnitID], placement: Placement
    ) async throws -> [DispatchAction<WorkUnitID>] {
        let bound = watchdog.boundSeconds
        let (lost, actions) = dispatcher.expire(now: ProcessInfo.processInfo.systemUptime, bound: bound, order: order)
        guard !lost.isEmpty else { return [] }
        for (unit, pipeline) in lost {
            let stages = placement.pipelines[pipeline].joined(separator: " -> ")
            let text = String(format: "micro-batch step %d window %d branch %d got no result within %.1f s on pipeline %@ (its workers still answer heartbeats); redoing it",
                              unit.step + 1, unit.window, unit.branch.rawValue, bound, stages)
            log("\(id): \(text)")
            await book.update(id) { $0.message = text }
            if dispatcher.lossCount[unit, default: 0] >= UnitWatchdog.maxLossesPerUnit {
                throw StepFailure(worker: placement.pipelines[pipeline][0], reason: "micro-batch lost \(UnitWatchdog.maxLossesPerUnit) times on pipeline \(stages)")
            }
        }
        return actions
    }
}

/// Turns cluster.yaml's workers into the planner's.
enum ClusterPlanning {
    /// A worker's budget from cluster.yaml, with its thread count as its relative speed: for checks made without
    /// asking the workers (submit's "could it ever fit"); placement uses `WorkerPool.planningWorkers`.
    static func planningWorker(_ entry: WorkerEntry) -> PlanningWorker {
        PlanningWorker(name: entry.name, memoryBytes: entry.memoryBytes, layersPerSecond: Double(entry.threads))
    }
}
