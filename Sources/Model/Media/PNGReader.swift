// PNG reader (RFC 2083): 8-bit greyscale, grey+alpha, RGB, RGBA; 1-8-bit greyscale and palette; not interlaced.
import Foundation

/// Reads PNG images into RGB frames (alpha is composited over black).
public enum PNGReader {
    /// The most pixels an image may have.
    public static let maxPixels = 1 << 28

    /// Reads a PNG file.
    public static func read(path: String) throws -> RGBFrame {
        guard let data = FileManager.default.contents(atPath: path) else { throw MediaError("cannot read \(path)") }
        do {
            return try decode([UInt8](data))
        } catch let error as MediaError {
            throw MediaError("\(path): \(error.description)")
        }
    }

    /// Decodes PNG bytes.
    public static func decode(_ bytes: [UInt8]) throws -> RGBFrame {
        guard bytes.count >= 8, Array(bytes[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else {
            throw MediaError("not a PNG file (bad signature)")
        }
        var offset = 8
        var width = 0, height = 0, colourType = -1, bitDepth = 8
        var palette: [UInt8] = []
        var compressed: [UInt8] = []
        var sawEnd = false
        while offset + 12 <= bytes.count {
            let length = Int(bytes[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            guard length <= bytes.count - offset - 12 else { throw MediaError("chunk \(type) runs past the end of the file") }
            let body = Array(bytes[offset + 8..<offset + 8 + length])
            let stored = bytes[offset + 8 + length..<offset + 12 + length].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard CRC32.checksum(bytes[offset + 4..<offset + 8 + length]) == stored else {
                throw MediaError("chunk \(type) has a bad CRC")
            }
            offset += 12 + length
            switch type {
            case "IHDR":
                guard body.count == 13 else { throw MediaError("IHDR has \(body.count) bytes, expected 13") }
                width = Int(body[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                height = Int(body[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                bitDepth = Int(body[8])
                colourType = Int(body[9])
                guard [0, 2, 3, 4, 6].contains(colourType) else { throw MediaError("bad colour type \(colourType)") }
                let lowDepthAllowed = colourType == 0 || colourType == 3
                guard bitDepth == 8 || (lowDepthAllowed && [1, 2, 4].contains(bitDepth)) else {
                    throw MediaError("bit depth \(bitDepth) with colour type \(colourType) is not supported")
                }
                guard body[12] == 0 else { throw MediaError("interlaced PNGs are not supported") }
                guard width > 0, height > 0, width * height <= maxPixels else {
                    throw MediaError("bad image size \(width)x\(height)")
                }
            case "PLTE": palette = body
            case "IDAT": compressed += body
            case "IEND": sawEnd = true
            default: continue
            }
            if sawEnd { break }
        }
        guard colourType >= 0 else { throw MediaError("missing IHDR chunk") }
        guard sawEnd else { throw MediaError("missing IEND chunk (truncated file?)") }
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colourType]!
        let rowBytes = (width * channels * bitDepth + 7) / 8
        let raw = try Inflate.zlib(compressed, maxOutputBytes: (rowBytes + 1) * height)
        guard raw.count == (rowBytes + 1) * height else {
            throw MediaError("image data has \(raw.count) bytes, expected \((rowBytes + 1) * height)")
        }
        var pixels = try unfilter(raw, rowBytes: rowBytes, height: height, bytesPerPixel: max(1, channels * bitDepth / 8))
        if bitDepth < 8 {
            pixels = unpack(pixels, rowBytes: rowBytes, width: width, height: height, bitDepth: bitDepth,
                            scaleToByte: colourType == 0)
        }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for index in 0..<(width * height) {
            let source = index * channels
            switch colourType {
            case 0:
                rgb[3 * index] = pixels[source]; rgb[3 * index + 1] = pixels[source]; rgb[3 * index + 2] = pixels[source]
            case 4:
                let value = UInt8(Int(pixels[source]) * Int(pixels[source + 1]) / 255)
                rgb[3 * index] = value; rgb[3 * index + 1] = value; rgb[3 * index + 2] = value
            case 2:
                rgb[3 * index] = pixels[source]; rgb[3 * index + 1] = pixels[source + 1]; rgb[3 * index + 2] = pixels[source + 2]
            case 6:
                let alpha = Int(pixels[source + 3])
                for channel in 0..<3 { rgb[3 * index + channel] = UInt8(Int(pixels[source + channel]) * alpha / 255) }
            default:
                let entry = Int(pixels[source])
                guard 3 * entry + 2 < palette.count else { throw MediaError("palette index \(entry) out of range") }
                for channel in 0..<3 { rgb[3 * index + channel] = palette[3 * entry + channel] }
            }
        }
        return RGBFrame(width: width, height: height, pixels: rgb)
    }

    /// Expands 1, 2 or 4-bit samples to one byte each (greyscale values scaled to 0...255).
    private static func unpack(
        _ packed: [UInt8], rowBytes: Int, width: Int, height: Int, bitDepth: Int, scaleToByte: Bool
    ) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: width * height)
        let mask = (1 << bitDepth) - 1
        let scale = scaleToByte ? 255 / mask : 1
        for row in 0..<height {
            for column in 0..<width {
                let bit = column * bitDepth
                let byte = Int(packed[row * rowBytes + bit / 8])
                let value = (byte >> (8 - bitDepth - bit % 8)) & mask
                out[row * width + column] = UInt8(value * scale)
            }
        }
        return out
    }

    private static func unfilter(_ raw: [UInt8], rowBytes: Int, height: Int, bytesPerPixel: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: rowBytes * height)
        for row in 0..<height {
            let filter = raw[row * (rowBytes + 1)]
            let source = row * (rowBytes + 1) + 1
            let destination = row * rowBytes
            for column in 0..<rowBytes {
                let x = raw[source + column]
                let left = column >= bytesPerPixel ? out[destination + column - bytesPerPixel] : 0
                let up = row > 0 ? out[destination - rowBytes + column] : 0
                let upLeft = row > 0 && column >= bytesPerPixel ? out[destination - rowBytes + column - bytesPerPixel] : 0
                let value: UInt8
                switch filter {
                case 0: value = x
                case 1: value = x &+ left
                case 2: value = x &+ up
                case 3: value = x &+ UInt8((Int(left) + Int(up)) / 2)
                case 4:
                    let p = Int(left) + Int(up) - Int(upLeft)
                    let pa = abs(p - Int(left)), pb = abs(p - Int(up)), pc = abs(p - Int(upLeft))
                    value = x &+ (pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft)
                default: throw MediaError("bad PNG filter type \(filter) on row \(row)")
                }
                out[destination + column] = value
            }
        }
        return out
    }
}
