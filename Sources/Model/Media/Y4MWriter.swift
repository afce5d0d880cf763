// A streaming YUV4MPEG2 (.y4m) writer: 4:4:4 8-bit, BT.601 limited range, playable by ffmpeg and mpv.

/// Streams RGB frames into a `.y4m` file as they are produced.
public final class Y4MWriter: FrameSink {
    private let output: AtomicFileOutput
    private let width: Int
    private let height: Int
    private var plane: [UInt8]

    /// Starts a Y4M file of the given size and frame rate.
    public init(path: String, width: Int, height: Int, framesPerSecond: Int) throws {
        guard width > 0, height > 0, framesPerSecond > 0 else {
            throw MediaError("cannot write \(path): bad video size \(width)x\(height) at \(framesPerSecond) fps")
        }
        output = try AtomicFileOutput(path: path)
        self.width = width
        self.height = height
        plane = [UInt8](repeating: 0, count: width * height * 3)
        try output.write("YUV4MPEG2 W\(width) H\(height) F\(framesPerSecond):1 Ip A1:1 C444 XYSCSS=444\n")
    }

    /// Appends one frame, converted to Y'CbCr with the BT.601 limited-range matrix.
    public func write(_ frame: RGBFrame) throws {
        guard frame.width == width, frame.height == height else {
            throw MediaError("frame of \(frame.width)x\(frame.height) in a \(width)x\(height) Y4M stream")
        }
        let pixelCount = width * height
        for index in 0..<pixelCount {
            let (y, cb, cr) = Y4MWriter.ycbcr(
                red: frame.pixels[3 * index], green: frame.pixels[3 * index + 1], blue: frame.pixels[3 * index + 2])
            plane[index] = y
            plane[pixelCount + index] = cb
            plane[2 * pixelCount + index] = cr
        }
        try output.write("FRAME\n")
        try output.write(plane)
    }

    /// Finishes and renames the file into place.
    public func finish() throws {
        try output.commit()
    }

    /// BT.601 limited-range conversion of one pixel.
    @inlinable
    public static func ycbcr(red: UInt8, green: UInt8, blue: UInt8) -> (UInt8, UInt8, UInt8) {
        let r = Float(red), g = Float(green), b = Float(blue)
        let y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
        let cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
        let cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
        return (clampByte(y), clampByte(cb), clampByte(cr))
    }

    /// BT.601 limited-range conversion back to RGB.
    @inlinable
    public static func rgb(y: UInt8, cb: UInt8, cr: UInt8) -> (UInt8, UInt8, UInt8) {
        let yy = (Float(y) - 16) * 255 / 219
        let pb = (Float(cb) - 128) * 255 / 224
        let pr = (Float(cr) - 128) * 255 / 224
        let r = yy + 1.402 * pr
        let g = yy - 0.344136 * pb - 0.714136 * pr
        let b = yy + 1.772 * pb
        return (clampByte(r), clampByte(g), clampByte(b))
    }

    @usableFromInline
    static func clampByte(_ value: Float) -> UInt8 {
        UInt8(min(max(value.rounded(), 0), 255))
    }
}
