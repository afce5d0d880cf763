// The JSON form of a job request: explicit snake_case keys, a version, and decoding errors that name the field.
import Foundation
import Model

extension JobRequest {
    /// The JSON keys of a request, each with the command-line option that sets it.
    public enum Field: String, CodingKey, CaseIterable, Sendable {
        case version, prompt, width, height, frames, fps, steps, guidance, shift, scheduler, seed, task, loop, fit, output
        case loras
        case negativePrompt = "negative_prompt"
        case durationSeconds = "duration_seconds"
        case maxSequenceLength = "max_sequence_length"
        case windowFrames = "window_frames"
        case windowOverlap = "window_overlap"
        case pinStrength = "pin_strength"
        case expandPrompt = "expand_prompt"

        /// The option of `generate` and `submit` that sets the field (`--duration` for `duration_seconds`; the task
        /// fields are set by `--image`, `--extend-forward`, ...; `output` by `--out` or `--format`).
        public var option: String {
            switch self {
            case .durationSeconds: return "--duration"
            case .task: return "--image/--extend-forward/--extend-backward/--connect/--edit"
            case .output: return "--format"
            case .loras: return "--lora"
            case .version: return "version"
            default: return "--" + rawValue.replacingOccurrences(of: "_", with: "-")
            }
        }

        /// How errors name the field: its JSON key and its option, e.g. `width (--width)`.
        public var label: String { self == .version ? rawValue : "\(rawValue) (\(option))" }
    }

    /// Decodes and checks a request from a `submit` or an HTTP body; errors name the field.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(JobRequestError) -> JobRequest {
        guard bytes.count <= maxBytes else {
            throw JobRequestError(field: "specJSON", "is \(bytes.count) bytes; the limit is \(maxBytes)")
        }
        let request: JobRequest
        do {
            request = try JSONDecoder().decode(JobRequest.self, from: Data(bytes))
        } catch let error as JobRequestError {
            throw error
        } catch {
            throw JobRequestError(field: "specJSON", "is not a JSON job request: \(Self.describe(error))")
        }
        try request.validate()
        return request
    }

    /// The request as JSON with sorted keys (what `submit` sends).
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        if keys.contains("options") {
            throw JobRequestError(
                field: "specJSON", "holds command-line options (the format before version 2); update the client")
        }
        if let unknown = keys.sorted().first(where: { Field(stringValue: $0) == nil }) {
            throw JobRequestError(field: unknown, "is not a job field (fields: \(Field.allCases.map(\.rawValue).sorted().joined(separator: ", ")))")
        }
        let fields = try decoder.container(keyedBy: Field.self)
        func value<T: Decodable>(_ field: Field, _: T.Type = T.self) throws(JobRequestError) -> T? {
            do { return try fields.decodeIfPresent(T.self, forKey: field) } catch {
                throw JobRequestError(field: field.label, "has a value of the wrong type or form: \(Self.describe(error))")
            }
        }
        version = try value(.version) ?? 0
        guard version == Self.currentVersion else {
            throw JobRequestError(field: "version", "is \(version); this build reads job requests of version \(Self.currentVersion)")
        }
        guard let prompt: String = try value(.prompt) else { throw JobRequestError(field: Field.prompt.label, "is required") }
        self.prompt = prompt
        negativePrompt = try value(.negativePrompt)
        width = try value(.width); height = try value(.height)
        frames = try value(.frames); durationSeconds = try value(.durationSeconds); fps = try value(.fps)
        steps = try value(.steps); guidance = try value(.guidance); shift = try value(.shift)
        scheduler = try value(.scheduler); seed = try value(.seed)
        maxSequenceLength = try value(.maxSequenceLength)
        windowFrames = try value(.windowFrames); windowOverlap = try value(.windowOverlap)
        task = try value(.task); pinStrength = try value(.pinStrength)
        loop = try value(.loop) ?? false
        fit = try value(.fit)
        expandPrompt = try value(.expandPrompt) ?? false
        output = try value(.output) ?? .y4m
        loras = try value(.loras)
    }

    public func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: Field.self)
        try fields.encode(version, forKey: .version)
        try fields.encode(prompt, forKey: .prompt)
        try fields.encodeIfPresent(negativePrompt, forKey: .negativePrompt)
        try fields.encodeIfPresent(width, forKey: .width); try fields.encodeIfPresent(height, forKey: .height)
        try fields.encodeIfPresent(frames, forKey: .frames)
        try fields.encodeIfPresent(durationSeconds, forKey: .durationSeconds)
        try fields.encodeIfPresent(fps, forKey: .fps); try fields.encodeIfPresent(steps, forKey: .steps)
        try fields.encodeIfPresent(guidance, forKey: .guidance); try fields.encodeIfPresent(shift, forKey: .shift)
        try fields.encodeIfPresent(scheduler, forKey: .scheduler); try fields.encodeIfPresent(seed, forKey: .seed)
        try fields.encodeIfPresent(maxSequenceLength, forKey: .maxSequenceLength)
        try fields.encodeIfPresent(windowFrames, forKey: .windowFrames)
        try fields.encodeIfPresent(windowOverlap, forKey: .windowOverlap)
        try fields.encodeIfPresent(task, forKey: .task); try fields.encodeIfPresent(pinStrength, forKey: .pinStrength)
        try fields.encode(loop, forKey: .loop); try fields.encodeIfPresent(fit, forKey: .fit)
        try fields.encode(expandPrompt, forKey: .expandPrompt); try fields.encode(output, forKey: .output)
        try fields.encodeIfPresent(loras, forKey: .loras)
    }

    /// A decoding error in a sentence (Foundation's own descriptions name coding paths, not what a user typed).
    public static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.dataCorrupted(let context):
            return context.debugDescription
        case DecodingError.keyNotFound(let key, _):
            return "\(key.stringValue) is missing"
        default:
            return "\(error)"
        }
    }

    /// Any JSON key, to list the keys a request holds.
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// A job request that cannot run: the field (JSON key and option) and what is wrong with its value.
public struct JobRequestError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The field, as `Field.label` gives it, or the part of the request (`specJSON`, `attachments`).
    public var field: String
    /// What is wrong, with the value seen.
    public var message: String

    /// An error naming `field`.
    public init(field: String, _ message: String) { self.field = field; self.message = message }

    public var description: String { "\(field) \(message)" }
}
