// diffusers pipeline_wan prompt_clean (basic_clean without ftfy, then whitespace_clean), with Python html.unescape.

/// The text cleaning the Wan pipeline applies to every prompt before tokenizing it.
///
/// diffusers' `prompt_clean(text)` is `whitespace_clean(basic_clean(text))`. `basic_clean` runs `ftfy.fix_text`
/// only when the optional `ftfy` package is installed; this is the path without it (the one our reference
/// environment runs): `html.unescape` twice, then Python's `str.strip()`. `whitespace_clean` replaces every run of
/// `regex` `\s` with one space and strips again. Python's `strip()` and `\s` disagree on U+001C...U+001F (strip
/// removes them, `\s` does not match them), and both are kept apart here. Everything works on Unicode scalars,
/// as Python strings do.
public enum UMT5PromptCleaner {
    /// `prompt_clean(text)` of diffusers' Wan pipeline, without ftfy.
    public static func clean(_ text: String) -> String {
        var scalars = unescape(unescape(Array(text.unicodeScalars)))
        scalars = strip(scalars)
        scalars = collapseWhitespace(scalars)
        scalars = strip(scalars)
        return string(scalars)
    }

    /// Python's `html.unescape`: named and numeric character references replaced by the HTML5 rules.
    public static func htmlUnescape(_ text: String) -> String {
        string(unescape(Array(text.unicodeScalars)))
    }

    // MARK: - Whitespace

    /// Python `str.isspace()` (what `strip()` removes).
    static func isPythonSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// What `\s` matches in the `regex` module on a str pattern.
    static func isRegexSpace(_ scalar: Unicode.Scalar) -> Bool {
        isPythonSpace(scalar) && !(0x1C...0x1F).contains(scalar.value)
    }

    /// `str.strip()`.
    static func strip(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard let first = scalars.firstIndex(where: { !isPythonSpace($0) }),
            let last = scalars.lastIndex(where: { !isPythonSpace($0) })
        else { return [] }
        return Array(scalars[first...last])
    }

    /// `re.sub(r"\s+", " ", text)`.
    static func collapseWhitespace(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(scalars.count)
        var inRun = false
        for scalar in scalars {
            if isRegexSpace(scalar) {
                if !inRun { result.append(" ") }
                inRun = true
            } else {
                result.append(scalar)
                inRun = false
            }
        }
        return result
    }

    // MARK: - Character references

    /// Replaces every match of `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`, left to right.
    static func unescape(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard scalars.contains("&") else { return scalars }
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(scalars.count)
        var index = 0
        while index < scalars.count {
            if scalars[index] == "&", let (replacement, end) = reference(in: scalars, at: index + 1) {
                result += replacement
                index = end
            } else {
                result.append(scalars[index])
                index += 1
            }
        }
        return result
    }

    /// The replacement of the reference whose body starts at `start` (just after `&`) and where it ends, or nil when
    /// nothing there matches.
    static func reference(in s: [Unicode.Scalar], at start: Int) -> ([Unicode.Scalar], Int)? {
        guard start < s.count else { return nil }
        func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }
        func isHexDigit(_ c: Unicode.Scalar) -> Bool {
            isDigit(c) || ("a"..."f").contains(c) || ("A"..."F").contains(c)
        }
        func skipSemicolon(_ end: Int) -> Int { end < s.count && s[end] == ";" ? end + 1 : end }
        if s[start] == "#" {
            var end = start + 1
            while end < s.count && isDigit(s[end]) { end += 1 }
            if end > start + 1 {
                return (numeric(s[(start + 1)..<end], radix: 10), skipSemicolon(end))
            }
            guard start + 1 < s.count, s[start + 1] == "x" || s[start + 1] == "X" else { return nil }
            end = start + 2
            while end < s.count && isHexDigit(s[end]) { end += 1 }
            guard end > start + 2 else { return nil }
            return (numeric(s[(start + 2)..<end], radix: 16), skipSemicolon(end))
        }
        var end = start
        while end < s.count && end - start < 32 && !["\t", "\n", "\u{0C}", " ", "<", "&", "#", ";"].contains(s[end]) {
            end += 1
        }
        guard end > start else { return nil }
        end = skipSemicolon(end)
        return (named(Array(s[start..<end])), end)
    }

    /// A numeric reference's text, with the HTML5 replacements for invalid numbers.
    static func numeric(_ digits: ArraySlice<Unicode.Scalar>, radix: UInt32) -> [Unicode.Scalar] {
        // Saturate: every value above U+10FFFF is treated alike, however many digits it has.
        var value: UInt32 = 0
        for digit in digits {
            let d = Character(digit).hexDigitValue.map(UInt32.init) ?? 0
            value = min(value * radix + d, 0x11_0000)
        }
        if value == 0 { return ["\u{FFFD}"] }
        if value == 0x0D { return ["\r"] }
        if (0x80...0x9F).contains(value) { return [Unicode.Scalar(windows1252[Int(value - 0x80)])!] }
        if (0xD800...0xDFFF).contains(value) || value > 0x10_FFFF { return ["\u{FFFD}"] }
        let low16 = value & 0xFFFF
        if (0x01...0x08).contains(value) || value == 0x0B || (0x0E...0x1F).contains(value) || value == 0x7F
            || (0xFDD0...0xFDEF).contains(value) || low16 == 0xFFFE || low16 == 0xFFFF
        {
            return []
        }
        return [Unicode.Scalar(value)!]
    }

    /// What references to 0x80...0x9F stand for (Python's `html._invalid_charrefs`, the Windows-1252 reading).
    static let windows1252: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039, 0x152, 0x8D,
        0x17D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x2DC, 0x2122, 0x161, 0x203A,
        0x153, 0x9D, 0x17E, 0x178,
    ]

    /// A named reference's text: the whole name, else its longest known prefix of at least 2 scalars followed by
    /// the rest, else the text unchanged.
    static func named(_ name: [Unicode.Scalar]) -> [Unicode.Scalar] {
        // Every known name is ASCII; looking up only ASCII candidates also keeps Swift's canonical-equivalence
        // string comparison (U+212A KELVIN SIGN == "K") from matching what Python would not.
        func lookup(_ count: Int) -> String? {
            guard name[..<count].allSatisfy(\.isASCII) else { return nil }
            return htmlEntities[string(Array(name[..<count]))]
        }
        if let text = lookup(name.count) { return Array(text.unicodeScalars) }
        var count = name.count - 1
        while count >= 2 {
            if let text = lookup(count) { return Array(text.unicodeScalars) + name[count...] }
            count -= 1
        }
        return ["&"] + name
    }

    /// A string from scalars.
    static func string<S: Sequence<Unicode.Scalar>>(_ scalars: S) -> String {
        var text = ""
        text.unicodeScalars.append(contentsOf: scalars)
        return text
    }
}
