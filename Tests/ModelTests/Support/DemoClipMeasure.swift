// Image measurements of a demo-model clip (background colour, dominant object colour, object motion): the
// same rules as the evaluation in scripts/train_demo_model.py, so the two agree on pass/fail.
import Foundation
import Model

/// Measures what a clip made by `models/demo` shows.
enum DemoClipMeasure {
    /// The object colours of the demo world (RGB 0...255), as in the trainer's COLOURS.
    static let colours: [String: (Float, Float, Float)] = [
        "red": (230, 40, 40), "green": (40, 200, 60), "blue": (50, 90, 255), "yellow": (250, 220, 40),
    ]
    /// The background colours, as in the trainer's BACKGROUNDS.
    static let backgrounds: [String: (Float, Float, Float)] = [
        "black": (0, 0, 0), "white": (255, 255, 255), "gray": (128, 128, 128),
    ]
    /// The motions and their caption wording, as in the trainer's MOTIONS.
    static let motions: [String: String] = [
        "right": "moving to the right", "left": "moving to the left", "up": "moving up", "down": "moving down",
    ]

    /// The trained model folder (`<repo>/models/demo`), found from this file's location.
    static let modelPath: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Support
        .deletingLastPathComponent()  // ModelTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // repository
        .appendingPathComponent("models/demo").path

    /// Whether the trained model folder is there.
    static var modelIsPresent: Bool { FileManager.default.fileExists(atPath: modelPath + "/model_index.json") }

    /// The caption the model was trained on for these attributes.
    static func caption(colour: String, motion: String, background: String) -> String {
        "a \(colour) circle \(motions[motion] ?? motion) on a \(background) background"
    }

    /// What one clip shows.
    struct Result: CustomStringConvertible {
        /// The nearest background colour to the median border pixel.
        var background: String
        /// The most common object colour among non-background pixels (nil when there are none).
        var colour: String?
        /// The share of non-background pixels that have that colour.
        var share: Float
        /// Centroid movement, mean of the last 3 frames minus mean of the first 3 (pixels; +x right, +y down).
        var dx: Float, dy: Float

        var description: String {
            "background \(background), colour \(colour ?? "none") (share \(share)), dx \(dx), dy \(dy)"
        }
    }

    static func nearest(_ table: [String: (Float, Float, Float)], _ rgb: (Float, Float, Float)) -> String {
        table.min { a, b in
            let (da, db) = (distance(a.value, rgb), distance(b.value, rgb))
            return da == db ? a.key < b.key : da < db
        }!.key
    }

    static func distance(_ a: (Float, Float, Float), _ b: (Float, Float, Float)) -> Float {
        ((a.0 - b.0) * (a.0 - b.0) + (a.1 - b.1) * (a.1 - b.1) + (a.2 - b.2) * (a.2 - b.2)).squareRoot()
    }

    static func median(_ values: [Float]) -> Float {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Measures a video [F, H, W, 3] with values in [0, 1].
    static func measure(_ video: Tensor) -> Result {
        let (frames, height, width) = (video.shape[0], video.shape[1], video.shape[2])
        let scalars = video.scalars
        func pixel(_ f: Int, _ y: Int, _ x: Int) -> (Float, Float, Float) {
            let base = ((f * height + y) * width + x) * 3
            return (scalars[base] * 255, scalars[base + 1] * 255, scalars[base + 2] * 255)
        }
        var border: [(Float, Float, Float)] = []
        for f in 0..<frames {
            for y in 0..<height {
                for x in 0..<width where y < 2 || y >= height - 2 || x < 2 || x >= width - 2 {
                    border.append(pixel(f, y, x))
                }
            }
        }
        let background = (median(border.map(\.0)), median(border.map(\.1)), median(border.map(\.2)))
        var labels: [String: Int] = [:]
        var centroidsX: [Float] = [], centroidsY: [Float] = []
        for f in 0..<frames {
            var sumX: Float = 0, sumY: Float = 0, area: Float = 0
            for y in 0..<height {
                for x in 0..<width {
                    let value = pixel(f, y, x)
                    guard distance(value, background) > 80 else { continue }
                    sumX += Float(x)
                    sumY += Float(y)
                    area += 1
                    labels[nearest(colours, value), default: 0] += 1
                }
            }
            centroidsX.append(sumX / max(area, 1))
            centroidsY.append(sumY / max(area, 1))
        }
        let total = labels.values.reduce(0, +)
        let top = labels.max { $0.value == $1.value ? $0.key > $1.key : $0.value < $1.value }
        func mean(_ values: ArraySlice<Float>) -> Float { values.reduce(0, +) / Float(max(values.count, 1)) }
        return Result(
            background: nearest(backgrounds, background), colour: total < 10 ? nil : top?.key,
            share: total < 10 ? 0 : Float(top!.value) / Float(total),
            dx: mean(centroidsX.suffix(3)) - mean(centroidsX.prefix(3)),
            dy: mean(centroidsY.suffix(3)) - mean(centroidsY.prefix(3)))
    }

    /// Whether a measured clip shows what its prompt asked for: the prompted background, the prompted colour
    /// on more than half of the non-background pixels, and the centroid moving more than 4 pixels mostly in the
    /// prompted direction.
    static func passes(_ result: Result, colour: String, motion: String, background: String) -> Bool {
        let motionOK: Bool
        switch motion {
        case "right": motionOK = result.dx > 4 && abs(result.dx) > abs(result.dy)
        case "left": motionOK = result.dx < -4 && abs(result.dx) > abs(result.dy)
        case "down": motionOK = result.dy > 4 && abs(result.dy) > abs(result.dx)
        case "up": motionOK = result.dy < -4 && abs(result.dy) > abs(result.dx)
        default: motionOK = false
        }
        return result.background == background && result.colour == colour && result.share > 0.5 && motionOK
    }

    /// Mean absolute difference (0...255 scale) between consecutive frames: element i compares frames i and i+1.
    static func frameDifferences(_ video: Tensor) -> [Float] {
        let frames = video.shape[0]
        let plane = video.shape[1] * video.shape[2] * video.shape[3]
        let scalars = video.scalars
        return (0..<max(frames - 1, 0)).map { f in
            var sum: Float = 0
            for index in 0..<plane {
                sum += abs(scalars[(f + 1) * plane + index] - scalars[f * plane + index])
            }
            return sum * 255 / Float(plane)
        }
    }
}

/// Keeps a decoded video in memory as [F, H, W, 3] in [0, 1] (what `SafeTensorsVideoSink` writes as `video`).
final class DemoVideoCollector: VideoSink {
    private var values: [Float] = []
    private var frameCount = 0
    private var size = (height: 0, width: 0)
    /// The final latent, once finished.
    private(set) var latents: Tensor?

    func consume(_ chunk: Tensor) throws {
        size = (chunk.shape[3], chunk.shape[4])
        DecodedVideo.appendUnitSamples(of: chunk, to: &values)
        frameCount += chunk.shape[2]
    }

    func finish(latents: Tensor) throws {
        self.latents = latents
    }

    /// The video collected so far.
    var video: Tensor { Tensor(shape: [frameCount, size.height, size.width, 3], scalars: values) }

    /// The video's frames as 8-bit RGB (for contact sheets).
    var rgbFrames: [RGBFrame] {
        let frameSize = size.height * size.width * 3
        return (0..<frameCount).map { f in
            RGBFrame(width: size.width, height: size.height,
                     pixels: values[(f * frameSize)..<((f + 1) * frameSize)].map { UInt8(($0 * 255).rounded()) })
        }
    }
}
