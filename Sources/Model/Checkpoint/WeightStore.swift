// Strict loading of one diffusers component folder (a single safetensors file or a sharded index).
import Foundation

/// The weights of one component folder, handed out key by key with shape checks, so that loading can
/// prove every expected key was present, had the right shape, and that no key was left unused.
///
/// The folder holds either `<stem>.safetensors` or `<stem>.safetensors.index.json` (whose `weight_map`
/// maps each key to a shard file in the same folder). Every shard is memory-mapped; only the tensors taken
/// are ever read, so a pipeline stage that takes only its blocks touches only their pages.
public final class WeightStore {
    /// The folder.
    public let directory: String
    /// The open files by file name.
    private let files: [String: SafeTensorsFile]
    /// Which file holds each key.
    private let fileOfKey: [String: String]
    /// Keys handed out so far.
    private var usedKeys: Set<String> = []
    /// The file that names the key set: the single file or the index, for messages.
    public let sourceName: String

    /// The largest number of shard files accepted in an index.
    public static let maximumShardCount = 10_000
    /// The largest index file accepted (bytes).
    public static let maximumIndexBytes = 100_000_000

    /// Opens `<directory>/<fileStem>.safetensors`, or else the shards listed in
    /// `<directory>/<fileStem>.safetensors.index.json`, and checks that the index and the shards agree.
    public init(directory: String, fileStem: String = "diffusion_pytorch_model") throws {
        self.directory = directory
        let singlePath = directory + "/" + fileStem + ".safetensors"
        let indexPath = singlePath + ".index.json"
        if FileManager.default.fileExists(atPath: singlePath) {
            let file = try SafeTensorsFile(path: singlePath)
            let name = file.fileName
            files = [name: file]
            fileOfKey = Dictionary(uniqueKeysWithValues: file.names.map { ($0, name) })
            sourceName = name
            return
        }
        guard FileManager.default.fileExists(atPath: indexPath) else {
            throw CheckpointError.fileNotFound(path: singlePath + " (nor " + indexPath + ")")
        }
        let indexName = fileStem + ".safetensors.index.json"
        let weightMap = try WeightStore.readWeightMap(indexPath, name: indexName)
        var openFiles: [String: SafeTensorsFile] = [:]
        for shardName in Set(weightMap.values).sorted() {
            if shardName.isEmpty || shardName.contains("/") || shardName == "." || shardName == ".." {
                throw CheckpointError.invalidIndex(file: indexName, reason: "shard name \"\(shardName)\" is not a plain file name")
            }
            let shardPath = directory + "/" + shardName
            guard FileManager.default.fileExists(atPath: shardPath) else {
                throw CheckpointError.invalidIndex(file: indexName, reason: "shard \(shardName) does not exist in \(directory)")
            }
            openFiles[shardName] = try SafeTensorsFile(path: shardPath)
        }
        for (key, shardName) in weightMap.sorted(by: { $0.key < $1.key }) where openFiles[shardName]!.info(named: key) == nil {
            throw CheckpointError.invalidIndex(file: indexName, reason: "tensor \"\(key)\" is mapped to \(shardName), which does not contain it")
        }
        for (shardName, file) in openFiles.sorted(by: { $0.key < $1.key }) {
            for key in file.names where weightMap[key] != shardName {
                throw CheckpointError.invalidIndex(
                    file: indexName, reason: "tensor \"\(key)\" in \(shardName) is not mapped to that shard by the weight_map")
            }
        }
        files = openFiles
        fileOfKey = weightMap
        sourceName = indexName
    }

    private static func readWeightMap(_ path: String, name: String) throws -> [String: String] {
        let mapping = try MappedFile(path: path)
        guard mapping.size <= maximumIndexBytes else {
            throw CheckpointError.invalidIndex(file: name, reason: "\(mapping.size) bytes exceeds the limit \(maximumIndexBytes)")
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(
                UnsafeBufferPointer(start: mapping.base?.assumingMemoryBound(to: UInt8.self), count: mapping.size))
        } catch {
            throw CheckpointError.invalidIndex(file: name, reason: "bad JSON: \(error)")
        }
        guard case .object(let top) = json, case .object(let map)? = top["weight_map"] else {
            throw CheckpointError.invalidIndex(file: name, reason: "no \"weight_map\" object")
        }
        var weightMap: [String: String] = [:]
        for (key, value) in map {
            guard case .string(let shard) = value else {
                throw CheckpointError.invalidIndex(file: name, reason: "weight_map entry for \"\(key)\" is not a string")
            }
            weightMap[key] = shard
        }
        guard Set(weightMap.values).count <= maximumShardCount else {
            throw CheckpointError.invalidIndex(file: name, reason: "more than \(maximumShardCount) shards")
        }
        return weightMap
    }

    /// Every key, sorted.
    public var keys: [String] { fileOfKey.keys.sorted() }

    /// The file names (shards), sorted.
    public var fileNames: [String] { files.keys.sorted() }

    /// Whether `key` is present.
    public func contains(_ key: String) -> Bool { fileOfKey[key] != nil }

    /// The dtype and shape of `key`, or nil when absent (does not mark the key used).
    public func info(_ key: String) -> (dtype: DType, shape: [Int])? {
        guard let fileName = fileOfKey[key] else { return nil }
        return files[fileName]?.info(named: key)
    }

    /// The tensor `key`, which must exist and have shape `shape`; marks it used.
    public func take(_ key: String, shape: [Int]) throws -> StoredTensor {
        guard let tensor = try takeOptional(key, shape: shape) else {
            throw CheckpointError.missingKey(key: key, file: sourceName)
        }
        return tensor
    }

    /// The tensor `key` if present (then it must have shape `shape`, and is marked used), else nil.
    public func takeOptional(_ key: String, shape: [Int]) throws -> StoredTensor? {
        guard let fileName = fileOfKey[key], let file = files[fileName] else { return nil }
        let tensor = try file.tensor(named: key)
        guard tensor.shape == shape else {
            throw CheckpointError.shapeMismatch(key: key, file: fileName, expected: shape, found: tensor.shape)
        }
        usedKeys.insert(key)
        return tensor
    }

    /// Throws `CheckpointError.unusedKeys` naming every key not taken (only keys that start with one of
    /// `prefixes`, when given, so a pipeline stage can check just its own blocks).
    public func verifyAllUsed(prefixes: [String]? = nil) throws {
        let unused = fileOfKey.keys.filter { key in
            !usedKeys.contains(key) && (prefixes.map { $0.contains { key.hasPrefix($0) } } ?? true)
        }.sorted()
        if unused.isEmpty { return }
        let unusedFiles = Set(unused.compactMap { fileOfKey[$0] }).sorted()
        throw CheckpointError.unusedKeys(keys: unused, files: unusedFiles)
    }
}

@available(*, unavailable)
extension WeightStore: Sendable {}
