// Errors of the Hugging Face tokenizer.json reader and encoder.

/// Why a tokenizer could not be loaded or could not encode a text. Each message names the thing and the value seen.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read (missing, unreadable, too large).
    case file(path: String, reason: String)
    /// The JSON text is malformed; `offset` is the byte where parsing stopped.
    case malformedJSON(offset: Int, reason: String)
    /// A field is missing, has the wrong type, or a value is out of its allowed range.
    case invalidField(path: String, reason: String)
    /// A component type (normalizer, pre-tokenizer, model, post-processor) that this reader does not implement.
    case unsupportedComponent(component: String, type: String)
    /// A setting of a supported component that this reader does not implement.
    case unsupportedOption(component: String, option: String)
    /// A regular expression in the file that could not be compiled (bad syntax or a feature not implemented).
    case unsupportedRegex(pattern: String, reason: String)
    /// The sentencepiece precompiled character map is malformed.
    case malformedCharsmap(reason: String)
    /// The input text or a request is beyond a bound.
    case limitExceeded(what: String, value: Int, limit: Int)
    /// Encoding met a character that no piece covers and the model has no unknown token.
    case missingUnknownToken(text: String)

    public var description: String {
        switch self {
        case .file(let path, let reason): return "tokenizer file \(path): \(reason)"
        case .malformedJSON(let offset, let reason): return "malformed tokenizer JSON at byte \(offset): \(reason)"
        case .invalidField(let path, let reason): return "tokenizer.json field \(path): \(reason)"
        case .unsupportedComponent(let component, let type):
            return "tokenizer.json \(component) of type \"\(type)\" is not supported"
        case .unsupportedOption(let component, let option):
            return "tokenizer.json \(component): \(option) is not supported"
        case .unsupportedRegex(let pattern, let reason):
            return "tokenizer.json regex \"\(pattern)\": \(reason)"
        case .malformedCharsmap(let reason): return "Precompiled normalizer: malformed precompiled_charsmap: \(reason)"
        case .limitExceeded(let what, let value, let limit): return "\(what) is \(value), above the limit \(limit)"
        case .missingUnknownToken(let text):
            return "Unigram model: \"\(text)\" has no piece and the model has no unk_id"
        }
    }
}
