// Parity of the Wan VAE (AutoencoderKLWan decode and encode) with diffusers, on fixtures from scripts/fixtures/vae.py.
import Foundation
import Testing
@testable import Model

/// Reads the VAE fixtures.
enum VAEFixtures {
    /// The model folder of a fixture case ("tiny", "small").
    static func modelDirectory(_ name: String) -> String { Fixtures.path("vae/\(name)/vae") }

    /// Tensor `tensorName` of fixture file `file` in case `name`.
    static func tensor(_ name: String, _ file: String, _ tensorName: String) throws -> Tensor {
        try SafeTensorsFile(path: Fixtures.path("vae/\(name)/\(file).safetensors")).tensor(named: tensorName).float32()
    }

    /// The loaded VAE of a case.
    static func vae(_ name: String) throws -> WanVAE { try WanVAE(directory: modelDirectory(name)) }
}

@Suite struct VAEParityTests {
    static let decodeCases = [
        ("tiny", "decode_f1"), ("tiny", "decode_f2"), ("tiny", "decode_f3"), ("tiny", "decode_f5"),
        ("tiny", "decode_b2_f2"), ("small", "decode_f1"), ("small", "decode_f3"),
    ]

    @Test(arguments: decodeCases)
    func decodeMatchesDiffusers(model: String, file: String) throws {
        let vae = try VAEFixtures.vae(model)
        let latents = try VAEFixtures.tensor(model, file, "latents")
        let expected = try VAEFixtures.tensor(model, file, "sample")
        let sample = try vae.decode(latents)
        #expect(sample.shape == expected.shape)
        let error = Numerics.maxRelativeError(sample, expected)
        #expect(error <= 1e-4, "\(model)/\(file): relative error \(error)")
    }

    static let encodeCases = [
        ("tiny", "encode_f1"), ("tiny", "encode_f5"), ("tiny", "encode_f9"), ("tiny", "encode_f6"),
        ("small", "encode_f5"),
    ]

    @Test(arguments: encodeCases)
    func encodeMatchesDiffusers(model: String, file: String) throws {
        let vae = try VAEFixtures.vae(model)
        let sample = try VAEFixtures.tensor(model, file, "sample")
        let expected = try VAEFixtures.tensor(model, file, "latent_mean")
        let mean = try vae.encode(sample)
        #expect(mean.shape == expected.shape)
        let error = Numerics.maxRelativeError(mean, expected)
        #expect(error <= 1e-4, "\(model)/\(file): relative error \(error)")
    }

    /// The streaming form yields 1 frame, then 4 per latent frame, and together they are the reference video.
    @Test func streamingDecodeYieldsTheReferenceFramesChunkByChunk() throws {
        let vae = try VAEFixtures.vae("tiny")
        let latents = try VAEFixtures.tensor("tiny", "decode_f5", "latents")
        let expected = try VAEFixtures.tensor("tiny", "decode_f5", "sample")
        var chunks: [Tensor] = []
        try vae.decode(latents) { chunks.append($0) }
        #expect(chunks.map { $0.shape[2] } == [1, 4, 4, 4, 4])
        #expect(chunks.allSatisfy { $0.shape[0] == 1 && $0.shape[1] == 3 && $0.shape[3...] == [16, 16] })
        let joined = Ops.concatenate(chunks, axis: 2)
        #expect(Numerics.maxRelativeError(joined, expected) <= 1e-4)
        // Fed two latent frames, then three: the same frames, bit for bit, as frame by frame.
        var stream = vae.makeDecodingStream()
        let first = try stream.decode(Ops.slice(latents, axis: 2, range: 0..<2))
        let rest = try stream.decode(Ops.slice(latents, axis: 2, range: 2..<5))
        #expect(first.shape[2] == 5 && rest.shape[2] == 12)
        #expect(Ops.concatenate([first, rest], axis: 2) == joined)
        #expect(stream.latentFramesDecoded == 5)
    }

    /// The feature cache has a fixed size once the second latent frame has been decoded.
    @Test func decodingCacheStaysConstant() throws {
        let vae = try VAEFixtures.vae("tiny")
        let latents = try VAEFixtures.tensor("tiny", "decode_f5", "latents")
        var stream = vae.makeDecodingStream()
        var sizes: [Int] = []
        for frame in 0..<5 {
            _ = try stream.decode(Ops.slice(latents, axis: 2, range: frame..<(frame + 1)))
            sizes.append(stream.cacheByteCount)
        }
        #expect(sizes[1] > 0 && sizes[2...].allSatisfy { $0 == sizes[1] }, "cache bytes per frame: \(sizes)")
    }

    @Test func streamRefusesAChangedGeometry() throws {
        let vae = try VAEFixtures.vae("tiny")
        var stream = vae.makeDecodingStream()
        _ = try stream.decode(Tensor(zeros: [1, 4, 1, 2, 3]))
        #expect(throws: WanVAEError.self) { _ = try stream.decode(Tensor(zeros: [1, 4, 1, 3, 3])) }
    }

    @Test func decodeRefusesBadLatents() throws {
        let vae = try VAEFixtures.vae("tiny")
        for shape in [[1, 4, 2, 3], [1, 5, 1, 2, 2], [1, 4, 0, 2, 2], [0, 4, 1, 2, 2]] {
            #expect(throws: WanVAEError.self) { _ = try vae.decode(Tensor(zeros: shape)) }
        }
        #expect(throws: WanVAEError.self) { _ = try vae.encode(Tensor(zeros: [1, 3, 1, 12, 16])) }
        #expect(throws: WanVAEError.self) { _ = try vae.encode(Tensor(zeros: [1, 4, 1, 16, 16])) }
        let decoderOnly = try WanVAE(directory: VAEFixtures.modelDirectory("tiny"), parts: .decoderOnly)
        #expect(throws: WanVAEError.self) { _ = try decoderOnly.encode(Tensor(zeros: [1, 3, 1, 16, 16])) }
    }

    @Test func decoderOnlyDecodesTheSame() throws {
        let vae = try WanVAE(directory: VAEFixtures.modelDirectory("tiny"), parts: .decoderOnly)
        let latents = try VAEFixtures.tensor("tiny", "decode_f2", "latents")
        let expected = try VAEFixtures.tensor("tiny", "decode_f2", "sample")
        #expect(Numerics.maxRelativeError(try vae.decode(latents), expected) <= 1e-4)
    }
}
