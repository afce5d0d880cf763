// Seeded random messages of every kind, for round-trip and decoder tests.
@testable import Wire

enum MessageSamples {
    static func bytes(_ count: Int, _ g: inout SplitMix64) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    static func text(_ g: inout SplitMix64, maxLength: Int = 24) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789-_ éü日本")
        return String((0..<Int.random(in: 0...maxLength, using: &g)).map { _ in alphabet.randomElement(using: &g)! })
    }

    static func blob(_ g: inout SplitMix64) -> ArraySlice<UInt8> {
        bytes(Int.random(in: 0...64, using: &g), &g)[...]
    }

    static func tensor(_ g: inout SplitMix64) -> WireTensor {
        let rank = Int.random(in: 0...4, using: &g)
        let shape = (0..<rank).map { _ in Int.random(in: 0...5, using: &g) }
        let dtype = WireDType.allCases.randomElement(using: &g)!
        let count = try! WireTensor.byteCount(dtype: dtype, shape: shape)
        return try! WireTensor(dtype: dtype, shape: shape, bytes: bytes(count, &g)[...])
    }

    static func tensors(_ g: inout SplitMix64) -> [NamedTensor] {
        (0..<Int.random(in: 0...3, using: &g)).map { _ in NamedTensor(name: text(&g), tensor: tensor(&g)) }
    }

    static func key(_ g: inout SplitMix64) -> MicroBatchKey {
        MicroBatchKey(jobID: text(&g), step: .random(in: 0...UInt32.max, using: &g),
                      window: .random(in: 0...UInt32.max, using: &g), branch: .random(in: 0...255, using: &g))
    }

    static func report(_ g: inout SplitMix64) -> ErrorReport {
        ErrorReport(code: WireErrorCode(rawValue: .random(in: 0...UInt16.max, using: &g)), message: text(&g, maxLength: 80))
    }

    static func role(_ g: inout SplitMix64) -> PeerRole { PeerRole.allCases.randomElement(using: &g)! }

    static func tag(_ g: inout SplitMix64) -> AuthenticationTag {
        AuthenticationTag(tag: Bool.random(using: &g) ? bytes(32, &g) : [],
                          maxPayloadBytes: .random(in: 0...UInt64.max, using: &g))
    }

    /// A random message of `kind`.
    static func random(_ kind: MessageKind, _ g: inout SplitMix64) -> Message {
        switch kind {
        case .hello:
            return .hello(Hello(major: .random(in: 0...255, using: &g), minor: .random(in: 0...255, using: &g),
                                role: role(&g), name: text(&g), nonce: bytes(32, &g)))
        case .challenge:
            return .challenge(Challenge(
                minor: .random(in: 0...255, using: &g), role: role(&g), name: text(&g),
                authenticationRequired: .random(using: &g), nonce: bytes(32, &g),
                heartbeatIntervalMilliseconds: .random(in: 0...UInt32.max, using: &g),
                maxPayloadBytes: .random(in: 0...UInt64.max, using: &g)))
        case .proof: return .proof(tag(&g))
        case .welcome: return .welcome(tag(&g))
        case .reject: return .reject(report(&g))
        case .heartbeat:
            return .heartbeat(Heartbeat(sequence: .random(in: 0...UInt64.max, using: &g),
                                        sentAtNanoseconds: .random(in: 0...UInt64.max, using: &g)))
        case .heartbeatAck:
            return .heartbeatAck(Heartbeat(sequence: .random(in: 0...UInt64.max, using: &g),
                                           sentAtNanoseconds: .random(in: 0...UInt64.max, using: &g)))
        case .goodbye: return .goodbye(reason: text(&g))
        case .error: return .error(report(&g))
        case .ok: return .ok
        case .assignStage:
            let count = UInt16.random(in: 1...64, using: &g)
            let start = UInt32.random(in: 0...1000, using: &g)
            return .assignStage(AssignStage(
                stageIndex: .random(in: 0..<count, using: &g), stageCount: count, modelReference: text(&g),
                layerStart: start, layerEnd: start + .random(in: 0...40, using: &g), includesEntry: .random(using: &g),
                includesExit: .random(using: &g), configHash: bytes(32, &g),
                activationDType: WireDType.allCases.randomElement(using: &g)!, nextHop: text(&g), optionsJSON: blob(&g)))
        case .stageReady:
            return .stageReady(StageReady(
                stageIndex: .random(in: 0...UInt16.max, using: &g), weightBytes: .random(in: 0...UInt64.max, using: &g),
                workspaceBytes: .random(in: 0...UInt64.max, using: &g), residentBytes: .random(in: 0...UInt64.max, using: &g),
                budgetBytes: .random(in: 0...UInt64.max, using: &g), loadMilliseconds: .random(in: 0...UInt64.max, using: &g)))
        case .jobContext: return .jobContext(JobContext(jobID: text(&g), specJSON: blob(&g), tensors: tensors(&g)))
        case .forward: return .forward(Forward(key: key(&g), tensors: tensors(&g)))
        case .forwardResult:
            return .forwardResult(ForwardResult(key: key(&g), computeNanoseconds: .random(in: 0...UInt64.max, using: &g),
                                                tensors: tensors(&g)))
        case .releaseJob: return .releaseJob(JobReference(jobID: text(&g), reason: text(&g)))
        case .cancel: return .cancel(JobReference(jobID: text(&g), reason: text(&g)))
        case .statsRequest: return .statsRequest
        case .stats:
            return .stats(Stats(entries: (0..<Int.random(in: 0...5, using: &g)).map { _ in
                (text(&g), Double(bitPattern: .random(in: 0...UInt64.max, using: &g)))
            }))
        case .stageFailed:
            return .stageFailed(StageFailure(
                planEpoch: .random(in: 0...UInt32.max, using: &g), stageIndex: .random(in: 0...UInt16.max, using: &g),
                key: key(&g), code: WireErrorCode(rawValue: .random(in: 0...UInt16.max, using: &g)), message: text(&g)))
        case .submit:
            return .submit(Submit(specJSON: blob(&g), attachments: (0..<Int.random(in: 0...3, using: &g)).map { _ in
                Attachment(name: text(&g), bytes: blob(&g))
            }))
        case .submitted: return .submitted(JobID(text(&g)))
        case .jobStatusRequest: return .jobStatusRequest(JobID(text(&g)))
        case .jobStatus: return .jobStatus(JSONDocument(blob(&g)))
        case .watch: return .watch(JobID(text(&g)))
        case .progress:
            return .progress(Progress(jobID: text(&g), sequence: .random(in: 0...UInt64.max, using: &g),
                                      isFinal: .random(using: &g), eventJSON: blob(&g)))
        case .fetch:
            return .fetch(Fetch(jobID: text(&g), offset: .random(in: 0...UInt64.max, using: &g),
                                maxBytes: .random(in: 0...UInt32.max, using: &g)))
        case .fetchChunk:
            let data = blob(&g)
            let offset = UInt64.random(in: 0...1_000_000, using: &g)
            return .fetchChunk(FetchChunk(jobID: text(&g), offset: offset,
                                          totalBytes: offset + UInt64(data.count) + .random(in: 0...100, using: &g), data: data))
        }
    }
}
