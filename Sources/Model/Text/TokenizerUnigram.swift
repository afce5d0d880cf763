// tokenizers Unigram model: pieces with log-probability scores, Viterbi segmentation over a trie, fused unknowns.

/// The Unigram model of a tokenizer.json: the vocabulary (piece, score), the unknown piece, optional byte fallback.
struct TokenizerUnigram: Sendable {
    /// Pieces in id order.
    let pieces: [String]
    /// Scores in id order.
    let scores: [Double]
    /// Piece text to id (the last id wins for duplicate pieces, as in tokenizers).
    let idsByPiece: [String: Int]
    /// The id of the unknown piece, if any.
    let unknownID: Int?
    /// Whether unknown text becomes `<0xXX>` byte pieces when they all exist.
    let byteFallback: Bool
    /// Score of an unknown character: the lowest score minus 10 (tokenizers' `K_UNK_PENALTY`).
    private let unknownScore: Double
    private let trie: Trie

    /// Largest vocabulary accepted (umT5 has 256,384 pieces).
    static let maxVocabularySize = 2_000_000
    /// Longest piece accepted, in UTF-8 bytes.
    static let maxPieceBytes = 1_024

    /// Reads the `model` object; only `"type": "Unigram"` is supported.
    init(json: JSONValue, path: String) throws(TokenizerError) {
        let object = try json.objectValue(path)
        let type = try object.required("type", path).stringValue("\(path).type")
        guard type == "Unigram" else { throw .unsupportedComponent(component: "model", type: type) }
        let vocabulary = try object.required("vocab", path).arrayValue("\(path).vocab")
        guard vocabulary.count <= Self.maxVocabularySize else {
            throw .limitExceeded(what: "\(path).vocab size", value: vocabulary.count, limit: Self.maxVocabularySize)
        }
        var pieces: [String] = []
        var scores: [Double] = []
        pieces.reserveCapacity(vocabulary.count)
        scores.reserveCapacity(vocabulary.count)
        for (index, entry) in vocabulary.enumerated() {
            let entryPath = "\(path).vocab[\(index)]"
            let pair = try entry.arrayValue(entryPath)
            guard pair.count == 2 else {
                throw .invalidField(path: entryPath, reason: "expected [piece, score], found \(pair.count) elements")
            }
            let piece = try pair[0].stringValue("\(entryPath)[0]")
            guard piece.utf8.count <= Self.maxPieceBytes else {
                throw .limitExceeded(what: "\(entryPath) piece length in bytes", value: piece.utf8.count,
                                     limit: Self.maxPieceBytes)
            }
            pieces.append(piece)
            scores.append(try pair[1].doubleValue("\(entryPath)[1]"))
        }
        var unknownID: Int?
        if let value = object.optional("unk_id") {
            let id = try value.intValue("\(path).unk_id", in: 0...Int(Int32.max))
            guard id < pieces.count else {
                throw .invalidField(path: "\(path).unk_id", reason: "\(id) is not below the vocab size \(pieces.count)")
            }
            unknownID = id
        }
        let byteFallback = try object.optional("byte_fallback")?.boolValue("\(path).byte_fallback") ?? false
        if let fuse = object.optional("fuse_unk"), try !fuse.boolValue("\(path).fuse_unk") {
            throw .unsupportedOption(component: "Unigram model", option: "fuse_unk false")
        }
        self.init(pieces: pieces, scores: scores, unknownID: unknownID, byteFallback: byteFallback)
    }

    init(pieces: [String], scores: [Double], unknownID: Int?, byteFallback: Bool) {
        self.pieces = pieces
        self.scores = scores
        self.unknownID = unknownID
        self.byteFallback = byteFallback
        var ids: [String: Int] = [:]
        ids.reserveCapacity(pieces.count)
        var trie = Trie()
        for (id, piece) in pieces.enumerated() {
            ids[piece] = id
            trie.insert(piece.unicodeScalars, id: id)
        }
        idsByPiece = ids
        self.trie = trie
        unknownScore = (scores.min() ?? .infinity) - 10
    }

