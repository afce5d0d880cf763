// diffusers AutoencoderKLWan decode / encode: the same bytes whatever Compute's thread count (VAEConvolution's tiles).
import Testing
@testable import Model

@Suite(.serialized) struct VAEThreadingTests {
    /// A tiny Wan2.1-shaped VAE with seeded random weights.
    static let vae = Result { try WanVAE.random(config: .tiny(), seed: 11).vae }

    /// Runs `body` at each thread count, restoring the setting afterwards.
    static func atThreadCounts<R>(_ counts: [Int], _ body: () throws -> R) rethrows -> [R] {
        let previous = Compute.threadCount
        defer { Compute.setThreadCount(previous) }
        return try counts.map { count in
            Compute.setThreadCount(count)
            return try body()
        }
    }

    @Test func theDecodeIsTheSameBytesAtOneTwoAndThreeThreads() throws {
        let vae = try Self.vae.get()
        // Three latent frames (1 + 4 + 4 video frames) exercise the cache and the temporal upsampler.
        let latents = Tensor.randomNormal(shape: [1, 16, 3, 6, 10], seed: 12, stream: 1)
        let outputs = try Self.atThreadCounts([1, 2, 3]) { try vae.decode(latents) }
        #expect(outputs[0].shape == [1, 3, 9, 48, 80])
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0] == outputs[2])
        #expect(outputs[0].scalars.allSatisfy { $0.isFinite })
        // Not a constant picture: the test would not see a wrong tile otherwise.
        #expect(Set(outputs[0].scalars).count > 1000)
    }

    @Test func theEncodeIsTheSameBytesAtOneAndTwoThreads() throws {
        let vae = try Self.vae.get()
        let video = Tensor.randomNormal(shape: [1, 3, 5, 48, 80], seed: 13, stream: 1)
        let outputs = try Self.atThreadCounts([1, 2]) { try vae.encode(video) }
        #expect(outputs[0].shape == [1, 16, 2, 6, 10])
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0].scalars.allSatisfy { $0.isFinite })
    }

    @Test(arguments: [(1, 286, 384), (4, 16_638, 96), (1, 70, 96), (2, 5, 3), (1, 100_000, 192), (3, 1024, 32)])
    func blocksCoverEveryOutputOnce(frames: Int, columns: Int, rows: Int) {
        let tileWidth = VAEConvolution.tileColumns(outputChannels: rows)
        let tiling = VAEConvolutionTiling(frames: frames, columns: columns, tileWidth: tileWidth, rows: rows)
        var covered = [Int](repeating: 0, count: frames * columns * rows)
        for index in 0..<tiling.itemCount {
            let item = tiling.item(index)
            #expect(item.count > 0 && item.column + item.count <= columns)
            // The serial code's column tiles; row blocks a multiple of 24 (see VAEConvolutionTiling).
            #expect(item.column % tileWidth == 0 && (item.count == tileWidth || item.column + item.count == columns))
            #expect(item.rowCount == rows || item.rowCount % VAEConvolutionTiling.rowQuantum == 0
                || item.row + item.rowCount == rows)
            for row in item.row..<(item.row + item.rowCount) {
                for column in item.column..<(item.column + item.count) {
                    covered[(item.frame * rows + row) * columns + column] += 1
                }
            }
        }
        #expect(covered.allSatisfy { $0 == 1 }, "\(frames) x \(columns) x \(rows)")
        if rows % VAEConvolutionTiling.rowQuantum == 0 && rows >= VAEConvolutionTiling.minimumItems * 24 {
            #expect(tiling.itemCount >= VAEConvolutionTiling.minimumItems)
        }
    }
}
