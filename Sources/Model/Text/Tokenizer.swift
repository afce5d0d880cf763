// A Hugging Face tokenizer.json reader and encoder for Unigram (sentencepiece) tokenizers as T5/umT5 use them
// (tokenizers `Tokenizer::encode` + transformers' padding="max_length", truncation=True).
import Foundation

/// The ids and attention mask of one encoded text, padded to a fixed length.
public struct TokenizerEncoding: Sendable, Equatable {
    /// Token ids, `maxSequenceLength` of them.
    public let inputIDs: [Int]
    /// 1 for a real token, 0 for padding.
    public let attentionMask: [Int]
}

/// A Unigram tokenizer loaded from a tokenizer.json: normalizer, pre-tokenizer, Unigram model, added tokens,
/// TemplateProcessing post-processor. Encodes text to the same ids as the `tokenizers` library.
public struct Tokenizer: Sendable {
    private let normalizer: TokenizerNormalizer?
    private let preTokenizer: TokenizerPreTokenizer?
    private let model: TokenizerUnigram
    private let addedVocabulary: TokenizerAddedVocabulary
    private let postProcessor: TokenizerPostProcessor
    private let padTokenName: String
    /// The id used for padding; nil when the pad token is not in the vocabulary (padded encoding then fails).
    public let padTokenID: Int?
    /// Whether padding goes after the tokens (transformers' `padding_side` "right") or before them.
    public let padsOnRight: Bool
    /// Whether truncation drops tokens from the end (transformers' `truncation_side` "right") or from the start.
    public let truncatesOnRight: Bool

    /// Largest tokenizer.json accepted (umT5's is about 17 MB).
    public static let maxFileBytes = 64 << 20
    /// Longest input text accepted, in UTF-8 bytes.
    public static let maxInputBytes = 64 << 10
    /// Largest `maxSequenceLength` accepted.
    public static let maxSequenceLengthLimit = 1 << 16
    /// The Wan pipeline's default sequence length.
    public static let defaultMaxSequenceLength = 512

    // MARK: - Loading

