// Tests of strict weight loading: missing, extra and wrong-shaped keys, prefixes, and sharded indexes.
import Foundation
import Testing
@testable import Model

@Suite struct CheckpointWeightStoreTests {
    /// A folder with one diffusion_pytorch_model.safetensors holding `shapes`.
    func singleFileFolder(_ shapes: [String: [Int]]) throws -> String {
        let folder = try temporaryFolder("store")
        let tensors = shapes.map { (name: $0.key, tensor: Tensor.randomNormal(shape: $0.value, seed: 3, stream: KeyedRandom.stream(named: $0.key))) }
        try SafeTensorsWriter.write(tensors, to: folder + "/diffusion_pytorch_model.safetensors")
        return folder
    }

    @Test func strictLoading() throws {
        let folder = try singleFileFolder([
            "blocks.0.attn1.to_q.weight": [4, 4], "blocks.0.attn1.to_q.bias": [4], "blocks.1.norm.weight": [4],
            "extra.weight": [2],
        ])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try WeightStore(directory: folder)
        let layer = try Linear(store: store, prefix: "blocks.0.attn1.to_q", inFeatures: 4, outFeatures: 4)
        #expect(layer.inFeatures == 4 && layer.outFeatures == 4)
        #expect(checkpointError { _ = try store.take("blocks.1.norm.weight", shape: [8]) }
            == .shapeMismatch(key: "blocks.1.norm.weight", file: "diffusion_pytorch_model.safetensors", expected: [8], found: [4]))
        #expect(checkpointError { _ = try store.take("blocks.9.missing", shape: [1]) }
            == .missingKey(key: "blocks.9.missing", file: "diffusion_pytorch_model.safetensors"))
        #expect(try store.takeOptional("blocks.9.missing", shape: [1]) == nil)
        // Only block 0 was loaded: a stage owning block 0 passes, the whole folder does not.
        try store.verifyAllUsed(prefixes: ["blocks.0."])
        #expect(checkpointError { try store.verifyAllUsed() }
            == .unusedKeys(keys: ["blocks.1.norm.weight", "extra.weight"], files: ["diffusion_pytorch_model.safetensors"]))
        _ = try store.take("blocks.1.norm.weight", shape: [4])
        #expect(checkpointError { try store.verifyAllUsed(prefixes: ["blocks."]) } == nil)
        let error = checkpointError { try store.verifyAllUsed() }
        #expect(error == .unusedKeys(keys: ["extra.weight"], files: ["diffusion_pytorch_model.safetensors"]))
        #expect(error?.description.contains("\"extra.weight\"") == true)
        let mismatch = CheckpointError.shapeMismatch(
            key: "blocks.3.attn1.to_q.weight", file: "diffusion_pytorch_model.safetensors", expected: [1536, 1536], found: [1536, 1024])
        #expect(mismatch.description == #"shape mismatch for "blocks.3.attn1.to_q.weight" in diffusion_pytorch_model.safetensors: expected [1536, 1536], found [1536, 1024]"#)
    }

    @Test func missingFolderContents() throws {
        let folder = try temporaryFolder("empty")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        guard case .fileNotFound? = checkpointError({ _ = try WeightStore(directory: folder) }) else {
            Issue.record("expected fileNotFound")
            return
        }
    }

    /// Writes two shards and an index mapping `weightMap`.
    func writeShards(_ folder: String, weightMap: [String: String]) throws {
        try SafeTensorsWriter.write(
            [(name: "a.weight", tensor: Tensor(repeating: 1, shape: [2, 3])), (name: "b.weight", tensor: Tensor(repeating: 2, shape: [3]))],
            to: folder + "/model-00001-of-00002.safetensors")
        try SafeTensorsWriter.write(
            [(name: "c.weight", tensor: Tensor(repeating: 3, shape: [4]))], dtype: .bfloat16,
            to: folder + "/model-00002-of-00002.safetensors")
        let entries = weightMap.keys.sorted().map { "\"\($0)\": \"\(weightMap[$0]!)\"" }.joined(separator: ", ")
        try #"{"metadata": {"total_size": 40}, "weight_map": {\#(entries)}}"#
            .write(toFile: folder + "/model.safetensors.index.json", atomically: true, encoding: .utf8)
    }

    @Test func shardedIndexRoundTrip() throws {
        let folder = try temporaryFolder("sharded")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = "model-00001-of-00002.safetensors", second = "model-00002-of-00002.safetensors"
        try writeShards(folder, weightMap: ["a.weight": first, "b.weight": first, "c.weight": second])
        let store = try WeightStore(directory: folder, fileStem: "model")
        #expect(store.keys == ["a.weight", "b.weight", "c.weight"])
        #expect(try store.take("c.weight", shape: [4]).float32().scalars == [3, 3, 3, 3])
        #expect(try store.take("a.weight", shape: [2, 3]).dtype == .float32)
        #expect(checkpointError { _ = try store.take("c.weight", shape: [5]) }
            == .shapeMismatch(key: "c.weight", file: second, expected: [5], found: [4]))
        #expect(checkpointError { try store.verifyAllUsed() } == .unusedKeys(keys: ["b.weight"], files: [first]))
    }

    @Test func shardedIndexInconsistencies() throws {
        let folder = try temporaryFolder("badindex")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = "model-00001-of-00002.safetensors", second = "model-00002-of-00002.safetensors"
        // A key mapped to the wrong shard.
        try writeShards(folder, weightMap: ["a.weight": second, "b.weight": first, "c.weight": second])
        guard case .invalidIndex(_, let reason)? = checkpointError({ _ = try WeightStore(directory: folder, fileStem: "model") }) else {
            Issue.record("expected invalidIndex")
            return
        }
        #expect(reason.contains("\"a.weight\""))
        // A shard that does not exist.
        try writeShards(folder, weightMap: ["a.weight": first, "b.weight": first, "c.weight": "model-00003-of-00002.safetensors"])
        guard case .invalidIndex(_, let missing)? = checkpointError({ _ = try WeightStore(directory: folder, fileStem: "model") }) else {
            Issue.record("expected invalidIndex for a missing shard")
            return
        }
        #expect(missing.contains("model-00003-of-00002.safetensors"))
        // A shard key the index does not list.
        try writeShards(folder, weightMap: ["a.weight": first, "c.weight": second])
        guard case .invalidIndex(_, let unlisted)? = checkpointError({ _ = try WeightStore(directory: folder, fileStem: "model") }) else {
            Issue.record("expected invalidIndex for an unlisted key")
            return
        }
        #expect(unlisted.contains("\"b.weight\""))
        // A path escaping the folder.
        try writeShards(folder, weightMap: ["a.weight": "../x.safetensors"])
        guard case .invalidIndex? = checkpointError({ _ = try WeightStore(directory: folder, fileStem: "model") }) else {
            Issue.record("expected invalidIndex for a path")
            return
        }
    }
}
