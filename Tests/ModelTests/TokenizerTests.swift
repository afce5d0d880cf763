// Tokenizer parity with the `tokenizers` library (fixtures from scripts/fixtures/tokenizer.py) and refusal of
// unsupported or malformed tokenizer.json files.
import Foundation
import Model
import Testing

/// The reference cases recorded by scripts/fixtures/tokenizer.py.
private struct TokenizerCase: Sendable, CustomTestStringConvertible {
    let variant: String
    let text: String
    let maxLength: Int
    let inputIDs: [Int]
    let attentionMask: [Int]

    var testDescription: String { "\(variant) max_length \(maxLength): \(text.prefix(40).debugDescription)" }

    static func load() throws -> [TokenizerCase] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tokenizer/cases.json")))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [[String: Any]]])
        var cases: [TokenizerCase] = []
        for (variant, entries) in root.sorted(by: { $0.key < $1.key }) {
            for entry in entries {
                cases.append(TokenizerCase(
                    variant: variant, text: try #require(entry["text"] as? String),
                    maxLength: try #require(entry["max_length"] as? Int),
                    inputIDs: try #require(entry["input_ids"] as? [Int]),
                    attentionMask: try #require(entry["attention_mask"] as? [Int])))
            }
        }
        return cases
    }
}

/// Loaded once per variant.
private let loadedTokenizers: [String: Tokenizer] = {
    var result: [String: Tokenizer] = [:]
    for variant in ["t5_legacy", "spm_first", "t5_v5"] {
        result[variant] = try? Tokenizer(path: Fixtures.path("tokenizer/\(variant)"))
    }
    return result
}()

/// The fixture tokenizer.json of `variant` as a mutable JSON object.
private func fixtureObject(_ variant: String = "t5_legacy") throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tokenizer/\(variant)/tokenizer.json")))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

private func bytes(_ object: [String: Any]) throws -> [UInt8] {
    [UInt8](try JSONSerialization.data(withJSONObject: object))
}

@Suite struct TokenizerTests {
    @Test func fixturesCoverEveryVariant() throws {
        let cases = try TokenizerCase.load()
        #expect(Set(cases.map(\.variant)) == ["t5_legacy", "spm_first", "t5_v5"])
        #expect(cases.count >= 80)
        for variant in ["t5_legacy", "spm_first", "t5_v5"] { #expect(loadedTokenizers[variant] != nil) }
    }

    @Test(arguments: try TokenizerCase.load())
    fileprivate func idsAndMaskMatchTokenizers(_ reference: TokenizerCase) throws {
        let tokenizer = try #require(loadedTokenizers[reference.variant])
        let encoding = try tokenizer.encode(reference.text, maxSequenceLength: reference.maxLength)
        #expect(encoding.inputIDs == reference.inputIDs)
        #expect(encoding.attentionMask == reference.attentionMask)
    }

    @Test func loadsFromModelFolderTokenizerFolderAndFile() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-test-\(getpid())")
        let folder = root.appendingPathComponent("tokenizer")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.copyItem(
            atPath: Fixtures.path("tokenizer/t5_legacy/tokenizer.json"),
            toPath: folder.appendingPathComponent("tokenizer.json").path)
        let expected = try #require(loadedTokenizers["t5_legacy"]).encode("a cat", addSpecialTokens: true)
        for path in [root.path, folder.path, folder.appendingPathComponent("tokenizer.json").path] {
            let tokenizer = try Tokenizer(path: path)
            #expect(try tokenizer.encode("a cat") == expected)
            #expect(tokenizer.padTokenID == 0)
        }
        #expect(throws: TokenizerError.self) { try Tokenizer(path: root.appendingPathComponent("missing").path) }
    }

