// Payloads of the coordinator <-> worker messages: stages, job context, micro-batches, stats.

/// A tensor with a name ("hidden_states", "encoder_hidden_states", ...).
public struct NamedTensor: Equatable, Sendable {
    /// The name the receiver looks it up by.
    public var name: String
    /// The tensor.
    public var tensor: WireTensor

    /// Pairs a name and a tensor.
    public init(name: String, tensor: WireTensor) { self.name = name; self.tensor = tensor }
}

func encodeTensors(_ tensors: [NamedTensor], into writer: inout PayloadWriter) {
    writer.write(UInt32(tensors.count))
    for item in tensors {
        writer.write(item.name)
        item.tensor.encode(into: &writer)
    }
}

func decodeTensors(_ reader: inout PayloadReader) throws(MessageError) -> [NamedTensor] {
    let count = try reader.readCount("tensors.count", limit: WireLimits.maxTensors)
    var tensors: [NamedTensor] = []
    for index in 0..<count {
        let name = try reader.readString("tensors[\(index)].name", maxBytes: WireLimits.maxNameBytes)
        tensors.append(NamedTensor(name: name, tensor: try WireTensor.decode(from: &reader, field: "tensors[\(index)]")))
    }
    return tensors
}

/// `assignStage`: host layers `layerStart..<layerEnd` of a model.
public struct AssignStage: Equatable, Sendable {
    /// This stage's position in the pipeline, from 0.
    public var stageIndex: UInt16
    /// Stages in the pipeline.
    public var stageCount: UInt16
    /// The model folder, relative to the worker's model root.
    public var modelReference: String
    /// First transformer block hosted.
    public var layerStart: UInt32
    /// One past the last block hosted (layerStart <= layerEnd).
    public var layerEnd: UInt32
    /// The stage also runs the entry pieces (patch embedding, condition embedders).
    public var includesEntry: Bool
    /// The stage also runs the exit pieces (final norm, projection, unpatchify).
    public var includesExit: Bool
    /// SHA-256 of the model config the coordinator planned with; the worker checks it.
    public var configHash: [UInt8]
    /// Element type for activations this stage sends on.
    public var activationDType: WireDType
    /// Where to push outputs ("host:port"); empty = back to the coordinator.
    public var nextHop: String
    /// Extra settings as JSON (defined by the coordinator); may be empty.
    public var optionsJSON: ArraySlice<UInt8>

    /// A stage assignment with every field given.
    public init(stageIndex: UInt16, stageCount: UInt16, modelReference: String, layerStart: UInt32, layerEnd: UInt32,
                includesEntry: Bool, includesExit: Bool, configHash: [UInt8], activationDType: WireDType,
                nextHop: String, optionsJSON: ArraySlice<UInt8> = []) {
        self.stageIndex = stageIndex; self.stageCount = stageCount; self.modelReference = modelReference
        self.layerStart = layerStart; self.layerEnd = layerEnd; self.includesEntry = includesEntry
        self.includesExit = includesExit; self.configHash = configHash; self.activationDType = activationDType
        self.nextHop = nextHop; self.optionsJSON = optionsJSON
    }

    func encode(into writer: inout PayloadWriter) {
        writer.write(stageIndex); writer.write(stageCount); writer.write(modelReference)
        writer.write(layerStart); writer.write(layerEnd); writer.write(includesEntry); writer.write(includesExit)
        writer.writeFixed(configHash); writer.write(activationDType.rawValue); writer.write(nextHop)
        writer.writeBlob(optionsJSON)
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> AssignStage {
        let stageIndex = try reader.readUInt16("stageIndex")
        let stageCount = try reader.readUInt16("stageCount")
        guard stageIndex < stageCount else {
            throw reader.malformed("stageIndex", "is \(stageIndex) but stageCount is \(stageCount)")
        }
        let model = try reader.readString("modelReference", maxBytes: WireLimits.maxPathBytes)
        let layerStart = try reader.readUInt32("layerStart")
        let layerEnd = try reader.readUInt32("layerEnd")
        guard layerStart <= layerEnd else {
            throw reader.malformed("layerEnd", "is \(layerEnd), below layerStart \(layerStart)")
        }
        let entry = try reader.readBool("includesEntry")
        let exit = try reader.readBool("includesExit")
        let hash = try reader.readFixed("configHash", count: WireLimits.configHashBytes)
        let rawDType = try reader.readUInt8("activationDType")
        guard let dtype = WireDType(rawValue: rawDType) else {
            throw reader.malformed("activationDType", "is \(rawDType), expected 1, 2 or 3")
        }
        return AssignStage(
            stageIndex: stageIndex, stageCount: stageCount, modelReference: model, layerStart: layerStart,
            layerEnd: layerEnd, includesEntry: entry, includesExit: exit, configHash: hash, activationDType: dtype,
            nextHop: try reader.readString("nextHop", maxBytes: WireLimits.maxPathBytes),
            optionsJSON: try reader.readBlob("optionsJSON"))
    }
}

/// `stageReady`: the stage is loaded; its memory figures in bytes.
public struct StageReady: Equatable, Sendable {
    /// Which stage.
    public var stageIndex: UInt16
    /// Bytes of weights mapped or loaded.
    public var weightBytes: UInt64
    /// Predicted bytes for activations and workspace at the assigned in-flight depth.
    public var workspaceBytes: UInt64
    /// Resident set size measured after loading.
    public var residentBytes: UInt64
    /// The worker's configured budget.
    public var budgetBytes: UInt64
    /// Time spent loading, in milliseconds.
    public var loadMilliseconds: UInt64

