// nn.Conv3d / nn.Conv2d (no padding of their own) over channel-first [C, T, H, W] features, as GEMMs per kernel tap.

/// A convolution with kernel (kt, kh, kw) and stride (st, sh, sw) over already padded [C_in, T, H, W] features.
///
/// The weights are kept tap-major ([taps, C_out, C_in]) so that each kernel tap is one `cblas_sgemm`:
/// out[:, t, :, :] += W_tap x input shifted by the tap. With spatial stride 1 the shifted input is a strided view of
/// the padded features (computed on the padded width, the extra columns dropped afterwards), so no im2col buffer
/// is made; with spatial stride 2 each tap's input is gathered into a [C_in, columns] buffer. The output is cut
/// into tiles of columns (see `VAEConvolution+Tiles.swift`) that run in parallel, each through every tap in order.
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

    /// The extents of one call: padded input and output, per frame plane and per channel.
    struct Geometry {
        let inT: Int, inH: Int, inW: Int
        let outT: Int, outH: Int, outW: Int
        var planeIn: Int { inH * inW }
        var planeOut: Int { outH * outW }
        var channelIn: Int { inT * planeIn }
        var channelOut: Int { outT * planeOut }
    }

    /// Convolves padded features [C_in, T, H, W] into [C_out, T', H', W'].
    func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(
            input.rank == 4 && input.shape[0] == inChannels,
            "conv expects [\(inChannels), T, H, W], got \(input.shape)")
        let (inT, inH, inW) = (input.shape[1], input.shape[2], input.shape[3])
        let g = Geometry(
            inT: inT, inH: inH, inW: inW,
            outT: outputExtent(inT, axis: 0), outH: outputExtent(inH, axis: 1), outW: outputExtent(inW, axis: 2))
        precondition(g.outT > 0 && g.outH > 0 && g.outW > 0, "conv kernel \(kernel) larger than input \(input.shape)")
        return OpProfile.measure(profileLabel, flops: flops(g)) { convolve(input, g) }
    }

    /// The profile's name for this kind of convolution (`OpProfile`).
    var profileLabel: String {
        let strides = stride == [1, 1, 1] ? "" : " stride \(stride[0])x\(stride[1])x\(stride[2])"
        return "conv \(kernel[0])x\(kernel[1])x\(kernel[2])\(strides)"
    }

    /// Multiplies and adds of one call (the useful ones: output elements x taps x input channels x 2).
    func flops(_ g: Geometry) -> Double {
        2 * Double(outChannels) * Double(inChannels) * Double(kernel.reduce(1, *)) * Double(g.channelOut)
    }

    /// The convolution proper, for geometry `g`: the output is cut into work items by `VAEConvolutionTiling` (from
    /// the shapes only) and the items run in parallel, each writing its own output columns through all the taps.
    private func convolve(_ input: Tensor, _ g: Geometry) -> Tensor {
        Tensor(shape: [outChannels, g.outT, g.outH, g.outW]) { out in
            let outBase = out.baseAddress!
            input.withUnsafeBufferPointer { inputBuffer in
                tapWeights.withUnsafeBufferPointer { weights in
                    bias.withUnsafeBufferPointer { biasBuffer in
                        let pointers = VAEConvolutionPointers(
                            input: inputBuffer.baseAddress!, weights: weights.baseAddress!,
                            bias: biasBuffer.baseAddress!, output: outBase)
                        if kernel == [1, 1, 1] && stride == [1, 1, 1] {
                            pointwise(g, pointers)
                        } else if stride[1] == 1 && stride[2] == 1 {
                            shifted(g, pointers)
                        } else {
                            strided(g, pointers)
                        }
                    }
                }
            }
        }
    }

    /// The weights of one kernel tap, [C_out, C_in].
    func tapWeight(_ weights: UnsafePointer<Float>, _ dt: Int, _ dh: Int, _ dw: Int) -> UnsafePointer<Float> {
        weights + ((dt * kernel[1] + dh) * kernel[2] + dw) * outChannels * inChannels
    }
}
