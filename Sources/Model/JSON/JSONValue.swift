// The one JSON value type of the Model module (RFC 8259), read by `JSONParser` for safetensors headers and index
// files, tokenizer.json and tokenizer_config.json, and scheduler_config.json.

/// A parsed JSON value. Objects keep their keys in a dictionary (duplicate keys are refused while parsing);
/// numbers keep their source text, so integers of any size convert exactly (or are refused) and doubles round once.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number as its source text (at most `JSONParser.maxNumberLength` characters).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The value as an exact non-negative integer that fits `Int`, or nil.
    var nonNegativeInteger: Int? {
        guard case .number(let text) = self, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            return nil
        }
        return Int(text)
    }

    /// The number as a double (infinite when out of range), or nil when the value is not a number.
    var numberValue: Double? {
        guard case .number(let text) = self else { return nil }
        return Double(text)
    }

    /// A short name of the value's kind, for error messages: "a string", "an object", "null".
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// The value shortened for an error message: scalars as written (strings cut at 80 characters), containers
    /// by their size.
    public var summary: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return String(value)
        case .number(let text): return text
        case .string(let text): return Self.quoted(String(text.prefix(80)))
        case .array(let values): return "an array of \(values.count) values"
        case .object(let fields): return "an object of \(fields.count) fields"
        }
    }
}

// MARK: - Writing

extension JSONValue {
    /// `text` as a JSON string literal (quotes and escapes included).
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
