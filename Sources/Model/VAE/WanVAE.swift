// diffusers AutoencoderKLWan (Wan2.1): causal video VAE, decoding latent frame by latent frame with a feature cache.
import Foundation

/// The Wan video VAE: 4x temporal and 8x spatial compression (for the Wan2.1 configuration), loaded from a
/// `vae/` folder (config.json + diffusion_pytorch_model.safetensors or a sharded index).
///
/// Decoding runs one latent frame at a time, as `AutoencoderKLWan._decode` does: the first latent frame gives one
/// video frame, each later one `temporalCompression` frames, and only a fixed-size cache of the last two frames
/// per causal convolution is carried between them, so memory does not grow with the video's length.
public struct WanVAE: Sendable {
    /// Which halves of the VAE to load.
    public enum Parts: Sendable {
        /// Encoder and decoder.
        case all
        /// Only the decoder (and post_quant_conv): what text-to-video needs. `encode` then throws.
        case decoderOnly
    }

    /// The validated configuration.
    public let config: WanVAEConfig
    let encoder: WanVAEEncoder?
    let quantConv: CausalConv3d?
    let decoder: WanVAEDecoder
    let postQuantConv: CausalConv3d

    /// The largest number of elements an input or output video may have (16 GiB of float32).
    public static let maximumElements = 1 << 32

    /// Loads the VAE in `directory`: reads and validates config.json, then takes every weight by key with its
    /// shape checked, and fails if the checkpoint has keys the model does not use.
    public init(directory: String, parts: Parts = .all) throws {
        let config = try WanVAEConfig.load(directory: directory)
        let store = try WeightStore(directory: directory)
        try self.init(config: config, parameters: StoredVAEParameters(store: store), parts: parts)
        switch parts {
        case .all:
            try store.verifyAllUsed()
        case .decoderOnly:
            try store.verifyAllUsed(prefixes: ["decoder.", "post_quant_conv."])
            let known = ["encoder.", "quant_conv.", "decoder.", "post_quant_conv."]
            let strangers = store.keys.filter { key in !known.contains { key.hasPrefix($0) } }
            if !strangers.isEmpty { throw CheckpointError.unusedKeys(keys: strangers, files: store.fileNames) }
        }
    }

    /// Builds the VAE from a parameter source (a checkpoint, or random values for new models).
    init(config: WanVAEConfig, parameters: VAEParameterSource, parts: Parts = .all) throws {
        try config.validate()
        self.config = config
        let z = config.zDim
        if parts == .all {
            encoder = try WanVAEEncoder(parameters, "encoder", config: config)
            quantConv = try CausalConv3d(
                parameters, "quant_conv", inChannels: 2 * z, outChannels: 2 * z, kernel: [1, 1, 1])
        } else {
            encoder = nil
            quantConv = nil
        }
        postQuantConv = try CausalConv3d(
            parameters, "post_quant_conv", inChannels: z, outChannels: z, kernel: [1, 1, 1])
        decoder = try WanVAEDecoder(parameters, "decoder", config: config)
    }

    // MARK: - Decoding

    /// `AutoencoderKLWan.decode(latents).sample`: raw latents [B, z, F, h, w] -> video [B, 3, F', 8h, 8w] in
    /// [-1, 1], F' = 1 + 4 (F - 1) for the Wan2.1 configuration.
    public func decode(_ latents: Tensor) throws -> Tensor {
        let shape = try checkLatents(latents)
        let frames = config.videoFrames(latentFrames: shape.frames)
        let output = [shape.batch, config.outChannels, frames, shape.height * config.spatialCompression,
            shape.width * config.spatialCompression]
        try checkElementCount(output, name: "latents", input: latents.shape)
        var chunks: [Tensor] = []
        try decode(latents) { chunks.append($0) }
        return WanVAE.concatenateVideoFrames(chunks)
    }

