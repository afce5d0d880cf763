// The mutable part of a diffusers scheduler run (step index, solver history), as a value to checkpoint and resume.
import Foundation

/// Everything a scheduler carries from one step to the next (diffusers keeps it in the scheduler object:
/// `_step_index`, `model_outputs`, `last_sample`, `lower_order_nums`, `this_order`).
///
/// Codable: tensors are stored as base64 little-endian float32 with their shape, so a decoded state continues
/// bit-exactly. A decoded state is untrusted; `step` checks it against the scheduler before using it.
public struct SchedulerState: Codable, Sendable, Equatable {
    /// The algorithm the state belongs to.
    public let kind: SchedulerKind
    /// The step count of the schedule the state belongs to.
    public let stepCount: Int
    /// The index of the next step to take (diffusers `step_index`); `stepCount` when the run is finished.
    public internal(set) var stepIndex: Int
    /// How many steps fed the multistep history so far, capped at the solver order (UniPC `lower_order_nums`).
    public internal(set) var lowerOrderCount: Int
    /// The order the last predictor used, which the next corrector uses (UniPC `this_order`; 0 before any step).
    public internal(set) var lastOrder: Int
    /// The last converted model outputs (UniPC: data predictions x0), oldest first, `solver_order` slots;
    /// `nil` where no step has filled the slot yet. Empty for Euler.
    public internal(set) var modelOutputs: [Tensor?]
    /// The sample the last step started from after correction (UniPC `last_sample`); nil before the first step.
    public internal(set) var lastSample: Tensor?

    /// A fresh state at `stepIndex` with `historySlots` empty history slots.
    init(kind: SchedulerKind, stepCount: Int, stepIndex: Int, historySlots: Int) {
        self.kind = kind
        self.stepCount = stepCount
        self.stepIndex = stepIndex
        self.lowerOrderCount = 0
        self.lastOrder = 0
        self.modelOutputs = [Tensor?](repeating: nil, count: historySlots)
        self.lastSample = nil
    }

    /// A state rebuilt from its parts, e.g. when a checkpoint keeps the tensors in a safetensors file and the
    /// counters elsewhere. Nothing is trusted: the next `step` checks it against the scheduler and the sample.
    public init(
        kind: SchedulerKind, stepCount: Int, stepIndex: Int, lowerOrderCount: Int, lastOrder: Int,
        modelOutputs: [Tensor?], lastSample: Tensor?
    ) {
        self.kind = kind
        self.stepCount = stepCount
        self.stepIndex = stepIndex
        self.lowerOrderCount = lowerOrderCount
        self.lastOrder = lastOrder
        self.modelOutputs = modelOutputs
        self.lastSample = lastSample
    }

    /// Whether every step has been taken.
    public var isFinished: Bool { stepIndex >= stepCount }

    // MARK: - Coding

    private enum CodingKeys: String, CodingKey {
        case kind
        case stepCount = "step_count"
        case stepIndex = "step_index"
        case lowerOrderCount = "lower_order_count"
        case lastOrder = "last_order"
        case modelOutputs = "model_outputs"
        case lastSample = "last_sample"
    }

    /// Decodes a saved state; tensor payloads are checked against their shapes.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(SchedulerKind.self, forKey: .kind)
        stepCount = try container.decode(Int.self, forKey: .stepCount)
        stepIndex = try container.decode(Int.self, forKey: .stepIndex)
        lowerOrderCount = try container.decode(Int.self, forKey: .lowerOrderCount)
        lastOrder = try container.decode(Int.self, forKey: .lastOrder)
        let outputs = try container.decode([EncodedTensor?].self, forKey: .modelOutputs)
        guard outputs.count <= UniPCMultistepConfig.maxSolverOrder else {
            throw SchedulerError.invalidState("\(outputs.count) history slots, at most "
                + "\(UniPCMultistepConfig.maxSolverOrder) are possible")
        }
        modelOutputs = try outputs.map { try $0?.tensor() }
        lastSample = try container.decodeIfPresent(EncodedTensor.self, forKey: .lastSample)?.tensor()
    }

    /// Encodes the state, tensors as base64 little-endian float32.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(stepCount, forKey: .stepCount)
        try container.encode(stepIndex, forKey: .stepIndex)
        try container.encode(lowerOrderCount, forKey: .lowerOrderCount)
        try container.encode(lastOrder, forKey: .lastOrder)
        try container.encode(modelOutputs.map { $0.map(EncodedTensor.init) }, forKey: .modelOutputs)
        try container.encodeIfPresent(lastSample.map(EncodedTensor.init), forKey: .lastSample)
    }
}

/// A tensor as stored in a saved state: its shape and its float32 elements, little-endian, base64.
private struct EncodedTensor: Codable {
    /// The most dimensions a stored tensor may have.
    static let maxRank = 8

    let shape: [Int]
    let float32LE: String

    private enum CodingKeys: String, CodingKey {
        case shape
        case float32LE = "float32_le"
    }

    init(_ tensor: Tensor) {
        shape = tensor.shape
        var bytes = [UInt8]()
        bytes.reserveCapacity(tensor.count * 4)
        for value in tensor.scalars {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        float32LE = Data(bytes).base64EncodedString()
    }

    /// The tensor, after checking that the shape is sane and matches the byte count.
    func tensor() throws -> Tensor {
        guard shape.count <= Self.maxRank, shape.allSatisfy({ $0 >= 0 }) else {
            throw SchedulerError.invalidState("stored tensor shape \(shape) is not a valid shape")
        }
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw SchedulerError.invalidState("stored tensor shape \(shape) is too large") }
            count = product
        }
        guard let data = Data(base64Encoded: float32LE) else {
            throw SchedulerError.invalidState("stored tensor of shape \(shape) is not valid base64")
        }
        guard data.count % 4 == 0, data.count / 4 == count else {
            throw SchedulerError.invalidState(
                "stored tensor of shape \(shape) needs \(count) float32 values, has \(data.count) bytes")
        }
        let scalars = data.withUnsafeBytes { raw in
            (0..<count).map { index in
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
            }
        }
        return Tensor(shape: shape, scalars: scalars)
    }
}
