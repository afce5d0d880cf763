// Payloads of the client <-> coordinator messages: submit, status, watch, fetch.

/// A named blob (an input image or video for a job).
public struct Attachment: Equatable, Sendable {
    /// The name the job spec refers to.
    public var name: String
    /// The bytes.
    public var bytes: ArraySlice<UInt8>

    /// Pairs a name and bytes.
    public init(name: String, bytes: ArraySlice<UInt8>) { self.name = name; self.bytes = bytes }
}

/// `submit`: a job spec as JSON (the coordinator defines and validates it) plus input media.
public struct Submit: Equatable, Sendable {
    /// The job spec.
    public var specJSON: ArraySlice<UInt8>
    /// Input media.
    public var attachments: [Attachment]

    /// A submission.
    public init(specJSON: ArraySlice<UInt8>, attachments: [Attachment] = []) {
        self.specJSON = specJSON; self.attachments = attachments
    }

    func encode(into writer: inout PayloadWriter) {
        writer.writeBlob(specJSON)
        writer.write(UInt32(attachments.count))
        for item in attachments { writer.write(item.name); writer.writeBlob(item.bytes) }
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> Submit {
        let spec = try reader.readBlob("specJSON")
        let count = try reader.readCount("attachments.count", limit: WireLimits.maxAttachments)
        var attachments: [Attachment] = []
        for index in 0..<count {
            attachments.append(Attachment(
                name: try reader.readString("attachments[\(index)].name", maxBytes: WireLimits.maxNameBytes),
                bytes: try reader.readBlob("attachments[\(index)].bytes")))
        }
        return Submit(specJSON: spec, attachments: attachments)
    }
}

/// A job id on its own (`submitted`, `watch`, `jobStatusRequest` with "" meaning all jobs).
public struct JobID: Equatable, Sendable {
    /// The job id.
    public var jobID: String

    /// Wraps a job id.
    public init(_ jobID: String) { self.jobID = jobID }

    func encode(into writer: inout PayloadWriter) { writer.write(jobID) }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> JobID {
        JobID(try reader.readString("jobID", maxBytes: WireLimits.maxJobIDBytes))
    }
}

/// A JSON document (`jobStatus`).
public struct JSONDocument: Equatable, Sendable {
    /// UTF-8 JSON bytes.
    public var json: ArraySlice<UInt8>

    /// Wraps JSON bytes.
    public init(_ json: ArraySlice<UInt8>) { self.json = json }

    func encode(into writer: inout PayloadWriter) { writer.writeBlob(json) }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> JSONDocument {
        JSONDocument(try reader.readBlob("json"))
    }
}

/// `progress`: one event of a watched job (JSON, coordinator-defined); the last one has `isFinal`.
public struct Progress: Equatable, Sendable {
    /// The job.
    public var jobID: String
    /// Increases by one per event of this job.
    public var sequence: UInt64
    /// No more events follow for this watch.
    public var isFinal: Bool
    /// The event.
    public var eventJSON: ArraySlice<UInt8>

    /// An event with every field given.
    public init(jobID: String, sequence: UInt64, isFinal: Bool, eventJSON: ArraySlice<UInt8>) {
        self.jobID = jobID; self.sequence = sequence; self.isFinal = isFinal; self.eventJSON = eventJSON
    }

    func encode(into writer: inout PayloadWriter) {
        writer.write(jobID); writer.write(sequence); writer.write(isFinal); writer.writeBlob(eventJSON)
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> Progress {
        Progress(jobID: try reader.readString("jobID", maxBytes: WireLimits.maxJobIDBytes),
                 sequence: try reader.readUInt64("sequence"), isFinal: try reader.readBool("isFinal"),
                 eventJSON: try reader.readBlob("eventJSON"))
    }
}

/// `fetch`: read up to `maxBytes` of a job's result starting at `offset`.
public struct Fetch: Equatable, Sendable {
    /// The job.
    public var jobID: String
    /// First byte wanted.
    public var offset: UInt64
    /// Most bytes wanted in the reply.
    public var maxBytes: UInt32

    /// A fetch with every field given.
    public init(jobID: String, offset: UInt64, maxBytes: UInt32) {
        self.jobID = jobID; self.offset = offset; self.maxBytes = maxBytes
    }

    func encode(into writer: inout PayloadWriter) { writer.write(jobID); writer.write(offset); writer.write(maxBytes) }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> Fetch {
        Fetch(jobID: try reader.readString("jobID", maxBytes: WireLimits.maxJobIDBytes),
              offset: try reader.readUInt64("offset"), maxBytes: try reader.readUInt32("maxBytes"))
    }
}

/// `fetchChunk`: bytes `offset ..< offset + data.count` of a result of `totalBytes` bytes.
public struct FetchChunk: Equatable, Sendable {
    /// The job.
    public var jobID: String
    /// Where the chunk starts.
    public var offset: UInt64
    /// The whole result's size.
    public var totalBytes: UInt64
    /// The chunk.
    public var data: ArraySlice<UInt8>

    /// A chunk with every field given.
    public init(jobID: String, offset: UInt64, totalBytes: UInt64, data: ArraySlice<UInt8>) {
        self.jobID = jobID; self.offset = offset; self.totalBytes = totalBytes; self.data = data
    }

    /// Whether this chunk reaches the end of the result.
    public var isLast: Bool { offset + UInt64(data.count) == totalBytes }

    func encode(into writer: inout PayloadWriter) {
        writer.write(jobID); writer.write(offset); writer.write(totalBytes); writer.writeBlob(data)
    }

    static func decode(from reader: inout PayloadReader) throws(MessageError) -> FetchChunk {
        let jobID = try reader.readString("jobID", maxBytes: WireLimits.maxJobIDBytes)
        let offset = try reader.readUInt64("offset")
        let total = try reader.readUInt64("totalBytes")
        let data = try reader.readBlob("data")
        let (end, overflow) = offset.addingReportingOverflow(UInt64(data.count))
        guard !overflow, end <= total else {
            throw reader.malformed("data", "chunk at offset \(offset) of \(data.count) bytes passes totalBytes \(total)")
        }
        return FetchChunk(jobID: jobID, offset: offset, totalBytes: total, data: data)
    }
}
