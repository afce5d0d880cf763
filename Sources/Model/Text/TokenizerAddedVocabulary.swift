// tokenizers AddedVocabulary: the `added_tokens` of a tokenizer.json, found in the text before the model runs.

/// One entry of `added_tokens`.
struct TokenizerAddedToken: Sendable, Equatable {
    let content: String
    let singleWord: Bool
    let leftStrip: Bool
    let rightStrip: Bool
    let normalized: Bool
    let special: Bool
}

/// The added tokens: matched leftmost-longest in the raw text (tokens with `normalized: false`) and in the
/// normalized text (the others), as tokenizers does in `extract_and_normalize`.
struct TokenizerAddedVocabulary: Sendable {
    /// Token id by content.
    let idsByContent: [String: Int]
    /// Tokens by id.
    let tokensByID: [Int: TokenizerAddedToken]
    private let rawMatcher: Matcher
    private let normalizedMatcher: Matcher

    /// Most added tokens accepted.
    static let maxCount = 100_000

    /// Reads `added_tokens` and assigns ids as tokenizers does when it loads a file: a token already in the model
    /// keeps the model's id, a new one takes the next id after the model's vocabulary.
    init(json: JSONValue?, model: TokenizerUnigram, normalizer: TokenizerNormalizer?) throws(TokenizerError) {
        let entries = try json?.arrayValue("added_tokens") ?? []
        guard entries.count <= Self.maxCount else {
            throw .limitExceeded(what: "added_tokens count", value: entries.count, limit: Self.maxCount)
        }
        var idsByContent: [String: Int] = [:]
        var tokensByID: [Int: TokenizerAddedToken] = [:]
        var nextID = model.count
        for (index, entry) in entries.enumerated() {
            let path = "added_tokens[\(index)]"
            let object = try entry.objectValue(path)
            _ = try object.required("id", path).intValue("\(path).id", in: 0...Int(Int32.max))
            let content = try object.required("content", path).stringValue("\(path).content")
            guard content.utf8.count <= TokenizerUnigram.maxPieceBytes else {
                throw .limitExceeded(what: "\(path).content length in bytes", value: content.utf8.count,
                                     limit: TokenizerUnigram.maxPieceBytes)
            }
            func flag(_ key: String, _ defaultValue: Bool) throws(TokenizerError) -> Bool {
                try object.optional(key)?.boolValue("\(path).\(key)") ?? defaultValue
            }
            let special = try flag("special", false)
            let token = TokenizerAddedToken(
                content: content, singleWord: try flag("single_word", false), leftStrip: try flag("lstrip", false),
                rightStrip: try flag("rstrip", false), normalized: try flag("normalized", !special), special: special)
            if content.isEmpty { continue }
            if let existing = idsByContent[content], tokensByID[existing] == token { continue }
            let id: Int
            if let existing = idsByContent[content] ?? model.idsByPiece[content] {
                id = existing
            } else {
                id = nextID
                nextID += 1
            }
            idsByContent[content] = id
            tokensByID[id] = token
        }
        var raw: [(pattern: [Unicode.Scalar], id: Int)] = []
        var normalizedPatterns: [(pattern: [Unicode.Scalar], id: Int)] = []
        for (id, token) in tokensByID.sorted(by: { $0.key < $1.key }) {
            if token.normalized {
                var text = TokenizerNormalizedString(token.content.unicodeScalars)
                try normalizer?.normalize(&text)
                if !text.isEmpty { normalizedPatterns.append((text.scalars, id)) }
            } else {
                raw.append((Array(token.content.unicodeScalars), id))
            }
        }
        self.idsByContent = idsByContent
        self.tokensByID = tokensByID
        rawMatcher = Matcher(raw)
        normalizedMatcher = Matcher(normalizedPatterns)
    }