    /// Decodes `latents` [B, z, F, h, w] latent frame by latent frame, handing each decoded chunk of video frames
    /// [B, 3, F_chunk, H, W] (1 frame for the first latent frame, then 4 each) to `onChunk` as soon as it is ready.
    public func decode(_ latents: Tensor, onChunk: (Tensor) throws -> Void) throws {
        let shape = try checkLatents(latents)
        var stream = makeDecodingStream()
        for frame in 0..<shape.frames {
            try onChunk(try stream.decode(Ops.slice(latents, axis: 2, range: frame..<(frame + 1))))
        }
    }

    /// A decoder that is fed latent frames in order, possibly a few at a time, and keeps its cache between calls.
    public func makeDecodingStream() -> WanVAEDecodingStream {
        WanVAEDecodingStream(vae: self)
    }

    /// Checks a raw latent [B, z, F, h, w].
    func checkLatents(_ latents: Tensor) throws(WanVAEError) -> (batch: Int, frames: Int, height: Int, width: Int) {
        let shape = latents.shape
        guard shape.count == 5 else {
            throw .badInput(name: "latents", shape: shape, reason: "expected rank 5 [B, \(config.zDim), F, h, w]")
        }
        guard shape[1] == config.zDim else {
            throw .badInput(name: "latents", shape: shape, reason: "expected \(config.zDim) channels (z_dim)")
        }
        guard shape[0] >= 1, shape[2] >= 1, shape[3] >= 1, shape[4] >= 1 else {
            throw .badInput(name: "latents", shape: shape, reason: "every dimension must be at least 1")
        }
        return (shape[0], shape[2], shape[3], shape[4])
    }

    /// Checks that a video of `shape` stays within `maximumElements`.
    func checkElementCount(_ shape: [Int], name: String, input: [Int]) throws(WanVAEError) {
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= WanVAE.maximumElements else {
                throw .badInput(
                    name: name, shape: input,
                    reason: "the video \(shape) would exceed \(WanVAE.maximumElements) elements")
            }
            count = product
        }
    }

    /// Decodes one latent frame of one sample [z, 1, h, w] with `cache`, giving clamped frames [3, T, H, W].
    func decodeFrame(_ latent: Tensor, cache: inout VAEFeatureCache) -> Tensor {
        VAEKernels.clampUnit(decoder(postQuantConv(latent), cache: &cache))
    }

    // MARK: - Encoding

    /// `AutoencoderKLWan.encode(video).latent_dist.mean`: video [B, 3, F, H, W] in [-1, 1] -> raw latent mean
    /// [B, z, 1 + (F - 1) / 4, H / 8, W / 8] for the Wan2.1 configuration.
    ///
    /// Frames go through the encoder in chunks of 1, 4, 4, ... with the feature cache; as in diffusers, frames
    /// after the last complete chunk of 4 are not used. H and W must be multiples of the spatial compression.
    public func encode(_ video: Tensor) throws -> Tensor {
        guard let encoder, let quantConv else {
            throw WanVAEError.badInput(
                name: "sample", shape: video.shape,
                reason: "the VAE was loaded without its encoder (parts: .decoderOnly)")
        }
        let shape = video.shape
        guard shape.count == 5, shape[1] == config.inChannels else {
            throw WanVAEError.badInput(
                name: "sample", shape: shape, reason: "expected rank 5 [B, \(config.inChannels), F, H, W]")
        }
        let factor = config.spatialCompression
        guard shape[0] >= 1, shape[2] >= 1, shape[3] >= factor, shape[4] >= factor,
            shape[3] % factor == 0, shape[4] % factor == 0
        else {
            throw WanVAEError.badInput(
                name: "sample", shape: shape,
                reason: "batch and frames must be at least 1, height and width positive multiples of \(factor)")
        }
        try checkElementCount(shape, name: "sample", input: shape)
        let (batch, frames) = (shape[0], shape[2])
        let chunkCount = 1 + (frames - 1) / 4
        var means: [Tensor] = []
        for sample in 0..<batch {
            let video = Ops.slice(video, axis: 0, range: sample..<(sample + 1)).reshaped(Array(shape.dropFirst()))
            var cache = VAEFeatureCache()
            var latent: Tensor?
            for chunk in 0..<chunkCount {
                let range = chunk == 0 ? 0..<1 : (1 + 4 * (chunk - 1))..<(1 + 4 * chunk)
                let encoded = encoder(VAEKernels.frames(video, range), cache: &cache)
                latent = latent.map { VAEKernels.concatenateFrames($0, encoded) } ?? encoded
            }
            // DiagonalGaussianDistribution: the first z_dim channels are the mean.
            let moments = quantConv(latent!)
            let mean = Ops.slice(moments, axis: 0, range: 0..<config.zDim)
            means.append(mean.reshaped([1] + mean.shape))
        }
        let mean = means.count == 1 ? means[0] : Ops.concatenate(means, axis: 0)
        return mean.reshaped([batch, config.zDim] + Array(mean.shape.suffix(3)))
    }

    // MARK: - Helpers

    /// Joins video chunks [B, C, T_i, H, W] along time.
    static func concatenateVideoFrames(_ chunks: [Tensor]) -> Tensor {
        chunks.count == 1 ? chunks[0] : Ops.concatenate(chunks, axis: 2)
    }
}

