// Payload arrays for the frame decoder: fresh ones, or large ones reused once the application let go of them.

/// Hands out payload arrays, reusing the last large ones.
///
/// Fresh memory costs a page fault per 4 KiB on first touch, which on virtual machines is slower than the
/// network copy itself, and a pipeline stage receives same-sized activations over and over. The recycler
/// keeps the last `keptLimit` large payloads and reuses one for the next payload of the same size once nobody
/// else holds it. Two, not one: the application usually still holds the previous message (it is replying to
/// it) when the next header arrives, but has let go of the one before. A decoder thus keeps at most two
/// payloads (each within its `maxPayloadBytes`) alive after the application drops them.
struct PayloadRecycler: Sendable {
    /// Payloads at least this large are kept for reuse.
    static let thresholdBytes = 1 << 20
    /// How many large payloads are kept.
    static let keptLimit = 2
    /// The last large payloads, oldest first.
    private var kept: [[UInt8]] = []

    /// An array of `byteCount` bytes to receive a payload into; the caller checked `byteCount` against its limit.
    ///
    /// A fresh array's bytes are not zeroed (zeroing 256 MiB costs as much as receiving it): UInt8 is a
    /// trivial type whose memory is initialised by writing it, and the decoder hands the array out only after
    /// every byte has been received into it; a frame cut short drops it unread.
    mutating func take(byteCount: Int) -> [UInt8] {
        if byteCount >= PayloadRecycler.thresholdBytes {
            for index in kept.indices where kept[index].count == byteCount && isUniquelyReferenced(&kept[index]) {
                return kept.remove(at: index)  // moved out: still the only reference
            }
        }
        return [UInt8](unsafeUninitializedCapacity: byteCount) { _, initialized in initialized = byteCount }
    }

    /// Remembers a finished payload for reuse if it is large (the application holds it too, for now).
    mutating func keep(_ payload: [UInt8]) {
        guard payload.count >= PayloadRecycler.thresholdBytes else { return }
        kept.append(payload)
        if kept.count > PayloadRecycler.keptLimit { kept.removeFirst() }
    }
}

/// Whether the array's storage is referenced by this variable alone, so writing through it cannot change
/// what anyone else sees (and cannot trigger a copy). An array is one reference to its storage object; this
/// asks the runtime about that reference in place, as the standard library's own uniqueness check does.
func isUniquelyReferenced(_ array: inout [UInt8]) -> Bool {
    guard MemoryLayout<[UInt8]>.size == MemoryLayout<AnyObject>.size, array.capacity > 0 else { return false }
    return withUnsafeMutablePointer(to: &array) { pointer in
        pointer.withMemoryRebound(to: AnyObject.self, capacity: 1) { isKnownUniquelyReferenced(&$0.pointee) }
    }
}
