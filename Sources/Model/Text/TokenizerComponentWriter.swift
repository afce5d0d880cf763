// tokenizer/: a small Unigram tokenizer.json with the umT5 file's structure, for generated (random) models.
import Foundation

/// Writes a character-level Unigram tokenizer for model folders made by `init-model`.
///
/// The file has the structure of the umT5 `tokenizer.json` the Wan2.1 checkpoints ship (normalizer sequence,
/// `Metaspace` pre-tokenizer, Unigram model, `TemplateProcessing` appending `</s>`), without the precompiled
/// character map: its vocabulary is `<pad>`, `</s>`, `<unk>`, then every printable ASCII character alone and
/// after the word-start marker `▁`, so any ASCII prompt tokenizes and anything else becomes `<unk>`. A random
/// model gains nothing from a larger vocabulary; a trained model ships its own tokenizer.
public struct TokenizerComponentWriter: ModelComponentWriter {
    /// Creates the writer.
    public init() {}
    /// The subfolder.
    public var component: String { "tokenizer" }
    /// The model_index entry.
    public var modelIndexEntry: (library: String, className: String) { ("transformers", "T5TokenizerFast") }

    /// The vocabulary, in id order, with Unigram log-probability scores.
    public static func vocabulary() -> [(piece: String, score: Double)] {
        var pieces: [(String, Double)] = [("<pad>", 0), ("</s>", 0), ("<unk>", 0), ("▁", -3)]
        for scalar in 33...126 {
            let character = String(UnicodeScalar(UInt8(scalar)))
            pieces.append(("▁" + character, -4))
            pieces.append((character, -5))
        }
        return pieces
    }

    /// The tokenizer.json text.
    public static func tokenizerJSON() throws -> Data {
        let special: [[String: Any]] = [("<pad>", 0), ("</s>", 1), ("<unk>", 2)].map { content, id in
            ["id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false,
             "normalized": false, "special": true]
        }
        let document: [String: Any] = [
            "version": "1.0",
            "truncation": NSNull(),
            "padding": NSNull(),
            "added_tokens": special,
            "normalizer": [
                "type": "Sequence",
                "normalizers": [
                    ["type": "Strip", "strip_left": false, "strip_right": true],
                    ["type": "Replace", "pattern": ["Regex": " {2,}"], "content": "▁"],
                ],
            ],
            "pre_tokenizer": ["type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true],
            "post_processor": [
                "type": "TemplateProcessing",
                "single": [["Sequence": ["id": "A", "type_id": 0]], ["SpecialToken": ["id": "</s>", "type_id": 0]]],
                "pair": [
                    ["Sequence": ["id": "A", "type_id": 0]], ["SpecialToken": ["id": "</s>", "type_id": 0]],
                    ["Sequence": ["id": "B", "type_id": 0]], ["SpecialToken": ["id": "</s>", "type_id": 0]],
                ],
                "special_tokens": ["</s>": ["id": "</s>", "ids": [1], "tokens": ["</s>"]]],
            ],
            "decoder": ["type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true],
            "model": [
                "type": "Unigram", "unk_id": 2, "byte_fallback": false,
                "vocab": vocabulary().map { [$0.piece, $0.score] as [Any] },
            ],
        ]
        return try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
    }

    /// Writes `tokenizer.json` and `tokenizer_config.json`.
    public func write(_ options: ModelFolderOptions, to directory: String, progress: (String) -> Void) throws {
        let config = """
            {
              "tokenizer_class": "T5TokenizerFast",
              "eos_token": "</s>",
              "pad_token": "<pad>",
              "unk_token": "<unk>",
              "model_max_length": 512,
              "extra_ids": 0
            }

            """
        try TokenizerComponentWriter.tokenizerJSON().write(
            to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("tokenizer.json")), options: .atomic)
        try Data(config.utf8).write(
            to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("tokenizer_config.json")), options: .atomic)
        progress("  tokenizer.json: \(TokenizerComponentWriter.vocabulary().count) pieces")
    }
}