/// Decodes a video's latent frames in order, carrying the VAE's feature cache between calls.
///
/// Memory is the weights plus the cache (two frames per causal convolution, at each level's resolution) plus
/// one chunk's activations, whatever the number of frames decoded.
public struct WanVAEDecodingStream: Sendable {
    /// The VAE decoding.
    public let vae: WanVAE
    /// One cache per batch entry.
    private var caches: [VAEFeatureCache] = []
    /// The batch size and latent height and width fixed by the first call.
    private var geometry: [Int]?
    /// How many latent frames have been decoded.
    public private(set) var latentFramesDecoded = 0

    init(vae: WanVAE) { self.vae = vae }

    /// Decodes the next latent frames [B, z, n, h, w] (n >= 1; B, h and w as in earlier calls) into video frames
    /// [B, 3, F, H, W]: F = 1 + 4 (n - 1) on the first call and 4 n after that (Wan2.1 configuration).
    public mutating func decode(_ latents: Tensor) throws -> Tensor {
        let shape = try vae.checkLatents(latents)
        let geometry = [shape.batch, shape.height, shape.width]
        if let expected = self.geometry, expected != geometry {
            throw WanVAEError.badInput(
                name: "latents", shape: latents.shape,
                reason: "batch, height and width differ from the earlier frames' \(expected)")
        }
        let previous = latentFramesDecoded
        let outputFrames = vae.config.videoFrames(latentFrames: previous + shape.frames)
            - (previous == 0 ? 0 : vae.config.videoFrames(latentFrames: previous))
        let factor = vae.config.spatialCompression
        try vae.checkElementCount(
            [shape.batch, vae.config.outChannels, outputFrames, shape.height * factor, shape.width * factor],
            name: "latents", input: latents.shape)
        if self.geometry == nil {
            self.geometry = geometry
            caches = Array(repeating: VAEFeatureCache(), count: shape.batch)
        }
        var chunks: [Tensor] = []
        for frame in 0..<shape.frames {
            var samples: [Tensor] = []
            for sample in 0..<shape.batch {
                let latent = Ops.slice(
                    Ops.slice(latents, axis: 0, range: sample..<(sample + 1)), axis: 2, range: frame..<(frame + 1))
                let decoded = vae.decodeFrame(latent.reshaped(Array(latent.shape.dropFirst())), cache: &caches[sample])
                samples.append(decoded.reshaped([1] + decoded.shape))
            }
            chunks.append(samples.count == 1 ? samples[0] : Ops.concatenate(samples, axis: 0))
            latentFramesDecoded += 1
        }
        return WanVAE.concatenateVideoFrames(chunks)
    }

    /// Bytes held by the feature caches (constant after the second latent frame).
    public var cacheByteCount: Int { caches.reduce(0) { $0 + $1.byteCount } }
}
