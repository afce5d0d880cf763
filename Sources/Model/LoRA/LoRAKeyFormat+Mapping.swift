// Key by key, what diffusers' Wan LoRA converters (loaders/lora_conversion_utils.py) make of each format's names.

extension LoRAKeyFormat {
    /// The diffusers module and role of `key`, or why it is dropped; nil for a key this format does not know.
    /// `hasTimeProjectionWeight` says whether the file has `time_projection` weight keys (without them diffusers
    /// drops the `time_projection` bias deltas, as AccVideo files carry).
    func map(_ key: String, hasTimeProjectionWeight: Bool) -> LoRAKeyMapping? {
        switch self {
        case .diffusers: return Self.mapDiffusers(key)
        case .wan: return Self.mapWan(key, hasTimeProjectionWeight: hasTimeProjectionWeight)
        case .musubi: return Self.mapMusubi(key)
        }
    }

    /// The module part and role of a key ending in one of `suffixes`.
    private static func split(_ key: String, _ suffixes: [(String, LoRAKeyRole)]) -> (String, LoRAKeyRole)? {
        for (suffix, role) in suffixes where key.hasSuffix(suffix) && key.count > suffix.count {
            return (String(key.dropLast(suffix.count)), role)
        }
        return nil
    }

    // MARK: - diffusers / PEFT

    private static func mapDiffusers(_ key: String) -> LoRAKeyMapping? {
        guard key.hasPrefix("transformer.") else { return nil }
        let name = String(key.dropFirst("transformer.".count))
        let suffixes: [(String, LoRAKeyRole)] = [(".lora_A.weight", .down), (".lora_B.weight", .up), (".lora_B.bias", .bias)]
        guard let (module, role) = split(name, suffixes) else { return nil }
        return .mapped(module: module, role: role)
    }

    // MARK: - original Wan

    private static let wanSuffixes: [(String, LoRAKeyRole)] = [
        (".lora_down.weight", .down), (".lora_A.weight", .down), (".lora_up.weight", .up), (".lora_B.weight", .up),
        (".alpha", .alpha), (".diff_b", .bias), (".diff", .weightDelta),
    ]

    /// `blocks.N.<original>` -> `blocks.N.<diffusers>`, for the modules diffusers' converter maps inside blocks.
    private static let wanBlockModules: [String: String] = [
        "self_attn.q": "attn1.to_q", "self_attn.k": "attn1.to_k", "self_attn.v": "attn1.to_v",
        "self_attn.o": "attn1.to_out.0", "cross_attn.q": "attn2.to_q", "cross_attn.k": "attn2.to_k",
        "cross_attn.v": "attn2.to_v", "cross_attn.o": "attn2.to_out.0", "cross_attn.k_img": "attn2.add_k_proj",
        "cross_attn.v_img": "attn2.add_v_proj", "ffn.0": "ffn.net.0.proj", "ffn.2": "ffn.net.2",
    ]

    /// The modules outside the blocks diffusers' converter maps (it applies no `alpha` to these).
    private static let wanOtherModules: [String: String] = [
        "time_projection.1": "condition_embedder.time_proj", "head.head": "proj_out",
        "text_embedding.0": "condition_embedder.text_embedder.linear_1",
        "text_embedding.2": "condition_embedder.text_embedder.linear_2",
        "time_embedding.0": "condition_embedder.time_embedder.linear_1",
        "time_embedding.2": "condition_embedder.time_embedder.linear_2",
        "img_emb.proj.1": "condition_embedder.image_embedder.ff.net.0.proj",
        "img_emb.proj.3": "condition_embedder.image_embedder.ff.net.2",
    ]

    private static func mapWan(_ key: String, hasTimeProjectionWeight: Bool) -> LoRAKeyMapping? {
        guard key.hasPrefix("diffusion_model.") else { return nil }
        let name = String(key.dropFirst("diffusion_model.".count))
        guard let (original, role) = split(name, wanSuffixes) else { return nil }
        if (role == .bias || role == .weightDelta) && name.contains("norm") {
            return .ignored(reason: "a norm's delta, which diffusers drops")
        }
        if name.hasPrefix("time_projection") && !hasTimeProjectionWeight {
            return .ignored(reason: "a time_projection key in a file without time_projection weights, which diffusers drops")
        }
        // Only the head's whole-weight delta is used (as a down factor with an identity up).
        if role == .weightDelta && original != "head.head" {
            return .ignored(reason: "a whole-weight delta, which diffusers ignores")
        }
        if original.hasPrefix("blocks.") {
            let parts = original.split(separator: ".", maxSplits: 2).map(String.init)
            guard parts.count == 3, let block = Int(parts[1]), block >= 0, String(block) == parts[1],
                let module = wanBlockModules[parts[2]]
            else { return nil }
            return .mapped(module: "blocks.\(block).\(module)", role: role)
        }
        return wanOtherModules[original].map { .mapped(module: $0, role: role) }
    }

    // MARK: - musubi / kohya

    private static let musubiModules: [String: String] = [
        "self_attn_q": "attn1.to_q", "self_attn_k": "attn1.to_k", "self_attn_v": "attn1.to_v",
        "self_attn_o": "attn1.to_out.0", "cross_attn_q": "attn2.to_q", "cross_attn_k": "attn2.to_k",
        "cross_attn_v": "attn2.to_v", "cross_attn_o": "attn2.to_out.0", "cross_attn_k_img": "attn2.add_k_proj",
        "cross_attn_v_img": "attn2.add_v_proj", "ffn_0": "ffn.net.0.proj", "ffn_2": "ffn.net.2",
    ]

    private static func mapMusubi(_ key: String) -> LoRAKeyMapping? {
        guard key.hasPrefix("lora_unet_blocks_") else { return nil }
        let name = String(key.dropFirst("lora_unet_blocks_".count))
        let suffixes: [(String, LoRAKeyRole)] = [(".lora_down.weight", .down), (".lora_up.weight", .up), (".alpha", .alpha)]
        guard let (original, role) = split(name, suffixes) else { return nil }
        let parts = original.split(separator: "_", maxSplits: 1).map(String.init)
        guard parts.count == 2, let block = Int(parts[0]), block >= 0, String(block) == parts[0],
            let module = musubiModules[parts[1]]
        else { return nil }
        return .mapped(module: "blocks.\(block).\(module)", role: role)
    }
}
