// tokenizers TemplateProcessing post-processor (single-sequence template, e.g. T5's "$A </s>").

/// The post-processor of a tokenizer.json: the ids to put before and after the encoded sequence.
struct TokenizerPostProcessor: Sendable {
    /// Ids placed before the sequence.
    let prefixIDs: [Int]
    /// Ids placed after the sequence.
    let suffixIDs: [Int]

    /// No post-processor: nothing added.
    static let none = TokenizerPostProcessor(prefixIDs: [], suffixIDs: [])

    /// How many ids the template adds around a single sequence.
    var addedCount: Int { prefixIDs.count + suffixIDs.count }

    private init(prefixIDs: [Int], suffixIDs: [Int]) {
        self.prefixIDs = prefixIDs
        self.suffixIDs = suffixIDs
    }

    /// Reads a `post_processor` object; only `TemplateProcessing` is supported.
    init(json: JSONValue, path: String) throws(TokenizerError) {
        let object = try json.objectValue(path)
        let type = try object.required("type", path).stringValue("\(path).type")
        guard type == "TemplateProcessing" else { throw .unsupportedComponent(component: "post_processor", type: type) }
        var specials: [String: [Int]] = [:]
        let specialObject = try object.required("special_tokens", path).objectValue("\(path).special_tokens")
        for (name, value) in specialObject {
            let specialPath = "\(path).special_tokens[\"\(name)\"]"
            let ids = try value.objectValue(specialPath).required("ids", specialPath).arrayValue("\(specialPath).ids")
            guard ids.count <= 64 else {
                throw .limitExceeded(what: "\(specialPath).ids count", value: ids.count, limit: 64)
            }
            var parsed: [Int] = []
            for (index, id) in ids.enumerated() {
                parsed.append(try id.intValue("\(specialPath).ids[\(index)]", in: 0...Int(Int32.max)))
            }
            specials[name] = parsed
        }
        let template = try object.required("single", path).arrayValue("\(path).single")
        guard template.count <= 64 else {
            throw .limitExceeded(what: "\(path).single length", value: template.count, limit: 64)
        }
        var prefix: [Int] = []
        var suffix: [Int] = []
        var sawSequence = false
        for (index, piece) in template.enumerated() {
            let piecePath = "\(path).single[\(index)]"
            let pieceObject = try piece.objectValue(piecePath)
            guard pieceObject.count == 1, let (kind, body) = pieceObject.first else {
                throw .invalidField(path: piecePath, reason: "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}")
            }
            let bodyObject = try body.objectValue("\(piecePath).\(kind)")
            let id = try bodyObject.required("id", "\(piecePath).\(kind)").stringValue("\(piecePath).\(kind).id")
            switch kind {
            case "Sequence":
                guard id == "A", !sawSequence else {
                    throw .invalidField(path: piecePath, reason: "a single-sequence template has one $A, found $\(id)")
                }
                sawSequence = true
            case "SpecialToken":
                guard let ids = specials[id] else {
                    throw .invalidField(path: piecePath, reason: "special token \"\(id)\" is not in special_tokens")
                }
                if sawSequence { suffix += ids } else { prefix += ids }
            default:
                throw .invalidField(path: piecePath, reason: "unknown template piece \"\(kind)\"")
            }
        }
        guard sawSequence else { throw .invalidField(path: "\(path).single", reason: "the template has no $A") }
        self.init(prefixIDs: prefix, suffixIDs: suffix)
    }
}
