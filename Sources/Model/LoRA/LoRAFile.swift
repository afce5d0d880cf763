// A LoRA safetensors file read the way diffusers' WanLoraLoaderMixin.load_lora_weights reads it: the key format
// detected, every key mapped to a diffusers module or dropped as diffusers drops it, the `alpha / rank` scales of
// non-diffusers files applied as its converters apply them, and PEFT's scaling from a diffusers file's metadata.
import Foundation

/// The low-rank updates of one LoRA file, per diffusers module, before any model is involved.
///
/// Shapes are checked within the file here (rank of down and up, bias width); against a model's weights by
/// `LoRAStack.check(against:)`.
public struct LoRAFile: Sendable {
    /// The file's path.
    public let path: String
    /// How messages name the file (its file name, or the name a client gave it).
    public let fileName: String
    /// The key format the file uses.
    public let format: LoRAKeyFormat
    /// The updates, sorted by module.
    public let updates: [LoRAUpdate]
    /// Keys diffusers' loader drops, with why (norm deltas, `.diff` whole-weight deltas, DoRA magnitudes).
    public let ignoredKeys: [(key: String, reason: String)]

    /// The tensors of one module while a file is read.
    struct ModuleParts {
        var down: (key: String, tensor: StoredTensor)?
        var up: (key: String, tensor: StoredTensor)?
        var alpha: (key: String, tensor: StoredTensor)?
        var bias: (key: String, tensor: StoredTensor)?
        var weightDelta: (key: String, tensor: StoredTensor)?
    }

    /// Reads and converts the LoRA at `path`. Throws `LoRAError` naming the file and key for anything diffusers
    /// would not load the same way: an unknown key, a rank that differs between down and up, a bias without its
    /// factors, an alpha that is not one finite number, a value that is not finite.
    public init(path: String, displayName: String? = nil) throws {
        self.path = path
        let name = displayName ?? (path as NSString).lastPathComponent
        fileName = name
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch { throw LoRAError(file: name, "\(error)") }
        let keys = file.names
        guard !keys.isEmpty else { throw LoRAError(file: name, "the file holds no tensors") }
        format = LoRAKeyFormat.detect(keys: keys)
        let hasTimeProjectionWeight = keys.contains {
            $0.hasPrefix("diffusion_model.time_projection") && $0.hasSuffix(".weight")
        }
        var parts: [String: ModuleParts] = [:]
        var ignored: [(key: String, reason: String)] = []
        for key in keys {
            if key.contains("dora_scale") {
                ignored.append((key, "a DoRA magnitude, which diffusers drops"))
                continue
            }
            switch format.map(key, hasTimeProjectionWeight: hasTimeProjectionWeight) {
            case .ignored(let reason)?:
                ignored.append((key, reason))
            case .mapped(let module, let role)?:
                let tensor = try file.tensor(named: key)
                try Self.store(tensor, key: key, role: role, in: &parts[module, default: ModuleParts()], file: name)
            case nil:
                throw LoRAError(file: name, key: key, "not a key of a \(format) LoRA for a Wan transformer")
            }
        }
        let scales = try LoRAMetadataScales(metadata: file.metadata, file: name)
        let format = self.format
        updates = try parts.keys.sorted().map { module in
            try Self.update(module, parts[module]!, format: format, metadataScale: scales, file: name)
        }
        ignoredKeys = ignored
    }

    private static func store(
        _ tensor: StoredTensor, key: String, role: LoRAKeyRole, in parts: inout ModuleParts, file: String
    ) throws {
        let entry = (key: key, tensor: tensor)
        func duplicate(_ other: String?) throws {
            if let other { throw LoRAError(file: file, key: key, "gives the same tensor as \"\(other)\"") }
        }
        switch role {
        case .down: try duplicate(parts.down?.key); parts.down = entry
        case .up: try duplicate(parts.up?.key); parts.up = entry
        case .alpha: try duplicate(parts.alpha?.key); parts.alpha = entry
        case .bias: try duplicate(parts.bias?.key); parts.bias = entry
        case .weightDelta: try duplicate(parts.weightDelta?.key); parts.weightDelta = entry
        }
    }
}
