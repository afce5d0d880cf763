// Errors of the diffusers scheduler ports: bad scheduler_config.json values, bad step requests, bad saved state.

/// Why a scheduler could not be configured or could not take a step; each message names the field and the value.
public enum SchedulerError: Error, Equatable, CustomStringConvertible {
    /// `scheduler_config.json` could not be read or is not a JSON object.
    case unreadableConfig(path: String, reason: String)
    /// `_class_name` names a scheduler we do not implement.
    case unknownClass(String)
    /// A field has the wrong JSON type (e.g. a string where a number belongs).
    case wrongType(field: String, expected: String, seen: String)
    /// A field has a value outside what the scheduler accepts.
    case invalidValue(field: String, value: String, reason: String)
    /// A field has a value diffusers accepts but this port does not implement.
    case unsupportedOption(field: String, value: String, reason: String)
    /// A scheduler name given on the command line (`--scheduler`) is not one we know.
    case unknownSchedulerName(String)
    /// The inference step count is out of range.
    case invalidStepCount(Int)
    /// The step index (begin index, noise level) is outside the schedule.
    case stepIndexOutOfRange(index: Int, stepCount: Int)
    /// The denoising run already took all its steps.
    case finished(stepCount: Int)
    /// Two tensors that must have the same shape do not.
    case shapeMismatch(what: String, expected: [Int], seen: [Int])
    /// A saved state does not belong to this scheduler or is internally inconsistent.
    case invalidState(String)

    /// The message, naming the field or value that was wrong.
    public var description: String {
        switch self {
        case .unreadableConfig(let path, let reason):
            return "cannot read scheduler config \(path): \(reason)"
        case .unknownClass(let name):
            return "unknown scheduler class \"\(name)\" in scheduler_config.json "
                + "(supported: FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler)"
        case .wrongType(let field, let expected, let seen):
            return "scheduler config field \"\(field)\" must be \(expected), got \(seen)"
        case .invalidValue(let field, let value, let reason):
            return "scheduler config field \"\(field)\" = \(value) is invalid: \(reason)"
        case .unsupportedOption(let field, let value, let reason):
            return "scheduler config field \"\(field)\" = \(value) is not supported: \(reason)"
        case .unknownSchedulerName(let name):
            return "unknown scheduler \"\(name)\" (expected unipc or euler)"
        case .invalidStepCount(let count):
            return "number of inference steps must be between 1 and \(SchedulerLimits.maxSteps), got \(count)"
        case .stepIndexOutOfRange(let index, let stepCount):
            return "step index \(index) is outside the schedule of \(stepCount) steps"
        case .finished(let stepCount):
            return "the scheduler already took all \(stepCount) steps"
        case .shapeMismatch(let what, let expected, let seen):
            return "\(what) has shape \(seen), expected \(expected)"
        case .invalidState(let reason):
            return "invalid scheduler state: \(reason)"
        }
    }
}

/// Bounds on values read from scheduler configs and job requests.
public enum SchedulerLimits {
    /// The most inference steps a schedule may have.
    public static let maxSteps = 10_000
    /// The largest `num_train_timesteps` accepted.
    public static let maxTrainTimesteps = 1_000_000
    /// The largest scheduler_config.json read, in bytes.
    public static let maxConfigBytes = 1 << 20
}
