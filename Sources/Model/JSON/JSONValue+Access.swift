// Typed reads of parsed JSON whose errors name the path of the bad value ("model.vocab[3][1]: expected a
// number, found a string"), so a reader of a config file says which field of which file was wrong.

/// A JSON value of the wrong kind or outside its allowed range, and where it is.
public struct JSONFieldError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Where the value is: object keys joined by ".", array indices in brackets ("post_processor.single[0]").
    public let path: String
    /// What is wrong, with the value or kind seen.
    public let reason: String

    /// Creates an error about the value at `path`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// "path: reason".
    public var description: String { "\(path): \(reason)" }
}

extension JSONValue {
    /// The object's members, or an error naming `path`.
    public func object(at path: String) throws(JSONFieldError) -> [String: JSONValue] {
        guard case .object(let members) = self else { throw mismatch(path, "an object") }
        return members
    }

    /// The array's elements, or an error naming `path`.
    public func array(at path: String) throws(JSONFieldError) -> [JSONValue] {
        guard case .array(let elements) = self else { throw mismatch(path, "an array") }
        return elements
    }

    /// The string, or an error naming `path`.
    public func string(at path: String) throws(JSONFieldError) -> String {
        guard case .string(let text) = self else { throw mismatch(path, "a string") }
        return text
    }

    /// The boolean, or an error naming `path`.
    public func bool(at path: String) throws(JSONFieldError) -> Bool {
        guard case .bool(let flag) = self else { throw mismatch(path, "a boolean") }
        return flag
    }

    /// The number as a finite double, or an error naming `path`.
    public func double(at path: String) throws(JSONFieldError) -> Double {
        guard let value = numberValue, value.isFinite else { throw mismatch(path, "a finite number") }
        return value
    }

    /// The number as an integer (written without fraction or exponent) within `range`, or an error naming `path`
    /// and the value.
    public func integer(at path: String, in range: ClosedRange<Int>) throws(JSONFieldError) -> Int {
        guard case .number(let text) = self else { throw mismatch(path, "an integer") }
        guard let value = Int(text) else {
            throw JSONFieldError(path: path, reason: "expected an integer, found \(text)")
        }
        guard range.contains(value) else {
            throw JSONFieldError(path: path, reason: "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    private func mismatch(_ path: String, _ expected: String) -> JSONFieldError {
        JSONFieldError(path: path, reason: "expected \(expected), found \(kindName)")
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// The member `key` of the object at `path`, or an error naming `path.key` when it is missing.
    public func required(_ key: String, at path: String) throws(JSONFieldError) -> JSONValue {
        guard let value = self[key] else { throw JSONFieldError(path: "\(path).\(key)", reason: "missing") }
        return value
    }

    /// The member `key` unless it is missing or null (diffusers and transformers write null for "not set").
    public func optional(_ key: String) -> JSONValue? {
        guard let value = self[key], value != .null else { return nil }
        return value
    }
}
