// diffusers' load_lora_weights + set_adapters on a WanTransformer3DModel: each adapted nn.Linear gets PEFT's
// LoRA layers; here the transformer (or the stage of it this process hosts) is copied with adapters on its layers.

extension WanTransformerConfig {
    /// Checks that every module of `stack` is a linear layer of this model and that every adapter's widths fit its
    /// weight; the error names the LoRA file and the module (a LoRA for another architecture or size fails here).
    public func check(_ stack: LoRAStack) throws {
        var shapes: [String: [Int]] = [:]
        for parameter in allParameters where parameter.name.hasSuffix(".weight") {
            shapes[String(parameter.name.dropLast(".weight".count))] = parameter.shape
        }
        for (module, adapters) in stack.adapters.sorted(by: { $0.key < $1.key }) {
            guard let shape = shapes[module], shape.count == 2 else {
                throw LoRAError(
                    file: adapters[0].source, key: module,
                    "this model has no such linear layer (\(numLayers) blocks, text-to-video): a LoRA for another model?")
            }
            for adapter in adapters where adapter.outFeatures != shape[0] || adapter.inFeatures != shape[1] {
                throw LoRAError(
                    file: adapter.source, key: module,
                    "the LoRA's factors make a [\(adapter.outFeatures), \(adapter.inFeatures)] update; the model's weight is \(shape): a LoRA for another model size?")
            }
        }
    }
}

extension WanTransformer {
    /// This transformer with `stack`'s adapters on the layers it hosts (the stack should be checked with
    /// `config.check` first). The copy has its own prompt cache: adapted text and cross-attention layers make other
    /// keys and values. An empty stack returns `self`.
    public func adapted(by stack: LoRAStack) -> WanTransformer {
        if stack.isEmpty { return self }
        var copy = self
        copy.promptCache = WanPromptCache()
        if var embedder = copy.conditionEmbedder {
            let prefix = "condition_embedder."
            embedder.timeLinear1 = embedder.timeLinear1.adapted(stack.adapters(for: prefix + "time_embedder.linear_1"))
            embedder.timeLinear2 = embedder.timeLinear2.adapted(stack.adapters(for: prefix + "time_embedder.linear_2"))
            embedder.timeProjection = embedder.timeProjection.adapted(stack.adapters(for: prefix + "time_proj"))
            embedder.textLinear1 = embedder.textLinear1.adapted(stack.adapters(for: prefix + "text_embedder.linear_1"))
            embedder.textLinear2 = embedder.textLinear2.adapted(stack.adapters(for: prefix + "text_embedder.linear_2"))
            copy.conditionEmbedder = embedder
        }
        for (offset, block) in layers.enumerated() {
            copy.blocks[offset] = copy.blocks[offset].adapted(by: stack, prefix: "blocks.\(block).")
        }
        if var head = copy.exitHead {
            head.projection = head.projection.adapted(stack.adapters(for: "proj_out"))
            copy.exitHead = head
        }
        return copy
    }
}

extension WanTransformerBlock {
    /// The block with `stack`'s adapters on its attention and feed-forward layers (`prefix` is `blocks.<n>.`).
    func adapted(by stack: LoRAStack, prefix: String) -> WanTransformerBlock {
        var copy = self
        copy.selfAttention = selfAttention.adapted(by: stack, prefix: prefix + "attn1.")
        copy.crossAttention = crossAttention.adapted(by: stack, prefix: prefix + "attn2.")
        copy.feedForward.projectIn = feedForward.projectIn.adapted(stack.adapters(for: prefix + "ffn.net.0.proj"))
        copy.feedForward.projectOut = feedForward.projectOut.adapted(stack.adapters(for: prefix + "ffn.net.2"))
        return copy
    }
}

extension WanAttention {
    /// The attention layer with `stack`'s adapters on its projections (`prefix` is `blocks.<n>.attn<k>.`).
    func adapted(by stack: LoRAStack, prefix: String) -> WanAttention {
        var copy = self
        copy.toQ = toQ.adapted(stack.adapters(for: prefix + "to_q"))
        copy.toK = toK.adapted(stack.adapters(for: prefix + "to_k"))
        copy.toV = toV.adapted(stack.adapters(for: prefix + "to_v"))
        copy.toOut = toOut.adapted(stack.adapters(for: prefix + "to_out.0"))
        return copy
    }
}
