// The forward pass with the sgemm grid and the prompt cache engaged: the same bytes at 1, 2 and 3 threads, with
// and without cached prompts, and the grid's blocks for the shapes the issue names.
import Foundation
import Testing

@testable import Model

@Suite(.serialized) struct TransformerKernelsTests {
    /// One layer of dim 128 (2 heads of 64), ffn 512: big enough that every projection is cut into several
    /// sgemm blocks (unlike the fixtures' models, whose products are all below the serial limit).
    static let preset = ModelPreset(
        name: "grid-test", summary: "test: products above the sgemm serial limit",
        transformer: WanTransformerConfig(
            patchSize: [1, 2, 2], numAttentionHeads: 2, attentionHeadDim: 64, inChannels: 16, outChannels: 16,
            textDim: 64, freqDim: 32, ffnDim: 512, numLayers: 1, crossAttnNorm: true),
        flowShift: 3.0, defaultDType: .bfloat16)

    /// The model written once with bfloat16 weights (so Linear widens them per call).
    static let model: Result<WanTransformer, any Error> = Result {
        let folder = try temporaryFolder("grid-model")
        try ModelFolderWriter.write(
            ModelFolderOptions(preset: preset, seed: 3), to: folder, force: true,
            writers: [TransformerComponentWriter()])
        return try WanTransformer.load(folder)
    }

    /// A latent of 18 x 20 patches (360 tokens) and 520 text tokens: both cut into row and column blocks.
    static func inputs(textStream: UInt64) -> (latent: Tensor, timestep: Tensor, text: Tensor) {
        (
            Tensor.randomNormal(shape: [1, 16, 1, 36, 40], seed: 5, stream: 1),
            Tensor(shape: [1], scalars: [700]),
            Tensor.randomNormal(shape: [1, 520, 64], seed: 5, stream: textStream)
        )
    }

    @Test func theGridCutsTheIssuesShapesIntoEvenBlocks() {
        // 720 tokens: two row blocks of about 360 (not 512 + 208), columns halved for four blocks.
        #expect(Ops.gemmLayout(m: 720, n: 1536, k: 1536) == GemmGrid(rows: 2, columns: 2, rowBlock: 368, columnBlock: 768))
        #expect(Ops.gemmLayout(m: 720, n: 8960, k: 1536) == GemmGrid(rows: 2, columns: 5, rowBlock: 368, columnBlock: 2048))
        // 256 tokens and the 512 text rows: one row block, an even number of column blocks.
        #expect(Ops.gemmLayout(m: 256, n: 1536, k: 1536) == GemmGrid(rows: 1, columns: 4, rowBlock: 256, columnBlock: 384))
        #expect(Ops.gemmLayout(m: 256, n: 8960, k: 1536) == GemmGrid(rows: 1, columns: 6, rowBlock: 256, columnBlock: 1504))
        #expect(Ops.gemmLayout(m: 512, n: 1536, k: 4096) == GemmGrid(rows: 1, columns: 4, rowBlock: 512, columnBlock: 384))
        // Multiples of 2,048 tokens keep the fixed 512 x 2,048 blocks.
        #expect(Ops.gemmLayout(m: 4096, n: 1536, k: 1536) == GemmGrid(rows: 8, columns: 1, rowBlock: 512, columnBlock: 1536))
        #expect(Ops.gemmLayout(m: 2048, n: 8960, k: 1536) == GemmGrid(rows: 4, columns: 5, rowBlock: 512, columnBlock: 2048))
        // Below the serial limit: one call.
        #expect(Ops.gemmGrid(m: 64, n: 64, k: 64) == (rows: 1, columns: 1))
    }

    @Test func blocksCoverTheProductExactlyOnce() {
        for (m, n) in [(720, 1536), (256, 8960), (1100, 2100), (17, 4000), (4096, 8960)] {
            let grid = Ops.gemmLayout(m: m, n: n, k: 1536)
            var covered = [Int](repeating: 0, count: m * n)
            for index in 0..<(grid.rows * grid.columns) {
                let block = grid.block(index, m: m, n: n)
                #expect(block.rowCount > 0 && block.columnCount > 0, "\(m) x \(n) block \(index)")
                for row in block.row..<(block.row + block.rowCount) {
                    for column in block.column..<(block.column + block.columnCount) { covered[row * n + column] += 1 }
                }
            }
            #expect(covered.allSatisfy { $0 == 1 }, "\(m) x \(n)")
        }
    }

    @Test func theForwardIsTheSameBytesAtOneTwoAndThreeThreads() throws {
        let model = try Self.model.get()
        let previous = Compute.threadCount
        defer { Compute.setThreadCount(previous) }
        let (latent, timestep, text) = Self.inputs(textStream: 2)
        var outputs: [Tensor] = []
        for threads in [1, 2, 3] {
            Compute.setThreadCount(threads)
            model.promptCacheCapacity = 0
            outputs.append(try model(hiddenStates: latent, timestep: timestep, encoderHiddenStates: text))
        }
        model.promptCacheCapacity = 2
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0] == outputs[2])
        #expect(outputs[0].scalars.allSatisfy { $0.isFinite })
    }
}