    /// Splits pieces that are not yet added tokens on the tokens matched in the raw (`normalized == false`) or
    /// normalized text.
    func split(_ splits: [TokenizerSplit], normalizedTokens: Bool) -> [TokenizerSplit] {
        let matcher = normalizedTokens ? normalizedMatcher : rawMatcher
        var result: [TokenizerSplit] = []
        for split in splits {
            if split.addedTokenID != nil {
                result.append(split)
                continue
            }
            // Even without a match the piece is re-sliced, which moves its original start past characters the
            // normalizer removed (this decides Metaspace's prepend_scheme "first").

            var start = 0
            let scalars = split.text.scalars
            for (range, id) in findMatches(scalars, matcher) {
                if start < range.lowerBound {
                    result.append(TokenizerSplit(text: split.text.slice(start..<range.lowerBound), addedTokenID: nil))
                }
                result.append(TokenizerSplit(text: split.text.slice(range), addedTokenID: id))
                start = range.upperBound
            }
            if start < scalars.count {
                result.append(TokenizerSplit(text: split.text.slice(start..<scalars.count), addedTokenID: nil))
            }
        }
        return result
    }

    /// Leftmost-longest matches, adjusted for `single_word`, `lstrip` and `rstrip` (tokenizers `find_matches`).
    private func findMatches(_ text: [Unicode.Scalar], _ matcher: Matcher) -> [(Range<Int>, Int)] {
        var matches: [(Range<Int>, Int)] = []
        var startOffset = 0
        var position = 0
        while position < text.count {
            guard let (length, id) = matcher.longestMatch(text, at: position) else {
                position += 1
                continue
            }
            var start = position
            var stop = position + length
            position = stop
            guard let token = tokensByID[id] else { continue }
            if token.singleWord {
                let startSpace = start == 0 || !Self.isWordForAddedTokens(text[start - 1])
                let stopSpace = stop == text.count || !Self.isWordForAddedTokens(text[stop])
                if !startSpace || !stopSpace { continue }
            }
            if token.leftStrip {
                var newStart = start
                while newStart > 0 && text[newStart - 1].properties.isWhitespace { newStart -= 1 }
                start = max(newStart, startOffset)
            }
            if token.rightStrip {
                // The search itself goes on after the token, not after the stripped spaces (as daachorse's iterator).
                while stop < text.count && text[stop].properties.isWhitespace { stop += 1 }
            }
            matches.append((start..<stop, id))
            startOffset = stop
        }
        return matches
    }

    /// Rust regex's Unicode `\w`.
    private static func isWordForAddedTokens(_ scalar: Unicode.Scalar) -> Bool {
        TokenizerRegex.isWord(scalar) || scalar.properties.isJoinControl
    }

    // MARK: - Matcher

    /// A trie of the token texts for longest-match lookups.
    fileprivate struct Matcher: Sendable {
        private var children: [UInt64: Int32] = [:]
        private var terminal: [Int32] = [-1]

        init(_ patterns: [(pattern: [Unicode.Scalar], id: Int)]) {
            for (pattern, id) in patterns {
                var node = 0
                for scalar in pattern {
                    let key = UInt64(node) << 21 | UInt64(scalar.value)
                    if let next = children[key] {
                        node = Int(next)
                    } else {
                        terminal.append(-1)
                        children[key] = Int32(terminal.count - 1)
                        node = terminal.count - 1
                    }
                }
                if terminal[node] < 0 { terminal[node] = Int32(id) }
            }
        }

        var isEmpty: Bool { terminal.count == 1 }

        func longestMatch(_ text: [Unicode.Scalar], at start: Int) -> (length: Int, id: Int)? {
            var node = 0
            var best: (Int, Int)?
            var position = start
            while position < text.count, let next = children[UInt64(node) << 21 | UInt64(text[position].value)] {
                node = Int(next)
                position += 1
                if terminal[node] >= 0 { best = (position - start, Int(terminal[node])) }
            }
            return best
        }
    }
}
