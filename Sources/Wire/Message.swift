// Every message of the protocol as one enum, with its payload encoding and checked decoding.

/// A protocol message. `kind` gives its number; `encode` and `decode` its payload.
public enum Message: Equatable, Sendable {
    case hello(Hello)
    case challenge(Challenge)
    case proof(AuthenticationTag)
    case welcome(AuthenticationTag)
    case reject(ErrorReport)
    case heartbeat(Heartbeat)
    case heartbeatAck(Heartbeat)
    case goodbye(reason: String)
    case error(ErrorReport)
    case ok
    case assignStage(AssignStage)
    case stageReady(StageReady)
    case jobContext(JobContext)
    case forward(Forward)
    case forwardResult(ForwardResult)
    case releaseJob(JobReference)
    case cancel(JobReference)
    case statsRequest
    case stats(Stats)
    case stageFailed(StageFailure)
    case submit(Submit)
    case submitted(JobID)
    case jobStatusRequest(JobID)
    case jobStatus(JSONDocument)
    case watch(JobID)
    case progress(Progress)
    case fetch(Fetch)
    case fetchChunk(FetchChunk)

    /// The message's kind number.
    public var kind: MessageKind {
        switch self {
        case .hello: return .hello
        case .challenge: return .challenge
        case .proof: return .proof
        case .welcome: return .welcome
        case .reject: return .reject
        case .heartbeat: return .heartbeat
        case .heartbeatAck: return .heartbeatAck
        case .goodbye: return .goodbye
        case .error: return .error
        case .ok: return .ok
        case .assignStage: return .assignStage
        case .stageReady: return .stageReady
        case .jobContext: return .jobContext
        case .forward: return .forward
        case .forwardResult: return .forwardResult
        case .releaseJob: return .releaseJob
        case .cancel: return .cancel
        case .statsRequest: return .statsRequest
        case .stats: return .stats
        case .stageFailed: return .stageFailed
        case .submit: return .submit
        case .submitted: return .submitted
        case .jobStatusRequest: return .jobStatusRequest
        case .jobStatus: return .jobStatus
        case .watch: return .watch
        case .progress: return .progress
        case .fetch: return .fetch
        case .fetchChunk: return .fetchChunk
        }
    }

    /// Writes the payload (not the frame header).
    public func encode(into writer: inout PayloadWriter) {
        switch self {
        case .hello(let value): value.encode(into: &writer)
        case .challenge(let value): value.encode(into: &writer)
        case .proof(let value), .welcome(let value): value.encode(into: &writer)
        case .reject(let value), .error(let value): value.encode(into: &writer)
        case .heartbeat(let value), .heartbeatAck(let value): value.encode(into: &writer)
        case .goodbye(let reason): writer.write(clipped(reason, WireLimits.maxMessageBytes))
        case .ok, .statsRequest: break
        case .assignStage(let value): value.encode(into: &writer)
        case .stageReady(let value): value.encode(into: &writer)
        case .jobContext(let value): value.encode(into: &writer)
        case .forward(let value): value.encode(into: &writer)
        case .forwardResult(let value): value.encode(into: &writer)
        case .releaseJob(let value), .cancel(let value): value.encode(into: &writer)
        case .stats(let value): value.encode(into: &writer)
        case .stageFailed(let value): value.encode(into: &writer)
        case .submit(let value): value.encode(into: &writer)
        case .submitted(let value), .jobStatusRequest(let value), .watch(let value): value.encode(into: &writer)
        case .jobStatus(let value): value.encode(into: &writer)
        case .progress(let value): value.encode(into: &writer)
        case .fetch(let value): value.encode(into: &writer)
        case .fetchChunk(let value): value.encode(into: &writer)
        }
    }

    /// The payload as one array.
    public func encodedPayload() -> [UInt8] {
        var writer = PayloadWriter()
        encode(into: &writer)
        return writer.joined()
    }

    /// Decodes a payload of kind `kind`; every byte must be used.
    public static func decode(kind rawKind: UInt16, payload: ArraySlice<UInt8>) throws(MessageError) -> Message {
        guard let kind = MessageKind(rawValue: rawKind) else { throw .unknownKind(rawKind) }
        var reader = PayloadReader(payload, kind: kind)
        let message: Message
        switch kind {
        case .hello: message = .hello(try Hello.decode(from: &reader))
        case .challenge: message = .challenge(try Challenge.decode(from: &reader))
        case .proof: message = .proof(try AuthenticationTag.decode(from: &reader))
        case .welcome: message = .welcome(try AuthenticationTag.decode(from: &reader))
        case .reject: message = .reject(try ErrorReport.decode(from: &reader))
        case .heartbeat: message = .heartbeat(try Heartbeat.decode(from: &reader))
        case .heartbeatAck: message = .heartbeatAck(try Heartbeat.decode(from: &reader))
        case .goodbye: message = .goodbye(reason: try reader.readString("reason", maxBytes: WireLimits.maxMessageBytes))
        case .error: message = .error(try ErrorReport.decode(from: &reader))
        case .ok: message = .ok
        case .assignStage: message = .assignStage(try AssignStage.decode(from: &reader))
        case .stageReady: message = .stageReady(try StageReady.decode(from: &reader))
        case .jobContext: message = .jobContext(try JobContext.decode(from: &reader))
        case .forward: message = .forward(try Forward.decode(from: &reader))
        case .forwardResult: message = .forwardResult(try ForwardResult.decode(from: &reader))
        case .releaseJob: message = .releaseJob(try JobReference.decode(from: &reader))
        case .cancel: message = .cancel(try JobReference.decode(from: &reader))
        case .statsRequest: message = .statsRequest
        case .stats: message = .stats(try Stats.decode(from: &reader))
        case .stageFailed: message = .stageFailed(try StageFailure.decode(from: &reader))
        case .submit: message = .submit(try Submit.decode(from: &reader))
        case .submitted: message = .submitted(try JobID.decode(from: &reader))
        case .jobStatusRequest: message = .jobStatusRequest(try JobID.decode(from: &reader))
        case .jobStatus: message = .jobStatus(try JSONDocument.decode(from: &reader))
        case .watch: message = .watch(try JobID.decode(from: &reader))
        case .progress: message = .progress(try Progress.decode(from: &reader))
        case .fetch: message = .fetch(try Fetch.decode(from: &reader))
        case .fetchChunk: message = .fetchChunk(try FetchChunk.decode(from: &reader))
        }
        try reader.finish()
        return message
    }

    /// Whether this message ends a request: any reply except a non-final progress event.
    public var endsRequest: Bool {
        if case .progress(let event) = self { return event.isFinal }
        return true
    }
}
