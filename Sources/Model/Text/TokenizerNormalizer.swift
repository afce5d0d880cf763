// tokenizers normalizers: Sequence, Precompiled, Strip, Replace, Prepend, Lowercase, NFC/NFD/NFKC/NFKD.
import Foundation

/// A tokenizer.json `normalizer`.
indirect enum TokenizerNormalizer: Sendable {
    case sequence([TokenizerNormalizer])
    case precompiled(TokenizerPrecompiledCharsmap)
    case strip(left: Bool, right: Bool)
    case replace(TokenizerRegex, content: [Unicode.Scalar])
    case prepend([Unicode.Scalar])
    case lowercase
    case unicode(UnicodeForm)

    /// The Unicode normalization forms.
    enum UnicodeForm: String, Sendable {
        case nfc = "NFC", nfd = "NFD", nfkc = "NFKC", nfkd = "NFKD"
    }

    /// Reads a normalizer object; unsupported types are refused naming the type.
    static func parse(_ json: JSONValue, path: String) throws(TokenizerError) -> TokenizerNormalizer {
        let object = try json.objectValue(path)
        let type = try object.required("type", path).stringValue("\(path).type")
        switch type {
        case "Sequence":
            let items = try object.required("normalizers", path).arrayValue("\(path).normalizers")
            var parsed: [TokenizerNormalizer] = []
            for (index, item) in items.enumerated() {
                parsed.append(try parse(item, path: "\(path).normalizers[\(index)]"))
            }
            return .sequence(parsed)
        case "Precompiled":
            let text = try object.required("precompiled_charsmap", path).stringValue("\(path).precompiled_charsmap")
            return .precompiled(try TokenizerPrecompiledCharsmap(base64: text))
        case "Strip":
            let left = try object.optional("strip_left")?.boolValue("\(path).strip_left") ?? true
            let right = try object.optional("strip_right")?.boolValue("\(path).strip_right") ?? true
            return .strip(left: left, right: right)
        case "Replace":
            let regex = try parsePattern(object.required("pattern", path), path: "\(path).pattern")
            let content = try object.required("content", path).stringValue("\(path).content")
            return .replace(regex, content: Array(content.unicodeScalars))
        case "Prepend":
            let prefix = try object.required("prepend", path).stringValue("\(path).prepend")
            return .prepend(Array(prefix.unicodeScalars))
        case "Lowercase":
            return .lowercase
        case "NFC", "NFD", "NFKC", "NFKD":
            return .unicode(UnicodeForm(rawValue: type)!)
        default:
            throw .unsupportedComponent(component: "normalizer", type: type)
        }
    }

    /// Reads a `{"String": ...}` or `{"Regex": ...}` pattern (a string pattern is matched literally).
    static func parsePattern(_ json: JSONValue, path: String) throws(TokenizerError) -> TokenizerRegex {
        let object = try json.objectValue(path)
        guard object.count == 1, let (kind, value) = object.first else {
            throw .invalidField(path: path, reason: "expected exactly one of \"String\" or \"Regex\"")
        }
        let text = try value.stringValue("\(path).\(kind)")
        switch kind {
        case "String":
            // tokenizers' empty string pattern matches nothing.
            return text.isEmpty ? try TokenizerRegex("(?!)") : TokenizerRegex(literal: text)
        case "Regex": return try TokenizerRegex(text)
        default: throw .invalidField(path: path, reason: "unknown pattern kind \"\(kind)\"")
        }
    }

    /// Applies the normalizer to `text`.
    func normalize(_ text: inout TokenizerNormalizedString) throws(TokenizerError) {
        switch self {
        case .sequence(let items):
            for item in items { try item.normalize(&text) }
        case .precompiled(let charsmap):
            try charsmap.normalize(&text)
        case .strip(let left, let right):
            text.strip(left: left, right: right)
        case .replace(let regex, let content):
            // tokenizers finds no match at all in an empty text, not even an empty one.
            guard !text.isEmpty else { return }
            text.replace(try regex.matches(in: text.scalars), with: content)
        case .prepend(let prefix):
            text.prepend(prefix)
        case .lowercase:
            var destination: [(Unicode.Scalar, Int)] = []
            destination.reserveCapacity(text.scalars.count)
            for scalar in text.scalars {
                for (index, lower) in scalar.properties.lowercaseMapping.unicodeScalars.enumerated() {
                    destination.append((lower, index > 0 ? 1 : 0))
                }
            }
            text.transform(destination, initialOffset: 0)
        case .unicode(let form):
            Self.applyUnicode(form, to: &text)
        }
    }

    private static func normalized(_ string: String, _ form: UnicodeForm) -> String {
        switch form {
        case .nfc: return string.precomposedStringWithCanonicalMapping
        case .nfd: return string.decomposedStringWithCanonicalMapping
        case .nfkc: return string.precomposedStringWithCompatibilityMapping
        case .nfkd: return string.decomposedStringWithCompatibilityMapping
        }
    }

    /// The text is normalized as a whole; alignments follow grapheme by grapheme when that gives the same text.
    private static func applyUnicode(_ form: UnicodeForm, to text: inout TokenizerNormalizedString) {
        let whole = Array(normalized(text.string, form).unicodeScalars)
        var destination: [(Unicode.Scalar, Int)] = []
        destination.reserveCapacity(whole.count)
        for grapheme in text.string {
            let old = grapheme.unicodeScalars.count
            let new = Array(normalized(String(grapheme), form).unicodeScalars)
            destination.append(contentsOf: new.map { ($0, 0) })
            let difference = new.count - old
            if difference > 0 {
                for index in (destination.count - difference)..<destination.count { destination[index].1 = 1 }
            } else if difference < 0, !destination.isEmpty {
                destination[destination.count - 1].1 += difference
            }
        }
        if destination.map(\.0) != whole {
            destination = whole.map { ($0, 0) }
            let difference = whole.count - text.scalars.count
            if difference > 0 {
                for index in (destination.count - difference)..<destination.count { destination[index].1 = 1 }
            } else if difference < 0, !destination.isEmpty {
                destination[destination.count - 1].1 += difference
            }
        }
        text.transform(destination, initialOffset: 0)
    }
}
