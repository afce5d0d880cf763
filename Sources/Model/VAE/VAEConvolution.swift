// nn.Conv3d / nn.Conv2d (no padding of their own) over channel-first [C, T, H, W] features, as GEMMs per kernel tap.

/// A convolution with kernel (kt, kh, kw) and stride (st, sh, sw) over already padded [C_in, T, H, W] features.
///
/// The weights are kept tap-major ([taps, C_out, C_in]) so that each kernel tap is one `cblas_sgemm`:
/// out[:, t, :, :] += W_tap x input shifted by the tap. With spatial stride 1 the shifted input is a strided view of
/// the padded features (computed on the padded width, the extra columns dropped afterwards), so no im2col buffer
/// is made; with spatial stride 2 each tap's input is gathered into a [C_in, H_out * W_out] buffer.
struct VAEConvolution: Sendable {
    /// Input channels.
    let inChannels: Int
    /// Output channels.
    let outChannels: Int
    /// Kernel extent in time, height and width.
    let kernel: [Int]
    /// Stride in time, height and width.
    let stride: [Int]
    /// Weights, [kt * kh * kw, C_out, C_in].
    let tapWeights: [Float]
    /// Bias, [C_out].
    let bias: [Float]

    /// Makes the convolution from a PyTorch weight [C_out, C_in, kt, kh, kw] (or [C_out, C_in, kh, kw] for a
    /// Conv2d, taken as kt = 1) and bias [C_out].
    init(weight: Tensor, bias: Tensor, stride: [Int] = [1, 1, 1]) {
        let shape =
            weight.rank == 4 ? [weight.shape[0], weight.shape[1], 1, weight.shape[2], weight.shape[3]] : weight.shape
        precondition(
            shape.count == 5 && bias.shape == [shape[0]] && stride.count == 3,
            "conv weight \(weight.shape) bias \(bias.shape)")
        outChannels = shape[0]
        inChannels = shape[1]
        kernel = Array(shape[2...])
        self.stride = stride
        let taps = kernel.reduce(1, *)
        let (outs, ins) = (outChannels, inChannels)
        tapWeights = [Float](unsafeUninitializedCapacity: taps * outs * ins) { buffer, count in
            weight.withUnsafeBufferPointer { source in
                for o in 0..<outs {
                    for i in 0..<ins {
                        for tap in 0..<taps { buffer[(tap * outs + o) * ins + i] = source[(o * ins + i) * taps + tap] }
                    }
                }
            }
            count = taps * outs * ins
        }
        self.bias = bias.scalars
    }

    /// Output columns per tile: about 512 KB of output rows (so they stay in cache across the taps), at least 1024.
    static func tileColumns(outputChannels: Int) -> Int {
        max(1024, (1 << 19) / (MemoryLayout<Float>.size * max(1, outputChannels)))
    }

    /// The output extent along one axis for a padded input extent.
    func outputExtent(_ input: Int, axis: Int) -> Int {
        input < kernel[axis] ? 0 : (input - kernel[axis]) / stride[axis] + 1
    }

