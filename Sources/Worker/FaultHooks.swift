// Fault-injection hooks for tests, switched on by environment variables (never set in normal use).
import Foundation
import Synchronization
import Cluster

/// Faults a worker can be told to commit, so tests can exercise the coordinator's recovery paths.
///
/// `SORA_FAULT_DROP_FORWARDS=3,7`: the worker accepts the 3rd and 7th micro-batch it receives (counting from 1,
/// after they pass every check; it answers `ok` as usual) and then silently forgets them, as if the message had
/// been lost between stages. The coordinator's watchdog must notice and redo them. Unset or empty: no effect.
enum FaultHooks {
    /// Ordinals of received micro-batches to drop.
    static let dropForwards: Set<Int> = parse(ProcessInfo.processInfo.environment["SORA_FAULT_DROP_FORWARDS"])
    private static let forwardsSeen = Mutex(0)

    /// Counts a received micro-batch; true when this one must be dropped.
    static func dropsThisForward() -> Bool {
        guard !dropForwards.isEmpty else { return false }
        let ordinal = forwardsSeen.withLock { count -> Int in
            count += 1
            return count
        }
        return dropForwards.contains(ordinal)
    }

    /// `3,7` -> {3, 7}; anything unparsable stops the worker with a message naming the variable.
    static func parse(_ text: String?) -> Set<Int> {
        guard let text, !text.isEmpty else { return [] }
        var ordinals: Set<Int> = []
        for piece in text.split(separator: ",") {
            guard let value = Int(piece.trimmingCharacters(in: .whitespaces)), value > 0 else {
                Log("worker")("SORA_FAULT_DROP_FORWARDS must be a list of positive integers such as 3,7, got '\(text)'")
                exit(2)
            }
            ordinals.insert(value)
        }
        return ordinals
    }
}
