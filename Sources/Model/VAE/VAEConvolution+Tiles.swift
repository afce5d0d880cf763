// nn.Conv3d / nn.Conv2d of the Wan VAE (diffusers WanCausalConv3d, WanResample's Conv2d): the output tiles that
// VAEConvolution's per-tap products run on, in parallel.

/// How one convolution call's output is cut into work items: `frames` x `tiles` tiles of `width` columns of the
/// products' column space (the last tile of a frame may be narrower).
///
/// The cut depends only on the shapes, never on the thread count, and every item runs its whole chain of per-tap
/// products (bias first, then the taps in order) on its own columns, so each output element is computed by the
/// same sgemm calls in the same order whatever the number of threads.
struct VAEConvolutionTiling: Equatable {
    /// Output frames (products per tap per column tile).
    let frames: Int
    /// Columns of one frame's product (for shifted views, the span of padded rows the output covers).
    let columns: Int
    /// Tiles per frame.
    let tiles: Int
    /// Columns per tile.
    let width: Int

    /// The fewest items a call is cut into when its columns allow, so that 2, 4 and 8 threads all have work.
    static let minimumItems = 8
    /// The narrowest tile made to reach `minimumItems`.
    static let minimumWidth = 64

    /// The tiling of `frames` frames of `columns` columns with `outputChannels` rows: tiles of
    /// `VAEConvolution.tileColumns` (about 512 KB of output) unless that leaves fewer than `minimumItems` items;
    /// then equal tiles (rounded up to 16 columns, at least `minimumWidth`) to make up the count.
    init(frames: Int, columns: Int, outputChannels: Int) {
        self.frames = frames
        self.columns = columns
        let widest = VAEConvolution.tileColumns(outputChannels: outputChannels)
        var width = widest
        var tiles = (columns + width - 1) / width
        if frames * tiles < Self.minimumItems {
            let wanted = (Self.minimumItems + frames - 1) / frames
            let even = (columns + wanted - 1) / wanted
            width = min(widest, max(Self.minimumWidth, (even + 15) / 16 * 16))
            tiles = (columns + width - 1) / width
        }
        self.tiles = tiles
        self.width = width
    }

    /// Work items: `frames` x `tiles`.
    var itemCount: Int { frames * tiles }

    /// The frame, first column and column count of item `index` (frame-major).
    func item(_ index: Int) -> (frame: Int, column: Int, count: Int) {
        let (frame, tile) = (index / tiles, index % tiles)
        return (frame, tile * width, min(width, columns - tile * width))
    }
}

/// The base addresses one convolution call reads and writes.
struct VAEConvolutionPointers {
    let input: UnsafePointer<Float>
    let weights: UnsafePointer<Float>
    let bias: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
}

extension VAEConvolution {
    /// Fills rows `0..<outChannels` of the [C_out, count] block at `target` (row stride `ldc`) with the bias.
    private func fillBias(_ p: VAEConvolutionPointers, _ target: UnsafeMutablePointer<Float>, ldc: Int, count: Int) {
        for o in 0..<outChannels { (target + o * ldc).update(repeating: p.bias[o], count: count) }
    }

    /// A 1x1x1 convolution: one product [C_out, C_in] x [C_in, columns] per column tile.
    func pointwise(_ g: Geometry, _ p: VAEConvolutionPointers) {
        let tiling = VAEConvolutionTiling(frames: 1, columns: g.channelIn, outputChannels: outChannels)
        Compute.parallelFor(tiling.itemCount) { index in
            let (_, column, count) = tiling.item(index)
            let target = p.output + column
            fillBias(p, target, ldc: g.channelOut, count: count)
            Ops.sgemm(
                transposeA: false, transposeB: false, m: outChannels, n: count, k: inChannels, a: p.weights,
                lda: inChannels, b: p.input + column, ldb: g.channelIn, beta: 1, c: target, ldc: g.channelOut)
        }
    }

