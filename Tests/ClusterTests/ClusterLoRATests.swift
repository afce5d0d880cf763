// LoRAs on a real cluster: a job with a LoRA gives generate's bytes with the same LoRA on two workers that each
// apply their blocks' share; a job without one then runs on the same workers without a restart and gives generate's
// bytes without it; a LoRA that does not fit the model is refused at submit.
import Foundation
import Model
import Testing
@testable import Coordinator

@Suite(.serialized) struct ClusterLoRATests {
    /// A PEFT-format LoRA (rank 2) on every block layer and the head of the tiny4 model, written beside it.
    static func writeLoRA(root: String, model: String, name: String, outFeaturesOffset: Int = 0) throws -> String {
        let config = try WanTransformerConfig.load(path: root + "/" + model + "/transformer/config.json")
        var tensors: [(name: String, tensor: Tensor)] = []
        var seed: UInt64 = 1
        func add(_ module: String, in inFeatures: Int, out outFeatures: Int) {
            tensors.append(("transformer.\(module).lora_A.weight", Tensor.randomNormal(shape: [2, inFeatures], seed: seed, stream: 5) ))
            tensors.append(("transformer.\(module).lora_B.weight", Tensor.randomNormal(shape: [outFeatures + outFeaturesOffset, 2], seed: seed, stream: 6)))
            seed += 1
        }
        let dim = config.innerDim
        for block in 0..<config.numLayers {
            for projection in ["attn1.to_q", "attn1.to_v", "attn2.to_k", "attn2.to_out.0"] {
                add("blocks.\(block).\(projection)", in: dim, out: dim)
            }
            add("blocks.\(block).ffn.net.0.proj", in: dim, out: config.ffnDim)
        }
        add("proj_out", in: dim, out: config.patchOutputSize)
        let path = root + "/" + name
        try SafeTensorsWriter.write(tensors.map { ($0.name, Tensor(shape: $0.tensor.shape, scalars: $0.tensor.scalars.map { $0 * 0.2 })) }, to: path)
        return path
    }

    @Test(.timeLimit(.minutes(3))) func aLoRAJobAndAPlainJobMatchGenerateOnTwoWorkers() throws {
        let fixture = try ClusterFixture.shared.get()
        let lora = try Self.writeLoRA(root: fixture.root, model: fixture.model, name: "cluster-lora.safetensors")
        let arguments = ClusterFixture.jobArguments(steps: ClusterFixture.steps)
        let (status, output) = try runProgram(
            try BuiltProducts.directory() + "/coordinator",
            ["generate", "--model", fixture.model, "--threads", "1", "--quiet", "--out", "reference-lora.y4m",
             "--lora", lora + ":0.7"] + arguments, in: fixture.root)
        #expect(status == 0, "\(output)")
        let withLoRA = Array(try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/reference-lora.y4m")))
        #expect(withLoRA != fixture.reference, "the LoRA changed nothing")
        // Two workers of two blocks each; the budgets leave room for the LoRA share beside each job's text.
        let workers = (0..<2).map { LocalCluster.WorkerSpec(name: "w\($0)", memoryBytes: fixture.budgets[2] + (1 << 20)) }
        let cluster = try LocalCluster(root: fixture.root, model: fixture.model, workers: workers, windowFrames: 3, windowOverlap: 1)
        defer { cluster.stop() }
        try cluster.client("submit", arguments + ["--lora", lora + ":0.7", "--wait", "--quiet", "--out", "cluster-lora.y4m"])
        let produced = Array(try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/cluster-lora.y4m")))
        #expect(produced == withLoRA, "cluster output with the LoRA differs from generate; coordinator log:\n\(cluster.coordinatorLog)")
        #expect(cluster.workerLog("w1").contains("LoRA share of"), "\(cluster.workerLog("w1"))")
        try cluster.client("submit", arguments + ["--wait", "--quiet", "--out", "cluster-plain.y4m"])
        let plain = Array(try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/cluster-plain.y4m")))
        #expect(plain == fixture.reference, "the job after the LoRA job differs from generate without a LoRA")
    }

    @Test(.timeLimit(.minutes(2))) func aLoRAOfAnotherSizeIsRefusedAtSubmit() throws {
        let fixture = try ClusterFixture.shared.get()
        let lora = try Self.writeLoRA(
            root: fixture.root, model: fixture.model, name: "cluster-lora-wrong.safetensors", outFeaturesOffset: 8)
        let workers = [LocalCluster.WorkerSpec(name: "w0", memoryBytes: fixture.budgets[4] + (1 << 20))]
        let cluster = try LocalCluster(root: fixture.root, model: fixture.model, workers: workers, windowFrames: 3, windowOverlap: 1)
        defer { cluster.stop() }
        let (status, output) = try runProgram(
            cluster.binaries + "/coordinator",
            ["submit", "--config", cluster.configPath, "--lora", lora] + ClusterFixture.jobArguments(steps: 1),
            in: fixture.root)
        #expect(status != 0)
        #expect(output.contains("lora-0.safetensors") && output.contains("another model size"), "\(output)")
    }
}
