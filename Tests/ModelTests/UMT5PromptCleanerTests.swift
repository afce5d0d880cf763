// diffusers Wan prompt_clean (without ftfy) and Python html.unescape against fixtures from scripts/fixtures/umt5.py.
import Foundation
import Testing

@testable import Model

@Suite("umT5 prompt cleaning")
struct UMT5PromptCleanerTests {
    struct Case: Decodable {
        let prompt: String
        let clean: String
    }

    @Test("prompt_clean matches diffusers on entities, numeric references and Unicode whitespace")
    func matchesDiffusers() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("umt5/prompt_clean.json")))
        let cases = try JSONDecoder().decode([Case].self, from: data)
        #expect(cases.count >= 20)
        for item in cases {
            let cleaned = UMT5PromptCleaner.clean(item.prompt)
            // Compare scalar by scalar: Swift's String == would equate canonically equivalent texts.
            #expect(
                Array(cleaned.unicodeScalars) == Array(item.clean.unicodeScalars), "\(item.prompt.debugDescription)")
        }
    }

    @Test("the Kelvin sign is not the letter K to the entity table")
    func noCanonicalEquivalence() {
        // U+212A is canonically equivalent to "K"; Python leaves "&\u{212A}opf;" alone while "&Kopf;" is 𝕂.
        #expect(
            Array(UMT5PromptCleaner.htmlUnescape("&\u{212A}opf;").unicodeScalars)
                == Array("&\u{212A}opf;".unicodeScalars))
        #expect(UMT5PromptCleaner.htmlUnescape("&Kopf;") == "\u{1D542}")
    }
}
