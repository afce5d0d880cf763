// diffusers WanRotaryPosEmbed (3D rotary position embedding over frames, height, width) and its application in
// WanAttnProcessor (rotation of interleaved pairs).
import Foundation

/// The cosines and sines of every token's rotary angles: `[tokens, headDim / 2]` each, one angle per pair.
public struct WanRotaryTables: Sendable, Equatable {
    /// cos of each token's angle for each channel pair.
    public var cosines: Tensor
    /// sin of each token's angle for each channel pair.
    public var sines: Tensor

    /// Number of tokens the tables cover.
    public var tokens: Int { cosines.shape[0] }
}

/// Builds rotary tables for a grid of patches and rotates queries and keys with them.
///
/// As in diffusers, a head's channels are split into frame, height and width parts (`h = w = 2 * (headDim / 6)`,
/// the rest for frames); each part's angles are `position / theta^(2k / part)`, computed in float64 and then
/// rounded to float32. Channel pair `(2j, 2j + 1)` of every head is rotated by the pair's angle.
public struct WanRotaryPosEmbed: Sendable {
    /// Channels per attention head.
    public let headDim: Int
    /// Largest position (exclusive) along each axis.
    public let maxSeqLen: Int
    /// The frequency base.
    public let theta: Double
    /// Channels given to the frame, height and width positions.
    public let axisDims: (frames: Int, height: Int, width: Int)

    /// Creates the embedding for `headDim` channels per head (even) and positions below `maxSeqLen`.
    public init(headDim: Int, maxSeqLen: Int, theta: Double = 10000) {
        precondition(headDim > 0 && headDim % 2 == 0, "rotary head dimension must be even, got \(headDim)")
        self.headDim = headDim
        self.maxSeqLen = maxSeqLen
        self.theta = theta
        let side = 2 * (headDim / 6)
        axisDims = (headDim - 2 * side, side, side)
    }

    /// The angles' cos and sin for a grid of `frames x height x width` patches, tokens in (frame, row, column)
    /// order; throws when an extent exceeds `maxSeqLen`.
    public func tables(frames: Int, height: Int, width: Int) throws(TransformerError) -> WanRotaryTables {
        for (name, extent) in [("frames", frames), ("height", height), ("width", width)] {
            guard extent > 0, extent <= maxSeqLen else {
                throw .invalidInput(
                    "\(name) after patching must be in 1...\(maxSeqLen) (rope_max_seq_len), got \(extent)")
            }
        }
        let frameAngles = axisTable(dim: axisDims.frames, positions: frames)
        let rowAngles = axisTable(dim: axisDims.height, positions: height)
        let columnAngles = axisTable(dim: axisDims.width, positions: width)
        let pairs = headDim / 2
        let framePairs = axisDims.frames / 2
        let sidePairs = axisDims.height / 2
        let tokens = frames * height * width
        var cosines = [Float](repeating: 0, count: tokens * pairs)
        var sines = [Float](repeating: 0, count: tokens * pairs)
        var token = 0
        for f in 0..<frames {
            for h in 0..<height {
                for w in 0..<width {
                    let base = token * pairs
                    for j in 0..<framePairs {
                        cosines[base + j] = frameAngles.cos[f * framePairs + j]
                        sines[base + j] = frameAngles.sin[f * framePairs + j]
                    }
                    for j in 0..<sidePairs {
                        cosines[base + framePairs + j] = rowAngles.cos[h * sidePairs + j]
                        sines[base + framePairs + j] = rowAngles.sin[h * sidePairs + j]
                        cosines[base + framePairs + sidePairs + j] = columnAngles.cos[w * sidePairs + j]
                        sines[base + framePairs + sidePairs + j] = columnAngles.sin[w * sidePairs + j]
                    }
                    token += 1
                }
            }
        }
        return WanRotaryTables(
            cosines: Tensor(shape: [tokens, pairs], scalars: cosines),
            sines: Tensor(shape: [tokens, pairs], scalars: sines))
    }

    /// diffusers get_1d_rotary_pos_embed(dim, positions, theta, use_real, freqs_dtype=float64), one value per pair.
    private func axisTable(dim: Int, positions: Int) -> (cos: [Float], sin: [Float]) {
        let pairs = dim / 2
        var frequencies = [Double](repeating: 0, count: pairs)
        for k in 0..<pairs {
            frequencies[k] = 1.0 / Foundation.pow(theta, Double(2 * k) / Double(dim))
        }
        var cosines = [Float](repeating: 0, count: positions * pairs)
        var sines = [Float](repeating: 0, count: positions * pairs)
        for position in 0..<positions {
            for k in 0..<pairs {
                let angle = Double(position) * frequencies[k]
                cosines[position * pairs + k] = Float(Foundation.cos(angle))
                sines[position * pairs + k] = Float(Foundation.sin(angle))
            }
        }
        return (cosines, sines)
    }

    /// Rotates every head of `x` (`[batch, tokens, heads * headDim]`) by the tables:
    /// `out[2j] = x[2j] cos - x[2j+1] sin`, `out[2j+1] = x[2j] sin + x[2j+1] cos`.
    public static func apply(_ x: Tensor, tables: WanRotaryTables) -> Tensor {
        let pairs = tables.cosines.shape[1]
        let width = x.shape[x.rank - 1]
        let tokens = x.rank >= 2 ? x.shape[x.rank - 2] : 1
        precondition(
            tokens == tables.tokens && width % (2 * pairs) == 0,
            "rotary tables [\(tables.tokens), \(pairs)] do not fit activations \(x.shape)")
        let rows = x.count / width
        let heads = width / (2 * pairs)
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { input in
                tables.cosines.withUnsafeBufferPointer { cosines in
                    tables.sines.withUnsafeBufferPointer { sines in
                        Compute.parallelFor(rows) { row in
                            let token = row % tokens
                            let c = cosines.baseAddress! + token * pairs
                            let s = sines.baseAddress! + token * pairs
                            for head in 0..<heads {
                                let offset = row * width + head * 2 * pairs
                                let source = input.baseAddress! + offset
                                let destination = out.baseAddress! + offset
                                for j in 0..<pairs {
                                    let x1 = source[2 * j]
                                    let x2 = source[2 * j + 1]
                                    let a = x1 * c[j]
                                    let b = x2 * s[j]
                                    let d = x1 * s[j]
                                    let e = x2 * c[j]
                                    destination[2 * j] = a - b
                                    destination[2 * j + 1] = d + e
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
