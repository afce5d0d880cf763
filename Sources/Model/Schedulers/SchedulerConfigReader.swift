// Reads diffusers scheduler_config.json objects field by field, with strict JSON types (diffusers ConfigMixin).
import Foundation

/// A JSON value as decoded, keeping booleans, numbers and null apart so types can be checked strictly.
enum SchedulerJSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([SchedulerJSONValue])
    case object([String: SchedulerJSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([SchedulerJSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: SchedulerJSONValue].self))
        }
    }

    /// A short rendering for error messages.
    var summary: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return String(value)
        case .number(let value): return String(value)
        case .string(let value): return "\"\(value.prefix(80))\""
        case .array(let values): return "an array of \(values.count) values"
        case .object(let fields): return "an object of \(fields.count) fields"
        }
    }
}

/// Typed access to the fields of one scheduler config object; a missing or null field takes the diffusers default.
struct SchedulerConfigReader {
    let fields: [String: SchedulerJSONValue]

    /// Decodes a JSON object from bytes (bounded by `SchedulerLimits.maxConfigBytes`).
    init(data: Data, origin: String) throws {
        guard data.count <= SchedulerLimits.maxConfigBytes else {
            throw SchedulerError.unreadableConfig(
                path: origin, reason: "\(data.count) bytes, more than the \(SchedulerLimits.maxConfigBytes) allowed")
        }
        let value: SchedulerJSONValue
        do {
            value = try JSONDecoder().decode(SchedulerJSONValue.self, from: data)
        } catch {
            throw SchedulerError.unreadableConfig(path: origin, reason: "not valid JSON (\(error))")
        }
        guard case .object(let fields) = value else {
            throw SchedulerError.unreadableConfig(path: origin, reason: "expected a JSON object, got \(value.summary)")
        }
        self.fields = fields
    }

    init(fields: [String: SchedulerJSONValue]) {
        self.fields = fields
    }

    /// The field's value, with JSON null treated as absent (diffusers passes None, and every default we use is
    /// either None or the documented default).
    private func value(_ key: String) -> SchedulerJSONValue? {
        guard let value = fields[key], value != .null else { return nil }
        return value
    }

    func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        guard let value = value(key) else { return defaultValue }
        guard case .bool(let result) = value else {
            throw SchedulerError.wrongType(field: key, expected: "true or false", seen: value.summary)
        }
        return result
    }

    /// A finite number.
    func double(_ key: String, default defaultValue: Double) throws -> Double {
        try optionalDouble(key) ?? defaultValue
    }

    /// A finite number, or nil when absent or null.
    func optionalDouble(_ key: String) throws -> Double? {
        guard let value = value(key) else { return nil }
        guard case .number(let result) = value, result.isFinite else {
            throw SchedulerError.wrongType(field: key, expected: "a finite number", seen: value.summary)
        }
        return result
    }

    /// A whole number within `range`.
    func int(_ key: String, default defaultValue: Int, range: ClosedRange<Int>) throws -> Int {
        guard let value = value(key) else { return defaultValue }
        guard case .number(let number) = value, let result = Int(exactly: number) else {
            throw SchedulerError.wrongType(field: key, expected: "a whole number", seen: value.summary)
        }
        guard range.contains(result) else {
            throw SchedulerError.invalidValue(
                field: key, value: String(result),
                reason: "must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return result
    }

    func string(_ key: String, default defaultValue: String) throws -> String {
        guard let value = value(key) else { return defaultValue }
        guard case .string(let result) = value else {
            throw SchedulerError.wrongType(field: key, expected: "a string", seen: value.summary)
        }
        return result
    }

    /// A string that must be one of `allowed`.
    func choice(_ key: String, default defaultValue: String, allowed: [String]) throws -> String {
        let result = try string(key, default: defaultValue)
        guard allowed.contains(result) else {
            throw SchedulerError.invalidValue(
                field: key, value: "\"\(result)\"", reason: "must be one of \(allowed.joined(separator: ", "))")
        }
        return result
    }

    /// A list of whole numbers (at most `maxCount` of them), each within `range`.
    func intList(_ key: String, maxCount: Int, range: ClosedRange<Int>) throws -> [Int] {
        guard let value = value(key) else { return [] }
        guard case .array(let items) = value else {
            throw SchedulerError.wrongType(field: key, expected: "a list of whole numbers", seen: value.summary)
        }
        guard items.count <= maxCount else {
            throw SchedulerError.invalidValue(
                field: key, value: value.summary, reason: "at most \(maxCount) entries are allowed")
        }
        return try items.map { item in
            guard case .number(let number) = item, let result = Int(exactly: number), range.contains(result) else {
                throw SchedulerError.wrongType(
                    field: key, expected: "whole numbers between \(range.lowerBound) and \(range.upperBound)",
                    seen: item.summary)
            }
            return result
        }
    }

    /// Refuses `true` for an option diffusers has but this port does not implement.
    func requireFalse(_ key: String, reason: String) throws {
        if try bool(key, default: false) {
            throw SchedulerError.unsupportedOption(field: key, value: "true", reason: reason)
        }
    }

    /// Refuses any non-null value for an option this port does not implement.
    func requireNull(_ key: String, reason: String) throws {
        if let value = value(key) {
            throw SchedulerError.unsupportedOption(field: key, value: value.summary, reason: reason)
        }
    }
}