    /// A report with every figure given.
    public init(stageIndex: UInt16, weightBytes: UInt64, workspaceBytes: UInt64, residentBytes: UInt64,
                budgetBytes: UInt64, loadMilliseconds: UInt64) {
        self.stageIndex = stageIndex; self.weightBytes = weightBytes; self.workspaceBytes = workspaceBytes
        self.residentBytes = residentBytes; self.budgetBytes = budgetBytes; self.loadMilliseconds = loadMilliseconds
    }

    func encode(into writer: inout PayloadWriter) {
        writer.write(stageIndex); writer.write(weightBytes); writer.write(workspaceBytes)
        writer.write(residentBytes); writer.write(budgetBytes); writer.write(loadMilliseconds)
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> StageReady {
        StageReady(
            stageIndex: try reader.readUInt16("stageIndex"), weightBytes: try reader.readUInt64("weightBytes"),
            workspaceBytes: try reader.readUInt64("workspaceBytes"), residentBytes: try reader.readUInt64("residentBytes"),
            budgetBytes: try reader.readUInt64("budgetBytes"), loadMilliseconds: try reader.readUInt64("loadMilliseconds"))
    }
}

/// `jobContext`: constants a stage needs for every micro-batch of a job.
public struct JobContext: Equatable, Sendable {
    /// The job.
    public var jobID: String
    /// Scalars and settings as JSON (coordinator-defined); may be empty.
    public var specJSON: ArraySlice<UInt8>
    /// Tensors such as text embeddings.
    public var tensors: [NamedTensor]

    /// A context with every field given.
    public init(jobID: String, specJSON: ArraySlice<UInt8>, tensors: [NamedTensor]) {
        self.jobID = jobID; self.specJSON = specJSON; self.tensors = tensors
    }

    func encode(into writer: inout PayloadWriter) {
        writer.write(jobID); writer.writeBlob(specJSON); encodeTensors(tensors, into: &writer)
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> JobContext {
        JobContext(jobID: try reader.readString("jobID", maxBytes: WireLimits.maxJobIDBytes),
                   specJSON: try reader.readBlob("specJSON"), tensors: try decodeTensors(&reader))
    }
}

/// Which micro-batch: a job's (step, window, guidance branch).
public struct MicroBatchKey: Hashable, Sendable, CustomStringConvertible {
    /// The job.
    public var jobID: String
    /// Denoising step index.
    public var step: UInt32
    /// Window index on the latent timeline.
    public var window: UInt32
    /// Guidance branch (0 = conditional, 1 = unconditional, ...).
    public var branch: UInt8

    /// A key with every field given.
    public init(jobID: String, step: UInt32, window: UInt32, branch: UInt8) {
        self.jobID = jobID; self.step = step; self.window = window; self.branch = branch
    }

    public var description: String { "\(jobID)/step \(step)/window \(window)/branch \(branch)" }

    func encode(into writer: inout PayloadWriter) {
        writer.write(jobID); writer.write(step); writer.write(window); writer.write(branch)
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> MicroBatchKey {
        MicroBatchKey(jobID: try reader.readString("jobID", maxBytes: WireLimits.maxJobIDBytes),
                      step: try reader.readUInt32("step"), window: try reader.readUInt32("window"),
                      branch: try reader.readUInt8("branch"))
    }
}

/// `forward`: one micro-batch's input to a stage.
public struct Forward: Equatable, Sendable {
    /// Which micro-batch.
    public var key: MicroBatchKey
    /// The stage's inputs (hidden states, timestep embedding, ...).
    public var tensors: [NamedTensor]

    /// A micro-batch with its tensors.
    public init(key: MicroBatchKey, tensors: [NamedTensor]) { self.key = key; self.tensors = tensors }

