// Parity of the Wan transformer (diffusers WanTransformer3DModel) with the PyTorch reference fixtures, the
// piecewise forward against the whole, and strict loading.
import Foundation
import Testing

@testable import Model

/// The fixture cases written by scripts/fixtures/transformer.py.
let transformerFixtureCases = ["frames3_nonsquare", "batch2_pertoken", "patch_t2_batch2"]

/// Reads a fixture case's inputs and expected output.
func transformerFixture(_ name: String) throws -> (inputs: [String: Tensor], expected: Tensor) {
    let input = try SafeTensorsFile(path: Fixtures.path("transformer/\(name)/input.safetensors"))
    var inputs: [String: Tensor] = [:]
    for key in input.names { inputs[key] = try input.tensor(named: key).float32() }
    let output = try SafeTensorsFile(path: Fixtures.path("transformer/\(name)/output.safetensors"))
    return (inputs, try output.tensor(named: "sample").float32())
}

@Suite("WanTransformer parity")
struct TransformerParityTests {
    @Test("matches diffusers WanTransformer3DModel", arguments: transformerFixtureCases)
    func matchesReference(_ name: String) throws {
        let model = try WanTransformer.load(Fixtures.path("transformer/\(name)"))
        let (inputs, expected) = try transformerFixture(name)
        let sample = try model(
            hiddenStates: inputs["hidden_states"]!, timestep: inputs["timestep"]!,
            encoderHiddenStates: inputs["encoder_hidden_states"]!)
        #expect(sample.shape == expected.shape)
        let error = Numerics.maxRelativeError(sample, expected)
        #expect(error <= 1e-4, "\(name): max relative error \(error)")
    }

    @Test("per-token timesteps [B, 1] and a constant [B, tokens] match the per-sample reference, as in diffusers")
    func perTokenBroadcast() throws {
        let model = try WanTransformer.load(Fixtures.path("transformer/frames3_nonsquare"))
        let (inputs, expected) = try transformerFixture("frames3_nonsquare")
        let value = inputs["timestep"]!.scalars[0]
        for timestep in [Tensor(shape: [1, 1], scalars: [value]), Tensor(repeating: value, shape: [1, 36])] {
            let sample = try model(
                hiddenStates: inputs["hidden_states"]!, timestep: timestep,
                encoderHiddenStates: inputs["encoder_hidden_states"]!)
            #expect(Numerics.maxRelativeError(sample, expected) <= 1e-4, "timestep \(timestep.shape)")
        }
    }

    @Test("per-token timesteps keep one modulation row per distinct value; bad rows are refused")
    func perTokenRows() throws {
        let model = try WanTransformer.load(Fixtures.path("transformer/batch2_pertoken"))
        let (inputs, _) = try transformerFixture("batch2_pertoken")
        let timestep = inputs["timestep"]!
        var state = try model.embed(
            hiddenStates: inputs["hidden_states"]!, timestep: timestep,
            encoderHiddenStates: inputs["encoder_hidden_states"]!)
        let distinct = Set(timestep.scalars).count
        #expect(state.timestepProjection.shape == [distinct, 6 * model.config.innerDim])
        #expect(state.tokenTimestepRows?.count == timestep.count)
        for (index, row) in state.tokenTimestepRows!.enumerated() {
            let first = timestep.scalars.firstIndex(of: timestep.scalars[index])!
            #expect(row == state.tokenTimestepRows![first])
        }
        state.tokenTimestepRows![3] = Int32(distinct)
        #expect(throws: TransformerError.self) { _ = try model.runBlocks(0..<1, state) }
        state.tokenTimestepRows = nil
        #expect(throws: TransformerError.self) { _ = try model.runBlocks(0..<1, state) }
    }

