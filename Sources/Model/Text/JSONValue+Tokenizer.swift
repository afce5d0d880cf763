// The tokenizer's reads of the Model module's one JSON reader (`JSONParser`, `JSONValue+Access`), with every
// failure turned into a `TokenizerError` (tokenizer loading throws that type only).

extension JSONValue {
    /// Parses a tokenizer.json or tokenizer_config.json document; a syntax error names its byte and path.
    static func parseTokenizerFile(_ bytes: [UInt8]) throws(TokenizerError) -> JSONValue {
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw .malformedJSON(
                offset: error.offset, reason: error.path.isEmpty ? error.reason : "\(error.reason) (in \(error.path))")
        }
    }

    /// The object's members, or an error naming `path`.
    func objectValue(_ path: String) throws(TokenizerError) -> [String: JSONValue] {
        try tokenizerField { () throws(JSONFieldError) in try object(at: path) }
    }

    /// The array's elements, or an error naming `path`.
    func arrayValue(_ path: String) throws(TokenizerError) -> [JSONValue] {
        try tokenizerField { () throws(JSONFieldError) in try array(at: path) }
    }

    /// The string, or an error naming `path`.
    func stringValue(_ path: String) throws(TokenizerError) -> String {
        try tokenizerField { () throws(JSONFieldError) in try string(at: path) }
    }

    /// The boolean, or an error naming `path`.
    func boolValue(_ path: String) throws(TokenizerError) -> Bool {
        try tokenizerField { () throws(JSONFieldError) in try bool(at: path) }
    }

    /// The number as a finite double, or an error naming `path`.
    func doubleValue(_ path: String) throws(TokenizerError) -> Double {
        try tokenizerField { () throws(JSONFieldError) in try double(at: path) }
    }

    /// The number as an integer within `range`, or an error naming `path`.
    func intValue(_ path: String, in range: ClosedRange<Int>) throws(TokenizerError) -> Int {
        try tokenizerField { () throws(JSONFieldError) in try integer(at: path, in: range) }
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// The member `key`, or an error naming `path.key` when it is missing.
    func required(_ key: String, _ path: String) throws(TokenizerError) -> JSONValue {
        try tokenizerField { () throws(JSONFieldError) in try required(key, at: path) }
    }
}

/// `read`'s value, or its failure as `TokenizerError.invalidField`.
private func tokenizerField<T>(_ read: () throws(JSONFieldError) -> T) throws(TokenizerError) -> T {
    do {
        return try read()
    } catch {
        throw .invalidField(path: error.path, reason: error.reason)
    }
}
