// Where decoded video goes: streaming frame files (Y4M, MP4), PNG stills and contact sheets, and float
// safetensors for parity checks. Chosen by the output file's extension.
import Foundation

/// Receives the decoded video as it streams out of the VAE.
public protocol VideoSink: AnyObject {
    /// A chunk of decoded frames, [1, 3, F, H, W] with values in [-1, 1].
    func consume(_ chunk: Tensor) throws
    /// Called once after the last chunk, with the final latent as the denoising loop left it.
    func finish(latents: Tensor) throws
}

/// Converts decoded chunks [1, 3, F, H, W] in [-1, 1] to frames, the way the Wan pipeline post-processes video.
public enum DecodedVideo {
    /// The [0, 1] value of a decoded sample: `clamp(x / 2 + 0.5, 0, 1)` (diffusers `postprocess_video`).
    @inlinable
    public static func unit(_ value: Float) -> Float {
        min(max(value / 2 + 0.5, 0), 1)
    }

    /// Appends a chunk [1, 3, F, H, W] to `samples` as [0, 1] values in frame, row, column, channel order (the
    /// `[F, H, W, 3]` layout of a decoded video).
    public static func appendUnitSamples(of chunk: Tensor, to samples: inout [Float]) {
        let (count, plane) = (chunk.shape[2], chunk.shape[3] * chunk.shape[4])
        samples.reserveCapacity(samples.count + count * plane * 3)
        chunk.withUnsafeBufferPointer { values in
            for frame in 0..<count {
                for index in 0..<plane {
                    for channel in 0..<3 {
                        samples.append(unit(values[(channel * count + frame) * plane + index]))
                    }
                }
            }
        }
    }

    /// The frames of a chunk as 8-bit RGB.
    public static func frames(of chunk: Tensor) -> [RGBFrame] {
        let (count, height, width) = (chunk.shape[2], chunk.shape[3], chunk.shape[4])
        let plane = height * width
        return (0..<count).map { frame in
            var pixels = [UInt8](repeating: 0, count: plane * 3)
            chunk.withUnsafeBufferPointer { values in
                for channel in 0..<3 {
                    let base = (channel * count + frame) * plane
                    for index in 0..<plane {
                        pixels[index * 3 + channel] = UInt8((unit(values[base + index]) * 255).rounded())
                    }
                }
            }
            return RGBFrame(width: width, height: height, pixels: pixels)
        }
    }
}

/// Streams frames into a frame file (`.y4m`, or `.mp4` through ffmpeg).
public final class FrameFileVideoSink: VideoSink {
    private let frameSink: FrameSink

    /// Wraps a frame writer.
    public init(_ frameSink: FrameSink) {
        self.frameSink = frameSink
    }

    public func consume(_ chunk: Tensor) throws {
        for frame in DecodedVideo.frames(of: chunk) { try frameSink.write(frame) }
    }

    /// Writes frames as they are (a pass-through frame keeps the samples it was read from).
    public func write(frames: [RGBFrame]) throws {
        for frame in frames { try frameSink.write(frame) }
    }

    public func finish(latents: Tensor) throws {
        try frameSink.finish()
    }
}

/// Keeps evenly spaced frames and writes them as one PNG: the frame itself for a one-frame video, else a
/// contact sheet of up to `columns` frames.
public final class ContactSheetVideoSink: VideoSink {
    private let path: String
    private let wanted: Set<Int>
    private var kept: [RGBFrame] = []
    private var seen = 0

    /// Prepares a sheet of `columns` frames out of `totalFrames`.
    public init(path: String, totalFrames: Int, columns: Int = 8) {
        self.path = path
        wanted = Set(ContactSheet.evenlySpacedIndices(frameCount: totalFrames, count: columns))
    }

    public func consume(_ chunk: Tensor) throws {
        for frame in DecodedVideo.frames(of: chunk) {
            if wanted.contains(seen) { kept.append(frame) }
            seen += 1
        }
    }

    public func finish(latents: Tensor) throws {
        guard !kept.isEmpty else { throw MediaError("no frames were decoded for \(path)") }
        try PNGWriter.write(kept.count == 1 ? kept[0] : try ContactSheet.grid(rows: [kept]), to: path)
    }
}

/// Collects the float video [F, H, W, 3] in [0, 1] (before 8-bit rounding) as `video` and the final latent as
/// `latents`, in a safetensors file, for parity checks against the reference pipeline.
public final class SafeTensorsVideoSink: VideoSink {
    private let path: String
    private var frames: [Float] = []
    private var frameCount = 0
    private var size = (height: 0, width: 0)

    /// Prepares the file.
    public init(path: String) {
        self.path = path
    }

    public func consume(_ chunk: Tensor) throws {
        size = (chunk.shape[3], chunk.shape[4])
        DecodedVideo.appendUnitSamples(of: chunk, to: &frames)
        frameCount += chunk.shape[2]
    }

    public func finish(latents: Tensor) throws {
        let video = Tensor(shape: [frameCount, size.height, size.width, 3], scalars: frames)
        try SafeTensorsWriter.write([("video", video), ("latents", latents)], to: path)
    }
}

/// Output file kinds, by extension.
public enum VideoOutputKind: String, Codable, Sendable, CaseIterable {
    case y4m, mp4, png, safetensors

    /// The kind of `path`, or an error naming the extensions that are understood.
    public init(path: String) throws {
        let ext = (path as NSString).pathExtension.lowercased()
        guard let kind = VideoOutputKind(rawValue: ext) else {
            throw MediaError("cannot write '\(path)': the output must end in .y4m, .mp4, .png or .safetensors")
        }
        self = kind
    }

    /// Opens a sink writing `path` for a video of the given size.
    public func makeSink(path: String, width: Int, height: Int, frames: Int, fps: Int) throws -> VideoSink {
        switch self {
        case .y4m: return FrameFileVideoSink(try Y4MWriter(path: path, width: width, height: height, framesPerSecond: fps))
        case .mp4: return FrameFileVideoSink(try FFmpegVideoWriter(path: path, width: width, height: height, framesPerSecond: fps))
        case .png: return ContactSheetVideoSink(path: path, totalFrames: frames)
        case .safetensors: return SafeTensorsVideoSink(path: path)
        }
    }
}
