// A job's LoRA share in a jobContext: the adapters of the modules a stage hosts, four tensors each, so a worker
// applies exactly the values the coordinator read from the files (the factors in the dtype they are kept in).
import Model
import Wire

extension StageTensors {
    /// Prefix of the LoRA tensors in a job context: `lora.<k>.<module>.{down,up,bias,scale}` for the k-th adapter
    /// (in the job's LoRA order) of diffusers module `<module>`; `scale` is `[1]`, `bias` optional.
    public static let loraPrefix = "lora."

    /// The adapters of `stack` as job-context tensors: the factors in their kept dtype (exact), scale and bias float32.
    public static func loraTensors(_ stack: LoRAStack) throws -> [NamedTensor] {
        var tensors: [NamedTensor] = []
        for (module, adapters) in stack.adapters.sorted(by: { $0.key < $1.key }) {
            for (index, adapter) in adapters.enumerated() {
                let base = "\(loraPrefix)\(index).\(module)."
                let dtype = WireDType(adapter.factorDType)
                tensors.append(try pack(base + "down", adapter.down, as: dtype))
                tensors.append(try pack(base + "up", adapter.up, as: dtype))
                if let bias = adapter.bias { tensors.append(try pack(base + "bias", bias)) }
                tensors.append(try pack(base + "scale", Tensor(shape: [1], scalars: [adapter.scale])))
            }
        }
        return tensors
    }

    /// The LoRA adapters a job context carries (an empty stack when it carries none), checked: every name well
    /// formed, every adapter with a down, an up and a finite scale, the factors' ranks and the bias's width agreeing,
    /// adapter indices without gaps. Whether the modules belong to the stage is the transformer's check.
    public static func loraStack(from tensors: [NamedTensor]) throws -> LoRAStack {
        var parts: [String: [Int: [String: Tensor]]] = [:]
        var dtypes: [String: [Int: DType]] = [:]
        for named in tensors where named.name.hasPrefix(loraPrefix) {
            let rest = named.name.dropFirst(loraPrefix.count)
            guard let firstDot = rest.firstIndex(of: "."), let index = Int(rest[..<firstDot]), (0..<64).contains(index),
                let lastDot = rest.lastIndex(of: "."), lastDot > firstDot
            else { throw StageProtocolError("jobContext tensor \"\(named.name)\" is not lora.<k>.<module>.<part>") }
            let module = String(rest[rest.index(after: firstDot)..<lastDot])
            let part = String(rest[rest.index(after: lastDot)...])
            guard ["down", "up", "bias", "scale"].contains(part), !module.isEmpty else {
                throw StageProtocolError("jobContext tensor \"\(named.name)\" has no known LoRA part (down, up, bias, scale)")
            }
            guard parts[module, default: [:]][index, default: [:]][part] == nil else {
                throw StageProtocolError("jobContext carries \"\(named.name)\" twice")
            }
            parts[module, default: [:]][index, default: [:]][part] = Tensor(shape: named.tensor.shape) { named.tensor.widen(into: $0) }
            if part == "down" { dtypes[module, default: [:]][index] = DType(named.tensor.dtype) }
        }
        var adapters: [String: [LowRankAdapter]] = [:]
        for (module, byIndex) in parts {
            guard Set(byIndex.keys) == Set(0..<byIndex.count) else {
                throw StageProtocolError("jobContext LoRA adapters of \(module) are numbered \(byIndex.keys.sorted()), not 0..<\(byIndex.count)")
            }
            adapters[module] = try (0..<byIndex.count).map {
                try adapter(module: module, index: $0, parts: byIndex[$0]!, dtype: dtypes[module]?[$0] ?? .float32)
            }
        }
        return LoRAStack(adapters: adapters)
    }

    private static func adapter(module: String, index: Int, parts: [String: Tensor], dtype: DType) throws -> LowRankAdapter {
        let name = "\(loraPrefix)\(index).\(module)"
        guard let down = parts["down"], let up = parts["up"], let scale = parts["scale"] else {
            throw StageProtocolError("jobContext LoRA adapter \(name) lacks its down, up or scale tensor")
        }
        guard down.rank == 2, up.rank == 2, down.shape[0] >= 1, up.shape[1] == down.shape[0], scale.shape == [1],
            scale.scalars[0].isFinite
        else {
            throw StageProtocolError("jobContext LoRA adapter \(name): down \(down.shape), up \(up.shape), scale \(scale.shape) do not fit")
        }
        if let bias = parts["bias"], bias.shape != [up.shape[0]] {
            throw StageProtocolError("jobContext LoRA adapter \(name): bias \(bias.shape) does not fit up \(up.shape)")
        }
        return LowRankAdapter(
            source: "job context", down: down, up: up, bias: parts["bias"], scale: scale.scalars[0], factorDType: dtype)
    }
}

extension WireDType {
    /// The wire form of a checkpoint dtype.
    init(_ dtype: DType) {
        switch dtype {
        case .float32: self = .float32
        case .float16: self = .float16
        case .bfloat16: self = .bfloat16
        }
    }
}

extension DType {
    /// The checkpoint dtype of a wire dtype.
    init(_ dtype: WireDType) {
        switch dtype {
        case .float32: self = .float32
        case .float16: self = .float16
        case .bfloat16: self = .bfloat16
        }
    }
}
