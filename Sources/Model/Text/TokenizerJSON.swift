// A strict, bounded JSON reader for tokenizer.json files (RFC 8259; duplicate keys and lone surrogates refused).

/// A parsed JSON value. Numbers keep their text so that integers and doubles are read exactly.
public enum TokenizerJSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([TokenizerJSON])
    case object([String: TokenizerJSON])

    /// The deepest nesting accepted.
    public static let maxDepth = 64

    /// Parses `bytes` (UTF-8) as one JSON value followed only by whitespace.
    public static func parse(_ bytes: [UInt8]) throws(TokenizerError) -> TokenizerJSON {
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        if parser.position != bytes.count { throw parser.failure("extra data after the JSON value") }
        return value
    }

    /// A short name of the value's kind, for error messages.
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
}

// MARK: - Typed access with errors naming the field

extension TokenizerJSON {
    /// The object's members, or an error naming `path`.
    func objectValue(_ path: String) throws(TokenizerError) -> [String: TokenizerJSON] {
        guard case .object(let members) = self else {
            throw .invalidField(path: path, reason: "expected an object, found \(kindName)")
        }
        return members
    }

    /// The array's elements, or an error naming `path`.
    func arrayValue(_ path: String) throws(TokenizerError) -> [TokenizerJSON] {
        guard case .array(let elements) = self else {
            throw .invalidField(path: path, reason: "expected an array, found \(kindName)")
        }
        return elements
    }

    /// The string, or an error naming `path`.
    func stringValue(_ path: String) throws(TokenizerError) -> String {
        guard case .string(let text) = self else {
            throw .invalidField(path: path, reason: "expected a string, found \(kindName)")
        }
        return text
    }

    /// The boolean, or an error naming `path`.
    func boolValue(_ path: String) throws(TokenizerError) -> Bool {
        guard case .bool(let flag) = self else {
            throw .invalidField(path: path, reason: "expected a boolean, found \(kindName)")
        }
        return flag
    }

    /// The number as a finite double, or an error naming `path`.
    func doubleValue(_ path: String) throws(TokenizerError) -> Double {
        guard case .number(let text) = self, let value = Double(text), value.isFinite else {
            throw .invalidField(path: path, reason: "expected a finite number, found \(kindName)")
        }
        return value
    }

    /// The number as an integer within `range`, or an error naming `path`.
    func intValue(_ path: String, in range: ClosedRange<Int>) throws(TokenizerError) -> Int {
        guard case .number(let text) = self else {
            throw .invalidField(path: path, reason: "expected an integer, found \(kindName)")
        }
        guard let value = Int(text) else {
            throw .invalidField(path: path, reason: "expected an integer, found \(text)")
        }
        guard range.contains(value) else {
            throw .invalidField(path: path, reason: "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }
}

extension Dictionary where Key == String, Value == TokenizerJSON {
    /// The member `key`, or an error naming `path.key` when it is missing.
    func required(_ key: String, _ path: String) throws(TokenizerError) -> TokenizerJSON {
        guard let value = self[key] else { throw .invalidField(path: "\(path).\(key)", reason: "missing") }
        return value
    }

    /// The member `key` unless it is missing or null.
    func optional(_ key: String) -> TokenizerJSON? {
        guard let value = self[key], value != .null else { return nil }
        return value
    }
}

// MARK: - Parser

private struct Parser {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func failure(_ reason: String) -> TokenizerError { .malformedJSON(offset: position, reason: reason) }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws(TokenizerError) -> TokenizerJSON {
        guard depth < TokenizerJSON.maxDepth else { throw failure("nesting deeper than \(TokenizerJSON.maxDepth)") }
        guard position < bytes.count else { throw failure("unexpected end of input") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw failure("unexpected character 0x\(String(bytes[position], radix: 16))")
        }
    }

    mutating func literal(_ word: String) throws(TokenizerError) {
        let expected = Array(word.utf8)
        guard position + expected.count <= bytes.count, Array(bytes[position..<position + expected.count]) == expected
        else { throw failure("expected \(word)") }
        position += expected.count
    }

    mutating func object(depth: Int) throws(TokenizerError) -> TokenizerJSON {
        position += 1
        var members: [String: TokenizerJSON] = [:]
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw failure("expected a key") }
            let key = try string()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw failure("expected ':'") }
            position += 1
            skipWhitespace()
            let member = try value(depth: depth + 1)
            guard members.updateValue(member, forKey: key) == nil else { throw failure("duplicate key \"\(key)\"") }
            skipWhitespace()
            guard position < bytes.count else { throw failure("unterminated object") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
            throw failure("expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws(TokenizerError) -> TokenizerJSON {
        position += 1
        var elements: [TokenizerJSON] = []
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth + 1))
            skipWhitespace()
            guard position < bytes.count else { throw failure("unterminated array") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
            throw failure("expected ',' or ']'")
        }
    }

    mutating func number() throws(TokenizerError) -> String {
        let start = position
        func digits(_ parser: inout Parser) -> Int {
            let begin = parser.position
            while parser.position < parser.bytes.count,
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(parser.bytes[parser.position])
            {
                parser.position += 1
            }
            return parser.position - begin
        }
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count else { throw failure("truncated number") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else if digits(&self) == 0 {
            throw failure("expected digits")
        }
        if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits(&self) > 0 else { throw failure("expected digits after '.'") }
        }
        if position < bytes.count && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
            position += 1
            if position < bytes.count && [UInt8(ascii: "+"), UInt8(ascii: "-")].contains(bytes[position]) {
                position += 1
            }
            guard digits(&self) > 0 else { throw failure("expected exponent digits") }
        }
        guard position - start <= 64 else { throw failure("number longer than 64 characters") }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    mutating func hex4() throws(TokenizerError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw failure("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw failure("bad hex digit in \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    mutating func string() throws(TokenizerError) -> String {
        position += 1
        var utf8: [UInt8] = []
        var runStart = position
        while true {
            guard position < bytes.count else { throw failure("unterminated string") }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                utf8.append(contentsOf: bytes[runStart..<position])
                position += 1
                break
            }
            if byte < 0x20 { throw failure("control character in string") }
            if byte != UInt8(ascii: "\\") {
                position += 1
                continue
            }
            utf8.append(contentsOf: bytes[runStart..<position])
            position += 1
            guard position < bytes.count else { throw failure("unterminated escape") }
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "\""): utf8.append(0x22)
            case UInt8(ascii: "\\"): utf8.append(0x5C)
            case UInt8(ascii: "/"): utf8.append(0x2F)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800...0xDBFF).contains(code) {
                    guard position + 2 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
                        bytes[position + 1] == UInt8(ascii: "u")
                    else { throw failure("lone high surrogate in \\u escape") }
                    position += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw failure("bad low surrogate in \\u escape") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(code) {
                    throw failure("lone low surrogate in \\u escape")
                }
                guard let scalar = Unicode.Scalar(code) else { throw failure("invalid code point in \\u escape") }
                utf8.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: throw failure("unknown escape \\\(Character(Unicode.Scalar(escape)))")
            }
            runStart = position
        }
        guard let text = String(validating: utf8, as: UTF8.self) else { throw failure("string is not valid UTF-8") }
        return text
    }
}
