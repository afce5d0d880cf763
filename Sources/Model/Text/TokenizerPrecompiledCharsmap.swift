// sentencepiece's precompiled_charsmap (Darts double-array trie + normalized-string blob), applied as tokenizers'
// `Precompiled` normalizer applies it.

/// The sentencepiece normalization rules compiled into a character map: a double-array trie over UTF-8 bytes whose
/// leaves point into a blob of NUL-terminated replacement strings.
struct TokenizerPrecompiledCharsmap: Sendable {
    /// The trie's units (little-endian u32 in the file).
    private let units: [UInt32]
    /// The replacement strings, NUL-separated.
    private let blob: [UInt8]

    /// Largest decoded charsmap accepted (nmt_nfkc's is about 240 KB).
    static let maxBytes = 16 << 20

    /// Parses the raw bytes (after base64): u32 trie size in bytes, the trie, then the string blob.
    init(bytes: [UInt8]) throws(TokenizerError) {
        guard bytes.count >= 4 else { throw .malformedCharsmap(reason: "\(bytes.count) bytes, too short for a header") }
        guard bytes.count <= Self.maxBytes else {
            throw .limitExceeded(what: "precompiled_charsmap size in bytes", value: bytes.count, limit: Self.maxBytes)
        }
        let trieBytes = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        let unitCount = trieBytes / 4
        guard 4 + unitCount * 4 <= bytes.count else {
            throw .malformedCharsmap(reason: "trie of \(trieBytes) bytes does not fit in \(bytes.count - 4) bytes")
        }
        guard unitCount > 0 else { throw .malformedCharsmap(reason: "empty trie") }
        var units = [UInt32](repeating: 0, count: unitCount)
        for index in 0..<unitCount {
            let base = 4 + index * 4
            units[index] = UInt32(bytes[base]) | UInt32(bytes[base + 1]) << 8 | UInt32(bytes[base + 2]) << 16
                | UInt32(bytes[base + 3]) << 24
        }
        // Whatever follows the whole units is the string blob (a trailing partial unit belongs to it too).
        let blob = Array(bytes[(4 + unitCount * 4)...])
        guard String(validating: blob, as: UTF8.self) != nil else {
            throw .malformedCharsmap(reason: "normalized strings are not valid UTF-8")
        }
        self.units = units
        self.blob = blob
    }

    /// Parses the base64 text stored in tokenizer.json.
    init(base64: String) throws(TokenizerError) {
        guard let bytes = TokenizerPrecompiledCharsmap.decodeBase64(base64) else {
            throw .malformedCharsmap(reason: "not valid base64")
        }
        try self.init(bytes: bytes)
    }

    // MARK: - Double array

    private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    private static func value(_ unit: UInt32) -> Int { Int(unit & ((1 << 31) - 1)) }
    private static func label(_ unit: UInt32) -> UInt32 { unit & ((1 << 31) | 0xFF) }
    private static func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }

    /// The values of every key that is a prefix of `key`, shortest first (stops at a NUL byte, as sentencepiece does).
    private func commonPrefixValues(_ key: ArraySlice<UInt8>) throws(TokenizerError) -> [Int] {
        var results: [Int] = []
        var node = Self.offset(units[0])
        for byte in key {
            if byte == 0 { break }
            node ^= Int(byte)
            guard node >= 0 && node < units.count else { throw outOfRange(node) }
            let unit = units[node]
            if Self.label(unit) != UInt32(byte) { return results }
            node ^= Self.offset(unit)
            if Self.hasLeaf(unit) {
                guard node >= 0 && node < units.count else { throw outOfRange(node) }
                results.append(Self.value(units[node]))
            }
        }
        return results
    }

    private func outOfRange(_ node: Int) -> TokenizerError {
        .malformedCharsmap(reason: "trie index \(node) outside \(units.count) units")
    }

    /// The replacement stored at blob offset `index`: up to the next NUL.
    private func replacement(at index: Int) throws(TokenizerError) -> [Unicode.Scalar] {
        guard index >= 0 && index <= blob.count else {
            throw .malformedCharsmap(reason: "replacement offset \(index) outside the \(blob.count)-byte blob")
        }
        var end = index
        while end < blob.count && blob[end] != 0 { end += 1 }
        guard let text = String(validating: blob[index..<end], as: UTF8.self) else {
            throw .malformedCharsmap(reason: "replacement at offset \(index) does not start on a character")
        }
        return Array(text.unicodeScalars)
    }

    /// tokenizers' `Precompiled::transform`: the replacement of the *shortest* key that prefixes `utf8`, if any.
    private func transform(_ utf8: ArraySlice<UInt8>) throws(TokenizerError) -> [Unicode.Scalar]? {
        guard let first = try commonPrefixValues(utf8).first else { return nil }
        return try replacement(at: first)
    }

    // MARK: - Normalizing

    /// Normalizes `text` as tokenizers' `Precompiled` normalizer does: grapheme by grapheme, a grapheme shorter than
    /// 6 UTF-8 bytes is replaced whole when the map has a key that prefixes it; otherwise each scalar is looked up.
    func normalize(_ text: inout TokenizerNormalizedString) throws(TokenizerError) {
        var transformations: [(Unicode.Scalar, Int)] = []
        transformations.reserveCapacity(text.scalars.count)
        var modified = false
        for grapheme in text.string {
            let utf8 = Array(grapheme.utf8)
            if utf8.count < 6, let replacement = try transform(utf8[...]) {
                modified = true
                Self.appendReplacement(&transformations, oldCount: grapheme.unicodeScalars.count, replacement)
                continue
            }
            for scalar in grapheme.unicodeScalars {
                let bytes = Array(String(scalar).utf8)
                if let replacement = try transform(bytes[...]) {
                    modified = true
                    Self.appendReplacement(&transformations, oldCount: 1, replacement)
                } else {
                    transformations.append((scalar, 0))
                }
            }
        }
        if modified { text.transform(transformations, initialOffset: 0) }
    }

    /// tokenizers' change codes for replacing `oldCount` scalars by `replacement`.
    private static func appendReplacement(
        _ transformations: inout [(Unicode.Scalar, Int)], oldCount: Int, _ replacement: [Unicode.Scalar]
    ) {
        transformations.append(contentsOf: replacement.map { ($0, 0) })
        let difference = replacement.count - oldCount
        if difference > 0 {
            for index in (transformations.count - difference)..<transformations.count {
                transformations[index].1 = 1
            }
        } else if difference < 0, !transformations.isEmpty {
            transformations[transformations.count - 1].1 += difference
        }
    }

    // MARK: - Base64

    /// Standard base64 with padding (as serde's `BASE64_STANDARD`), or nil.
    static func decodeBase64(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        func sextet(_ byte: UInt8) -> UInt32? {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(byte - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"): return 62
            case UInt8(ascii: "/"): return 63
            default: return nil
            }
        }
        var index = 0
        while index < input.count {
            let isLast = index + 4 == input.count
            let equals = UInt8(ascii: "=")
            var padding = 0
            if isLast && input[index + 3] == equals { padding = input[index + 2] == equals ? 2 : 1 }
            var group: UInt32 = 0
            for position in 0..<4 {
                let byte = input[index + position]
                if position >= 4 - padding {
                    group <<= 6
                    continue
                }
                guard let value = sextet(byte) else { return nil }
                group = group << 6 | value
            }
            output.append(UInt8(group >> 16 & 0xFF))
            if padding < 2 { output.append(UInt8(group >> 8 & 0xFF)) }
            if padding < 1 { output.append(UInt8(group & 0xFF)) }
            index += 4
        }
        return output
    }
}
