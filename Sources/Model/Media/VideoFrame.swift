// 8-bit RGB frames, the form in which decoded video leaves the model and enters the file writers.

/// One 8-bit RGB frame, rows top to bottom, pixels interleaved `r, g, b`.
public struct RGBFrame: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// `width * height * 3` bytes.
    public var pixels: [UInt8]

    /// Creates a frame; `pixels.count` must be `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 3, "bad frame \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A frame filled with one colour.
    public init(width: Int, height: Int, red: UInt8, green: UInt8, blue: UInt8) {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for index in stride(from: 0, to: pixels.count, by: 3) {
            pixels[index] = red
            pixels[index + 1] = green
            pixels[index + 2] = blue
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// Converts a float video value in [-1, 1] (the VAE's output range) to a byte, as the Wan pipeline's
    /// postprocessing does: (x / 2 + 0.5) clamped to [0, 1], times 255, rounded.
    @inlinable
    public static func byte(fromSignedUnit value: Float) -> UInt8 {
        let unit = min(max(value / 2 + 0.5, 0), 1)
        return UInt8((unit * 255).rounded())
    }
}

/// Something that accepts frames one at a time and is closed at the end (a streaming video file).
public protocol FrameSink: AnyObject {
    /// Appends one frame.
    func write(_ frame: RGBFrame) throws
    /// Finishes the file; no frame may be written after.
    func finish() throws
}