    /// Spatial stride 1: per output frame and tile of the padded rows' span, one product per tap on a shifted view of
    /// the padded input. With kw = 1 the tile is written in place; otherwise it is computed over the padded width in a
    /// scratch block of its own and the real columns are copied out.
    func shifted(_ g: Geometry, _ p: VAEConvolutionPointers) {
        let (kt, kh, kw, outs, ins) = (kernel[0], kernel[1], kernel[2], outChannels, inChannels)
        let direct = kw == 1
        let rowLength = (g.outH - 1) * g.inW + g.outW
        let tiling = VAEConvolutionTiling(frames: g.outT, columns: rowLength, outputChannels: outs)
        Compute.parallelFor(tiling.itemCount) { index in
            let (frame, column, count) = tiling.item(index)
            let scratch = direct ? nil : UnsafeMutablePointer<Float>.allocate(capacity: outs * count)
            defer { scratch?.deallocate() }
            let target = scratch ?? p.output + frame * g.planeOut + column
            let ldc = direct ? g.channelOut : count
            fillBias(p, target, ldc: ldc, count: count)
            for dt in 0..<kt {
                for dh in 0..<kh {
                    for dw in 0..<kw {
                        let source = p.input + (frame * stride[0] + dt) * g.planeIn + dh * g.inW + dw + column
                        Ops.sgemm(
                            transposeA: false, transposeB: false, m: outs, n: count, k: ins,
                            a: tapWeight(p.weights, dt, dh, dw), lda: ins, b: source, ldb: g.channelIn, beta: 1,
                            c: target, ldc: ldc)
                    }
                }
            }
            if let scratch { copyValidColumns(scratch, column: column, count: count, frame: frame, g, p.output) }
        }
    }

    /// Copies the columns of a shifted tile that are real output pixels (padded column < W_out) into the output.
    private func copyValidColumns(
        _ scratch: UnsafeMutablePointer<Float>, column: Int, count: Int, frame: Int, _ g: Geometry,
        _ output: UnsafeMutablePointer<Float>
    ) {
        var position = column
        while position < column + count {
            let (row, x) = (position / g.inW, position % g.inW)
            let end = min(column + count, row * g.inW + g.inW)
            if x < g.outW {
                let length = min(end, row * g.inW + g.outW) - position
                let to = output + frame * g.planeOut + row * g.outW + x
                for o in 0..<outChannels {
                    (to + o * g.channelOut).update(from: scratch + o * count + (position - column), count: length)
                }
            }
            position = end
        }
    }

    /// Spatially strided: per output frame and tile of output pixels, each tap's input gathered into a
    /// [C_in, columns] block of the item's own, then one product per tap.
    func strided(_ g: Geometry, _ p: VAEConvolutionPointers) {
        let (kt, kh, kw, sh, sw) = (kernel[0], kernel[1], kernel[2], stride[1], stride[2])
        let (outs, ins) = (outChannels, inChannels)
        let tiling = VAEConvolutionTiling(frames: g.outT, columns: g.planeOut, outputChannels: outs)
        Compute.parallelFor(tiling.itemCount) { index in
            let (frame, column, count) = tiling.item(index)
            let gathered = UnsafeMutablePointer<Float>.allocate(capacity: ins * count)
            defer { gathered.deallocate() }
            let target = p.output + frame * g.planeOut + column
            fillBias(p, target, ldc: g.channelOut, count: count)
            for dt in 0..<kt {
                for dh in 0..<kh {
                    for dw in 0..<kw {
                        let frameBase = p.input + (frame * stride[0] + dt) * g.planeIn
                        for channel in 0..<ins {
                            let from = frameBase + channel * g.channelIn + dh * g.inW + dw
                            let to = gathered + channel * count
                            var (row, x) = (column / g.outW, column % g.outW)
                            for offset in 0..<count {
                                to[offset] = from[row * sh * g.inW + x * sw]
                                x += 1
                                if x == g.outW { (row, x) = (row + 1, 0) }
                            }
                        }
                        Ops.sgemm(
                            transposeA: false, transposeB: false, m: outs, n: count, k: ins,
                            a: tapWeight(p.weights, dt, dh, dw), lda: ins, b: gathered, ldb: count, beta: 1,
                            c: target, ldc: g.channelOut)
                    }
                }
            }
        }
    }
}