    @Test("stages loaded separately give the whole forward bit for bit", arguments: transformerFixtureCases)
    func piecewiseEqualsWhole(_ name: String) throws {
        let folder = Fixtures.path("transformer/\(name)")
        let whole = try WanTransformer.load(folder)
        let (inputs, _) = try transformerFixture(name)
        let hidden = inputs["hidden_states"]!
        let timestep = inputs["timestep"]!
        let text = inputs["encoder_hidden_states"]!
        let reference = try whole(hiddenStates: hidden, timestep: timestep, encoderHiddenStates: text)

        let layers = whole.config.numLayers
        let first = try WanTransformer.load(folder, layers: 0..<1, includeEntry: true, includeExit: false)
        let middle = try WanTransformer.load(folder, layers: 1..<layers, includeEntry: false, includeExit: false)
        let last = try WanTransformer.load(folder, layers: layers..<layers, includeEntry: false, includeExit: true)
        var state = try first.embed(hiddenStates: hidden, timestep: timestep, encoderHiddenStates: text)
        state = try first.runBlocks(0..<1, state)
        // One block at a time through the middle stage.
        for index in 1..<layers { state = try middle.runBlocks(index..<(index + 1), state) }
        // A stage that receives the state without the rotary tables rebuilds them from the grid.
        state.rotary = try last.rotaryTables(for: state.grid)
        let sample = try last.finish(state)
        #expect(sample.scalars == reference.scalars)
        #expect(sample.shape == reference.shape)
    }

    @Test("pieces refuse what their stage does not host or out-of-order blocks")
    func piecesRefuseMisuse() throws {
        let folder = Fixtures.path("transformer/frames3_nonsquare")
        let (inputs, _) = try transformerFixture("frames3_nonsquare")
        let middle = try WanTransformer.load(folder, layers: 1..<2, includeEntry: false, includeExit: false)
        #expect(throws: TransformerError.self) {
            _ = try middle.embed(
                hiddenStates: inputs["hidden_states"]!, timestep: inputs["timestep"]!,
                encoderHiddenStates: inputs["encoder_hidden_states"]!)
        }
        let whole = try WanTransformer.load(folder)
        let state = try whole.embed(
            hiddenStates: inputs["hidden_states"]!, timestep: inputs["timestep"]!,
            encoderHiddenStates: inputs["encoder_hidden_states"]!)
        #expect(throws: TransformerError.self) { _ = try middle.runBlocks(1..<2, state) }  // state is at block 0
        #expect(throws: TransformerError.self) { _ = try whole.finish(state) }  // blocks not run
        #expect(throws: TransformerError.self) { _ = try middle.finish(state) }
    }
}

@Suite("WanTransformer inputs")
struct TransformerInputTests {
    let model: WanTransformer
    let inputs: [String: Tensor]

    init() throws {
        model = try WanTransformer.load(Fixtures.path("transformer/frames3_nonsquare"))
        inputs = try transformerFixture("frames3_nonsquare").inputs
    }

    func message(hidden: Tensor? = nil, timestep: Tensor? = nil, text: Tensor? = nil) -> String {
        do {
            _ = try model.embed(
                hiddenStates: hidden ?? inputs["hidden_states"]!, timestep: timestep ?? inputs["timestep"]!,
                encoderHiddenStates: text ?? inputs["encoder_hidden_states"]!)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test("bad input shapes are refused with errors naming the tensor and shape")
    func badShapes() {
        #expect(message(hidden: Tensor(zeros: [1, 4, 3, 6])).contains("hidden_states must be"))
        #expect(message(hidden: Tensor(zeros: [1, 5, 3, 6, 8])).contains("5 channels"))
        #expect(message(hidden: Tensor(zeros: [1, 4, 3, 7, 8])).contains("height = 7"))
        #expect(message(timestep: Tensor(zeros: [2])).contains("timestep has shape [2]"))
        #expect(message(timestep: Tensor(zeros: [1, 5])).contains("timestep has shape [1, 5]"))
        #expect(message(text: Tensor(zeros: [1, 7, 19])).contains("encoder_hidden_states has shape [1, 7, 19]"))
        #expect(message(text: Tensor(zeros: [1, 0, 20])).contains("encoder_hidden_states"))
        #expect(message() == "accepted")
        // Per-token timesteps: one per token (3 x 3 x 4 = 36) or one per sample.
        #expect(message(timestep: Tensor(zeros: [1, 36])) == "accepted")
        #expect(message(timestep: Tensor(zeros: [1, 1])) == "accepted")
    }

    @Test("rope_max_seq_len bounds the grid")
    func ropeBound() throws {
        var config = model.config
        config.ropeMaxSeqLen = 2
        let rope = WanRotaryPosEmbed(headDim: config.attentionHeadDim, maxSeqLen: config.ropeMaxSeqLen)
        #expect(throws: TransformerError.self) { _ = try rope.tables(frames: 3, height: 1, width: 1) }
    }
}
