// PEFT's per-module scaling (`lora_alpha / r`, or `/ sqrt(r)` with rsLoRA) from the `lora_adapter_metadata` that
// diffusers' `save_lora_weights` writes into a safetensors header, as `load_lora_weights` reads it back.

/// The scaling a diffusers-format file's metadata asks for; 1 for every module when the file has none (PEFT's
/// convention when no alpha is known: alpha equals the rank).
struct LoRAMetadataScales {
    /// `transformer.lora_alpha`.
    var alpha: Double?
    /// `transformer.r`.
    var rank: Int?
    /// `transformer.alpha_pattern`: module name (or a dotted suffix of it) -> alpha.
    var alphaPattern: [String: Double] = [:]
    /// `transformer.rank_pattern`: module name (or a dotted suffix of it) -> rank.
    var rankPattern: [String: Int] = [:]
    /// `transformer.use_rslora`.
    var rsLoRA = false

    /// The header key diffusers writes the adapter's configuration under.
    static let metadataKey = "lora_adapter_metadata"

    /// Reads `metadata[lora_adapter_metadata]` (a JSON object with `transformer.`-prefixed LoraConfig fields);
    /// absent metadata means scale 1.
    init(metadata: [String: String], file: String) throws {
        guard let text = metadata[Self.metadataKey] else { return }
        let json: JSONValue
        do { json = try JSONParser.parse(Array(text.utf8)) } catch {
            throw LoRAError(file: file, key: Self.metadataKey, "the header metadata is not JSON: \(error)")
        }
        guard case .object(let fields) = json else {
            throw LoRAError(file: file, key: Self.metadataKey, "the header metadata is not a JSON object")
        }
        func number(_ name: String) -> Double? {
            if case .number(let text)? = fields["transformer." + name] { return Double(text) }
            return nil
        }
        alpha = number("lora_alpha")
        rank = number("r").flatMap { Int(exactly: $0) }
        if case .bool(true)? = fields["transformer.use_rslora"] { rsLoRA = true }
        if case .bool(true)? = fields["transformer.use_dora"] {
            throw LoRAError(file: file, key: Self.metadataKey, "a DoRA adapter (use_dora), which this engine does not apply")
        }
        if case .object(let pattern)? = fields["transformer.alpha_pattern"] {
            for (module, value) in pattern {
                if case .number(let text) = value, let alpha = Double(text) { alphaPattern[module] = alpha }
            }
        }
        if case .object(let pattern)? = fields["transformer.rank_pattern"] {
            for (module, value) in pattern {
                if case .number(let text) = value, let whole = Int(text) { rankPattern[module] = whole }
            }
        }
    }

    /// The value of the pattern entry matching `module` (PEFT matches a key equal to the module name or a
    /// dotted suffix of it), else `fallback`.
    private func lookup<V>(_ pattern: [String: V], module: String, fallback: V?) -> V? {
        let match = pattern.keys.filter { module == $0 || module.hasSuffix("." + $0) }.max { $0.count < $1.count }
        return match.map { pattern[$0]! } ?? fallback
    }

    /// PEFT's scaling of `module`, whose factors have rank `rank`; refuses metadata whose rank disagrees.
    func scale(module: String, rank: Int, file: String) throws -> Float {
        if let declared = lookup(rankPattern, module: module, fallback: self.rank), declared != rank {
            throw LoRAError(file: file, key: module, "the metadata gives rank \(declared), the factors have rank \(rank)")
        }
        let alpha = lookup(alphaPattern, module: module, fallback: self.alpha) ?? Double(rank)
        return Float(rsLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank))
    }
}
