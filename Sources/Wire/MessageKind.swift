// Message kind numbers: explicit, stable, never reused.

/// Every message kind this version defines. Numbers are never reused; new kinds get new numbers.
public enum MessageKind: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    // MARK: Session (any peers)
    /// Connecting peer -> accepting peer: version, role, name, client nonce.
    case hello = 1
    /// Accepting peer -> connecting peer: negotiated minor, server nonce, whether a token is required.
    case challenge = 2
    /// Connecting peer -> accepting peer: HMAC proof of the token.
    case proof = 3
    /// Accepting peer -> connecting peer: its own HMAC proof; the session is open.
    case welcome = 4
    /// Accepting peer -> connecting peer: the handshake failed (code, reason); the connection closes.
    case reject = 5
    /// Either peer: liveness probe.
    case heartbeat = 6
    /// Either peer: answer to a heartbeat (echoes it).
    case heartbeatAck = 7
    /// Either peer: the sender is closing the connection cleanly.
    case goodbye = 8

    // MARK: Generic replies
    /// A request failed (stable code + message).
    case error = 16
    /// A request succeeded and has nothing else to say.
    case ok = 17

    // MARK: Coordinator <-> worker
    /// Coordinator -> worker: host these layers of this model.
    case assignStage = 256
    /// Worker -> coordinator: the stage is loaded; memory figures.
    case stageReady = 257
    /// Coordinator -> worker: per-job constants (text embeddings, ...).
    case jobContext = 258
    /// Coordinator or previous stage -> stage: one micro-batch.
    case forward = 259
    /// Last stage -> coordinator: the model output for one micro-batch.
    case forwardResult = 260
    /// Coordinator -> worker: drop everything held for a job.
    case releaseJob = 261
    /// Coordinator -> worker, or client -> coordinator: stop a job.
    case cancel = 262
    /// Anyone -> anyone: ask for counters.
    case statsRequest = 263
    /// Reply to statsRequest: named counters.
    case stats = 264
    /// Worker -> coordinator: a micro-batch failed on a stage (plan number, stage, key, code, message). Minor 1.
    case stageFailed = 265

    // MARK: Client <-> coordinator
    /// Client -> coordinator: a new job (JSON spec + input media).
    case submit = 512
    /// Reply to submit: the job id.
    case submitted = 513
    /// Client -> coordinator: ask for one job's status or all jobs'.
    case jobStatusRequest = 514
    /// Reply to jobStatusRequest: JSON.
    case jobStatus = 515
    /// Client -> coordinator: stream progress events for a job.
    case watch = 516
    /// Coordinator -> client: one progress event (JSON); the last has isFinal.
    case progress = 517
    /// Client -> coordinator: read part of a job's result.
    case fetch = 518
    /// Reply to fetch: one chunk of the result.
    case fetchChunk = 519

    public var description: String { "\(name)(\(rawValue))" }

    /// The kind's name as written in docs/PROTOCOL.md.
    public var name: String {
        switch self {
        case .hello: return "hello"
        case .challenge: return "challenge"
        case .proof: return "proof"
        case .welcome: return "welcome"
        case .reject: return "reject"
        case .heartbeat: return "heartbeat"
        case .heartbeatAck: return "heartbeatAck"
        case .goodbye: return "goodbye"
        case .error: return "error"
        case .ok: return "ok"
        case .assignStage: return "assignStage"
        case .stageReady: return "stageReady"
        case .jobContext: return "jobContext"
        case .forward: return "forward"
        case .forwardResult: return "forwardResult"
        case .releaseJob: return "releaseJob"
        case .cancel: return "cancel"
        case .statsRequest: return "statsRequest"
        case .stats: return "stats"
        case .stageFailed: return "stageFailed"
        case .submit: return "submit"
        case .submitted: return "submitted"
        case .jobStatusRequest: return "jobStatusRequest"
        case .jobStatus: return "jobStatus"
        case .watch: return "watch"
        case .progress: return "progress"
        case .fetch: return "fetch"
        case .fetchChunk: return "fetchChunk"
        }
    }
}

/// Field size limits every decoder enforces.
public enum WireLimits {
    /// Peer names, tensor names, stat names.
    public static let maxNameBytes = 256
    /// Job ids.
    public static let maxJobIDBytes = 128
    /// Reasons and error messages.
    public static let maxMessageBytes = 4096
    /// Model references and addresses.
    public static let maxPathBytes = 4096
    /// Tensors in one message (a job context carries up to four per LoRA adapter of the stage's layers).
    public static let maxTensors = 16_384
    /// Entries in a stats reply.
    public static let maxStats = 1024
    /// Attachments in a submit.
    public static let maxAttachments = 64
    /// Nonce size in the handshake.
    public static let nonceBytes = 32
    /// Config hash size (a SHA-256).
    public static let configHashBytes = 32
}
