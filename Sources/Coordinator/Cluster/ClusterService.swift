// `coordinator serve`: the worker pool, the job queue, and the client protocol (submit, status, watch, fetch,
// cancel) over the coordinator's listening address.
import Foundation
import Model
import Wire
import Cluster

/// The running coordinator.
final class ClusterService: Sendable {
    let config: ClusterConfig
    let model: CoordinatorModel
    let token: ClusterToken
    let book: JobBook
    let pool: WorkerPool

    init(config: ClusterConfig, model: CoordinatorModel, token: ClusterToken) throws {
        self.config = config
        self.model = model
        self.token = token
        book = try JobBook(stateDirectory: config.stateDirectory)
        var options = ConnectionOptions(role: .coordinator, name: "coordinator@\(config.listen)", token: token)
        options.maxPayloadBytes = ClusterConstants.maxClusterPayloadBytes
        pool = WorkerPool(entries: config.workers, options: options)
    }

    let log = Log("coordinator")

    /// Serves until the process is stopped.
    func run() async throws -> Never {
        var serverOptions = ServerOptions(connection: ConnectionOptions(
            role: .coordinator, name: "coordinator@\(config.listen)", token: token))
        serverOptions.allowedRoles = [.client]
        serverOptions.onEvent = { [self] in log($0) }
        let server = try WireServer.listen(on: config.listen.description, options: serverOptions)
        log("listening on \(server.address) for clients; state in \(config.stateDirectory); \(config.workers.count) worker(s) in the config")
        let pool = self.pool
        Task {
            while true {
                await pool.connectMissing()
                pool.post(.wake)
                try? await Task.sleep(nanoseconds: 1_000_000_000)
            }
        }
        Task {
            for await connection in server.connections {
                Task { await self.serveClient(connection) }
            }
        }
        let runner = JobRunner(model: model, pool: pool, book: book, config: config)
        while true {
            if let next = await book.nextQueued() {
                await runner.run(next)
            } else {
                _ = await runner.nextEvent()
            }
        }
    }

    // MARK: - Clients

    private func serveClient(_ connection: WireConnection) async {
        for await incoming in connection.incoming {
            if case .watch(let job) = incoming.message {
                Task { await watch(job.jobID, request: incoming, on: connection) }
                continue
            }
            let reply: Message
            do {
                reply = try await answer(incoming.message)
            } catch let report as ErrorReport {
                reply = .error(report)
            } catch {
                reply = .error(ErrorReport(code: .invalidArgument, message: "\(error)"))
            }
            if incoming.requestID != 0 { try? await connection.reply(to: incoming, with: reply) }
        }
    }

    private func answer(_ message: Message) async throws -> Message {
        switch message {
        case .submit(let submit):
            let record = try await submitJob(submit)
            log("\(record.id): queued (\(record.spec.prompt.prefix(60)))")
            pool.post(.wake)
            return .submitted(JobID(record.id))
        case .jobStatusRequest(let job):
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            if job.jobID.isEmpty { return .jobStatus(JSONDocument(ArraySlice(try encoder.encode(await book.all())))) }
            guard let record = await book.record(job.jobID) else { throw ErrorReport(code: .notFound, message: "no job \(job.jobID)") }
            return .jobStatus(JSONDocument(ArraySlice(try encoder.encode(record))))
        case .fetch(let fetch):
            return try await self.fetch(fetch)
        case .cancel(let job):
            guard let record = await book.requestCancel(job.jobID) else {
                throw ErrorReport(code: .notFound, message: "no job \(job.jobID)")
            }
            log("\(job.jobID): cancel requested (\(record.state.rawValue))")
            pool.post(.wake)
            return .ok
        default:
            throw ErrorReport(code: .unexpectedMessage, message: "the coordinator does not accept \(message.kind) from a client")
        }
    }