    /// Files written by older tokenizers (the published umT5 one among them) spell Metaspace with
    /// `add_prefix_space` and no `prepend_scheme`/`split`; they must encode exactly like the current spelling.
    @Test func olderMetaspaceSpellingEncodesTheSame() throws {
        var object = try fixtureObject("t5_legacy")
        object["pre_tokenizer"] = ["type": "Metaspace", "replacement": "\u{2581}", "add_prefix_space": true,
                                   "str_rep": "\u{2581}"]
        let tokenizer = try Tokenizer(json: bytes(object))
        for reference in try TokenizerCase.load() where reference.variant == "t5_legacy" {
            let encoding = try tokenizer.encode(reference.text, maxSequenceLength: reference.maxLength)
            #expect(encoding.inputIDs == reference.inputIDs, "\(reference.testDescription)")
        }
        object["pre_tokenizer"] = ["type": "Metaspace", "replacement": "\u{2581}", "add_prefix_space": false]
        #expect(throws: TokenizerError.self) { try Tokenizer(json: bytes(object)) }
    }

    /// Random bytes as a precompiled charsmap: loading and normalizing either work or throw, never trap.
    @Test func garbageCharsmapNeverTraps() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        var object = try fixtureObject("t5_legacy")
        var loaded = 0
        for round in 0..<60 {
            let count = 8 + Int(next() % 600)
            var raw = (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
            // A plausible header most of the time, so that the trie walk itself meets garbage.
            if round % 4 != 0 {
                let trieBytes = UInt32((count - 4) / 8 * 4)
                raw[0] = UInt8(trieBytes & 0xFF)
                raw[1] = UInt8(trieBytes >> 8 & 0xFF)
                raw[2] = 0
                raw[3] = 0
                // Keep the blob valid UTF-8.
                for index in (4 + Int(trieBytes))..<count { raw[index] = 0x61 + raw[index] % 26 }
            }
            object["normalizer"] = ["type": "Precompiled", "precompiled_charsmap": Data(raw).base64EncodedString()]
            guard let tokenizer = try? Tokenizer(json: bytes(object)) else { continue }
            loaded += 1
            _ = try? tokenizer.encode("abc é 一 🙂 \u{1}xyz", maxSequenceLength: 16)
        }
        #expect(loaded > 0)
    }

    // MARK: - Refusals

