// Elementwise and layout kernels of the Wan VAE on channel-first [C, T, H, W] features (F.pad, F.normalize, silu,
// nearest-exact 2x upsampling, torch.cat / slicing over time).
import Foundation

/// Kernels over one video's channel-first features, shape [C, T, H, W] (the batch is handled outside).
enum VAEKernels {
    /// Frames `range` of `x` [C, T, H, W] (torch `x[:, range]`).
    static func frames(_ x: Tensor, _ range: Range<Int>) -> Tensor {
        OpProfile.measure("cache copies (frames, concatenation)") { framesUnmeasured(x, range) }
    }

    private static func framesUnmeasured(_ x: Tensor, _ range: Range<Int>) -> Tensor {
        precondition(
            x.rank == 4 && range.lowerBound >= 0 && range.upperBound <= x.shape[1], "frames \(range) of \(x.shape)")
        if range == 0..<x.shape[1] { return x }
        let (channels, time, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let span = range.count * plane
        return Tensor(shape: [channels, range.count, x.shape[2], x.shape[3]]) { out in
            x.withUnsafeBufferPointer { source in
                let (from, to) = (source.baseAddress!, out.baseAddress!)
                Compute.parallelFor(channels) { channel in
                    (to + channel * span).update(from: from + (channel * time + range.lowerBound) * plane, count: span)
                }
            }
        }
    }

    /// `a` and `b` [C, T, H, W] joined along time (torch.cat(dim=2) of the batched form).
    static func concatenateFrames(_ a: Tensor, _ b: Tensor) -> Tensor {
        OpProfile.measure("cache copies (frames, concatenation)") { concatenateFramesUnmeasured(a, b) }
    }

    private static func concatenateFramesUnmeasured(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.rank == 4 && b.rank == 4 && a.shape[0] == b.shape[0] && a.shape[2...] == b.shape[2...],
            "concatenateFrames \(a.shape) \(b.shape)")
        let plane = a.shape[2] * a.shape[3]
        let (spanA, spanB) = (a.shape[1] * plane, b.shape[1] * plane)
        return Tensor(shape: [a.shape[0], a.shape[1] + b.shape[1], a.shape[2], a.shape[3]]) { out in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    let (first, second, to) = (pa.baseAddress!, pb.baseAddress!, out.baseAddress!)
                    Compute.parallelFor(a.shape[0]) { channel in
                        let target = to + channel * (spanA + spanB)
                        target.update(from: first + channel * spanA, count: spanA)
                        (target + spanA).update(from: second + channel * spanB, count: spanB)
                    }
                }
            }
        }
    }

    /// The frames of `sources` (each [C, T_i, H, W]) after `zeroFrames` zero frames, each frame upsampled
    /// `upsample` times (nearest; 1 or 2) and then zero-padded by `top`/`bottom`/`left`/`right` pixels
    /// (F.pad of a causal conv, nn.ZeroPad2d, nn.Upsample(mode="nearest-exact") at scale 2 followed by a conv's
    /// padding).
    static func padded(
        _ sources: [Tensor], zeroFrames: Int = 0, upsample: Int = 1, top: Int = 0, bottom: Int = 0, left: Int = 0,
        right: Int = 0
    ) -> Tensor {
        OpProfile.measure(upsample == 2 ? "nearest 2x upsample + zero pad" : "zero pad (+ cached frames)") {
            paddedUnmeasured(
                sources, zeroFrames: zeroFrames, upsample: upsample, top: top, bottom: bottom, left: left, right: right)
        }
    }

    private static func paddedUnmeasured(
        _ sources: [Tensor], zeroFrames: Int, upsample: Int, top: Int, bottom: Int, left: Int, right: Int
    ) -> Tensor {
        precondition(!sources.isEmpty && (upsample == 1 || upsample == 2))
        let channels = sources[0].shape[0], height = sources[0].shape[2], width = sources[0].shape[3]
        precondition(
            sources.allSatisfy {
                $0.rank == 4 && $0.shape[0] == channels && $0.shape[2] == height && $0.shape[3] == width
            },
            "padded: mismatched sources \(sources.map(\.shape))")
        let frameCount = zeroFrames + sources.reduce(0) { $0 + $1.shape[1] }
        let paddedHeight = height * upsample + top + bottom
        let paddedWidth = width * upsample + left + right
        let paddedPlane = paddedHeight * paddedWidth
        let sourceFrames = sources.map { $0.shape[1] }
        return Tensor(shape: [channels, frameCount, paddedHeight, paddedWidth]) { out in
            let base = out.baseAddress!
            // One item per output frame plane: zero frames are filled, the others get their zero border and their
            // (upsampled) source frame.
            Compute.parallelFor(channels * frameCount) { item in
                let (channel, frame) = (item / frameCount, item % frameCount)
                let plane = base + item * paddedPlane
                var local = frame - zeroFrames
                var sourceIndex = 0
                while sourceIndex < sources.count && local >= sourceFrames[sourceIndex] {
                    local -= sourceFrames[sourceIndex]
                    sourceIndex += 1
                }
                guard local >= 0, sourceIndex < sources.count else {
                    plane.update(repeating: 0, count: paddedPlane)
                    return
                }
                let innerWidth = width * upsample
                plane.update(repeating: 0, count: top * paddedWidth)
                (plane + (top + height * upsample) * paddedWidth).update(repeating: 0, count: bottom * paddedWidth)
                for row in top..<(top + height * upsample) {
                    (plane + row * paddedWidth).update(repeating: 0, count: left)
                    (plane + row * paddedWidth + left + innerWidth).update(repeating: 0, count: right)
                }
                sources[sourceIndex].withUnsafeBufferPointer { input in
                    let from = input.baseAddress! + (channel * sourceFrames[sourceIndex] + local) * height * width
                    let to = plane + top * paddedWidth + left
                    if upsample == 1 {
                        for row in 0..<height {
                            (to + row * paddedWidth).update(from: from + row * width, count: width)
                        }
                    } else {
                        for row in 0..<height {
                            let target = to + 2 * row * paddedWidth
                            let line = from + row * width
                            for column in 0..<width {
                                target[2 * column] = line[column]
                                target[2 * column + 1] = line[column]
                            }
                            (target + paddedWidth).update(from: target, count: 2 * width)
                        }
                    }
                }
            }
        }
    }

    /// WanRMS_norm over the channel axis (F.normalize(x, dim=1) * sqrt(C) * gamma), optionally followed by SiLU.
    ///
    /// `x` is [C, ...]; every position is normalised over its C channels: x / max(||x||, 1e-12).
    static func rmsNorm(_ x: Tensor, gamma: [Float], silu: Bool) -> Tensor {
        OpProfile.measure(silu ? "rms norm + SiLU" : "rms norm") { rmsNormUnmeasured(x, gamma: gamma, silu: silu) }
    }

    private static func rmsNormUnmeasured(_ x: Tensor, gamma: [Float], silu: Bool) -> Tensor {
        let channels = x.shape[0]
        precondition(gamma.count == channels, "rmsNorm: gamma \(gamma.count) for \(x.shape)")
        let positions = x.count / max(channels, 1)
        let scale = Float(channels).squareRoot()
        let blockSize = 256
        let blocks = (positions + blockSize - 1) / blockSize
        return Tensor(shape: x.shape) { out in
            let output = out.baseAddress!
            x.withUnsafeBufferPointer { input in
                let source = input.baseAddress!
                gamma.withUnsafeBufferPointer { g in
                    Compute.parallelFor(blocks) { block in
                        let start = block * blockSize
                        let count = min(blockSize, positions - start)
                        var sums = [Float](repeating: 0, count: count)
                        sums.withUnsafeMutableBufferPointer { sum in
                            for channel in 0..<channels {
                                let row = source + channel * positions + start
                                for index in 0..<count { sum[index] += row[index] * row[index] }
                            }
                            for index in 0..<count { sum[index] = max(sum[index].squareRoot(), 1e-12) }
                            for channel in 0..<channels {
                                let row = source + channel * positions + start
                                let target = output + channel * positions + start
                                let factor = g[channel]
                                for index in 0..<count {
                                    let value = row[index] / sum[index] * scale * factor
                                    target[index] = silu ? value / (1 + Foundation.exp(-value)) : value
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `x` with every element clamped to [-1, 1] (torch.clamp(min=-1, max=1)).
    static func clampUnit(_ x: Tensor) -> Tensor {
        OpProfile.measure("clamp") {
            Tensor(shape: x.shape) { out in
                x.withUnsafeBufferPointer { input in
                    let (from, to, count) = (input.baseAddress!, out.baseAddress!, x.count)
                    let blockSize = 1 << 16
                    Compute.parallelFor((count + blockSize - 1) / blockSize) { block in
                        for index in (block * blockSize)..<min(count, (block + 1) * blockSize) {
                            to[index] = min(max(from[index], -1), 1)
                        }
                    }
                }
            }
        }
    }

    /// a + b (same shapes), measured as the residual connections (`Ops.add`).
    static func residualAdd(_ a: Tensor, _ b: Tensor) -> Tensor {
        OpProfile.measure("residual add") { Ops.add(a, b) }
    }
}