    /// Checks a submission completely (request, media, model limits, whether the cluster could ever hold it) and
    /// queues it.
    private func submitJob(_ submit: Submit) async throws -> JobRecord {
        var spec: VideoJobSpec
        var staged: JobMedia.Staged?
        defer { if let staged { JobMedia.discard(staged) } }
        var request: JobRequest
        do {
            request = try JobRequest.decode(submit.specJSON)
            staged = try JobMedia.stage(submit.attachments, stateDirectory: book.stateDirectory)
            try JobMedia.checkAllUsed(staged!, by: request)
            // cluster.yaml's window defaults apply where the request is silent; then the model's defaults.
            request.windowFrames = request.windowFrames ?? config.scheduler.windowFrames
            request.windowOverlap = request.windowOverlap ?? config.scheduler.windowOverlap
            // Media is read from the attachments (named by their names in errors) to count frames and check sizes:
            // off the cooperative pool.
            let (source, finalRequest, defaults) = (try JobMedia.source(staged!, submit.attachments), request, model.defaults)
            spec = try await onThread { try finalRequest.resolve(defaults: defaults, media: source) }
        } catch {
            throw ErrorReport(code: .invalidArgument, message: "\(error)")
        }
        if request.expandPrompt {
            // The chat endpoint blocks: off the cooperative pool. The expanded prompt is the job's prompt from here
            // on (job.json, status); an endpoint that fails refuses the job rather than running another prompt.
            let (settings, prompt) = (config.promptExpansion, spec.prompt)
            do {
                spec.prompt = try await onThread {
                    try PromptExpander(configuration: PromptExpansionConfiguration.resolve(settings: settings)).expand(prompt)
                }
            } catch {
                throw ErrorReport(code: .unavailable, message: "--expand-prompt: \(error)")
            }
            log("expanded prompt: \(spec.prompt)")
        }
        do { try model.check(spec) } catch { throw ErrorReport(code: .invalidArgument, message: "\(error)") }
        // Errors name a LoRA by the attachment name the client gave it, not the path it was staged at.
        let names = Dictionary(
            zip((spec.loras ?? []).map(\.path), (request.loras ?? []).map(\.path)), uniquingKeysWith: { first, _ in first })
        let (checked, model) = (spec, self.model)
        let loraBytes: Int
        do { loraBytes = try await onThread { try model.checkLoRAs(checked, displayNames: names) } } catch {
            throw ErrorReport(code: .invalidArgument, message: "\(error)")
        }
        do {
            _ = try StagePlanner.plan(
                model: try model.planningModel(for: spec, loraBytes: loraBytes), workers: config.workers.map(ClusterPlanning.planningWorker),
                maxInflightPerStage: config.scheduler.maxInflightPerStage)
        } catch let error as PlanningError {
            throw ErrorReport(code: .resourceExhausted, message: "this job cannot fit even on every worker of the cluster: \(error.description)")
        }
        if let staged { try JobMedia.commit(staged, spec: &spec) }
        do {
            return try await book.add(spec: spec, output: request.output)
        } catch let error as StateWriteError {
            throw ErrorReport(code: .unavailable, message: "cannot queue the job: state_dir not writable: \(error)")
        }
    }

    private func fetch(_ fetch: Fetch) async throws -> Message {
        guard let record = await book.record(fetch.jobID) else { throw ErrorReport(code: .notFound, message: "no job \(fetch.jobID)") }
        guard record.state == .finished else {
            throw ErrorReport(code: .unavailable, message: "job \(fetch.jobID) is \(record.state.rawValue); its result is not ready")
        }
        let path = (book.folder(of: fetch.jobID) as NSString).appendingPathComponent(record.resultName)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ErrorReport(code: .notFound, message: "the result file of \(fetch.jobID) is missing")
        }
        defer { try? handle.close() }
        let total = try handle.seekToEnd()
        guard fetch.offset <= total else {
            throw ErrorReport(code: .invalidArgument, message: "offset \(fetch.offset) is past the result's \(total) bytes")
        }
        try handle.seek(toOffset: fetch.offset)
        let count = Int(min(UInt64(min(fetch.maxBytes, 8 << 20)), total - fetch.offset))
        let data = try handle.read(upToCount: count) ?? Data()
        return .fetchChunk(FetchChunk(jobID: fetch.jobID, offset: fetch.offset, totalBytes: total, data: ArraySlice(data)))
    }

    /// Sends a progress event whenever the job changes, the last one when it ends.
    private func watch(_ id: String, request: IncomingMessage, on connection: WireConnection) async {
        var lastSequence = -1
        var eventNumber: UInt64 = 0
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        while connection.closeReason == nil {
            guard let record = await book.record(id) else {
                try? await connection.reply(to: request, with: .error(ErrorReport(code: .notFound, message: "no job \(id)")))
                return
            }
            if record.sequence != lastSequence || record.state.isTerminal {
                lastSequence = record.sequence
                eventNumber += 1
                let event = Progress(
                    jobID: id, sequence: eventNumber, isFinal: record.state.isTerminal,
                    eventJSON: ArraySlice((try? encoder.encode(record)) ?? Data()))
                do { try await connection.reply(to: request, with: .progress(event)) } catch { return }
                if record.state.isTerminal { return }
            }
            try? await Task.sleep(nanoseconds: 100_000_000)
        }
    }
}
