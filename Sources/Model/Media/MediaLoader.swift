// Input media for image and video prompting: PNG and Y4M read directly, anything else decoded by `ffmpeg` into a
// Y4M stream on a pipe; sizes fitted to the job (--fit) or refused.
import Foundation
import Synchronization

/// Loads a picture or a video file as 8-bit RGB frames, within fixed bounds.
public enum MediaLoader {
    /// The largest media file read (PNG, Y4M, or the Y4M stream ffmpeg produces).
    public static let maxFileBytes = 1 << 31
    /// The most frames taken from one file.
    public static let maxFrames = 4096
    /// The most RGB bytes all frames of one file may take once decoded.
    public static let maxDecodedBytes = 1 << 31

    /// The frames of `path`: one for a PNG, every frame for a Y4M, else what ffmpeg decodes (when installed).
    public static func load(path: String) throws -> [RGBFrame] {
        switch (path as NSString).pathExtension.lowercased() {
        case "png":
            try checkSize(path)
            return [try PNGReader.read(path: path)]
        case "y4m":
            try checkSize(path)
            return try frames(ofY4M: try readFile(path), name: path)
        default:
            return try frames(ofY4M: try decodeWithFFmpeg(path: path), name: "\(path) (decoded by ffmpeg)")
        }
    }

    /// The frames of a PNG or Y4M file held in memory (a cluster job's attachment), named `name` in errors; the
    /// name's extension says which.
    public static func load(bytes: [UInt8], name: String) throws -> [RGBFrame] {
        guard bytes.count <= maxFileBytes else {
            throw MediaError("\(name) is \(bytes.count) bytes; media files are limited to \(maxFileBytes) bytes")
        }
        switch (name as NSString).pathExtension.lowercased() {
        case "png": return [try PNGReader.decode(bytes)]
        case "y4m": return try frames(ofY4M: bytes, name: name)
        default: throw MediaError("\(name): only PNG and Y4M media are read from memory")
        }
    }

    /// The bytes a cluster client sends for `path`: the file itself for PNG and Y4M, else ffmpeg's Y4M decoding
    /// of it, so the coordinator reads exactly the frames `generate` would. Returns the bytes and their extension.
    public static func portableBytes(path: String) throws -> (bytes: [UInt8], fileExtension: String) {
        let ext = (path as NSString).pathExtension.lowercased()
        if ext == "png" || ext == "y4m" {
            try checkSize(path)
            return (try readFile(path), ext)
        }
        return (try decodeWithFFmpeg(path: path), "y4m")
    }

    /// Decodes a Y4M stream held in memory, bounded by `maxFrames` and `maxDecodedBytes`.
    public static func frames(ofY4M bytes: [UInt8], name: String) throws -> [RGBFrame] {
        var reader = try Y4MReader(bytes: bytes, name: name)
        let frameBytes = reader.width * reader.height * 3
        var frames: [RGBFrame] = []
        while let frame = try reader.nextFrame() {
            guard frames.count < maxFrames else {
                throw MediaError("\(name): more than \(maxFrames) frames; trim the video first")
            }
            guard (frames.count + 1) * frameBytes <= maxDecodedBytes else {
                throw MediaError("\(name): the decoded frames would exceed \(maxDecodedBytes) bytes; trim or shrink the video first")
            }
            frames.append(frame)
        }
        guard !frames.isEmpty else { throw MediaError("\(name): the Y4M stream holds no frame") }
        return frames
    }

    /// `frames` made `width` x `height`: unchanged when they already are, else fitted with `fit`, else refused
    /// with an error naming `option`, both sizes and the --fit choices.
    public static func fitted(
        _ frames: [RGBFrame], width: Int, height: Int, fit: FitMode?, option: String
    ) throws -> [RGBFrame] {
        guard let first = frames.first else { throw MediaError("\(option): the media has no frame") }
        if frames.allSatisfy({ $0.width == width && $0.height == height }) { return frames }
        guard let fit else {
            throw MediaError(
                "\(option): the media is \(first.width)x\(first.height) but the video is \(width)x\(height); "
                    + "give --fit crop, --fit pad or --fit resize, or a matching --width/--height")
        }
        return frames.map { $0.fitted(width: width, height: height, mode: fit) }
    }

    // MARK: - Files and ffmpeg

    private static func checkSize(_ path: String) throws {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw MediaError("cannot read \(path): no such file")
        }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maxFileBytes else {
            throw MediaError("\(path) is \(size) bytes; media files are limited to \(maxFileBytes) bytes")
        }
    }

    private static func readFile(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw MediaError("cannot read \(path)") }
        guard data.count <= maxFileBytes else {
            throw MediaError("\(path) is \(data.count) bytes; media files are limited to \(maxFileBytes) bytes")
        }
        return [UInt8](data)
    }

    /// Runs `ffmpeg -i path` to a 4:4:4 Y4M stream on a pipe and returns it, stopping ffmpeg when the stream
    /// passes `maxFileBytes`.
    static func decodeWithFFmpeg(path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw MediaError("cannot read \(path): no such file")
        }
        guard let ffmpeg = FFmpegVideoWriter.locateFFmpeg() else {
            throw MediaError(
                "reading \(path) needs ffmpeg, which is not on PATH (install it with apt-get install ffmpeg), "
                    + "or convert the file to .png or .y4m first")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ffmpeg)
        process.arguments = [
            "-hide_banner", "-loglevel", "error", "-nostdin", "-i", path, "-frames:v", String(maxFrames + 1),
            "-f", "yuv4mpegpipe", "-pix_fmt", "yuv444p", "-strict", "-1", "pipe:1",
        ]
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Drain stderr on its own thread so a chatty ffmpeg never blocks on a full pipe.
        let errorText = ErrorCollector()
        let drain = Thread { errorText.collect(errors.fileHandleForReading) }
        drain.start()
        var bytes: [UInt8] = []
        var overflow = false
        let reader = output.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            guard bytes.count + chunk.count <= maxFileBytes else {
                overflow = true
                process.terminate()
                break
            }
            bytes += chunk
        }
        process.waitUntilExit()
        errorText.wait()
        if overflow {
            throw MediaError("\(path): ffmpeg's decoding passes \(maxFileBytes) bytes; trim or shrink the video first")
        }
        guard process.terminationStatus == 0 else {
            throw MediaError("ffmpeg could not read \(path) (exit \(process.terminationStatus)): \(errorText.text)")
        }
        return bytes
    }
}

/// Collects a pipe's text (up to 4 KiB kept) on a thread, for error messages.
private final class ErrorCollector: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let stored = Mutex("")

    func collect(_ handle: FileHandle) {
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            stored.withLock { if $0.utf8.count < 4096 { $0 += String(decoding: chunk, as: UTF8.self) } }
        }
        done.signal()
    }

    func wait() { done.wait() }

    var text: String { stored.withLock { $0 }.trimmingCharacters(in: .whitespacesAndNewlines) }
}