    /// Convolves padded features [C_in, T, H, W] into [C_out, T', H', W'].
    func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(
            input.rank == 4 && input.shape[0] == inChannels,
            "conv expects [\(inChannels), T, H, W], got \(input.shape)")
        let (inT, inH, inW) = (input.shape[1], input.shape[2], input.shape[3])
        let (outT, outH, outW) = (outputExtent(inT, axis: 0), outputExtent(inH, axis: 1), outputExtent(inW, axis: 2))
        precondition(outT > 0 && outH > 0 && outW > 0, "conv kernel \(kernel) larger than input \(input.shape)")
        let (planeIn, planeOut) = (inH * inW, outH * outW)
        let (channelIn, channelOut) = (inT * planeIn, outT * planeOut)
        let (kt, kh, kw) = (kernel[0], kernel[1], kernel[2])
        let (outs, ins) = (outChannels, inChannels)
        var output = Tensor(zeros: [outs, outT, outH, outW])
        output.withUnsafeMutableBufferPointer { out in
            let outBase = out.baseAddress!
            for o in 0..<outs { (outBase + o * channelOut).update(repeating: bias[o], count: channelOut) }
            input.withUnsafeBufferPointer { inputBuffer in
                tapWeights.withUnsafeBufferPointer { weights in
                    let inBase = inputBuffer.baseAddress!
                    func tapWeight(_ dt: Int, _ dh: Int, _ dw: Int) -> UnsafePointer<Float> {
                        weights.baseAddress! + ((dt * kh + dh) * kw + dw) * outs * ins
                    }
                    if kernel == [1, 1, 1] && stride == [1, 1, 1] {
                        Ops.sgemm(
                            transposeA: false, transposeB: false, m: outs, n: channelIn, k: ins,
                            a: tapWeight(0, 0, 0), lda: ins, b: inBase, ldb: channelIn, beta: 1, c: outBase,
                            ldc: channelOut)
                        return
                    }
                    if stride[1] == 1 && stride[2] == 1 {
                        // Shifted views of the padded input; rows computed over the full padded width.
                        let direct = kw == 1
                        let rowLength = (outH - 1) * inW + outW
                        let tile = VAEConvolution.tileColumns(outputChannels: outs)
                        var scratch = [Float](repeating: 0, count: direct ? 0 : outs * outH * inW)
                        for frame in 0..<outT {
                            scratch.withUnsafeMutableBufferPointer { temp in
                                let target = direct ? outBase + frame * planeOut : temp.baseAddress!
                                let ldc = direct ? channelOut : outH * inW
                                if !direct {
                                    for o in 0..<outs { (target + o * ldc).update(repeating: bias[o], count: ldc) }
                                }
                                // Column tiles small enough that the output tile stays in cache across the taps.
                                var column = 0
                                while column < rowLength {
                                    let width = min(tile, rowLength - column)
                                    for dt in 0..<kt {
                                        for dh in 0..<kh {
                                            for dw in 0..<kw {
                                                let source = inBase + (frame * stride[0] + dt) * planeIn + dh * inW + dw
                                                Ops.sgemm(
                                                    transposeA: false, transposeB: false, m: outs, n: width, k: ins,
                                                    a: tapWeight(dt, dh, dw), lda: ins, b: source + column,
                                                    ldb: channelIn, beta: 1, c: target + column, ldc: ldc)
                                            }
                                        }
                                    }
                                    column += width
                                }
                                if !direct {
                                    let tempBase = temp.baseAddress!
                                    Compute.parallelFor(outs) { o in
                                        for row in 0..<outH {
                                            (outBase + o * channelOut + frame * planeOut + row * outW).update(
                                                from: tempBase + o * outH * inW + row * inW, count: outW)
                                        }
                                    }
                                }
                            }
                        }
                        return
                    }
                    // Spatially strided: gather each tap's input, then one product per tap.
                    var gathered = [Float](repeating: 0, count: ins * planeOut)
                    let (sh, sw) = (stride[1], stride[2])
                    for frame in 0..<outT {
                        for dt in 0..<kt {
                            for dh in 0..<kh {
                                for dw in 0..<kw {
                                    gathered.withUnsafeMutableBufferPointer { buffer in
                                        let gatherBase = buffer.baseAddress!
                                        let frameBase = inBase + (frame * stride[0] + dt) * planeIn
                                        Compute.parallelFor(ins) { channel in
                                            let from = frameBase + channel * channelIn
                                            let to = gatherBase + channel * planeOut
                                            for row in 0..<outH {
                                                let line = from + (row * sh + dh) * inW + dw
                                                for column in 0..<outW { to[row * outW + column] = line[column * sw] }
                                            }
                                        }
                                        Ops.sgemm(
                                            transposeA: false, transposeB: false, m: outs, n: planeOut, k: ins,
                                            a: tapWeight(dt, dh, dw), lda: ins, b: gatherBase, ldb: planeOut,
                                            beta: 1, c: outBase + frame * planeOut, ldc: channelOut)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
    }
}
