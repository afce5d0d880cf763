// A job's LoRA share crosses the wire in a jobContext and comes back as the same adapters; malformed shares are
// refused by name.
import Foundation
import Testing
import Model
import Wire
@testable import Cluster

@Suite struct StageTensorsLoRATests {
    static func adapter(rank: Int, inFeatures: Int, outFeatures: Int, bias: Bool, seed: UInt64, scale: Float) -> LowRankAdapter {
        LowRankAdapter(
            source: "job context", down: Tensor.randomNormal(shape: [rank, inFeatures], seed: seed, stream: 1),
            up: Tensor.randomNormal(shape: [outFeatures, rank], seed: seed, stream: 2),
            bias: bias ? Tensor.randomNormal(shape: [outFeatures], seed: seed, stream: 3) : nil, scale: scale)
    }

    @Test func aShareRoundTrips() throws {
        let stack = LoRAStack(adapters: [
            "blocks.3.attn1.to_q": [
                Self.adapter(rank: 2, inFeatures: 8, outFeatures: 8, bias: false, seed: 1, scale: 0.6),
                Self.adapter(rank: 3, inFeatures: 8, outFeatures: 8, bias: true, seed: 2, scale: -0.4),
            ],
            "blocks.4.ffn.net.0.proj": [Self.adapter(rank: 1, inFeatures: 8, outFeatures: 16, bias: true, seed: 3, scale: 1)],
        ])
        let tensors = try StageTensors.loraTensors(stack)
        #expect(tensors.count == 3 * 4 - 1)
        let message = Message.jobContext(JobContext(jobID: "j", tensors: tensors))
        guard case .jobContext(let decoded) = try Message.decode(kind: message.kind.rawValue, payload: ArraySlice(message.encodedPayload())) else {
            Issue.record("not a job context")
            return
        }
        #expect(try StageTensors.loraStack(from: decoded.tensors) == stack)
    }

    @Test func aShareWithoutItsScaleIsRefused() throws {
        let stack = LoRAStack(adapters: ["blocks.0.attn2.to_k": [Self.adapter(rank: 2, inFeatures: 8, outFeatures: 8, bias: false, seed: 1, scale: 1)]])
        let tensors = try StageTensors.loraTensors(stack).filter { !$0.name.hasSuffix(".scale") }
        #expect(throws: StageProtocolError.self) { try StageTensors.loraStack(from: tensors) }
    }

    @Test func aShareWithAGapInItsAdaptersIsRefused() throws {
        let stack = LoRAStack(adapters: ["blocks.0.attn2.to_k": [
            Self.adapter(rank: 2, inFeatures: 8, outFeatures: 8, bias: false, seed: 1, scale: 1),
            Self.adapter(rank: 2, inFeatures: 8, outFeatures: 8, bias: false, seed: 2, scale: 1),
        ]])
        let tensors = try StageTensors.loraTensors(stack).filter { !$0.name.hasPrefix("lora.0.") }
        #expect(throws: StageProtocolError.self) { try StageTensors.loraStack(from: tensors) }
    }
}
