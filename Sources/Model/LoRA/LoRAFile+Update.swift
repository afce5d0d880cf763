// One module's tensors turned into the LoRAUpdate PEFT would hold after diffusers' converters: factor shapes
// checked, `alpha / rank` split between down and up in the file's own dtype (`get_alpha_scales`), a head `.diff`
// as down with an identity up.

extension LoRAFile {
    /// The update of `module` from its parts.
    static func update(
        _ module: String, _ parts: ModuleParts, format: LoRAKeyFormat, metadataScale: LoRAMetadataScales, file: String
    ) throws -> LoRAUpdate {
        if let delta = parts.weightDelta { return try weightDeltaUpdate(module, parts, delta: delta, file: file) }
        guard let down = parts.down, let up = parts.up else {
            let present = parts.down ?? parts.up ?? parts.bias ?? parts.alpha!
            let missing = parts.down == nil ? "down (lora_A / lora_down)" : "up (lora_B / lora_up)"
            throw LoRAError(file: file, key: present.key, "module \(module) has no \(missing) factor")
        }
        guard down.tensor.shape.count == 2, down.tensor.shape[0] > 0 else {
            throw LoRAError(file: file, key: down.key, "a down factor must be [rank, in], got \(down.tensor.shape)")
        }
        let rank = down.tensor.shape[0]
        guard up.tensor.shape.count == 2, up.tensor.shape[1] == rank else {
            throw LoRAError(
                file: file, key: up.key, "an up factor must be [out, \(rank)] to match the down factor's rank \(rank), got \(up.tensor.shape)")
        }
        let bias = try parts.bias.map { try checkedBias($0, outFeatures: up.tensor.shape[0], file: file) }
        var downValues = try finiteValues(down, file: file)
        var upValues = try finiteValues(up, file: file)
        if let alpha = parts.alpha {
            if format == .wan && !module.hasPrefix("blocks.") {
                throw LoRAError(file: file, key: alpha.key, "diffusers applies no alpha outside the blocks and refuses this file")
            }
            let (downScale, upScale) = try alphaScales(alpha, rank: rank, file: file)
            downValues = scaled(downValues, by: downScale, roundingTo: down.tensor.dtype)
            upValues = scaled(upValues, by: upScale, roundingTo: up.tensor.dtype)
        }
        // Both factors keep the file's dtype when they share it (a mixed file keeps float32).
        let dtype = down.tensor.dtype == up.tensor.dtype ? down.tensor.dtype : .float32
        return LoRAUpdate(
            module: module, down: downValues, up: upValues, bias: bias,
            scale: try metadataScale.scale(module: module, rank: rank, file: file), factorDType: dtype)
    }

    /// diffusers' `head.head.diff`: the delta becomes `lora_A` and `lora_B` an identity of the bias's width, so the
    /// module adds the whole delta (the file must carry `head.head.diff_b` too, as diffusers requires).
    private static func weightDeltaUpdate(
        _ module: String, _ parts: ModuleParts, delta: (key: String, tensor: StoredTensor), file: String
    ) throws -> LoRAUpdate {
        if let other = parts.down ?? parts.up ?? parts.alpha {
            throw LoRAError(file: file, key: other.key, "module \(module) has both a whole-weight delta (\(delta.key)) and LoRA factors")
        }
        guard let biasPart = parts.bias else {
            throw LoRAError(file: file, key: delta.key, "a head delta needs its bias delta (.diff_b) too, as diffusers requires")
        }
        guard delta.tensor.shape.count == 2, delta.tensor.shape[0] == biasPart.tensor.shape.first else {
            throw LoRAError(file: file, key: delta.key, "must be [out, in] with out = the bias delta's \(biasPart.tensor.shape), got \(delta.tensor.shape)")
        }
        let outFeatures = delta.tensor.shape[0]
        var identity = Tensor(zeros: [outFeatures, outFeatures])
        for index in 0..<outFeatures { identity.scalars[index * outFeatures + index] = 1 }
        return LoRAUpdate(
            module: module, down: try finiteValues(delta, file: file), up: identity,
            bias: try checkedBias(biasPart, outFeatures: outFeatures, file: file), scale: 1, factorDType: delta.tensor.dtype)
    }

    private static func checkedBias(_ bias: (key: String, tensor: StoredTensor), outFeatures: Int, file: String) throws -> Tensor {
        guard bias.tensor.shape == [outFeatures] else {
            throw LoRAError(file: file, key: bias.key, "a bias delta must be [\(outFeatures)] to match the up factor, got \(bias.tensor.shape)")
        }
        return try finiteValues(bias, file: file)
    }

    /// The values widened to float32, refused if any is NaN or infinite.
    static func finiteValues(_ entry: (key: String, tensor: StoredTensor), file: String) throws -> Tensor {
        let values = entry.tensor.float32()
        if let index = values.scalars.firstIndex(where: { !$0.isFinite }) {
            throw LoRAError(file: file, key: entry.key, "value \(index) is \(values.scalars[index]), not a finite number")
        }
        return values
    }

    /// diffusers' `get_alpha_scales`: `alpha / rank` as (down, up) factors, the down factor doubled and the up factor
    /// halved while down * 2 < up, computed in double precision as Python does.
    static func alphaScales(_ alpha: (key: String, tensor: StoredTensor), rank: Int, file: String) throws -> (Double, Double) {
        guard alpha.tensor.count == 1, alpha.tensor.shape.count <= 1 else {
            throw LoRAError(file: file, key: alpha.key, "an alpha must be one number (0-dimensional or [1]), got shape \(alpha.tensor.shape)")
        }
        let value = Double(alpha.tensor.float32().scalars[0])
        guard value.isFinite else { throw LoRAError(file: file, key: alpha.key, "alpha \(value) is not a finite number") }
        var down = value / Double(rank)
        var up = 1.0
        while down * 2 < up {
            down *= 2
            up /= 2
        }
        return (down, up)
    }

    /// `tensor * factor` in the tensor's own dtype, as PyTorch computes it: the product in float32, rounded to the
    /// dtype, then widened again for the float32 adapter.
    static func scaled(_ values: Tensor, by factor: Double, roundingTo dtype: DType) -> Tensor {
        let multiplier = Float(factor)
        var result = values
        result.withUnsafeMutableBufferPointer { buffer in
            for index in buffer.indices { buffer[index] *= multiplier }
        }
        if dtype == .float32 { return result }
        return StoredTensor(name: "", tensor: result, dtype: dtype).float32()
    }
}
