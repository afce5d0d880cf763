// The decoder's / encoder's feature cache of diffusers AutoencoderKLWan (`feat_cache` list and `feat_idx` counter).

/// The last frames each causal convolution saw, so a video can be processed chunk by chunk (CACHE_T = 2).
///
/// As in diffusers, layers claim slots in call order: `startChunk()` resets the counter (feat_idx = [0]) before
/// each chunk, and each cached convolution takes the next slot. The number of slots is fixed by the network and
/// each slot holds at most two frames, so the cache does not grow with the video's length.
struct VAEFeatureCache: Sendable {
    /// One slot of the cache.
    enum Entry: Sendable {
        /// Not used yet (None).
        case empty
        /// The marker the temporal upsampler leaves after the first chunk ("Rep").
        case replicate
        /// The last (at most two) input frames, [C, T<=2, H, W].
        case frames(Tensor)

        /// The cached frames, if any.
        var tensor: Tensor? {
            if case .frames(let tensor) = self { return tensor }
            return nil
        }
    }

    /// The slots, in the order layers claim them.
    private(set) var entries: [Entry] = []
    /// The next slot to claim (feat_idx[0]).
    private(set) var index = 0

    /// Frames kept per slot (CACHE_T).
    static let frameCount = 2

    /// Starts a new chunk: layers claim slots from the first again.
    mutating func startChunk() { index = 0 }

    /// Claims the next slot and returns its index.
    mutating func claim() -> Int {
        if index == entries.count { entries.append(.empty) }
        index += 1
        return index - 1
    }

    /// The content of slot `slot`.
    subscript(slot: Int) -> Entry {
        get { entries[slot] }
        set { entries[slot] = newValue }
    }

    /// Bytes held by cached frames.
    var byteCount: Int {
        entries.reduce(0) { $0 + ($1.tensor?.count ?? 0) * MemoryLayout<Float>.size }
    }
}
