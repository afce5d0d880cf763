// What diffusers' cache hooks keep across denoising steps for one prompt: the projected text and every block's
// cross-attention keys and values (WanAttention's to_k / norm_k / to_v over encoder_hidden_states), which do not
// change from step to step.
import Foundation
import Synchronization

/// Per-prompt results a Wan transformer reuses while the same text comes back step after step.
///
/// Entries are found by the exact bytes of their input (the text encoder states for the projected text, the
/// projected text for the keys and values), never by a name or an id, so a hit returns exactly what recomputing
/// would: the same functions of the same bytes. A job with guidance alternates two prompts (positive and
/// negative), so the cache keeps the `capacity` most recently used prompts (default 2) and recomputes for any
/// other. Memory per prompt: `WanTransformer.promptCacheBytes(config:layers:textLength:)`.
final class WanPromptCache: Sendable {
    /// The cached results of one prompt.
    final class Entry: Sendable {
        /// The text encoder states `[B, L, text_dim]` the entry was made for, when the entry piece saw them.
        let encoderStates: Tensor?
        /// The projected text `[B, L, dim]`.
        let textEmbeddings: Tensor
        /// Cross-attention (keys, values) by block index, filled as blocks run.
        private let keysValues = Mutex<[Int: WanAttention.KeysValues]>([:])

        init(encoderStates: Tensor?, textEmbeddings: Tensor) {
            self.encoderStates = encoderStates
            self.textEmbeddings = textEmbeddings
        }

        /// How many blocks' keys and values are kept (for tests).
        var blockCount: Int { keysValues.withLock { $0.count } }

        /// Block `index`'s keys and values, computed by `make` the first time. Two callers racing on one block
        /// both compute it (the same bytes) and the first stored value is kept.
        func keysValues(block index: Int, _ make: () -> WanAttention.KeysValues) -> WanAttention.KeysValues {
            if let known = keysValues.withLock({ $0[index] }) { return known }
            let made = make()
            return keysValues.withLock { table in
                if let known = table[index] { return known }
                table[index] = made
                return made
            }
        }
    }

    private let entries = Mutex<[Entry]>([])  // least recently used first
    private let capacityValue = Atomic<Int>(2)

    /// How many prompts are cached now (for tests).
    var promptCount: Int { entries.withLock { $0.count } }

    /// How many prompts are kept (0 turns the cache off).
    var capacity: Int {
        get { capacityValue.load(ordering: .relaxed) }
        set {
            capacityValue.store(max(0, newValue), ordering: .relaxed)
            entries.withLock { list in list.removeFirst(max(0, list.count - max(0, newValue))) }
        }
    }

    /// The projected text for `encoderStates`: a cached entry's, or `project(encoderStates)` kept as a new entry.
    func textEmbeddings(for encoderStates: Tensor, _ project: (Tensor) -> Tensor) -> Tensor {
        if let entry = find({ $0.encoderStates.map { sameBytes($0, encoderStates) } ?? false }) {
            return entry.textEmbeddings
        }
        let projected = project(encoderStates)
        insert(Entry(encoderStates: encoderStates, textEmbeddings: projected))
        return projected
    }

    /// The entry for the projected text `textEmbeddings`, made (without encoder states) when there is none.
    /// Nil when the cache is off.
    func entry(for textEmbeddings: Tensor) -> Entry? {
        if capacity == 0 { return nil }
        if let entry = find({ sameBytes($0.textEmbeddings, textEmbeddings) }) { return entry }
        let entry = Entry(encoderStates: nil, textEmbeddings: textEmbeddings)
        insert(entry)
        return entry
    }

    /// The entry matching `predicate`, moved to the most recently used place.
    private func find(_ predicate: (Entry) -> Bool) -> Entry? {
        entries.withLock { list in
            guard let index = list.firstIndex(where: predicate) else { return nil }
            let entry = list.remove(at: index)
            list.append(entry)
            return entry
        }
    }

    private func insert(_ entry: Entry) {
        let limit = capacity
        if limit == 0 { return }
        entries.withLock { list in
            list.append(entry)
            list.removeFirst(max(0, list.count - limit))
        }
    }

    /// Whether two tensors have the same shape and the same bytes (so -0 and +0, or two NaNs, are told apart
    /// exactly as the arithmetic would tell them apart).
    private func sameBytes(_ a: Tensor, _ b: Tensor) -> Bool {
        guard a.shape == b.shape else { return false }
        return a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count * 4) == 0)
            }
        }
    }
}

extension WanTransformer {
    /// How many prompts' projected text and cross-attention keys and values are kept between forwards (default 2:
    /// the two guidance branches of a job; 0 recomputes them at every call). A kept prompt is found by the bytes
    /// of its text, so results are the same bytes with or without the cache.
    public var promptCacheCapacity: Int {
        get { promptCache.capacity }
        nonmutating set { promptCache.capacity = newValue }
    }

    /// Bytes one cached prompt holds for `layers` hosted blocks and `textLength` text tokens (batch 1): the
    /// projected text plus each block's keys and values, float32.
    public static func promptCacheBytes(config: WanTransformerConfig, layers: Int, textLength: Int) -> Int {
        4 * textLength * config.innerDim * (1 + 2 * layers)
    }
}
