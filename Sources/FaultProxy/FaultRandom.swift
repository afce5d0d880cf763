// SplitMix64: the seeded generator that picks random faults, so a run can be repeated from its seed.

/// A small deterministic generator (SplitMix64).
struct FaultRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// One random fault: a delay, a throttle, a cut or a corruption, in one random direction (or none).
    mutating func plan() -> FaultPlan {
        var plan = FaultPlan()
        plan.direction = [FaultDirection.up, .down, .both].randomElement(using: &self)!
        switch Int.random(in: 0..<5, using: &self) {
        case 0: plan.delayMilliseconds = Int.random(in: 1...200, using: &self)
        case 1: plan.throttleBytesPerSecond = Int.random(in: 64 << 10...4 << 20, using: &self)
        case 2: plan.cutAfterBytes = Int.random(in: 0...1 << 20, using: &self)
        case 3: plan.corruptAfterBytes = Int.random(in: 0...1 << 20, using: &self)
        default: break
        }
        return plan
    }
}