    @Test func unsupportedComponentsAreRefusedByName() throws {
        let replacements: [(key: String, value: Any, component: String, type: String)] = [
            ("normalizer", ["type": "BertNormalizer"], "normalizer", "BertNormalizer"),
            ("pre_tokenizer", ["type": "ByteLevel", "add_prefix_space": true], "pre_tokenizer", "ByteLevel"),
            ("post_processor", ["type": "RobertaProcessing"], "post_processor", "RobertaProcessing"),
            ("model", ["type": "BPE", "vocab": [:], "merges": []], "model", "BPE"),
        ]
        for replacement in replacements {
            var object = try fixtureObject()
            object[replacement.key] = replacement.value
            #expect(throws: TokenizerError.unsupportedComponent(component: replacement.component,
                                                                type: replacement.type)) {
                try Tokenizer(json: bytes(object))
            }
        }
        // Nested inside a Sequence too.
        var object = try fixtureObject()
        object["normalizer"] = ["type": "Sequence", "normalizers": [["type": "StripAccents"]]]
        #expect(throws: TokenizerError.unsupportedComponent(component: "normalizer", type: "StripAccents")) {
            try Tokenizer(json: bytes(object))
        }
    }

    @Test func unsupportedRegexIsRefused() throws {
        var object = try fixtureObject()
        object["normalizer"] = ["type": "Replace", "pattern": ["Regex": "(?<=a)b"], "content": ""]
        #expect {
            try Tokenizer(json: bytes(object))
        } throws: { error in
            guard case .unsupportedRegex(let pattern, _) = error as? TokenizerError else { return false }
            return pattern == "(?<=a)b"
        }
    }

    @Test func malformedJSONIsRefused() throws {
        let goodURL = URL(fileURLWithPath: Fixtures.path("tokenizer/t5_legacy/tokenizer.json"))
        let good = [UInt8](try Data(contentsOf: goodURL))
        let malformed: [[UInt8]] = [
            [],
            Array(good.prefix(good.count / 2)),
            good + Array("x".utf8),
            Array(#"{"version": "1.0", "version": "1.0", "model": {}}"#.utf8),
            Array(String(repeating: "[", count: 200).utf8) + Array(String(repeating: "]", count: 200).utf8),
            Array(#"{"model": {"type": "Unigram", "vocab": [["a", 1e999]]}}"#.utf8),
            Array(#"{"model": {"type": "Unigram", "vocab": [["a"]]}}"#.utf8),
            Array(#"{"model": {"type": "Unigram", "vocab": [["a", -1.0]], "unk_id": 5}}"#.utf8),
            Array(#"{"model": {"type": "Unigram", "vocab": "\ud800"}}"#.utf8),
            Array(#"{"version": "2.0", "model": {"type": "Unigram", "vocab": []}}"#.utf8),
            Array(#"{"normalizer": null}"#.utf8),
        ]
        for (index, input) in malformed.enumerated() {
            #expect(throws: TokenizerError.self, "case \(index)") { try Tokenizer(json: input) }
        }
        for charsmap in ["!!", "AAAA", "AAAAAAAA", "/////w=="] {
            var object = try fixtureObject()
            object["normalizer"] = ["type": "Precompiled", "precompiled_charsmap": charsmap]
            #expect("charsmap \(charsmap)") {
                try Tokenizer(json: bytes(object))
            } throws: { error in
                guard case .malformedCharsmap = error as? TokenizerError else { return false }
                return true
            }
        }
    }

    @Test func boundsAreChecked() throws {
        let tokenizer = try #require(loadedTokenizers["t5_legacy"])
        let long = String(repeating: "a", count: Tokenizer.maxInputBytes + 1)
        #expect(throws: TokenizerError.limitExceeded(what: "input text size in bytes", value: long.utf8.count,
                                                     limit: Tokenizer.maxInputBytes)) {
            try tokenizer.encode(long)
        }
        #expect(throws: TokenizerError.self) { try tokenizer.encode("a", maxSequenceLength: 0) }
        #expect(throws: TokenizerError.self) { try tokenizer.encode("a", maxSequenceLength: 1 << 20) }
        var object = try fixtureObject()
        var model = try #require(object["model"] as? [String: Any])
        model["vocab"] = [[String(repeating: "x", count: 5000), -1.0]]
        model["unk_id"] = 0
        object["model"] = model
        #expect(throws: TokenizerError.self) { try Tokenizer(json: bytes(object)) }
    }

    @Test func unknownCharacterWithoutUnkIDIsAnError() throws {
        let json = #"{"model": {"type": "Unigram", "vocab": [["<pad>", 0.0], ["a", -1.0]]}}"#
        let tokenizer = try Tokenizer(json: Array(json.utf8))
        #expect(try tokenizer.encode("aa") == [1, 1])
        #expect(try tokenizer.encode("a", maxSequenceLength: 3).inputIDs == [1, 0, 0])
        #expect(throws: TokenizerError.missingUnknownToken(text: "b")) { try tokenizer.encode("ab") }
    }

    @Test func byteFallbackSpellsUnknownTextInBytes() throws {
        // "é" has no piece; with byte_fallback it becomes <0xC3> <0xA9>.
        let json = #"{"model": {"type": "Unigram", "unk_id": 0, "byte_fallback": true, "vocab": "#
            + #"[["<unk>", 0.0], ["a", -1.0], ["<0xC3>", -5.0], ["<0xA9>", -5.0]]}}"#
        let tokenizer = try Tokenizer(json: Array(json.utf8), config: ["pad_token": .string("<unk>")])
        #expect(try tokenizer.encode("aéa") == [1, 2, 3, 1])
        #expect(try tokenizer.encode("a☃") == [1, 0])
        // Without a pad token, padded encoding is refused (as transformers refuses to pad).
        let unpadded = try Tokenizer(json: Array(json.utf8))
        #expect(unpadded.padTokenID == nil)
        #expect(try unpadded.encode("a") == [1])
        #expect(throws: TokenizerError.self) { try unpadded.encode("a", maxSequenceLength: 4) }
    }
}
