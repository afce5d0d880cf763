// nn.Conv3d / nn.Conv2d of the Wan VAE (diffusers WanCausalConv3d, WanResample's Conv2d): the output tiles that
// VAEConvolution's per-tap products run on, in parallel.

/// How one convolution call's output is cut into work items: `frames` x `tiles` column tiles of `width` columns
/// (the last tile of a frame may be narrower) x `rowBlocks` blocks of `rowBlock` output channels.
///
/// The cut depends only on the shapes, never on the thread count, and every item runs its whole chain of per-tap
/// products (bias first, then the taps in order) on its own block, so each output element is computed the same way
/// whatever the number of threads. The column tiles are the ones the serial code always used (`tileColumns`), so the
/// products' columns, and therefore their bits, are unchanged: OpenBLAS's Haswell sgemm rounds differently when a
/// product's columns are cut elsewhere (its M blocking), but not when its rows (our output channels) are cut into
/// blocks of a multiple of 24 (its N blocking), which is how the work is multiplied when the tiles are too few.
/// (Measured with OpenBLAS 0.3.21, Haswell kernels: row blocks of 24, 48, 96 and 192 gave the same bits as one call
/// on every VAE shape tried; blocks of 16, 32, 40, 64 and 128 did not.)
struct VAEConvolutionTiling: Equatable {
    /// Output frames (products per tap per column tile).
    let frames: Int
    /// Columns of one frame's product (for shifted views, the span of padded rows the output covers).
    let columns: Int
    /// Tiles per frame.
    let tiles: Int
    /// Columns per tile.
    let width: Int
    /// Output channels.
    let rows: Int
    /// Output channels per row block.
    let rowBlock: Int
    /// Row blocks.
    let rowBlocks: Int

    /// The fewest items a call is cut into when its rows allow, so that 2, 4 and 8 threads all have work.
    static let minimumItems = 8
    /// Row blocks are multiples of this many output channels (see the type's documentation).
    static let rowQuantum = 24

    /// The tiling of `frames` frames of `columns` columns (tiles of `tileWidth`, the whole row when `nil`) of a
    /// product with `rows` output channels: one row block unless the tiles are fewer than `minimumItems`; then equal
    /// row blocks of a multiple of `rowQuantum` channels (when `rows` is one) to make up the count.
    init(frames: Int, columns: Int, tileWidth: Int?, rows: Int) {
        self.frames = frames
        self.columns = columns
        self.rows = rows
        width = max(1, tileWidth ?? columns)
        tiles = (columns + width - 1) / width
        let quantum = Self.rowQuantum
        if frames * tiles < Self.minimumItems && rows % quantum == 0 && rows > quantum {
            let wanted = (Self.minimumItems + frames * tiles - 1) / (frames * tiles)
            let block = max(quantum, ((rows + wanted - 1) / wanted + quantum - 1) / quantum * quantum)
            rowBlock = block
            rowBlocks = (rows + block - 1) / block
        } else {
            rowBlock = rows
            rowBlocks = 1
        }
    }

    /// Work items: `frames` x `tiles` x `rowBlocks`.
    var itemCount: Int { frames * tiles * rowBlocks }

