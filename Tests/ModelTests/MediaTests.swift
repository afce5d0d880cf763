// Tests of the media writers: checksums against published values, Y4M layout, colour conversion round trips.
import Foundation
import Testing
@testable import Model

@Suite struct MediaTests {
    @Test func checksumsMatchPublishedValues() {
        // The CRC of an IEND chunk's type bytes is printed in every PNG: AE 42 60 82.
        #expect(CRC32.checksum(Array("IEND".utf8)) == 0xAE42_6082)
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)  // the CRC-32 check value
        #expect(Adler32.checksum(Array("Wikipedia".utf8)) == 0x11E6_0398)
    }

    @Test func pngHasSignatureHeaderAndEnd() throws {
        let frame = RGBFrame(width: 3, height: 2, red: 200, green: 10, blue: 30)
        let png = PNGWriter.encode(frame)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(Array(png[12..<16]) == Array("IHDR".utf8))
        #expect(Array(png[16..<24]) == [0, 0, 0, 3, 0, 0, 0, 2])
        #expect(Array(png.suffix(8)) == Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82])
    }

    @Test func ycbcrRoundTripIsClose() {
        for (r, g, b) in [(0, 0, 0), (255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255), (12, 200, 99)] {
            let (y, cb, cr) = Y4MWriter.ycbcr(red: UInt8(r), green: UInt8(g), blue: UInt8(b))
            let (r2, g2, b2) = Y4MWriter.rgb(y: y, cb: cb, cr: cr)
            #expect(abs(Int(r2) - r) <= 3 && abs(Int(g2) - g) <= 3 && abs(Int(b2) - b) <= 3, "\(r),\(g),\(b)")
        }
        // Black and white land on the limited-range ends.
        #expect(Y4MWriter.ycbcr(red: 0, green: 0, blue: 0) == (16, 128, 128))
        #expect(Y4MWriter.ycbcr(red: 255, green: 255, blue: 255) == (235, 128, 128))
    }

    @Test func y4mStreamHasHeaderAndFrames() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("media-test-\(getpid()).y4m").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try Y4MWriter(path: path, width: 4, height: 2, framesPerSecond: 16)
        try writer.write(RGBFrame(width: 4, height: 2, red: 0, green: 0, blue: 0))
        try writer.write(RGBFrame(width: 4, height: 2, red: 255, green: 255, blue: 255))
        #expect(!FileManager.default.fileExists(atPath: path), "the file appears only when finished")
        try writer.finish()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let header = "YUV4MPEG2 W4 H2 F16:1 Ip A1:1 C444 XYSCSS=444\n"
        #expect(Array(bytes.prefix(header.utf8.count)) == Array(header.utf8))
        #expect(bytes.count == header.utf8.count + 2 * (6 + 4 * 2 * 3))
        #expect(bytes[header.utf8.count + 6] == 16)  // first luma sample of the black frame
        #expect(bytes.last == 128)  // last chroma sample of the white frame
    }

    @Test func contactSheetIndicesAreEvenAndIncludeEnds() {
        #expect(ContactSheet.evenlySpacedIndices(frameCount: 81, count: 5) == [0, 20, 40, 60, 80])
        #expect(ContactSheet.evenlySpacedIndices(frameCount: 3, count: 8) == [0, 1, 2])
        #expect(ContactSheet.evenlySpacedIndices(frameCount: 1, count: 4) == [0])
    }
}

@Suite struct Y4MReaderTests {
    @Test func writtenStreamReadsBack() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("y4m-read-\(getpid()).y4m").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let colours: [(UInt8, UInt8, UInt8)] = [(255, 0, 0), (10, 200, 30), (0, 0, 0)]
        let writer = try Y4MWriter(path: path, width: 6, height: 4, framesPerSecond: 24)
        for (r, g, b) in colours { try writer.write(RGBFrame(width: 6, height: 4, red: r, green: g, blue: b)) }
        try writer.finish()
        var reader = try Y4MReader(path: path)
        #expect(reader.width == 6 && reader.height == 4 && reader.frameRate.numerator == 24)
        let frames = try reader.readAll()
        #expect(frames.count == 3)
        for (frame, (r, g, b)) in zip(frames, colours) {
            #expect(abs(Int(frame.pixels[0]) - Int(r)) <= 3)
            #expect(abs(Int(frame.pixels[1]) - Int(g)) <= 3)
            #expect(abs(Int(frame.pixels[2]) - Int(b)) <= 3)
        }
    }

    @Test func badStreamsAreRefused() {
        #expect(throws: MediaError.self) { _ = try Y4MReader(bytes: Array("RIFF....".utf8)) }
        #expect(throws: MediaError.self) { _ = try Y4MReader(bytes: Array("YUV4MPEG2 W0 H4\n".utf8)) }
        #expect(throws: MediaError.self) { _ = try Y4MReader(bytes: Array("YUV4MPEG2 W4 H4 C422\n".utf8)) }
        #expect(throws: MediaError.self) {
            var reader = try Y4MReader(bytes: Array("YUV4MPEG2 W4 H4 C444\nFRAME\n".utf8) + [1, 2, 3])
            _ = try reader.nextFrame()
        }
    }
}

