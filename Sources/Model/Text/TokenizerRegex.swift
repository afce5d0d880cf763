// The subset of Oniguruma regular expressions that tokenizer.json files use (tokenizers' SysRegex), on scalars.

/// A compiled regular expression: literals, `.`, classes `[...]`, `\s \d \w \p{..}` and their negations, groups,
/// alternation, greedy and lazy quantifiers, `\A \z \Z ^ $ \b \B`, lookahead. Anything else is refused when compiled.
/// Matching is backtracking with a step budget, so a pathological pattern fails with an error instead of hanging.
struct TokenizerRegex: Sendable {
    /// The pattern text, for error messages.
    let pattern: String
    private let root: Node

    /// Backtracking steps allowed for one `matches(in:)` call before giving up (a few times what the patterns of
    /// real tokenizer.json files need on the longest input text allowed).
    static let defaultMaxSteps = 5_000_000
    /// Deepest recursion a match may reach.
    static let maxDepth = 4_000

    /// Compiles `pattern`, or throws naming the pattern and the problem.
    init(_ pattern: String) throws(TokenizerError) {
        self.pattern = pattern
        var parser = RegexParser(pattern: pattern, scalars: Array(pattern.unicodeScalars))
        root = try parser.parseAll()
    }

    /// A regex matching `literal` exactly.
    init(literal: String) {
        pattern = literal
        root = .sequence(literal.unicodeScalars.map { .scalar(.exactly($0)) })
    }

    /// Every match, left to right, as Oniguruma's `find_iter` returns them: a search starts where the previous match
    /// ended, and an empty match right where the previous match ended is skipped by advancing one scalar.
    func matches(in text: [Unicode.Scalar], maxSteps: Int = defaultMaxSteps) throws(TokenizerError) -> [Range<Int>] {
        var results: [Range<Int>] = []
        var searchStart = 0
        var lastMatchEnd: Int?
        let matcher = Matcher(text: text, maxSteps: maxSteps)
        while searchStart <= text.count {
            guard let found = matcher.search(root, from: searchStart) else {
                if matcher.aborted { throw .unsupportedRegex(pattern: pattern, reason: matcher.abortReason) }
                break
            }
            if found.isEmpty && lastMatchEnd == found.upperBound {
                searchStart = found.upperBound + 1
                continue
            }
            results.append(found)
            searchStart = found.upperBound
            lastMatchEnd = found.upperBound
        }
        return results
    }

    // MARK: - Syntax tree

    indirect enum Node: Sendable {
        case scalar(ScalarSet)
        case sequence([Node])
        case alternation([Node])
        case repetition(Node, min: Int, max: Int?, greedy: Bool)
        case startOfText, endOfText, endOfTextBeforeNewline, startOfLine, endOfLine, wordBoundary(Bool)
        case lookahead(Node, negative: Bool)
    }

    /// A predicate on one scalar.
    indirect enum ScalarSet: Sendable {
        case exactly(Unicode.Scalar)
        case range(Unicode.Scalar, Unicode.Scalar)
        case any  // `.`: everything but newline
        case whitespace, digit, word
        case category([Unicode.GeneralCategory])
        case union([ScalarSet])
        case not(ScalarSet)

        func contains(_ scalar: Unicode.Scalar) -> Bool {
            switch self {
            case .exactly(let s): return scalar == s
            case .range(let low, let high): return low <= scalar && scalar <= high
            case .any: return scalar != "\n"
            case .whitespace: return scalar.properties.isWhitespace
            case .digit: return scalar.properties.generalCategory == .decimalNumber
            case .word: return TokenizerRegex.isWord(scalar)
            case .category(let categories): return categories.contains(scalar.properties.generalCategory)
            case .union(let members): return members.contains { $0.contains(scalar) }
            case .not(let inner): return !inner.contains(scalar)
            }
        }
    }