    /// The number of pieces.
    var count: Int { pieces.count }

    // MARK: - Encoding

    /// The ids of `text` (one pre-token): the best-scoring segmentation, consecutive unknowns fused into one.
    func encode(_ text: [Unicode.Scalar]) throws(TokenizerError) -> [Int] {
        if text.isEmpty { return [] }
        let count = text.count
        var bestScore = [Double](repeating: 0, count: count + 1)
        var startsAt = [Int](repeating: -1, count: count + 1)
        var bestID = [Int](repeating: 0, count: count + 1)
        for start in 0..<count {
            let scoreHere = bestScore[start]
            var hasSingleScalarPiece = false
            var node = 0
            var end = start
            while end < count, let child = trie.child(of: node, text[end]) {
                node = child
                end += 1
                let id = trie.terminalID[node]
                if id >= 0 {
                    let candidate = scores[Int(id)] + scoreHere
                    if startsAt[end] < 0 || candidate > bestScore[end] {
                        bestScore[end] = candidate
                        startsAt[end] = start
                        bestID[end] = Int(id)
                    }
                    if end == start + 1 { hasSingleScalarPiece = true }
                }
            }
            if !hasSingleScalarPiece {
                let candidate = unknownScore + scoreHere
                if startsAt[start + 1] < 0 || candidate > bestScore[start + 1] {
                    guard let unknownID else {
                        throw .missingUnknownToken(text: String(String.UnicodeScalarView(text[start..<(start + 1)])))
                    }
                    bestScore[start + 1] = candidate
                    startsAt[start + 1] = start
                    bestID[start + 1] = unknownID
                }
            }
        }
        // Walk back from the end, fusing runs of unknown pieces into one string.
        var strings: [(text: String, id: Int?)] = []
        var fused: [Range<Int>] = []
        var end = count
        func flushFused() {
            guard let last = fused.last, let first = fused.first else { return }
            strings.append((String(String.UnicodeScalarView(text[last.lowerBound..<first.upperBound])), nil))
            fused.removeAll()
        }
        while end > 0 {
            let start = startsAt[end]
            if bestID[end] == unknownID {
                fused.append(start..<end)
            } else {
                flushFused()
                strings.append((pieces[bestID[end]], bestID[end]))
            }
            end = start
        }
        flushFused()
        strings.reverse()
        var ids: [Int] = []
        ids.reserveCapacity(strings.count)
        for (string, id) in strings {
            if let id {
                ids.append(id)
            } else {
                try ids.append(contentsOf: idsForFused(string))
            }
        }
        return ids
    }

    /// tokenizers' lookup of a piece string: the vocab id, else byte pieces, else the unknown id.
    private func idsForFused(_ string: String) throws(TokenizerError) -> [Int] {
        if let id = idsByPiece[string] { return [id] }
        if byteFallback {
            var bytes: [Int] = []
            for byte in string.utf8 {
                let name = "<0x" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true) + ">"
                guard let id = idsByPiece[name] else { break }
                bytes.append(id)
            }
            if bytes.count == string.utf8.count { return bytes }
        }
        guard let unknownID else { throw .missingUnknownToken(text: string) }
        return [unknownID]
    }
}

// MARK: - Trie

/// A trie over Unicode scalars, children kept in one hash table keyed by (node, scalar).
private struct Trie: Sendable {
    private var children: [UInt64: Int32] = [:]
    /// Per node: the id of the piece ending there, or -1.
    private(set) var terminalID: [Int32] = [-1]

    mutating func insert(_ scalars: String.UnicodeScalarView, id: Int) {
        var node = 0
        for scalar in scalars {
            let key = UInt64(node) << 21 | UInt64(scalar.value)
            if let next = children[key] {
                node = Int(next)
            } else {
                let next = terminalID.count
                terminalID.append(-1)
                children[key] = Int32(next)
                node = next
            }
        }
        terminalID[node] = Int32(id)
    }

    func child(of node: Int, _ scalar: Unicode.Scalar) -> Int? {
        children[UInt64(node) << 21 | UInt64(scalar.value)].map(Int.init)
    }
}
