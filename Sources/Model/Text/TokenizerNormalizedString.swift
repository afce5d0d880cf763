// tokenizers NormalizedString: a text being normalized, with each scalar's origin in the input text.

/// A piece of input text under normalization. Besides the scalars it keeps, per scalar, the offset in the original
/// input that it came from (following tokenizers' alignment rules), because the Metaspace pre-tokenizer's
/// `prepend_scheme: "first"` depends on whether a piece starts at original offset 0.
struct TokenizerNormalizedString: Sendable {
    /// The current (normalized) text.
    private(set) var scalars: [Unicode.Scalar]
    /// For each scalar, the original offset (in scalars of the input) it is aligned to.
    private(set) var alignments: [Int]
    /// Where this piece starts in the original input (tokenizers' `original_shift`).
    let originalStart: Int

    /// A fresh piece: `scalars` found at `originalStart` in the input.
    init<S: Sequence>(_ scalars: S, originalStart: Int = 0) where S.Element == Unicode.Scalar {
        self.scalars = Array(scalars)
        self.alignments = Array(originalStart..<(originalStart + self.scalars.count))
        self.originalStart = originalStart
    }

    private init(scalars: [Unicode.Scalar], alignments: [Int], originalStart: Int) {
        self.scalars = scalars
        self.alignments = alignments
        self.originalStart = originalStart
    }

    var isEmpty: Bool { scalars.isEmpty }

    /// The text as a Swift string.
    var string: String {
        var text = ""
        text.unicodeScalars.append(contentsOf: scalars)
        return text
    }

    // MARK: - Edits

    /// Replaces the whole text by `destination`, where each new scalar comes with tokenizers' change code:
    /// 1 = inserted, 0 = replaces the next old scalar, -N = replaces the next old scalar and removes N more.
    /// `initialOffset` old scalars are dropped at the start.
    mutating func transform(_ destination: [(Unicode.Scalar, Int)], initialOffset: Int) {
        var offset = initialOffset
        var newScalars: [Unicode.Scalar] = []
        var newAlignments: [Int] = []
        newScalars.reserveCapacity(destination.count)
        newAlignments.reserveCapacity(destination.count)
        for (scalar, change) in destination {
            let alignment: Int
            if change > 0 {
                alignment = offset >= 1 ? alignmentAt(offset - 1) : originalStart
            } else {
                alignment = alignmentAt(offset)
                offset += 1 - change
            }
            newScalars.append(scalar)
            newAlignments.append(alignment)
        }
        scalars = newScalars
        alignments = newAlignments
    }

    /// The alignment of old scalar `index`, clamped for inconsistent change codes (tokenizers would index past the
    /// end only for malformed transformations; the text itself never depends on it).
    private func alignmentAt(_ index: Int) -> Int {
        if alignments.isEmpty { return originalStart }
        return alignments[max(0, min(index, alignments.count - 1))]
    }

    /// Replaces every range in `matches` (sorted, disjoint) by `content`.
    mutating func replace(_ matches: [Range<Int>], with content: [Unicode.Scalar]) {
        guard !matches.isEmpty else { return }
        var newScalars: [Unicode.Scalar] = []
        var newAlignments: [Int] = []
        newScalars.reserveCapacity(scalars.count)
        newAlignments.reserveCapacity(scalars.count)
        var last = 0
        for range in matches {
            newScalars.append(contentsOf: scalars[last..<range.lowerBound])
            newAlignments.append(contentsOf: alignments[last..<range.lowerBound])
            // Every inserted scalar takes the alignment of the old scalar just before the match's end.
            let alignment = range.upperBound >= 1 ? alignments[range.upperBound - 1] : originalStart
            newScalars.append(contentsOf: content)
            newAlignments.append(contentsOf: repeatElement(alignment, count: content.count))
            last = range.upperBound
        }
        newScalars.append(contentsOf: scalars[last...])
        newAlignments.append(contentsOf: alignments[last...])
        scalars = newScalars
        alignments = newAlignments
    }

    /// Puts `prefix` in front of the text (nothing happens to an empty text, as in tokenizers).
    mutating func prepend(_ prefix: [Unicode.Scalar]) {
        guard let first = alignments.first else { return }
        scalars.insert(contentsOf: prefix, at: 0)
        alignments.insert(contentsOf: repeatElement(first, count: prefix.count), at: 0)
    }