    /// Oniguruma's Unicode `\w`: letters, marks, decimal digits, connector punctuation.
    static func isWord(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        if properties.isAlphabetic { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}

// MARK: - Matcher

/// Backtracking matcher over one text; `aborted` is set when the step or depth budget runs out.
private final class Matcher {
    let text: [Unicode.Scalar]
    var steps = 0
    var depth = 0
    let maxSteps: Int
    var aborted = false
    var abortReason = ""

    init(text: [Unicode.Scalar], maxSteps: Int) {
        self.text = text
        self.maxSteps = maxSteps
    }

    func search(_ root: TokenizerRegex.Node, from start: Int) -> Range<Int>? {
        var begin = start
        while begin <= text.count {
            var end: Int?
            if match(root, begin, { position in end = position; return true }) { return begin..<end! }
            if aborted { return nil }
            begin += 1
        }
        return nil
    }

    private func budget() -> Bool {
        steps += 1
        if steps > maxSteps {
            aborted = true
            abortReason = "matching took more than \(maxSteps) steps"
        }
        return !aborted
    }

    private func isWordAt(_ position: Int) -> Bool {
        position >= 0 && position < text.count && TokenizerRegex.isWord(text[position])
    }

    func match(_ node: TokenizerRegex.Node, _ position: Int, _ next: (Int) -> Bool) -> Bool {
        guard budget() else { return false }
        depth += 1
        defer { depth -= 1 }
        if depth > TokenizerRegex.maxDepth {
            aborted = true
            abortReason = "matching recursed deeper than \(TokenizerRegex.maxDepth)"
            return false
        }
        switch node {
        case .scalar(let set):
            return position < text.count && set.contains(text[position]) && next(position + 1)
        case .sequence(let nodes):
            return matchSequence(nodes[...], position, next)
        case .alternation(let options):
            for option in options {
                if match(option, position, next) { return true }
                if aborted { return false }
            }
            return false
        case .repetition(let inner, let min, let max, let greedy):
            if case .scalar(let set) = inner {
                return matchSimpleRepetition(set, min: min, max: max, greedy: greedy, position, next)
            }
            return matchRepetition(inner, min: min, max: max, greedy: greedy, count: 0, position, next)
        case .startOfText:
            return position == 0 && next(position)
        case .endOfText:
            return position == text.count && next(position)
        case .endOfTextBeforeNewline:
            let atEnd = position == text.count || (position == text.count - 1 && text[position] == "\n")
            return atEnd && next(position)
        case .startOfLine:
            return (position == 0 || text[position - 1] == "\n") && next(position)
        case .endOfLine:
            return (position == text.count || text[position] == "\n") && next(position)
        case .wordBoundary(let wanted):
            let boundary = isWordAt(position - 1) != isWordAt(position)
            return boundary == wanted && next(position)
        case .lookahead(let inner, let negative):
            let found = match(inner, position, { _ in true })
            if aborted { return false }
            return found != negative && next(position)
        }
    }

    private func matchSequence(_ nodes: ArraySlice<TokenizerRegex.Node>, _ position: Int, _ next: (Int) -> Bool)
        -> Bool
    {
        guard let first = nodes.first else { return next(position) }
        let rest = nodes.dropFirst()
        return match(first, position) { after in self.matchSequence(rest, after, next) }
    }

    /// A quantified single-scalar atom: count the run once, then try lengths without recursing per repetition.
    private func matchSimpleRepetition(
        _ set: TokenizerRegex.ScalarSet, min: Int, max: Int?, greedy: Bool, _ position: Int, _ next: (Int) -> Bool
    ) -> Bool {
        var run = 0
        let limit = max ?? Int.max
        while run < limit && position + run < text.count && set.contains(text[position + run]) { run += 1 }
        guard run >= min else { return false }
        if greedy {
            var count = run
            while count >= min {
                guard budget() else { return false }
                if next(position + count) { return true }
                count -= 1
            }
        } else {
            for count in min...run {
                guard budget() else { return false }
                if next(position + count) { return true }
            }
        }
        return false
    }

    private func matchRepetition(
        _ inner: TokenizerRegex.Node, min: Int, max: Int?, greedy: Bool, count: Int, _ position: Int,
        _ next: (Int) -> Bool
    ) -> Bool {
        let canStop = count >= min
        let canContinue = max.map { count < $0 } ?? true
        func more() -> Bool {
            guard canContinue else { return false }
            return match(inner, position) { after in
                // An iteration that consumed nothing cannot help once the minimum is reached.
                if after == position && canStop { return false }
                return self.matchRepetition(
                    inner, min: min, max: max, greedy: greedy, count: count + 1, after, next)
            }
        }
        if greedy {
            if more() { return true }
            if aborted { return false }
            return canStop && next(position)
        }
        if canStop && next(position) { return true }
        if aborted { return false }
        return more()
    }
}

// MARK: - Parser

private struct RegexParser {
    let pattern: String
    let scalars: [Unicode.Scalar]
    var position = 0

    init(pattern: String, scalars: [Unicode.Scalar]) {
        self.pattern = pattern
        self.scalars = scalars
    }

    func failure(_ reason: String) -> TokenizerError {
        .unsupportedRegex(pattern: pattern, reason: "\(reason) at position \(position)")
    }

    mutating func parseAll() throws(TokenizerError) -> TokenizerRegex.Node {
        guard scalars.count <= 65_536 else { throw failure("pattern longer than 65536 characters") }
        let node = try alternation(depth: 0)
        guard position == scalars.count else { throw failure("unbalanced ')'") }
        return node
    }

    var atEnd: Bool { position >= scalars.count }
    var current: Unicode.Scalar { scalars[position] }

    mutating func alternation(depth: Int) throws(TokenizerError) -> TokenizerRegex.Node {
        guard depth < 100 else { throw failure("groups nested deeper than 100") }
        var options = [try sequence(depth: depth)]
        while !atEnd && current == "|" {
            position += 1
            options.append(try sequence(depth: depth))
        }
        return options.count == 1 ? options[0] : .alternation(options)
    }

    mutating func sequence(depth: Int) throws(TokenizerError) -> TokenizerRegex.Node {
        var items: [TokenizerRegex.Node] = []
        while !atEnd && current != "|" && current != ")" {
            let atom = try self.atom(depth: depth)
            items.append(try quantified(atom))
        }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    mutating func number() -> Int? {
        var value: Int?
        while !atEnd && current.isASCII && ("0"..."9").contains(current) {
            value = min((value ?? 0) * 10 + Int(current.value - 48), 1_000_000)
            position += 1
        }
        return value
    }

    mutating func quantified(_ atom: TokenizerRegex.Node) throws(TokenizerError) -> TokenizerRegex.Node {
        guard !atEnd else { return atom }
        var min = 0
        var max: Int?
        switch current {
        case "*": position += 1
        case "+": min = 1; position += 1
        case "?": max = 1; position += 1
        case "{":
            let save = position
            position += 1
            guard let low = number() else {
                position = save
                return atom  // a literal '{' follows; handled by the caller as an atom next time
            }
            min = low
            if !atEnd && current == "," {
                position += 1
                max = number()
            } else {
                max = low
            }
            guard !atEnd && current == "}" else { throw failure("bad {m,n} quantifier") }
            position += 1
            guard min <= 100_000, (max ?? min) <= 100_000, (max ?? min) >= min else {
                throw failure("quantifier bounds out of range")
            }
        default: return atom
        }
        var greedy = true
        if !atEnd && current == "?" {
            greedy = false
            position += 1
        } else if !atEnd && current == "+" {
            throw failure("possessive quantifiers are not supported")
        }
        if !atEnd && (current == "*" || current == "+" || current == "?") {
            throw failure("nested quantifier")
        }
        return .repetition(atom, min: min, max: max, greedy: greedy)
    }

    mutating func atom(depth: Int) throws(TokenizerError) -> TokenizerRegex.Node {
        let scalar = current
        position += 1
        switch scalar {
        case "(":
            var lookahead: Bool?
            if !atEnd && current == "?" {
                position += 1
                guard !atEnd else { throw failure("unterminated group") }
                switch current {
                case ":": position += 1
                case "=": lookahead = false; position += 1
                case "!": lookahead = true; position += 1
                default: throw failure("group kind (?\(current) is not supported")
                }
            }
            let inner = try alternation(depth: depth + 1)
            guard !atEnd && current == ")" else { throw failure("missing ')'") }
            position += 1
            if let negative = lookahead { return .lookahead(inner, negative: negative) }
            return inner
        case ".": return .scalar(.any)
        case "^": return .startOfLine
        case "$": return .endOfLine
        case "[": return .scalar(try characterClass())
        case "\\": return try escape(inClass: false)
        case "*", "+", "?": throw failure("quantifier without an operand")
        default: return .scalar(.exactly(scalar))
        }
    }

    mutating func hexValue(digits: Int?) throws(TokenizerError) -> Unicode.Scalar {
        var text = ""
        if digits == nil {
            guard !atEnd && current == "{" else { throw failure("expected '{' in escape") }
            position += 1
            while !atEnd && current != "}" { text.unicodeScalars.append(current); position += 1 }
            guard !atEnd else { throw failure("unterminated \\x{...}") }
            position += 1
        } else {
            for _ in 0..<digits! {
                guard !atEnd else { throw failure("truncated hex escape") }
                text.unicodeScalars.append(current)
                position += 1
            }
        }
        guard text.count <= 8, let code = UInt32(text, radix: 16), let scalar = Unicode.Scalar(code) else {
            throw failure("bad hex escape \"\(text)\"")
        }
        return scalar
    }

    mutating func property() throws(TokenizerError) -> TokenizerRegex.ScalarSet {
        guard !atEnd && current == "{" else { throw failure("expected '{' after \\p") }
        position += 1
        var name = ""
        while !atEnd && current != "}" { name.unicodeScalars.append(current); position += 1 }
        guard !atEnd else { throw failure("unterminated \\p{...}") }
        position += 1
        var negate = false
        if name.hasPrefix("^") {
            negate = true
            name.removeFirst()
        }
        guard let categories = RegexParser.categories[name] else {
            throw failure("Unicode property \\p{\(name)} is not supported")
        }
        return negate ? .not(.category(categories)) : .category(categories)
    }

    mutating func escape(inClass: Bool) throws(TokenizerError) -> TokenizerRegex.Node {
        guard !atEnd else { throw failure("trailing backslash") }
        let scalar = current
        position += 1
        switch scalar {
        case "A" where !inClass: return .startOfText
        case "z" where !inClass: return .endOfText
        case "Z" where !inClass: return .endOfTextBeforeNewline
        case "b" where !inClass: return .wordBoundary(true)
        case "B" where !inClass: return .wordBoundary(false)
        case "s": return .scalar(.whitespace)
        case "S": return .scalar(.not(.whitespace))
        case "d": return .scalar(.digit)
        case "D": return .scalar(.not(.digit))
        case "w": return .scalar(.word)
        case "W": return .scalar(.not(.word))
        case "p": return .scalar(try property())
        case "P": return .scalar(.not(try property()))
        case "n": return .scalar(.exactly("\n"))
        case "t": return .scalar(.exactly("\t"))
        case "r": return .scalar(.exactly("\r"))
        case "f": return .scalar(.exactly("\u{0C}"))
        case "v": return .scalar(.exactly("\u{0B}"))
        case "e": return .scalar(.exactly("\u{1B}"))
        case "a": return .scalar(.exactly("\u{07}"))
        case "x":
            if !atEnd && current == "{" { return .scalar(.exactly(try hexValue(digits: nil))) }
            return .scalar(.exactly(try hexValue(digits: 2)))
        case "u": return .scalar(.exactly(try hexValue(digits: 4)))
        default:
            if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                throw failure("escape \\\(scalar) is not supported")
            }
            return .scalar(.exactly(scalar))
        }
    }

    mutating func characterClass() throws(TokenizerError) -> TokenizerRegex.ScalarSet {
        var negate = false
        if !atEnd && current == "^" {
            negate = true
            position += 1
        }
        var members: [TokenizerRegex.ScalarSet] = []
        var first = true
        while true {
            guard !atEnd else { throw failure("unterminated character class") }
            if current == "]" && !first {
                position += 1
                break
            }
            first = false
            if current == "[" { throw failure("nested character classes are not supported") }
            if current == "&" && position + 1 < scalars.count && scalars[position + 1] == "&" {
                throw failure("class intersection is not supported")
            }
            var low: Unicode.Scalar
            if current == "\\" {
                position += 1
                guard case .scalar(let set) = try escape(inClass: true) else { throw failure("anchor in class") }
                guard case .exactly(let literal) = set else {
                    members.append(set)
                    continue
                }
                low = literal
            } else {
                low = current
                position += 1
            }
            if position + 1 < scalars.count && current == "-" && scalars[position + 1] != "]" {
                position += 1
                var high: Unicode.Scalar
                if current == "\\" {
                    position += 1
                    guard case .scalar(.exactly(let literal)) = try escape(inClass: true) else {
                        throw failure("bad range end in class")
                    }
                    high = literal
                } else {
                    high = current
                    position += 1
                }
                guard low <= high else { throw failure("empty range in class") }
                members.append(.range(low, high))
            } else {
                members.append(.exactly(low))
            }
        }
        let set = TokenizerRegex.ScalarSet.union(members)
        return negate ? .not(set) : set
    }

    static let categories: [String: [Unicode.GeneralCategory]] = {
        let letters: [Unicode.GeneralCategory] = [
            .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
        ]
        let marks: [Unicode.GeneralCategory] = [.nonspacingMark, .spacingMark, .enclosingMark]
        let numbers: [Unicode.GeneralCategory] = [.decimalNumber, .letterNumber, .otherNumber]
        let punctuation: [Unicode.GeneralCategory] = [
            .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation,
        ]
        let symbols: [Unicode.GeneralCategory] = [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol]
        let separators: [Unicode.GeneralCategory] = [.spaceSeparator, .lineSeparator, .paragraphSeparator]
        let others: [Unicode.GeneralCategory] = [.control, .format, .surrogate, .privateUse, .unassigned]
        return [
            "L": letters, "Letter": letters, "Lu": [.uppercaseLetter], "Ll": [.lowercaseLetter],
            "Lt": [.titlecaseLetter], "Lm": [.modifierLetter], "Lo": [.otherLetter],
            "M": marks, "Mark": marks, "Mn": [.nonspacingMark], "Mc": [.spacingMark], "Me": [.enclosingMark],
            "N": numbers, "Number": numbers, "Nd": [.decimalNumber], "Nl": [.letterNumber], "No": [.otherNumber],
            "P": punctuation, "Punctuation": punctuation, "Pc": [.connectorPunctuation], "Pd": [.dashPunctuation],
            "Ps": [.openPunctuation], "Pe": [.closePunctuation], "Pi": [.initialPunctuation],
            "Pf": [.finalPunctuation], "Po": [.otherPunctuation],
            "S": symbols, "Symbol": symbols, "Sm": [.mathSymbol], "Sc": [.currencySymbol], "Sk": [.modifierSymbol],
            "So": [.otherSymbol],
            "Z": separators, "Separator": separators, "Zs": [.spaceSeparator], "Zl": [.lineSeparator],
            "Zp": [.paragraphSeparator],
            "C": others, "Other": others, "Cc": [.control], "Cf": [.format], "Cs": [.surrogate], "Co": [.privateUse],
            "Cn": [.unassigned],
        ]
    }()
}
