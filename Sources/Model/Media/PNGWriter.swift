// PNG writer (RFC 2083): 8-bit RGB, zlib stream of stored deflate blocks, so no compression library is needed.

/// Writes RGB frames as PNG images.
public enum PNGWriter {
    /// The PNG file bytes of one frame.
    public static func encode(_ frame: RGBFrame) -> [UInt8] {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(frame.width))
        header.appendBigEndian(UInt32(frame.height))
        header += [8, 2, 0, 0, 0]  // 8 bits, truecolour, deflate, adaptive filtering, no interlace
        appendChunk("IHDR", header, to: &png)

        // Scanlines, each prefixed with filter type 1 (Sub): differences to the left neighbour compress
        // nothing here but keep the format simple; readers must undo it.
        let rowBytes = frame.width * 3
        var raw = [UInt8]()
        raw.reserveCapacity((rowBytes + 1) * frame.height)
        for row in 0..<frame.height {
            raw.append(1)
            let start = row * rowBytes
            for column in 0..<rowBytes {
                let left: UInt8 = column >= 3 ? frame.pixels[start + column - 3] : 0
                raw.append(frame.pixels[start + column] &- left)
            }
        }
        appendChunk("IDAT", zlibStored(raw), to: &png)
        appendChunk("IEND", [], to: &png)
        return png
    }

    /// Writes one frame to `path` atomically.
    public static func write(_ frame: RGBFrame, to path: String) throws {
        let output = try AtomicFileOutput(path: path)
        try output.write(encode(frame))
        try output.commit()
    }

    // MARK: - Containers

    private static func appendChunk(_ type: String, _ data: [UInt8], to png: inout [UInt8]) {
        png.appendBigEndian(UInt32(data.count))
        let typeBytes = Array(type.utf8)
        png += typeBytes
        png += data
        png.appendBigEndian(CRC32.checksum(typeBytes + data))
    }

    /// A zlib stream holding `data` in stored (uncompressed) deflate blocks.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var stream: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let length = min(65_535, data.count - offset)
            let isFinal = offset + length == data.count
            stream.append(isFinal ? 1 : 0)
            stream.append(UInt8(length & 0xFF))
            stream.append(UInt8(length >> 8))
            stream.append(UInt8(~length & 0xFF))
            stream.append(UInt8((~length >> 8) & 0xFF))
            stream += data[offset..<(offset + length)]
            offset += length
        } while offset < data.count
        stream.appendBigEndian(Adler32.checksum(data))
        return stream
    }
}

/// CRC-32 (IEEE 802.3, reflected 0xEDB88320), as PNG and zlib's gzip use it.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 {
            value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1
        }
        return value
    }

    static func checksum<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return ~crc
    }
}

/// Adler-32, zlib's stream checksum.
enum Adler32 {
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        var index = 0
        while index < bytes.count {
            let end = min(index + 5552, bytes.count)
            while index < end {
                a += UInt32(bytes[index])
                b += a
                index += 1
            }
            a %= 65_521
            b %= 65_521
        }
        return (b << 16) | a
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8((value >> 16) & 0xFF))
        append(UInt8((value >> 8) & 0xFF))
        append(UInt8(value & 0xFF))
    }
}
