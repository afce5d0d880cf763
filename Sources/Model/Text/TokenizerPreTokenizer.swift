// tokenizers pre-tokenizers: Metaspace, Sequence, WhitespaceSplit, Split.

/// One piece of a text on its way through the tokenizer: either text still to tokenize, or an added token already
/// recognised (tokenizers' `Split`).
struct TokenizerSplit: Sendable {
    /// The piece's text.
    var text: TokenizerNormalizedString
    /// The id of the added token this piece is, if it is one.
    var addedTokenID: Int?
}

/// How Metaspace puts the replacement character in front of a piece.
enum TokenizerPrependScheme: String, Sendable {
    case always, first, never
}

/// A tokenizer.json `pre_tokenizer`.
indirect enum TokenizerPreTokenizer: Sendable {
    case sequence([TokenizerPreTokenizer])
    case metaspace(replacement: Unicode.Scalar, prependScheme: TokenizerPrependScheme, split: Bool)
    case whitespaceSplit
    case split(TokenizerPattern, behavior: TokenizerSplitBehavior)

    /// Reads a pre-tokenizer object; unsupported types are refused naming the type.
    static func parse(_ json: JSONValue, path: String) throws(TokenizerError) -> TokenizerPreTokenizer {
        let object = try json.objectValue(path)
        let type = try object.required("type", path).stringValue("\(path).type")
        switch type {
        case "Sequence":
            let items = try object.required("pretokenizers", path).arrayValue("\(path).pretokenizers")
            var parsed: [TokenizerPreTokenizer] = []
            for (index, item) in items.enumerated() {
                parsed.append(try parse(item, path: "\(path).pretokenizers[\(index)]"))
            }
            return .sequence(parsed)
        case "Metaspace":
            let text = try object.required("replacement", path).stringValue("\(path).replacement")
            let scalars = Array(text.unicodeScalars)
            guard scalars.count == 1 else {
                throw .invalidField(path: "\(path).replacement", reason: "expected one character, found \"\(text)\"")
            }
            var scheme = TokenizerPrependScheme.always
            if let value = object.optional("prepend_scheme") {
                let name = try value.stringValue("\(path).prepend_scheme")
                guard let parsed = TokenizerPrependScheme(rawValue: name) else {
                    throw .invalidField(path: "\(path).prepend_scheme", reason: "unknown scheme \"\(name)\"")
                }
                scheme = parsed
            }
            if let addPrefix = object.optional("add_prefix_space"), try !addPrefix.boolValue("\(path).add_prefix_space")
            {
                // As tokenizers: add_prefix_space false must come with prepend_scheme "never".
                guard scheme == .never else {
                    throw .invalidField(
                        path: "\(path).add_prefix_space", reason: "false does not match prepend_scheme \"\(scheme)\"")
                }
            }
            let split = try object.optional("split")?.boolValue("\(path).split") ?? true
            return .metaspace(replacement: scalars[0], prependScheme: scheme, split: split)
        case "WhitespaceSplit":
            return .whitespaceSplit
        case "Split":
            let regex = try TokenizerNormalizer.parsePattern(object.required("pattern", path), path: "\(path).pattern")
            let behaviorName = try object.required("behavior", path).stringValue("\(path).behavior")
            guard let behavior = TokenizerSplitBehavior(rawValue: behaviorName) else {
                throw .invalidField(path: "\(path).behavior", reason: "unknown behavior \"\(behaviorName)\"")
            }
            let invert = try object.optional("invert")?.boolValue("\(path).invert") ?? false
            return .split(.regex(regex, invert: invert), behavior: behavior)
        default:
            throw .unsupportedComponent(component: "pre_tokenizer", type: type)
        }
    }

    /// Splits every piece that is not an added token further; empty pieces are dropped (tokenizers
    /// `PreTokenizedString::split`).
    func preTokenize(_ splits: inout [TokenizerSplit]) throws(TokenizerError) {
        switch self {
        case .sequence(let items):
            for item in items { try item.preTokenize(&splits) }
        case .metaspace(let replacement, let scheme, let split):
            try Self.eachSplit(&splits) { (piece: TokenizerNormalizedString) throws(TokenizerError) in
                var piece = piece
                let spaces = piece.scalars.indices.filter { piece.scalars[$0] == " " }.map { $0..<($0 + 1) }
                piece.replace(spaces, with: [replacement])
                let startsWithReplacement = piece.scalars.first == replacement
                switch scheme {
                case .always:
                    if !startsWithReplacement { piece.prepend([replacement]) }
                case .first:
                    if !startsWithReplacement && piece.originalStart == 0 { piece.prepend([replacement]) }
                case .never:
                    break
                }
                guard split else { return [piece] }
                return try piece.split(.scalar({ $0 == replacement }), behavior: .mergedWithNext)
            }
        case .whitespaceSplit:
            try Self.eachSplit(&splits) { (piece: TokenizerNormalizedString) throws(TokenizerError) in
                try piece.split(.scalar({ $0.properties.isWhitespace }), behavior: .removed)
            }
        case .split(let pattern, let behavior):
            try Self.eachSplit(&splits) { (piece: TokenizerNormalizedString) throws(TokenizerError) in
                try piece.split(pattern, behavior: behavior)
            }
        }
    }

    private static func eachSplit(
        _ splits: inout [TokenizerSplit],
        _ body: (TokenizerNormalizedString) throws(TokenizerError) -> [TokenizerNormalizedString]
    ) throws(TokenizerError) {
        var result: [TokenizerSplit] = []
        result.reserveCapacity(splits.count)
        for split in splits {
            if split.addedTokenID != nil {
                result.append(split)
                continue
            }
            for piece in try body(split.text) where !piece.isEmpty {
                result.append(TokenizerSplit(text: piece, addedTokenID: nil))
            }
        }
        splits = result
    }
}
