// diffusers WanCausalConv3d: a Conv3d padded causally in time (all padding before the first frame), with feature cache.

/// A 3D convolution that only looks at the current and earlier frames.
struct CausalConv3d: Sendable {
    /// The convolution proper.
    let convolution: VAEConvolution
    /// Zero frames put before the input when there is no cache (2 x the time padding).
    let frontPadding: Int
    /// Zero rows above and below.
    let heightPadding: Int
    /// Zero columns left and right.
    let widthPadding: Int

    /// Loads `prefix.weight` [out, in, kt, kh, kw] and `prefix.bias` [out]; `padding` is (time, height, width).
    init(
        _ weights: VAEParameterSource, _ prefix: String, inChannels: Int, outChannels: Int, kernel: [Int],
        stride: [Int] = [1, 1, 1], padding: [Int] = [0, 0, 0]
    ) throws {
        let weight = try weights.tensor("\(prefix).weight", shape: [outChannels, inChannels] + kernel)
        let bias = try weights.tensor("\(prefix).bias", shape: [outChannels])
        convolution = VAEConvolution(weight: weight, bias: bias, stride: stride)
        frontPadding = 2 * padding[0]
        heightPadding = padding[1]
        widthPadding = padding[2]
    }

    /// The output channels.
    var outChannels: Int { convolution.outChannels }

    /// WanCausalConv3d.forward(x, cache_x): the cached frames replace as many leading zero frames.
    func callAsFunction(_ x: Tensor, cached: Tensor? = nil) -> Tensor {
        var sources = [x]
        var front = frontPadding
        if let cached, front > 0 {
            sources = [cached, x]
            front -= cached.shape[1]
        }
        precondition(front >= 0, "causal conv: \(cached?.shape[1] ?? 0) cached frames for padding \(frontPadding)")
        if front == 0 && sources.count == 1 && heightPadding == 0 && widthPadding == 0 {
            return convolution(x)
        }
        let input = VAEKernels.padded(
            sources, zeroFrames: front, top: heightPadding, bottom: heightPadding, left: widthPadding,
            right: widthPadding)
        return convolution(input)
    }

    /// The cached call every block makes: convolve with the slot's frames, then keep the last two input frames
    /// (the earlier slot's last frame first when `x` has only one).
    func callAsFunction(_ x: Tensor, cache: inout VAEFeatureCache) -> Tensor {
        let slot = cache.claim()
        let time = x.shape[1]
        var keep = VAEKernels.frames(x, max(0, time - VAEFeatureCache.frameCount)..<time)
        let previous = cache[slot].tensor
        if keep.shape[1] < VAEFeatureCache.frameCount, let previous {
            let last = previous.shape[1]
            keep = VAEKernels.concatenateFrames(VAEKernels.frames(previous, (last - 1)..<last), keep)
        }
        let output = self(x, cached: previous)
        cache[slot] = .frames(keep)
        return output
    }
}
