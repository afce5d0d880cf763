// The prompt cache (projected text and cross-attention keys and values kept across steps): the same bytes as
// recomputing, for the whole forward and for stages, through evictions.
import Foundation
import Testing

@testable import Model

@Suite(.serialized) struct TransformerPromptCacheTests {
    /// Forwards of one model over `texts` in order, new latent each time, with the cache holding `capacity` prompts.
    func forwards(_ model: WanTransformer, texts: [Tensor], capacity: Int) throws -> [Tensor] {
        model.promptCacheCapacity = capacity
        defer { model.promptCacheCapacity = 2 }
        return try texts.enumerated().map { index, text in
            let latent = Tensor.randomNormal(shape: [1, 16, 1, 36, 40], seed: 9, stream: UInt64(index))
            return try model(hiddenStates: latent, timestep: Tensor(shape: [1], scalars: [400]), encoderHiddenStates: text)
        }
    }

    @Test func cachedPromptsGiveTheBytesOfRecomputing() throws {
        let model = try TransformerKernelsTests.model.get()
        let a = TransformerKernelsTests.inputs(textStream: 11).text
        let b = TransformerKernelsTests.inputs(textStream: 12).text
        let c = TransformerKernelsTests.inputs(textStream: 13).text
        // Guidance-like alternation, then a third prompt that evicts one, then the evicted one again.
        let texts = [a, b, a, b, c, a, a, b]
        let recomputed = try forwards(model, texts: texts, capacity: 0)
        #expect(model.promptCache.promptCount == 0)
        let cached = try forwards(model, texts: texts, capacity: 2)
        #expect(cached == recomputed)
        let single = try forwards(model, texts: texts, capacity: 1)
        #expect(single == recomputed)
    }

    @Test func aPromptIsComputedOnceAndFoundByItsBytes() throws {
        let model = try TransformerKernelsTests.model.get()
        model.promptCacheCapacity = 0
        model.promptCacheCapacity = 2
        let text = TransformerKernelsTests.inputs(textStream: 21).text
        _ = try forwards(model, texts: [text], capacity: 2)
        model.promptCacheCapacity = 2
        _ = try model(
            hiddenStates: TransformerKernelsTests.inputs(textStream: 21).latent, timestep: Tensor(shape: [1], scalars: [1]),
            encoderHiddenStates: text)
        #expect(model.promptCache.promptCount == 1)
        let state = try model.embed(
            hiddenStates: TransformerKernelsTests.inputs(textStream: 21).latent, timestep: Tensor(shape: [1], scalars: [1]),
            encoderHiddenStates: text)
        #expect(model.promptCache.entry(for: state.textEmbeddings)?.blockCount == model.config.numLayers)
        // One changed bit (+0 against -0) is another prompt.
        var flipped = text
        flipped.scalars[0] = text.scalars[0] == 0 ? -0.0 : -text.scalars[0]
        _ = try model.embed(
            hiddenStates: TransformerKernelsTests.inputs(textStream: 21).latent, timestep: Tensor(shape: [1], scalars: [1]),
            encoderHiddenStates: flipped)
        #expect(model.promptCache.promptCount == 2)
    }

    @Test func stagesWithCachesGiveTheWholeForward() throws {
        let whole = try TransformerKernelsTests.model.get()
        let (latent, timestep, text) = TransformerKernelsTests.inputs(textStream: 31)
        whole.promptCacheCapacity = 0
        let reference = try whole(hiddenStates: latent, timestep: timestep, encoderHiddenStates: text)
        whole.promptCacheCapacity = 2
        for _ in 0..<2 {  // the second round runs every piece from the cache
            var state = try whole.embed(hiddenStates: latent, timestep: timestep, encoderHiddenStates: text)
            state = try whole.runBlocks(0..<1, state)
            let sample = try whole.finish(state)
            #expect(sample == reference)
        }
    }
}
