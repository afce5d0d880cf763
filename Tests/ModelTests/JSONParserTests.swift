// The Model module's one JSON reader: its bounds, and errors that name the byte and the path of the bad value,
// as the tokenizer, the scheduler config and the safetensors readers see them.
import Foundation
import Model
import Testing

@Suite struct JSONParserTests {
    private func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    @Test func readsEveryKindAndKeepsNumbersAsWritten() throws {
        let value = try parse(#" {"a": [1, -2.5e3, true, null, "x\u00e9\ud83d\ude00"], "b": {}} "#)
        #expect(value == .object([
            "a": .array([.number("1"), .number("-2.5e3"), .bool(true), .null, .string("xé😀")]),
            "b": .object([:]),
        ]))
    }

    @Test func nestingIsBounded() throws {
        let depth = JSONParser.maximumDepth
        let deepest = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(throws: Never.self) { try parse(deepest) }
        let tooDeep = "[" + deepest + "]"
        #expect(throws: JSONParseError(offset: depth, reason: "nesting deeper than \(depth)",
                                       path: String(repeating: "[0]", count: depth))) {
            try parse(tooDeep)
        }
    }

    @Test func numbersAreBounded() throws {
        let longest = String(repeating: "1", count: JSONParser.maxNumberLength)
        #expect(try parse("[\(longest)]") == .array([.number(longest)]))
        #expect(throws: JSONParseError(offset: 11, reason: "number longer than \(JSONParser.maxNumberLength) characters",
                                       path: "vocab[0]")) {
            try parse(#"{"vocab": ["# + longest + "1]}")
        }
    }

    @Test func errorsNameTheByteAndThePath() throws {
        #expect(throws: JSONParseError(offset: 27, reason: #"expected "true""#, path: "model.vocab[1]")) {
            try parse(#"{"model": {"vocab": [1, tru]}}"#)
        }
        #expect(throws: JSONParseError(offset: 12, reason: #"duplicate key "a""#, path: "x")) {
            try parse(#"{"x":{"a":1,"a":2}}"#)
        }
        #expect(throws: JSONParseError(offset: 7, reason: "unpaired surrogate", path: "")) { try parse(#""\ud800""#) }
        let error = JSONParseError(offset: 3, reason: "unterminated string", path: "a[2]")
        #expect(error.description == "unterminated string at byte 3 (in a[2])")
        #expect(throws: JSONParseError.self) { try parse("[1] x") }
        #expect(throws: JSONParseError.self) { try parse("") }
    }

    @Test func typedReadsNameThePath() throws {
        let object = try parse(#"{"steps": 1.5, "shift": "3", "names": ["a", 7], "count": 99}"#).object(at: "config")
        #expect(throws: JSONFieldError(path: "config.steps", reason: "expected an integer, found 1.5")) {
            try object.required("steps", at: "config").integer(at: "config.steps", in: 0...10)
        }
        #expect(throws: JSONFieldError(path: "config.count", reason: "99 is outside 0...10")) {
            try object.required("count", at: "config").integer(at: "config.count", in: 0...10)
        }
        #expect(throws: JSONFieldError(path: "config.shift", reason: "expected a finite number, found a string")) {
            try object.required("shift", at: "config").double(at: "config.shift")
        }
        let names = try object.required("names", at: "config").array(at: "config.names")
        #expect(throws: JSONFieldError(path: "config.names[1]", reason: "expected a string, found a number")) {
            try names[1].string(at: "config.names[1]")
        }
        #expect(throws: JSONFieldError(path: "config.missing", reason: "missing")) {
            try object.required("missing", at: "config")
        }
        #expect(JSONValue.null.summary == "null" && JSONValue.string("a\"b").summary == #""a\"b""#)
    }

    @Test func schedulerAndTokenizerReportTheParsersPath() throws {
        do {
            _ = try SchedulerConfiguration(jsonData: Data(#"{"_class_name": "UniPCMultistepScheduler", "x": [1, }"#.utf8))
            Issue.record("malformed scheduler config accepted")
        } catch let error as SchedulerError {
            #expect(error.description.contains("(in x[1])"), "\(error)")
        }
        #expect(throws: TokenizerError.malformedJSON(offset: 29, reason: "unterminated array (in model.vocab[0])")) {
            try Tokenizer(json: Array(#"{"model": {"vocab": [["a", -1"#.utf8))
        }
        #expect(throws: TokenizerError.invalidField(path: "model.vocab", reason: "expected an array, found a string")) {
            try Tokenizer(json: Array(#"{"model": {"type": "Unigram", "vocab": "a"}}"#.utf8))
        }
    }
}
