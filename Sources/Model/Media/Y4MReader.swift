// A YUV4MPEG2 (.y4m) reader: 8-bit 4:4:4, 4:2:0 (any siting) and mono streams, converted to RGB frames.
import Foundation

/// Reads a `.y4m` file into RGB frames, validating the header and every frame's size.
public struct Y4MReader {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Frame rate as a fraction.
    public let frameRate: (numerator: Int, denominator: Int)
    private let chroma: Chroma
    private let bytes: [UInt8]
    private var offset: Int

    private enum Chroma { case c444, c420, mono }

    /// The most pixels a frame may have (16384 x 16384).
    public static let maxPixels = 1 << 28

    /// Opens a file and parses its header.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MediaError("cannot read \(path)")
        }
        try self.init(bytes: [UInt8](data), name: path)
    }

    /// Parses a Y4M stream held in memory; `name` appears in errors.
    public init(bytes: [UInt8], name: String = "y4m stream") throws {
        guard let newline = bytes.prefix(4096).firstIndex(of: 0x0A) else {
            throw MediaError("\(name): no Y4M header line in the first 4096 bytes")
        }
        let header = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        guard header.first == "YUV4MPEG2" else { throw MediaError("\(name): not a Y4M file (missing YUV4MPEG2 signature)") }
        var width = 0, height = 0
        var rate = (30, 1)
        var chroma = Chroma.c420
        for field in header.dropFirst() {
            let value = field.dropFirst()
            switch field.first {
            case "W": width = Int(value) ?? 0
            case "H": height = Int(value) ?? 0
            case "F":
                let parts = value.split(separator: ":")
                guard parts.count == 2, let n = Int(parts[0]), let d = Int(parts[1]), n > 0, d > 0 else {
                    throw MediaError("\(name): bad frame rate '\(field)'")
                }
                rate = (n, d)
            case "C":
                if value.hasPrefix("444") && !value.hasPrefix("444alpha") {
                    chroma = .c444
                } else if value.hasPrefix("420") {
                    chroma = .c420
                } else if value == "mono" {
                    chroma = .mono
                } else {
                    throw MediaError("\(name): unsupported colour space '\(field)' (8-bit 444, 420 and mono are supported)")
                }
            default: continue
            }
        }
        guard width > 0, height > 0, width * height <= Y4MReader.maxPixels else {
            throw MediaError("\(name): bad frame size \(width)x\(height)")
        }
        if chroma == .c420 && (width % 2 != 0 || height % 2 != 0) {
            throw MediaError("\(name): 4:2:0 needs even sizes, got \(width)x\(height)")
        }
        self.width = width
        self.height = height
        self.frameRate = rate
        self.chroma = chroma
        self.bytes = bytes
        self.offset = newline + 1
    }

    /// Bytes of one frame's planes.
    private var frameByteCount: Int {
        switch chroma {
        case .c444: return width * height * 3
        case .c420: return width * height + 2 * (width / 2) * (height / 2)
        case .mono: return width * height
        }
    }

    /// The next frame, or `nil` at the end of the stream.
    public mutating func nextFrame() throws -> RGBFrame? {
        guard offset < bytes.count else { return nil }
        guard let newline = bytes[offset..<min(bytes.count, offset + 1024)].firstIndex(of: 0x0A),
            bytes[offset..<newline].starts(with: Array("FRAME".utf8))
        else {
            throw MediaError("bad Y4M frame header at byte \(offset)")
        }
        let start = newline + 1
        guard bytes.count - start >= frameByteCount else {
            throw MediaError("truncated Y4M frame at byte \(start): need \(frameByteCount) bytes, have \(bytes.count - start)")
        }
        offset = start + frameByteCount
        let pixelCount = width * height
        var pixels = [UInt8](repeating: 0, count: pixelCount * 3)
        for y in 0..<height {
            for x in 0..<width {
                let luma = bytes[start + y * width + x]
                let cb: UInt8, cr: UInt8
                switch chroma {
                case .c444:
                    cb = bytes[start + pixelCount + y * width + x]
                    cr = bytes[start + 2 * pixelCount + y * width + x]
                case .c420:
                    let chromaIndex = (y / 2) * (width / 2) + x / 2
                    cb = bytes[start + pixelCount + chromaIndex]
                    cr = bytes[start + pixelCount + (width / 2) * (height / 2) + chromaIndex]
                case .mono:
                    cb = 128
                    cr = 128
                }
                let (r, g, b) = Y4MWriter.rgb(y: luma, cb: cb, cr: cr)
                let index = 3 * (y * width + x)
                pixels[index] = r
                pixels[index + 1] = g
                pixels[index + 2] = b
            }
        }
        return RGBFrame(width: width, height: height, pixels: pixels)
    }

    /// Every remaining frame.
    public mutating func readAll() throws -> [RGBFrame] {
        var frames: [RGBFrame] = []
        while let frame = try nextFrame() { frames.append(frame) }
        return frames
    }
}