    /// Loads `tokenizer.json` from a model folder (`DIR/tokenizer/tokenizer.json`), a tokenizer folder
    /// (`DIR/tokenizer.json`) or the file itself; `tokenizer_config.json` next to it, if any, names the pad token
    /// and the padding and truncation sides.
    public init(path: String) throws(TokenizerError) {
        var isDirectory: ObjCBool = false
        var file = path
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            let nested = (path as NSString).appendingPathComponent("tokenizer/tokenizer.json")
            let direct = (path as NSString).appendingPathComponent("tokenizer.json")
            if FileManager.default.fileExists(atPath: nested) {
                file = nested
            } else if FileManager.default.fileExists(atPath: direct) {
                file = direct
            } else {
                throw .file(path: path, reason: "has neither tokenizer/tokenizer.json nor tokenizer.json")
            }
        }
        let bytes = try Self.readFile(file, limit: Self.maxFileBytes)
        let configPath = ((file as NSString).deletingLastPathComponent as NSString)
            .appendingPathComponent("tokenizer_config.json")
        var config: [String: JSONValue] = [:]
        if FileManager.default.fileExists(atPath: configPath) {
            let configBytes = try Self.readFile(configPath, limit: Self.maxFileBytes)
            do {
                config = try JSONValue.parseTokenizerFile(configBytes).objectValue("tokenizer_config.json")
            } catch {
                throw .file(path: configPath, reason: error.description)
            }
        }
        do {
            try self.init(json: bytes, config: config)
        } catch {
            throw .file(path: file, reason: error.description)
        }
    }

    /// Parses a tokenizer.json held in memory. `config` holds tokenizer_config.json's members (`pad_token`,
    /// `padding_side`, `truncation_side`); without `pad_token` the pad token is `<pad>` (T5's).
    public init(json bytes: [UInt8], config: [String: JSONValue] = [:]) throws(TokenizerError) {
        guard bytes.count <= Self.maxFileBytes else {
            throw .limitExceeded(what: "tokenizer.json size in bytes", value: bytes.count, limit: Self.maxFileBytes)
        }
        let root = try JSONValue.parseTokenizerFile(bytes).objectValue("(root)")
        if let version = root.optional("version") {
            let text = try version.stringValue("version")
            guard text == "1.0" else { throw .invalidField(path: "version", reason: "unknown version \"\(text)\"") }
        }
        normalizer = try root.optional("normalizer").map { (json) throws(TokenizerError) in
            try TokenizerNormalizer.parse(json, path: "normalizer")
        }
        preTokenizer = try root.optional("pre_tokenizer").map { (json) throws(TokenizerError) in
            try TokenizerPreTokenizer.parse(json, path: "pre_tokenizer")
        }
        model = try TokenizerUnigram(json: root.required("model", "(root)"), path: "model")
        postProcessor = try root.optional("post_processor").map { (json) throws(TokenizerError) in
            try TokenizerPostProcessor(json: json, path: "post_processor")
        } ?? .none
        addedVocabulary = try TokenizerAddedVocabulary(
            json: root.optional("added_tokens"), model: model, normalizer: normalizer)
        if let decoder = root.optional("decoder") {
            // Decoding is not implemented; the decoder is only checked to be an object with a type.
            _ = try decoder.objectValue("decoder").required("type", "decoder").stringValue("decoder.type")
        }

        var padToken = "<pad>"
        if let value = config.optional("pad_token") {
            switch value {
            case .string(let text): padToken = text
            case .object(let members):
                padToken = try members.required("content", "pad_token").stringValue("pad_token.content")
            default: throw .invalidField(path: "tokenizer_config.json pad_token", reason: "expected a string or object")
            }
        }
        padTokenName = padToken
        padTokenID = addedVocabulary.idsByContent[padToken] ?? model.idsByPiece[padToken]
        padsOnRight = try Self.side(config, "padding_side")
        truncatesOnRight = try Self.side(config, "truncation_side")
    }

    private static func side(_ config: [String: JSONValue], _ key: String) throws(TokenizerError) -> Bool {
        guard let value = config.optional(key) else { return true }
        switch try value.stringValue("tokenizer_config.json \(key)") {
        case "right": return true
        case "left": return false
        case let other: throw .invalidField(path: "tokenizer_config.json \(key)", reason: "unknown side \"\(other)\"")
        }
    }

    private static func readFile(_ path: String, limit: Int) throws(TokenizerError) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .file(path: path, reason: "cannot open") }
        defer { try? handle.close() }
        let data: Data?
        do {
            data = try handle.read(upToCount: limit + 1)
        } catch {
            throw .file(path: path, reason: "read failed: \(error)")
        }
        let bytes = [UInt8](data ?? Data())
        guard bytes.count <= limit else {
            throw .file(path: path, reason: "larger than the limit of \(limit) bytes")
        }
        return bytes
    }

    // MARK: - Encoding

    /// The number of pieces in the model's vocabulary (added tokens beyond it not counted).
    public var vocabularySize: Int { model.count }

    /// The id of `token` in the added tokens or the model vocabulary.
    public func id(of token: String) -> Int? {
        addedVocabulary.idsByContent[token] ?? model.idsByPiece[token]
    }

    /// The ids of `text` without padding or truncation; the post-processor's ids are added when
    /// `addSpecialTokens` is true.
    public func encode(_ text: String, addSpecialTokens: Bool = true) throws(TokenizerError) -> [Int] {
        let ids = try encodeSequence(text)
        return addSpecialTokens ? postProcessor.prefixIDs + ids + postProcessor.suffixIDs : ids
    }

    /// Encodes as the Wan pipeline calls its tokenizer (padding="max_length", truncation=True,
    /// add_special_tokens=True): the sequence is truncated so that it fits with the special tokens, then padded.
    public func encode(_ text: String, maxSequenceLength: Int) throws(TokenizerError) -> TokenizerEncoding {
        guard maxSequenceLength >= 1 && maxSequenceLength <= Self.maxSequenceLengthLimit else {
            throw .limitExceeded(what: "max sequence length", value: maxSequenceLength,
                                 limit: Self.maxSequenceLengthLimit)
        }
        guard maxSequenceLength >= postProcessor.addedCount else {
            throw .invalidField(
                path: "max sequence length",
                reason: "\(maxSequenceLength) leaves no room for the \(postProcessor.addedCount) special tokens")
        }
        guard let padTokenID else {
            throw .invalidField(path: "pad_token", reason: "\"\(padTokenName)\" is not in the vocabulary, cannot pad")
        }
        var ids = try encodeSequence(text)
        let room = maxSequenceLength - postProcessor.addedCount
        if ids.count > room {
            ids = truncatesOnRight ? Array(ids.prefix(room)) : Array(ids.suffix(room))
        }
        ids = postProcessor.prefixIDs + ids + postProcessor.suffixIDs
        let padding = maxSequenceLength - ids.count
        let mask = [Int](repeating: 1, count: ids.count)
        let padIDs = [Int](repeating: padTokenID, count: padding)
        let padMask = [Int](repeating: 0, count: padding)
        if padsOnRight {
            return TokenizerEncoding(inputIDs: ids + padIDs, attentionMask: mask + padMask)
        }
        return TokenizerEncoding(inputIDs: padIDs + ids, attentionMask: padMask + mask)
    }

    /// tokenizers' `encode_single_sequence`: added tokens, normalization, pre-tokenization, the model.
    private func encodeSequence(_ text: String) throws(TokenizerError) -> [Int] {
        guard text.utf8.count <= Self.maxInputBytes else {
            throw .limitExceeded(what: "input text size in bytes", value: text.utf8.count, limit: Self.maxInputBytes)
        }
        var splits = [TokenizerSplit(text: TokenizerNormalizedString(text.unicodeScalars), addedTokenID: nil)]
        splits = addedVocabulary.split(splits, normalizedTokens: false)
        if let normalizer {
            for index in splits.indices where splits[index].addedTokenID == nil {
                try normalizer.normalize(&splits[index].text)
            }
        }
        splits = addedVocabulary.split(splits, normalizedTokens: true)
        try preTokenizer?.preTokenize(&splits)
        var ids: [Int] = []
        for split in splits {
            if let id = split.addedTokenID {
                ids.append(id)
            } else {
                ids.append(contentsOf: try model.encode(split.text.scalars))
            }
        }
        return ids
    }
}
