// MP4 (and anything else ffmpeg writes) by streaming Y4M frames into an `ffmpeg` child process.
import Foundation

/// Streams frames into `ffmpeg`, which encodes them (H.264 in an MP4 for `.mp4`).
public final class FFmpegVideoWriter: FrameSink {
    private let process: Process
    private let input: FileHandle
    private let errorPipe: Pipe
    private let width: Int
    private let height: Int
    private let path: String
    private var plane: [UInt8]

    /// The `ffmpeg` executable on PATH, or `nil`.
    public static func locateFFmpeg() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/ffmpeg"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Starts `ffmpeg` writing `path`.
    public init(path: String, width: Int, height: Int, framesPerSecond: Int) throws {
        guard let ffmpeg = FFmpegVideoWriter.locateFFmpeg() else {
            throw MediaError(
                "writing \(path) needs ffmpeg, which is not on PATH; install it (apt-get install ffmpeg) or write .y4m, .png or .safetensors instead")
        }
        self.path = path
        self.width = width
        self.height = height
        plane = [UInt8](repeating: 0, count: width * height * 3)
        process = Process()
        process.executableURL = URL(fileURLWithPath: ffmpeg)
        // yuv420p needs even sizes; sizes are multiples of 16 here. CRF 18 is visually lossless for H.264.
        process.arguments = [
            "-hide_banner", "-loglevel", "error", "-y", "-f", "yuv4mpegpipe", "-i", "pipe:0",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-movflags", "+faststart", path,
        ]
        let inputPipe = Pipe()
        errorPipe = Pipe()
        process.standardInput = inputPipe
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errorPipe
        try process.run()
        input = inputPipe.fileHandleForWriting
        try send(Data("YUV4MPEG2 W\(width) H\(height) F\(framesPerSecond):1 Ip A1:1 C444\n".utf8))
    }

    private func send(_ data: Data) throws {
        do {
            try input.write(contentsOf: data)
        } catch {
            throw MediaError("ffmpeg stopped accepting frames for \(path): \(errorText())")
        }
    }

    private func errorText() -> String {
        let data = errorPipe.fileHandleForReading.availableData
        return String(decoding: data.prefix(2000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Sends one frame.
    public func write(_ frame: RGBFrame) throws {
        guard frame.width == width, frame.height == height else {
            throw MediaError("frame of \(frame.width)x\(frame.height) in a \(width)x\(height) video")
        }
        let pixelCount = width * height
        for index in 0..<pixelCount {
            let (y, cb, cr) = Y4MWriter.ycbcr(
                red: frame.pixels[3 * index], green: frame.pixels[3 * index + 1], blue: frame.pixels[3 * index + 2])
            plane[index] = y
            plane[pixelCount + index] = cb
            plane[2 * pixelCount + index] = cr
        }
        try send(Data("FRAME\n".utf8))
        try send(Data(plane))
    }

    /// Closes the stream and waits for ffmpeg; an error carries ffmpeg's message.
    public func finish() throws {
        try? input.close()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw MediaError("ffmpeg failed writing \(path) (exit \(process.terminationStatus)): \(errorText())")
        }
    }
}
