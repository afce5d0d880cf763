// A DEFLATE decoder (RFC 1951) with zlib framing (RFC 1950), for reading PNG files without a library.

/// Decompresses zlib streams, refusing output beyond a limit given up front.
enum Inflate {
    /// Decompresses a zlib stream whose output must not exceed `maxOutputBytes`.
    static func zlib(_ data: [UInt8], maxOutputBytes: Int) throws -> [UInt8] {
        guard data.count >= 6 else { throw MediaError("zlib stream too short (\(data.count) bytes)") }
        let cmf = data[0], flags = data[1]
        guard cmf & 0x0F == 8, (UInt16(cmf) << 8 | UInt16(flags)) % 31 == 0 else {
            throw MediaError("not a zlib deflate stream (header \(cmf), \(flags))")
        }
        guard flags & 0x20 == 0 else { throw MediaError("zlib preset dictionaries are not supported") }
        var reader = BitReader(bytes: data, offset: 2)
        let output = try inflate(&reader, maxOutputBytes: maxOutputBytes)
        let checksumOffset = reader.byteAlignedOffset
        guard checksumOffset + 4 <= data.count else { throw MediaError("zlib stream ends before its checksum") }
        let stored = data[checksumOffset..<checksumOffset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard stored == Adler32.checksum(output) else { throw MediaError("zlib checksum mismatch") }
        return output
    }

    /// Decompresses raw DEFLATE blocks.
    static func inflate(_ reader: inout BitReader, maxOutputBytes: Int) throws -> [UInt8] {
        var output: [UInt8] = []
        var isFinal = false
        while !isFinal {
            isFinal = try reader.bits(1) == 1
            switch try reader.bits(2) {
            case 0:
                reader.alignToByte()
                let length = try reader.bits(16), complement = try reader.bits(16)
                guard length == ~complement & 0xFFFF else { throw MediaError("deflate stored block length check failed") }
                guard output.count + length <= maxOutputBytes else { throw tooLarge(maxOutputBytes) }
                output += try reader.bytes(length)
            case 1:
                try decodeBlock(&reader, &output, literal: Huffman.fixedLiteral, distance: Huffman.fixedDistance, maxOutputBytes)
            case 2:
                let (literal, distance) = try readDynamicTables(&reader)
                try decodeBlock(&reader, &output, literal: literal, distance: distance, maxOutputBytes)
            default:
                throw MediaError("deflate block of reserved type 3")
            }
        }
        return output
    }

    private static func tooLarge(_ limit: Int) -> MediaError {
        MediaError("compressed data expands beyond the expected \(limit) bytes")
    }

    private static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    private static let distanceBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    private static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    private static func decodeBlock(
        _ reader: inout BitReader, _ output: inout [UInt8], literal: Huffman, distance: Huffman, _ limit: Int
    ) throws {
        while true {
            let symbol = try literal.decode(&reader)
            if symbol < 256 {
                guard output.count < limit else { throw tooLarge(limit) }
                output.append(UInt8(symbol))
            } else if symbol == 256 {
                return
            } else {
                let index = symbol - 257
                guard index < 29 else { throw MediaError("bad deflate length symbol \(symbol)") }
                let length = lengthBase[index] + (try reader.bits(lengthExtra[index]))
                let distanceSymbol = try distance.decode(&reader)
                guard distanceSymbol < 30 else { throw MediaError("bad deflate distance symbol \(distanceSymbol)") }
                let back = distanceBase[distanceSymbol] + (try reader.bits(distanceExtra[distanceSymbol]))
                guard back <= output.count else { throw MediaError("deflate distance \(back) reaches before the start") }
                guard output.count + length <= limit else { throw tooLarge(limit) }
                let start = output.count - back
                for offset in 0..<length { output.append(output[start + offset]) }
            }
        }
    }

    private static func readDynamicTables(_ reader: inout BitReader) throws -> (Huffman, Huffman) {
        let literalCount = try reader.bits(5) + 257
        let distanceCount = try reader.bits(5) + 1
        let codeLengthCount = try reader.bits(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else { throw MediaError("bad deflate table sizes") }
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
        var codeLengthLengths = [Int](repeating: 0, count: 19)
        for index in 0..<codeLengthCount { codeLengthLengths[order[index]] = try reader.bits(3) }
        let codeLengthCode = try Huffman(lengths: codeLengthLengths)
        var lengths: [Int] = []
        while lengths.count < literalCount + distanceCount {
            let symbol = try codeLengthCode.decode(&reader)
            switch symbol {
            case 0...15: lengths.append(symbol)
            case 16:
                guard let previous = lengths.last else { throw MediaError("deflate repeat with no previous length") }
                lengths += Array(repeating: previous, count: 3 + (try reader.bits(2)))
            case 17: lengths += Array(repeating: 0, count: 3 + (try reader.bits(3)))
            default: lengths += Array(repeating: 0, count: 11 + (try reader.bits(7)))
            }
        }
        guard lengths.count == literalCount + distanceCount else { throw MediaError("deflate code lengths overrun") }
        return (
            try Huffman(lengths: Array(lengths[0..<literalCount])),
            try Huffman(lengths: Array(lengths[literalCount...]))
        )
    }
}

/// Reads bits least-significant first, as DEFLATE packs them.
struct BitReader {
    private let bytes: [UInt8]
    private var offset: Int
    private var buffer: UInt64 = 0
    private var count = 0

    init(bytes: [UInt8], offset: Int) {
        self.bytes = bytes
        self.offset = offset
    }

    mutating func bits(_ n: Int) throws -> Int {
        guard n > 0 else { return 0 }
        while count < n {
            guard offset < bytes.count else { throw MediaError("compressed data ends early") }
            buffer |= UInt64(bytes[offset]) << UInt64(count)
            offset += 1
            count += 8
        }
        let value = Int(buffer & ((1 << UInt64(n)) - 1))
        buffer >>= UInt64(n)
        count -= n
        return value
    }

    mutating func alignToByte() {
        let drop = count % 8
        buffer >>= UInt64(drop)
        count -= drop
    }

    mutating func bytes(_ n: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(n)
        while count >= 8 && result.count < n {
            result.append(UInt8(buffer & 0xFF))
            buffer >>= 8
            count -= 8
        }
        let rest = n - result.count
        guard offset + rest <= bytes.count else { throw MediaError("stored block runs past the data") }
        result += bytes[offset..<offset + rest]
        offset += rest
        return result
    }

    /// The offset of the first byte not yet consumed, after dropping the partial byte.
    var byteAlignedOffset: Int { offset - count / 8 }
}

/// A canonical Huffman code, decoded one bit at a time (fine for the image sizes we read).
struct Huffman {
    private var counts = [Int](repeating: 0, count: 16)
    private var symbols: [Int] = []

    init(lengths: [Int]) throws {
        for length in lengths { counts[length] += 1 }
        counts[0] = 0
        var left = 1
        for length in 1..<16 {
            left = left * 2 - counts[length]
            guard left >= 0 else { throw MediaError("over-subscribed Huffman code") }
        }
        var offsets = [Int](repeating: 0, count: 16)
        for length in 1..<15 { offsets[length + 1] = offsets[length] + counts[length] }
        symbols = [Int](repeating: 0, count: lengths.count)
        for (symbol, length) in lengths.enumerated() where length != 0 {
            symbols[offsets[length]] = symbol
            offsets[length] += 1
        }
    }

    func decode(_ reader: inout BitReader) throws -> Int {
        var code = 0, first = 0, index = 0
        for length in 1..<16 {
            code |= try reader.bits(1)
            let count = counts[length]
            if code - count < first { return symbols[index + (code - first)] }
            index += count
            first = (first + count) << 1
            code <<= 1
        }
        throw MediaError("invalid Huffman code in compressed data")
    }

    static let fixedLiteral = try! Huffman(lengths: (0..<288).map { $0 < 144 ? 8 : $0 < 256 ? 9 : $0 < 280 ? 7 : 8 })
    static let fixedDistance = try! Huffman(lengths: [Int](repeating: 5, count: 30))
}
