// Reads diffusers scheduler_config.json objects field by field, with strict JSON types (diffusers ConfigMixin), from
// the Model module's one JSON reader (`JSONParser`).
import Foundation

/// Typed access to the fields of one scheduler config object; a missing or null field takes the diffusers default.
struct SchedulerConfigReader {
    let fields: [String: JSONValue]

    /// Decodes a JSON object from bytes (bounded by `SchedulerLimits.maxConfigBytes`).
    init(data: Data, origin: String) throws {
        guard data.count <= SchedulerLimits.maxConfigBytes else {
            throw SchedulerError.unreadableConfig(
                path: origin, reason: "\(data.count) bytes, more than the \(SchedulerLimits.maxConfigBytes) allowed")
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse([UInt8](data))
        } catch {
            throw SchedulerError.unreadableConfig(path: origin, reason: "not valid JSON (\(error))")
        }
        guard case .object(let fields) = value else {
            throw SchedulerError.unreadableConfig(path: origin, reason: "expected a JSON object, got \(value.summary)")
        }
        self.fields = fields
    }

    /// The field's value, with JSON null treated as absent (diffusers passes None, and every default we use is
    /// either None or the documented default).
    private func value(_ key: String) -> JSONValue? {
        fields.optional(key)
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
        guard let result = value.numberValue, result.isFinite else {
            throw SchedulerError.wrongType(field: key, expected: "a finite number", seen: value.summary)
        }
        return result
    }

    /// A whole number within `range`.
    func int(_ key: String, default defaultValue: Int, range: ClosedRange<Int>) throws -> Int {
        guard let value = value(key) else { return defaultValue }
        guard let number = value.numberValue, let result = Int(exactly: number) else {
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
            guard let number = item.numberValue, let result = Int(exactly: number), range.contains(result) else {
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