    func encode(into writer: inout PayloadWriter) { key.encode(into: &writer); encodeTensors(tensors, into: &writer) }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> Forward {
        Forward(key: try MicroBatchKey.decode(from: &reader), tensors: try decodeTensors(&reader))
    }
}

/// `forwardResult`: the last stage's output for one micro-batch.
public struct ForwardResult: Equatable, Sendable {
    /// Which micro-batch.
    public var key: MicroBatchKey
    /// Total compute time spent on it across the stages that reported, in nanoseconds.
    public var computeNanoseconds: UInt64
    /// The model output.
    public var tensors: [NamedTensor]

    /// A result with every field given.
    public init(key: MicroBatchKey, computeNanoseconds: UInt64, tensors: [NamedTensor]) {
        self.key = key; self.computeNanoseconds = computeNanoseconds; self.tensors = tensors
    }

    func encode(into writer: inout PayloadWriter) {
        key.encode(into: &writer); writer.write(computeNanoseconds); encodeTensors(tensors, into: &writer)
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> ForwardResult {
        ForwardResult(key: try MicroBatchKey.decode(from: &reader),
                      computeNanoseconds: try reader.readUInt64("computeNanoseconds"),
                      tensors: try decodeTensors(&reader))
    }
}

/// `releaseJob` (and the job half of `cancel`): a job id and, for cancel, a reason.
public struct JobReference: Equatable, Sendable {
    /// The job.
    public var jobID: String
    /// Why (may be empty).
    public var reason: String

    /// A reference with an optional reason.
    public init(jobID: String, reason: String = "") { self.jobID = jobID; self.reason = reason }

    func encode(into writer: inout PayloadWriter) { writer.write(jobID); writer.write(clipped(reason, WireLimits.maxMessageBytes)) }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> JobReference {
        JobReference(jobID: try reader.readString("jobID", maxBytes: WireLimits.maxJobIDBytes),
                     reason: try reader.readString("reason", maxBytes: WireLimits.maxMessageBytes))
    }
}

/// `stats`: named counters (bytes sent, micro-batches run, seconds busy, ...).
public struct Stats: Equatable, Sendable {
    /// Counter names and values, in the sender's order.
    public var entries: [(name: String, value: Double)]

    /// Counters in order.
    public init(entries: [(name: String, value: Double)]) { self.entries = entries }

    public static func == (a: Stats, b: Stats) -> Bool {
        a.entries.count == b.entries.count
            && zip(a.entries, b.entries).allSatisfy { $0.name == $1.name && $0.value.bitPattern == $1.value.bitPattern }
    }

    func encode(into writer: inout PayloadWriter) {
        writer.write(UInt32(entries.count))
        for entry in entries { writer.write(entry.name); writer.write(entry.value) }
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> Stats {
        let count = try reader.readCount("entries.count", limit: WireLimits.maxStats)
        var entries: [(name: String, value: Double)] = []
        for index in 0..<count {
            entries.append((try reader.readString("entries[\(index)].name", maxBytes: WireLimits.maxNameBytes),
                            try reader.readDouble("entries[\(index)].value")))
        }
        return Stats(entries: entries)
    }
}

/// `stageFailed` (minor 1): a micro-batch failed on a stage. The plan number is a field, so the coordinator can
/// tell a failure of the current plan from a late report of a stage it has already replaced.
public struct StageFailure: Equatable, Sendable, CustomStringConvertible {
    /// The coordinator's plan number the stage was assigned under (`StageOptions.planEpoch`).
    public var planEpoch: UInt32
    /// The failing stage's index in its pipeline.
    public var stageIndex: UInt16
    /// The micro-batch that failed.
    public var key: MicroBatchKey
    /// The stable code of the failure.
    public var code: WireErrorCode
    /// What went wrong, naming the thing and the value (cut at 4096 bytes when encoded).
    public var message: String

    /// A failure with every field given.
    public init(planEpoch: UInt32, stageIndex: UInt16, key: MicroBatchKey, code: WireErrorCode, message: String) {
        self.planEpoch = planEpoch; self.stageIndex = stageIndex; self.key = key; self.code = code
        self.message = message
    }

    public var description: String { "plan \(planEpoch) stage \(stageIndex) micro-batch \(key) failed: \(message)" }

    func encode(into writer: inout PayloadWriter) {
        writer.write(planEpoch); writer.write(stageIndex); key.encode(into: &writer)
        writer.write(code.rawValue); writer.write(clipped(message, WireLimits.maxMessageBytes))
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> StageFailure {
        StageFailure(
            planEpoch: try reader.readUInt32("planEpoch"), stageIndex: try reader.readUInt16("stageIndex"),
            key: try MicroBatchKey.decode(from: &reader), code: WireErrorCode(rawValue: try reader.readUInt16("code")),
            message: try reader.readString("message", maxBytes: WireLimits.maxMessageBytes))
    }
}