    /// Removes leading and/or trailing whitespace (Unicode White_Space).
    mutating func strip(left: Bool, right: Bool) {
        var start = 0
        var end = scalars.count
        if left { while start < end && scalars[start].properties.isWhitespace { start += 1 } }
        if right { while end > start && scalars[end - 1].properties.isWhitespace { end -= 1 } }
        scalars = Array(scalars[start..<end])
        alignments = Array(alignments[start..<end])
    }

    // MARK: - Splitting

    /// The sub-piece `range` of the normalized text.
    func slice(_ range: Range<Int>) -> TokenizerNormalizedString {
        let start = range.isEmpty ? originalStart + range.lowerBound : alignments[range.lowerBound]
        return TokenizerNormalizedString(
            scalars: Array(scalars[range]), alignments: Array(alignments[range]), originalStart: start)
    }

    /// Splits on `pattern`'s matches the way tokenizers' `NormalizedString::split` does with `behavior`.
    func split(_ pattern: TokenizerPattern, behavior: TokenizerSplitBehavior) throws(TokenizerError)
        -> [TokenizerNormalizedString]
    {
        let segments = try pattern.segments(in: scalars)
        var kept: [(Range<Int>, Bool)] = []  // (range, remove)
        switch behavior {
        case .isolated:
            kept = segments.map { ($0.range, false) }
        case .removed:
            kept = segments.map { ($0.range, $0.isMatch) }
        case .contiguous:
            var previousMatch = false
            for segment in segments {
                if segment.isMatch == previousMatch, let last = kept.last {
                    kept[kept.count - 1] = (last.0.lowerBound..<segment.range.upperBound, false)
                } else {
                    kept.append((segment.range, false))
                }
                previousMatch = segment.isMatch
            }
        case .mergedWithPrevious:
            var previousMatch = false
            for segment in segments {
                if segment.isMatch && !previousMatch, let last = kept.last {
                    kept[kept.count - 1] = (last.0.lowerBound..<segment.range.upperBound, false)
                } else {
                    kept.append((segment.range, false))
                }
                previousMatch = segment.isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for segment in segments.reversed() {
                if segment.isMatch && !previousMatch, let last = kept.last {
                    kept[kept.count - 1] = (segment.range.lowerBound..<last.0.upperBound, false)
                } else {
                    kept.append((segment.range, false))
                }
                previousMatch = segment.isMatch
            }
            kept.reverse()
        }
        return kept.filter { !$0.1 }.map { slice($0.0) }
    }
}

/// How a split treats the delimiter (tokenizers `SplitDelimiterBehavior`).
enum TokenizerSplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

/// What a split or replace looks for: a regex (string patterns are escaped regexes, as in tokenizers) or a
/// per-scalar predicate (each matching scalar is one match).
enum TokenizerPattern: Sendable {
    case regex(TokenizerRegex, invert: Bool)
    case scalar(@Sendable (Unicode.Scalar) -> Bool)

    /// Consecutive segments covering `text`, each flagged as a match or not (tokenizers `Pattern::find_matches`).
    func segments(in text: [Unicode.Scalar]) throws(TokenizerError) -> [(range: Range<Int>, isMatch: Bool)] {
        if text.isEmpty { return [(0..<0, false)] }
        var segments: [(range: Range<Int>, isMatch: Bool)] = []
        switch self {
        case .regex(let regex, let invert):
            var previous = 0
            for found in try regex.matches(in: text) {
                if previous != found.lowerBound { segments.append((previous..<found.lowerBound, invert)) }
                segments.append((found, !invert))
                previous = found.upperBound
            }
            if previous != text.count { segments.append((previous..<text.count, invert)) }
        case .scalar(let predicate):
            var last = 0
            for (index, scalar) in text.enumerated() where predicate(scalar) {
                if last < index { segments.append((last..<index, false)) }
                segments.append((index..<(index + 1), true))
                last = index + 1
            }
            if last < text.count { segments.append((last..<text.count, false)) }
        }
        return segments
    }
}
