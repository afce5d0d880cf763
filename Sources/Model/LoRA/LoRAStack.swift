// A job's LoRAs together (diffusers' set_adapters with several adapter weights): per module, every file's update
// at its scale, in the job's order; checked against a transformer's weights and cut into a stage's share.

/// One LoRA of a job: a file and the scale it is applied at.
public struct LoRAReference: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The file's path (for a cluster job: where the coordinator stored it).
    public var path: String
    /// The adapter weight (`set_adapters(..., adapter_weights=)`); default 1.
    public var scale: Double

    /// A LoRA at `scale`.
    public init(path: String, scale: Double = 1) {
        self.path = path
        self.scale = scale
    }

    /// `FILE[:SCALE]`, as `--lora` takes it: the scale after the last colon when that parses as a finite number.
    public init(argument: String) throws(JobSpecError) {
        if let colon = argument.lastIndex(of: ":"), let value = Double(argument[argument.index(after: colon)...]) {
            guard value.isFinite else {
                throw JobSpecError(field: "lora", message: "scale \(value) of \(argument) is not a finite number")
            }
            self.init(path: String(argument[..<colon]), scale: value)
        } else {
            self.init(path: argument)
        }
        guard !path.isEmpty else { throw JobSpecError(field: "lora", message: "\"\(argument)\" names no file") }
    }

    public var description: String { scale == 1 ? path : "\(path):\(scale)" }
}

/// The adapters of a job's LoRAs, per diffusers module name, in the order the job lists the LoRAs.
public struct LoRAStack: Sendable, Equatable {
    /// Module name (`blocks.3.attn1.to_q`) -> its adapters.
    public let adapters: [String: [LowRankAdapter]]

    /// No LoRA.
    public static let none = LoRAStack(adapters: [:])

    /// A stack from adapters per module.
    public init(adapters: [String: [LowRankAdapter]]) {
        self.adapters = adapters.filter { !$0.value.isEmpty }
    }

    /// The files at their scales, in order (several LoRAs add up, as PEFT adds active adapters).
    public init(files: [(file: LoRAFile, scale: Float)]) {
        var adapters: [String: [LowRankAdapter]] = [:]
        for (file, scale) in files {
            for update in file.updates {
                adapters[update.module, default: []].append(LowRankAdapter(
                    source: file.fileName, down: update.down, up: update.up, bias: update.bias,
                    scale: scale * update.scale, factorDType: update.factorDType))
            }
        }
        self.init(adapters: adapters)
    }

    /// Reads every referenced file (`LoRAFile`), refusing a scale that is not finite; `displayNames` maps a path to
    /// the name messages use for it (a cluster job's attachment name).
    public static func load(_ references: [LoRAReference], displayNames: [String: String] = [:]) throws -> LoRAStack {
        try LoRAStack(files: references.map { reference in
            let name = displayNames[reference.path]
            guard reference.scale.isFinite else {
                throw LoRAError(file: name ?? reference.path, "scale \(reference.scale) is not a finite number")
            }
            return (try LoRAFile(path: reference.path, displayName: name), Float(reference.scale))
        })
    }

    /// Whether there is nothing to apply.
    public var isEmpty: Bool { adapters.isEmpty }

    /// Bytes the adapters hold (factors in their stored dtype, float32 biases).
    public var byteCount: Int { adapters.values.joined().reduce(0) { $0 + $1.byteCount } }

    /// The adapters of `module` (empty when the LoRAs leave it alone).
    public func adapters(for module: String) -> [LowRankAdapter] { adapters[module] ?? [] }

    /// The share of a stage hosting blocks `blocks`, plus the entry and exit pieces' modules when asked.
    public func share(blocks: Range<Int>, entryAndExit: Bool) -> LoRAStack {
        LoRAStack(adapters: adapters.filter { module, _ in
            if let block = Self.block(of: module) { return blocks.contains(block) }
            return entryAndExit
        })
    }

    /// The block a module belongs to (`blocks.<n>.…`), or nil outside the blocks.
    public static func block(of module: String) -> Int? {
        guard module.hasPrefix("blocks.") else { return nil }
        return Int(module.dropFirst("blocks.".count).prefix { $0 != "." })
    }
}
