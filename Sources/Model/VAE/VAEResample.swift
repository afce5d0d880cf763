// diffusers WanResample: 2x spatial up/downsampling per frame, plus 2x temporal up/downsampling with the cache.

/// Up- or downsampling between VAE levels.
struct VAEResample: Sendable {
    /// What the layer does (diffusers' `mode`).
    enum Mode: String, Sendable {
        case upsample2d, upsample3d, downsample2d, downsample3d
    }

    let mode: Mode
    /// The per-frame Conv2d (`resample.1`): 3x3 with padding 1 after upsampling, 3x3 stride 2 after a
    /// (0, 1, 0, 1) zero pad when downsampling.
    let spatial: VAEConvolution
    /// The temporal conv (`time_conv`) of the 3d modes: (3, 1, 1) kernel, C -> 2C when upsampling (time padding
    /// 1), C -> C with time stride 2 when downsampling.
    let temporal: CausalConv3d?

    /// Loads `prefix.resample.1.*` and, for the 3d modes, `prefix.time_conv.*`; `dim` channels in,
    /// `upsampleOutDim` out when upsampling (`dim` when downsampling).
    init(_ weights: VAEParameterSource, _ prefix: String, dim: Int, mode: Mode, upsampleOutDim: Int? = nil) throws {
        self.mode = mode
        let outDim = (mode == .upsample2d || mode == .upsample3d) ? (upsampleOutDim ?? dim / 2) : dim
        spatial = VAEConvolution(
            weight: try weights.tensor("\(prefix).resample.1.weight", shape: [outDim, dim, 3, 3]),
            bias: try weights.tensor("\(prefix).resample.1.bias", shape: [outDim]),
            stride: (mode == .downsample2d || mode == .downsample3d) ? [1, 2, 2] : [1, 1, 1])
        switch mode {
        case .upsample3d:
            temporal = try CausalConv3d(
                weights, "\(prefix).time_conv", inChannels: dim, outChannels: 2 * dim, kernel: [3, 1, 1],
                padding: [1, 0, 0])
        case .downsample3d:
            temporal = try CausalConv3d(
                weights, "\(prefix).time_conv", inChannels: dim, outChannels: dim, kernel: [3, 1, 1],
                stride: [2, 1, 1])
        case .upsample2d, .downsample2d:
            temporal = nil
        }
    }

    /// x [C, T, H, W] -> the resampled features, using and updating one cache slot in the 3d modes.
    func callAsFunction(_ input: Tensor, cache: inout VAEFeatureCache) -> Tensor {
        var x = input
        if mode == .upsample3d, let temporal {
            x = upsampleTime(x, temporal: temporal, cache: &cache)
        }
        switch mode {
        case .upsample2d, .upsample3d:
            x = spatial(VAEKernels.padded([x], upsample: 2, top: 1, bottom: 1, left: 1, right: 1))
        case .downsample2d, .downsample3d:
            x = spatial(VAEKernels.padded([x], bottom: 1, right: 1))
        }
        if mode == .downsample3d, let temporal {
            let slot = cache.claim()
            let time = x.shape[1]
            let last = VAEKernels.frames(x, (time - 1)..<time)
            if let previous = cache[slot].tensor {
                // Only the last cached frame is ever read, so only it is kept.
                x = temporal(VAEKernels.concatenateFrames(previous, x))
            }
            cache[slot] = .frames(last)
        }
        return x
    }

    /// The temporal half of upsample3d: the first chunk passes through (and leaves the "Rep" marker); later
    /// chunks go through `time_conv`, whose 2C outputs become two frames per input frame.
    private func upsampleTime(_ x: Tensor, temporal: CausalConv3d, cache: inout VAEFeatureCache) -> Tensor {
        let slot = cache.claim()
        let entry = cache[slot]
        if case .empty = entry {
            cache[slot] = .replicate
            return x
        }
        let (channels, time) = (x.shape[0], x.shape[1])
        var keep = VAEKernels.frames(x, max(0, time - VAEFeatureCache.frameCount)..<time)
        let previous = entry.tensor
        if keep.shape[1] < VAEFeatureCache.frameCount {
            let before: Tensor
            if let previous {
                let count = previous.shape[1]
                before = VAEKernels.frames(previous, (count - 1)..<count)
            } else {  // after "Rep": a zero frame
                before = Tensor(zeros: [channels, 1, x.shape[2], x.shape[3]])
            }
            keep = VAEKernels.concatenateFrames(before, keep)
        }
        let doubled = temporal(x, cached: previous)  // [2C, T, H, W]; "Rep" means no cache (zero padding)
        cache[slot] = .frames(keep)
        // [2, C, T] -> [C, T, 2]: frame 2t is the first half's channel c at t, frame 2t + 1 the second half's.
        let plane = x.shape[2] * x.shape[3]
        return OpProfile.measure("time upsample interleave") {
            Tensor(shape: [channels, 2 * time, x.shape[2], x.shape[3]]) { out in
                doubled.withUnsafeBufferPointer { source in
                    let (from, to) = (source.baseAddress!, out.baseAddress!)
                    Compute.parallelFor(channels) { channel in
                        for frame in 0..<time {
                            for half in 0..<2 {
                                (to + (channel * 2 * time + 2 * frame + half) * plane).update(
                                    from: from + ((half * channels + channel) * time + frame) * plane, count: plane)
                            }
                        }
                    }
                }
            }
        }
    }
}
