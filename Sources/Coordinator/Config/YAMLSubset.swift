// A strict parser for the small YAML subset cluster.yaml uses: block maps, block lists, plain or quoted
// scalars, and comments. Anything else (flow collections, anchors, multi-line scalars, tabs) is an error
// with its line number.

/// A parsed YAML value.
indirect enum YAMLValue: Equatable, Sendable {
    /// A scalar, as written (quotes removed).
    case scalar(String, line: Int)
    /// A block map, keys in file order.
    case map([(key: String, value: YAMLValue, line: Int)], line: Int)
    /// A block list.
    case list([YAMLValue], line: Int)

    static func == (lhs: YAMLValue, rhs: YAMLValue) -> Bool {
        switch (lhs, rhs) {
        case let (.scalar(a, _), .scalar(b, _)): return a == b
        case let (.list(a, _), .list(b, _)): return a == b
        case let (.map(a, _), .map(b, _)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The line the value starts on (1-based).
    var line: Int {
        switch self {
        case .scalar(_, let line), .map(_, let line), .list(_, let line): return line
        }
    }
}

/// A syntax error, with the line it was found on.
struct YAMLError: Error, CustomStringConvertible, Equatable {
    /// 1-based line number.
    let line: Int
    /// What was wrong.
    let message: String
    var description: String { "line \(line): \(message)" }
}

/// Parses the YAML subset.
enum YAMLSubset {
    private struct Line {
        let number: Int
        let indent: Int
        let text: String  // without indentation and comment
    }

    /// Parses a whole document; an empty document is an empty map.
    static func parse(_ text: String) throws(YAMLError) -> YAMLValue {
        var lines: [Line] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            var line = String(rawLine)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.contains("\t") { throw YAMLError(line: number, message: "tabs are not allowed; indent with spaces") }
            let content = try stripComment(line, lineNumber: number)
            let trimmed = content.trimmingTrailingSpaces()
            let indent = trimmed.prefix { $0 == " " }.count
            let body = String(trimmed.dropFirst(indent))
            if body.isEmpty { continue }
            if body == "---" || body == "..." {
                throw YAMLError(line: number, message: "document markers are not supported")
            }
            lines.append(Line(number: number, indent: indent, text: body))
        }
        var index = 0
        guard !lines.isEmpty else { return .map([], line: 1) }
        let value = try parseBlock(lines, &index, indent: lines[0].indent)
        if index < lines.count {
            throw YAMLError(line: lines[index].number, message: "unexpected indentation")
        }
        return value
    }

    private static func parseBlock(_ lines: [Line], _ index: inout Int, indent: Int) throws(YAMLError) -> YAMLValue {
        let first = lines[index]
        if first.text == "-" || first.text.hasPrefix("- ") {
            return try parseList(lines, &index, indent: indent)
        }
        return try parseMap(lines, &index, indent: indent)
    }

    private static func parseList(_ lines: [Line], _ index: inout Int, indent: Int) throws(YAMLError) -> YAMLValue {
        var items: [YAMLValue] = []
        let startLine = lines[index].number
        while index < lines.count, lines[index].indent == indent {
            let line = lines[index]
            guard line.text == "-" || line.text.hasPrefix("- ") else {
                throw YAMLError(line: line.number, message: "expected a list item ('- ...') at this indentation")
            }
            let rest = String(line.text.dropFirst(1)).trimmingLeadingSpaces()
            if rest.isEmpty {
                index += 1
                guard index < lines.count, lines[index].indent > indent else {
                    throw YAMLError(line: line.number, message: "empty list item")
                }
                items.append(try parseBlock(lines, &index, indent: lines[index].indent))
            } else if isMapEntry(rest) {
                // "- key: value" starts a map whose further keys are indented to align with "key".
                let itemIndent = indent + (line.text.count - rest.count)
                var inner = lines
                inner[index] = Line(number: line.number, indent: itemIndent, text: rest)
                items.append(try parseMap(inner, &index, indent: itemIndent))
            } else {
                items.append(try scalar(rest, line: line.number))
                index += 1
            }
        }
        if index < lines.count, lines[index].indent > indent {
            throw YAMLError(line: lines[index].number, message: "unexpected indentation")
        }
        return .list(items, line: startLine)
    }

    private static func parseMap(_ lines: [Line], _ index: inout Int, indent: Int) throws(YAMLError) -> YAMLValue {
        var entries: [(key: String, value: YAMLValue, line: Int)] = []
        let startLine = lines[index].number
        var seen = Set<String>()
        while index < lines.count, lines[index].indent == indent {
            let line = lines[index]
            guard let colon = mapColon(line.text) else {
                throw YAMLError(line: line.number, message: "expected 'key: value', got '\(line.text)'")
            }
            let key = try unquote(String(line.text[..<colon]).trimmingTrailingSpaces(), line: line.number)
            guard !key.isEmpty else { throw YAMLError(line: line.number, message: "empty key") }
            guard seen.insert(key).inserted else {
                throw YAMLError(line: line.number, message: "duplicate key '\(key)'")
            }
            let rest = String(line.text[line.text.index(after: colon)...]).trimmingLeadingSpaces()
            index += 1
            if rest.isEmpty {
                if index < lines.count, lines[index].indent > indent {
                    entries.append((key, try parseBlock(lines, &index, indent: lines[index].indent), line.number))
                } else if index < lines.count, lines[index].indent == indent,
                    lines[index].text == "-" || lines[index].text.hasPrefix("- ")
                {
                    // A list may sit at the same indentation as its key.
                    entries.append((key, try parseList(lines, &index, indent: indent), line.number))
                } else {
                    entries.append((key, .scalar("", line: line.number), line.number))
                }
            } else {
                entries.append((key, try scalar(rest, line: line.number), line.number))
            }
        }
        if index < lines.count, lines[index].indent > indent {
            throw YAMLError(line: lines[index].number, message: "unexpected indentation")
        }
        return .map(entries, line: startLine)
    }

    // MARK: - Scalars and comments

    private static func isMapEntry(_ text: String) -> Bool { mapColon(text) != nil }

    /// The index of the ':' that ends a key (followed by a space or the end), outside quotes.
    private static func mapColon(_ text: String) -> String.Index? {
        var quote: Character?
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == ":" {
                let next = text.index(after: index)
                if next == text.endIndex || text[next] == " " { return index }
            }
            index = text.index(after: index)
        }
        return nil
    }

    private static func scalar(_ text: String, line: Int) throws(YAMLError) -> YAMLValue {
        if let first = text.first, "[{&*!|>%@`".contains(first) {
            throw YAMLError(line: line, message: "'\(first)' starts a YAML feature this file format does not support")
        }
        return .scalar(try unquote(text, line: line), line: line)
    }

    private static func unquote(_ text: String, line: Int) throws(YAMLError) -> String {
        guard let first = text.first, first == "\"" || first == "'" else { return text }
        guard text.count >= 2, text.last == first else {
            throw YAMLError(line: line, message: "unterminated quoted string \(text)")
        }
        let inner = String(text.dropFirst().dropLast())
        if first == "'" { return inner.replacingOccurrences(of: "''", with: "'") }
        if inner.contains("\\") { throw YAMLError(line: line, message: "escape sequences are not supported in \(text)") }
        return inner
    }

    /// Removes a comment: '#' at the start or after a space, outside quotes.
    private static func stripComment(_ line: String, lineNumber: Int) throws(YAMLError) -> String {
        var quote: Character?
        var previous: Character = " "
        var index = line.startIndex
        while index < line.endIndex {
            let character = line[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                if previous == " " || previous == ":" || previous == "-" { quote = character }
            } else if character == "#" && previous == " " {
                return String(line[..<index])
            }
            previous = character
            index = line.index(after: index)
        }
        if quote != nil { throw YAMLError(line: lineNumber, message: "unterminated quoted string") }
        return line
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }

    func trimmingLeadingSpaces() -> String {
        String(drop { $0 == " " })
    }
}
