// The tokenizer's regular expressions against tokenizers' Replace normalizer (Oniguruma), from regex.json.
import Foundation
import Testing

@testable import Model

@Suite struct TokenizerRegexTests {
    @Test func replaceMatchesTokenizers() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tokenizer/regex.json")))
        let cases = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: String]])
        #expect(cases.count >= 200)
        for entry in cases {
            let pattern = try #require(entry["pattern"])
            let text = try #require(entry["text"])
            let regex = try TokenizerRegex(pattern)
            let normalizer = TokenizerNormalizer.replace(regex, content: Array("<>".unicodeScalars))
            var normalized = TokenizerNormalizedString(text.unicodeScalars)
            try normalizer.normalize(&normalized)
            #expect(normalized.string == entry["replaced"],
                    "pattern \(pattern.debugDescription) on \(text.debugDescription)")
        }
    }

    @Test func unsupportedSyntaxIsRefused() {
        for pattern in ["(?<=a)b", "(a", "a)", "[a", "a{2,1}", "\\1", "(?i)a", "a++", "\\p{Greek}", "*a"] {
            #expect(throws: TokenizerError.self, "pattern \(pattern)") { try TokenizerRegex(pattern) }
        }
    }

    @Test func catastrophicBacktrackingStopsWithAnError() throws {
        let regex = try TokenizerRegex("(a|aa)*c")
        let text = Array(String(repeating: "a", count: 200).unicodeScalars)
        #expect(throws: TokenizerError.self) { try regex.matches(in: text, maxSteps: 100_000) }
        // The same pattern on a text it handles in few steps still works under that budget.
        #expect(try regex.matches(in: Array("aac".unicodeScalars), maxSteps: 100_000) == [0..<3])
    }
}