    /// The frame, first column, column count, first row and row count of item `index` (frame-major, then tiles).
    func item(_ index: Int) -> (frame: Int, column: Int, count: Int, row: Int, rowCount: Int) {
        let (tileIndex, block) = (index / rowBlocks, index % rowBlocks)
        let (frame, tile) = (tileIndex / tiles, tileIndex % tiles)
        let row = block * rowBlock
        return (frame, tile * width, min(width, columns - tile * width), row, min(rowBlock, rows - row))
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
    /// Fills rows `rows` of the block at `target` (row stride `ldc`, `count` columns) with their bias.
    private func fillBias(
        _ p: VAEConvolutionPointers, _ target: UnsafeMutablePointer<Float>, rows: Range<Int>, ldc: Int, count: Int
    ) {
        for o in rows { (target + (o - rows.lowerBound) * ldc).update(repeating: p.bias[o], count: count) }
    }

    /// A 1x1x1 convolution: one product [C_out, C_in] x [C_in, T * H * W] per row block.
    func pointwise(_ g: Geometry, _ p: VAEConvolutionPointers) {
        let tiling = VAEConvolutionTiling(frames: 1, columns: g.channelIn, tileWidth: nil, rows: outChannels)
        Compute.parallelFor(tiling.itemCount) { index in
            let (_, _, count, row, rowCount) = tiling.item(index)
            let target = p.output + row * g.channelOut
            fillBias(p, target, rows: row..<(row + rowCount), ldc: g.channelOut, count: count)
            Ops.sgemm(
                transposeA: false, transposeB: false, m: rowCount, n: count, k: inChannels,
                a: p.weights + row * inChannels, lda: inChannels, b: p.input, ldb: g.channelIn, beta: 1, c: target,
                ldc: g.channelOut)
        }
    }

    /// Spatial stride 1: per output frame, tile of the padded rows' span and row block, one product per tap on a
    /// shifted view of the padded input. With kw = 1 the block is written in place; otherwise it is computed over the
    /// padded width in a scratch block of its own and the real columns are copied out.
    func shifted(_ g: Geometry, _ p: VAEConvolutionPointers) {
        let (kt, kh, kw, outs, ins) = (kernel[0], kernel[1], kernel[2], outChannels, inChannels)
        let direct = kw == 1
        let rowLength = (g.outH - 1) * g.inW + g.outW
        let tiling = VAEConvolutionTiling(
            frames: g.outT, columns: rowLength, tileWidth: VAEConvolution.tileColumns(outputChannels: outs), rows: outs)
        Compute.parallelFor(tiling.itemCount) { index in
            let (frame, column, count, row, rowCount) = tiling.item(index)
            let scratch = direct ? nil : UnsafeMutablePointer<Float>.allocate(capacity: rowCount * count)
            defer { scratch?.deallocate() }
            let target = scratch ?? p.output + row * g.channelOut + frame * g.planeOut + column
            let ldc = direct ? g.channelOut : count
            fillBias(p, target, rows: row..<(row + rowCount), ldc: ldc, count: count)
            for dt in 0..<kt {
                for dh in 0..<kh {
                    for dw in 0..<kw {
                        let source = p.input + (frame * stride[0] + dt) * g.planeIn + dh * g.inW + dw + column
                        Ops.sgemm(
                            transposeA: false, transposeB: false, m: rowCount, n: count, k: ins,
                            a: tapWeight(p.weights, dt, dh, dw) + row * ins, lda: ins, b: source, ldb: g.channelIn,
                            beta: 1, c: target, ldc: ldc)
                    }
                }
            }
            if let scratch {
                copyValidColumns(
                    scratch, column: column, count: count, frame: frame, rows: row..<(row + rowCount), g, p.output)
            }
        }
    }

    /// Copies the columns of a shifted block that are real output pixels (padded column < W_out) into the output.
    private func copyValidColumns(
        _ scratch: UnsafeMutablePointer<Float>, column: Int, count: Int, frame: Int, rows: Range<Int>, _ g: Geometry,
        _ output: UnsafeMutablePointer<Float>
    ) {
        var position = column
        while position < column + count {
            let (row, x) = (position / g.inW, position % g.inW)
            let end = min(column + count, row * g.inW + g.inW)
            if x < g.outW {
                let length = min(end, row * g.inW + g.outW) - position
                let to = output + frame * g.planeOut + row * g.outW + x
                for o in rows {
                    (to + o * g.channelOut).update(
                        from: scratch + (o - rows.lowerBound) * count + (position - column), count: length)
                }
            }
            position = end
        }
    }

    /// Spatially strided: per output frame and tap, the tap's input gathered into a [C_in, H' * W'] buffer (in
    /// parallel over channels), then one product per row block (in parallel).
    func strided(_ g: Geometry, _ p: VAEConvolutionPointers) {
        let (kt, kh, kw, sh, sw) = (kernel[0], kernel[1], kernel[2], stride[1], stride[2])
        let (outs, ins) = (outChannels, inChannels)
        let tiling = VAEConvolutionTiling(frames: 1, columns: g.planeOut, tileWidth: nil, rows: outs)
        let gathered = UnsafeMutablePointer<Float>.allocate(capacity: ins * g.planeOut)
        defer { gathered.deallocate() }
        for frame in 0..<g.outT {
            let target = p.output + frame * g.planeOut
            Compute.parallelFor(tiling.itemCount) { index in
                let (_, _, count, row, rowCount) = tiling.item(index)
                fillBias(p, target + row * g.channelOut, rows: row..<(row + rowCount), ldc: g.channelOut, count: count)
            }
            for dt in 0..<kt {
                for dh in 0..<kh {
                    for dw in 0..<kw {
                        let frameBase = p.input + (frame * stride[0] + dt) * g.planeIn
                        Compute.parallelFor(ins) { channel in
                            let from = frameBase + channel * g.channelIn + dh * g.inW + dw
                            let to = gathered + channel * g.planeOut
                            for y in 0..<g.outH {
                                let line = from + y * sh * g.inW
                                for x in 0..<g.outW { to[y * g.outW + x] = line[x * sw] }
                            }
                        }
                        Compute.parallelFor(tiling.itemCount) { index in
                            let (_, _, count, row, rowCount) = tiling.item(index)
                            Ops.sgemm(
                                transposeA: false, transposeB: false, m: rowCount, n: count, k: ins,
                                a: tapWeight(p.weights, dt, dh, dw) + row * ins, lda: ins, b: gathered, ldb: count,
                                beta: 1, c: target + row * g.channelOut, ldc: g.channelOut)
                        }
                    }
                }
            }
        }
    }
}
