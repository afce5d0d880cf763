// diffusers WanPipeline._get_t5_prompt_embeds: encoder output cut to each prompt's length, zero padded.

extension UMT5Encoder {
    /// The prompt embeddings Wan's transformer is conditioned on, `[B, maxSequenceLength, d_model]`.
    ///
    /// As `WanPipeline._get_t5_prompt_embeds` does: run the encoder on the padded ids with their mask, then keep,
    /// for each row, the first `n` positions where `n` is the number of non-zero mask entries, and set every
    /// later position to zero. The ids are normally already padded to `maxSequenceLength` by the tokenizer;
    /// shorter rows are padded with zeros up to it, longer ones are refused.
    public func wanPromptEmbeddings(
        inputIDs: [[Int]], attentionMask: [[Int]], maxSequenceLength: Int
    ) throws(UMT5Error) -> Tensor {
        let hidden = try self(inputIDs: inputIDs, attentionMask: attentionMask)
        let lengths = attentionMask.map { row in row.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }
        return try Self.keepingPromptLengths(hidden, lengths: lengths, maxSequenceLength: maxSequenceLength)
    }

    /// `hidden` `[B, L, D]` with rows at or beyond `lengths[b]` zeroed and the sequence padded with zeros to
    /// `maxSequenceLength` (which must be at least `L`).
    public static func keepingPromptLengths(
        _ hidden: Tensor, lengths: [Int], maxSequenceLength: Int
    ) throws(UMT5Error) -> Tensor {
        guard hidden.rank == 3 else {
            throw .invalidInput(what: "hidden states", reason: "shape \(hidden.shape) is not [B, L, D]")
        }
        let (batch, length, width) = (hidden.shape[0], hidden.shape[1], hidden.shape[2])
        guard lengths.count == batch else {
            throw .invalidInput(what: "prompt lengths", reason: "\(lengths.count) lengths for a batch of \(batch)")
        }
        guard maxSequenceLength >= length else {
            throw .invalidInput(
                what: "max_sequence_length",
                reason: "\(maxSequenceLength) is shorter than the \(length) tokens encoded")
        }
        if let bad = lengths.first(where: { $0 < 0 || $0 > length }) {
            throw .invalidInput(what: "prompt lengths", reason: "length \(bad) is outside 0...\(length)")
        }
        var result = Tensor(zeros: [batch, maxSequenceLength, width])
        hidden.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                for row in 0..<batch {
                    let count = lengths[row] * width
                    let from = row * length * width
                    let to = row * maxSequenceLength * width
                    for index in 0..<count {
                        target[to + index] = source[from + index]
                    }
                }
            }
        }
        return result
    }
}