@Suite struct PNGReaderTests {
    static let names = ["rgb_smooth", "rgb_noisy", "rgba", "grey", "palette"]

    @Test(arguments: names)
    func decodesPillowFilesToTheirPixels(name: String) throws {
        let frame = try PNGReader.read(path: Fixtures.path("media/\(name).png"))
        let expected = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("media/\(name).rgb"))))
        #expect(frame.width == 37 && frame.height == 23)
        #expect(frame.pixels == expected)
    }

    @Test func ourWriterRoundTrips() throws {
        var pixels = [UInt8](repeating: 0, count: 70 * 300 * 3)
        for index in pixels.indices { pixels[index] = UInt8(truncatingIfNeeded: index &* 7 &+ index / 11) }
        let frame = RGBFrame(width: 300, height: 70, pixels: pixels)  // > 64 KiB: several stored blocks
        #expect(try PNGReader.decode(PNGWriter.encode(frame)) == frame)
    }

    @Test func corruptFilesAreRefused() throws {
        var png = PNGWriter.encode(RGBFrame(width: 4, height: 4, red: 1, green: 2, blue: 3))
        #expect(throws: MediaError.self) { _ = try PNGReader.decode(Array(png.prefix(png.count - 12))) }
        png[40] ^= 0xFF
        #expect(throws: MediaError.self) { _ = try PNGReader.decode(png) }
        #expect(throws: MediaError.self) { _ = try PNGReader.decode([1, 2, 3]) }
    }
}

@Suite struct FFmpegWriterTests {
    @Test(.enabled(if: FFmpegVideoWriter.locateFFmpeg() != nil, "ffmpeg is not installed"))
    func writesAnMP4ThatStartsWithAFileTypeBox() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ffmpeg-test-\(getpid()).mp4").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try FFmpegVideoWriter(path: path, width: 32, height: 16, framesPerSecond: 8)
        for step in 0..<5 {
            try writer.write(RGBFrame(width: 32, height: 16, red: UInt8(step * 50), green: 0, blue: 255))
        }
        try writer.finish()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count > 100)
        #expect(Array(bytes[4..<8]) == Array("ftyp".utf8))
    }
}

@Suite struct FrameFitTests {
    static func gradient(width: Int, height: Int) -> RGBFrame {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                pixels[(y * width + x) * 3] = UInt8(x * 255 / max(1, width - 1))
                pixels[(y * width + x) * 3 + 1] = UInt8(y * 255 / max(1, height - 1))
                pixels[(y * width + x) * 3 + 2] = 200
            }
        }
        return RGBFrame(width: width, height: height, pixels: pixels)
    }

    @Test func everyModeGivesTheTargetSize() {
        let frame = Self.gradient(width: 40, height: 20)
        for mode in FitMode.allCases {
            let fitted = frame.fitted(width: 16, height: 16, mode: mode)
            #expect(fitted.width == 16 && fitted.height == 16, "\(mode)")
        }
    }

    @Test func padLeavesBlackBarsAndCropDoesNot() {
        let frame = RGBFrame(width: 40, height: 20, red: 255, green: 255, blue: 255)
        let padded = frame.fitted(width: 16, height: 16, mode: .pad)
        #expect(padded.pixels[0] == 0, "top-left corner is padding")
        #expect(padded.pixels[(8 * 16 + 8) * 3] == 255, "centre is picture")
        let cropped = frame.fitted(width: 16, height: 16, mode: .crop)
        #expect(cropped.pixels.allSatisfy { $0 == 255 })
    }

    @Test func halvingAveragesPairs() {
        let frame = RGBFrame(width: 2, height: 1, pixels: [0, 100, 200, 100, 200, 0])
        let half = frame.resized(width: 1, height: 1)
        #expect(half.pixels == [50, 150, 100])
    }
}
