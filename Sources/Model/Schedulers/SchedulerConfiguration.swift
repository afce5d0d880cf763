// Picks and configures a scheduler from a diffusers scheduler_config.json (diffusers ConfigMixin.from_config).
import Foundation

/// A scheduler configuration as read from `scheduler/scheduler_config.json`: which class (`_class_name`) and its
/// checked fields. Unknown classes and unsupported option values are refused with errors naming them; unknown
/// fields are ignored, as diffusers ignores them.
public enum SchedulerConfiguration: Sendable, Equatable {
    /// `FlowMatchEulerDiscreteScheduler`.
    case euler(FlowMatchEulerDiscreteConfig)
    /// `UniPCMultistepScheduler`.
    case unipc(UniPCMultistepConfig)

    /// The Wan2.1 default: UniPC, flow prediction, order 2, bh2, with `flowShift` (3 for 480p, 5 for 720p).
    public static func wanDefault(flowShift: Double = 3.0) -> SchedulerConfiguration {
        .unipc(UniPCMultistepConfig(flowShift: flowShift))
    }

    /// Reads `scheduler_config.json` at `path` (a file, or a model folder holding `scheduler/scheduler_config.json`).
    public init(contentsOf path: String) throws {
        var isDirectory: ObjCBool = false
        var file = path
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            let nested = (path as NSString).appendingPathComponent("scheduler/scheduler_config.json")
            let direct = (path as NSString).appendingPathComponent("scheduler_config.json")
            file = FileManager.default.fileExists(atPath: nested) ? nested : direct
        }
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: file)
        } catch {
            throw SchedulerError.unreadableConfig(path: file, reason: "no such file")
        }
        if let size = attributes[.size] as? NSNumber, size.intValue > SchedulerLimits.maxConfigBytes {
            throw SchedulerError.unreadableConfig(
                path: file, reason: "\(size.intValue) bytes, more than the \(SchedulerLimits.maxConfigBytes) allowed")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw SchedulerError.unreadableConfig(path: file, reason: "cannot be read")
        }
        try self.init(jsonData: data, origin: file)
    }

    /// Decodes a scheduler_config.json document.
    public init(jsonData data: Data, origin: String = "scheduler_config.json") throws {
        try self.init(reader: SchedulerConfigReader(data: data, origin: origin))
    }

    init(reader: SchedulerConfigReader) throws {
        guard let classValue = reader.fields["_class_name"] else {
            throw SchedulerError.wrongType(field: "_class_name", expected: "a scheduler class name", seen: "nothing")
        }
        guard case .string(let className) = classValue else {
            throw SchedulerError.wrongType(field: "_class_name", expected: "a string", seen: classValue.summary)
        }
        switch className {
        case SchedulerKind.euler.className: self = .euler(try FlowMatchEulerDiscreteConfig(reader: reader))
        case SchedulerKind.unipc.className: self = .unipc(try UniPCMultistepConfig(reader: reader))
        default: throw SchedulerError.unknownClass(className)
        }
    }

    /// Which algorithm this configures.
    public var kind: SchedulerKind {
        switch self {
        case .euler: return .euler
        case .unipc: return .unipc
        }
    }

    /// The shift this configuration applies (`shift` for Euler, `flow_shift` for UniPC).
    public var shift: Double {
        switch self {
        case .euler(let config): return config.shift
        case .unipc(let config): return config.flowShift
        }
    }

    /// The configuration with a command-line override applied (`--scheduler unipc|euler`, `--shift S`), as
    /// `SchedulerClass.from_config(config, shift=...)` would build it. Switching class keeps `num_train_timesteps`
    /// and the shift (unless `shift` is given) and takes the other class's Wan defaults for the rest.
    public func overriding(kind newKind: SchedulerKind? = nil, shift newShift: Double? = nil) throws
        -> SchedulerConfiguration
    {
        let targetKind = newKind ?? kind
        let targetShift = newShift ?? shift
        var result: SchedulerConfiguration
        switch (self, targetKind) {
        case (.euler(var config), .euler):
            config.shift = targetShift
            result = .euler(config)
        case (.unipc(var config), .unipc):
            config.flowShift = targetShift
            result = .unipc(config)
        case (.euler(let config), .unipc):
            result = .unipc(UniPCMultistepConfig(numTrainTimesteps: config.numTrainTimesteps, flowShift: targetShift))
        case (.unipc(let config), .euler):
            result = .euler(
                FlowMatchEulerDiscreteConfig(numTrainTimesteps: config.numTrainTimesteps, shift: targetShift))
        }
        try result.validate()
        return result
    }

    /// Checks every value (also for configurations built in code).
    public func validate() throws {
        switch self {
        case .euler(let config): try config.validate()
        case .unipc(let config): try config.validate()
        }
    }

    /// The scheduler with its tables set for `stepCount` inference steps.
    public func makeScheduler(stepCount: Int) throws -> any DiffusionScheduler {
        switch self {
        case .euler(let config): return try FlowMatchEulerDiscreteScheduler(config: config, stepCount: stepCount)
        case .unipc(let config): return try UniPCMultistepScheduler(config: config, stepCount: stepCount)
        }
    }

    /// A scheduler_config.json document diffusers loads as the same scheduler (sorted keys, indented).
    public func jsonData() throws -> Data {
        var fields: [String: Any]
        switch self {
        case .euler(let config): fields = config.jsonFields
        case .unipc(let config): fields = config.jsonFields
        }
        fields["_diffusers_version"] = "0.42.1"
        return try JSONSerialization.data(withJSONObject: fields, options: [.prettyPrinted, .sortedKeys])
    }
}
