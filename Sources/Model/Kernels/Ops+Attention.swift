// Scaled dot-product attention, tiled with an online softmax (torch scaled_dot_product_attention, FlashAttention).
import COpenBLAS

extension Ops {
    /// Query rows per tile.
    @usableFromInline static let attentionQueryTile = 256
    /// Key rows per tile.
    @usableFromInline static let attentionKeyTile = 256

    /// Scaled dot-product attention: softmax(Q K^T * scale + bias + mask) V per batch entry and head.
    ///
    /// - Parameters:
    ///   - query: [B, Lq, heads * headDim].
    ///   - key: [B, Lk, heads * headDim].
    ///   - value: [B, Lk, heads * headDim].
    ///   - heads: the number of heads the last dimension splits into.
    ///   - scale: the score scale; `1 / sqrt(headDim)` when nil.
    ///   - keyMask: [B, Lk]; 1 = attend, 0 = ignore that key.
    ///   - bias: [heads, Lq, Lk] or [B, heads, Lq, Lk], added to the scaled scores.
    /// - Returns: [B, Lq, heads * headDim].
    ///
    /// Works in tiles of 256 queries x 256 keys with a running maximum and sum, so memory is O(tokens x dim),
    /// never Lq x Lk (per worker thread: a 256 x 256 score tile and a 256 x headDim accumulator). Work is split over (batch, head, query tile); each output row is reduced in one fixed
    /// order, so the result does not depend on the thread count. A query whose keys are all masked gets an
    /// output of zeros (PyTorch would produce NaN there). A masked key inside a row that has unmasked keys
    /// gets weight e^-87.33 / sum (below 1.2e-38 relative) rather than exactly 0.
    public static func attention(
        query: Tensor, key: Tensor, value: Tensor, heads: Int, scale: Float? = nil,
        keyMask: Tensor? = nil, bias: Tensor? = nil
    ) -> Tensor {
        precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "attention needs rank-3 q/k/v: \(query.shape) \(key.shape) \(value.shape)")
        let batch = query.shape[0], queryLength = query.shape[1], width = query.shape[2]
        let keyLength = key.shape[1]
        precondition(heads > 0 && width % heads == 0, "attention: width \(width) does not split into \(heads) heads")
        precondition(key.shape == [batch, keyLength, width] && value.shape == key.shape, "attention: key \(key.shape) / value \(value.shape) do not fit query \(query.shape)")
        let headDim = width / heads
        let scoreScale = scale ?? 1 / Float(headDim).squareRoot()
        if let keyMask { precondition(keyMask.shape == [batch, keyLength], "attention: keyMask \(keyMask.shape) is not [\(batch), \(keyLength)]") }
        var biasBatchStride = 0
        if let bias {
            if bias.shape == [heads, queryLength, keyLength] {
                biasBatchStride = 0
            } else {
                precondition(bias.shape == [batch, heads, queryLength, keyLength], "attention: bias \(bias.shape) is not [(\(batch),) \(heads), \(queryLength), \(keyLength)]")
                biasBatchStride = heads * queryLength * keyLength
            }
        }
        if batch == 0 || queryLength == 0 || width == 0 { return Tensor(zeros: [batch, queryLength, width]) }
        // Additive key masks: 0 where attended, -infinity where ignored.
        let additiveMask: [Float]? = keyMask.map { mask in mask.scalars.map { $0 == 0 ? -Float.infinity : 0 } }
        let queryTiles = (queryLength + attentionQueryTile - 1) / attentionQueryTile
        return Tensor(shape: [batch, queryLength, width]) { output in
            let out = output.baseAddress!
            query.withUnsafeBufferPointer { q in
                key.withUnsafeBufferPointer { k in
                    value.withUnsafeBufferPointer { v in
                        withOptionalPointer(bias?.scalars) { biasPointer in
                            withOptionalPointer(additiveMask) { maskPointer in
                                Compute.parallelFor(batch * heads * queryTiles) { item in
                                    let tile = item % queryTiles
                                    let head = (item / queryTiles) % heads
                                    let entry = item / (queryTiles * heads)
                                    let queryStart = tile * attentionQueryTile
                                    let rows = min(attentionQueryTile, queryLength - queryStart)
                                    let rowOffset = (entry * queryLength + queryStart) * width + head * headDim
                                    attentionTile(
                                        query: q.baseAddress! + rowOffset,
                                        key: k.baseAddress! + entry * keyLength * width + head * headDim,
                                        value: v.baseAddress! + entry * keyLength * width + head * headDim,
                                        output: out + rowOffset,
                                        rows: rows, keyLength: keyLength, headDim: headDim, stride: width,
                                        scale: scoreScale,
                                        bias: biasPointer.map {
                                            $0 + entry * biasBatchStride + (head * queryLength + queryStart) * keyLength
                                        },
                                        additiveMask: maskPointer.map { $0 + entry * keyLength })
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Calls `body` with a pointer to the array's elements, or nil.
    @inlinable
    static func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let array else { return body(nil) }
        return array.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// One query tile of one head against all keys: the online-softmax loop over key tiles.
    ///
    /// `query`, `key`, `value` and `output` point at the head's first column of their first row; rows are
    /// `stride` floats apart. `bias` points at this tile's first row of a [*, keyLength] matrix.
    @usableFromInline
    static func attentionTile(
        query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, rows: Int, keyLength: Int, headDim: Int, stride: Int,
        scale: Float, bias: UnsafePointer<Float>?, additiveMask: UnsafePointer<Float>?
    ) {
        let keyTile = attentionKeyTile
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: rows * keyTile)
        let accumulator = UnsafeMutablePointer<Float>.allocate(capacity: rows * headDim)
        let runningMax = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        let runningSum = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        defer {
            scores.deallocate()
            accumulator.deallocate()
            runningMax.deallocate()
            runningSum.deallocate()
        }
        accumulator.initialize(repeating: 0, count: rows * headDim)
        runningMax.initialize(repeating: -.infinity, count: rows)
        runningSum.initialize(repeating: 0, count: rows)
        var keyStart = 0
        while keyStart < keyLength {
            let columns = min(keyTile, keyLength - keyStart)
            // scores[rows, columns] = scale * Q K^T
            sgemm(
                transposeA: false, transposeB: true, m: rows, n: columns, k: headDim, alpha: scale,
                a: query, lda: stride, b: key + keyStart * stride, ldb: stride, c: scores, ldc: columns)
            for row in 0..<rows {
                let scoreRow = scores + row * columns
                if let bias {
                    let biasRow = bias + row * keyLength + keyStart
                    FastMath.add(biasRow, to: scoreRow, count: columns)
                }
                if let additiveMask {
                    let maskRow = additiveMask + keyStart
                    FastMath.add(maskRow, to: scoreRow, count: columns)
                }
                let tileMax = FastMath.maximumVector(scoreRow, count: columns)
                let previousMax = runningMax[row]
                let newMax = max(previousMax, tileMax)
                if newMax == -.infinity {
                    // Every key so far is masked: nothing to add.
                    for column in 0..<columns { scoreRow[column] = 0 }
                    continue
                }
                let tileSum = FastMath.exponentiateAndSum(scoreRow, count: columns, subtracting: newMax)
                if previousMax != newMax {
                    let correction = FastMath.expNonPositive(previousMax - newMax)
                    runningSum[row] *= correction
                    FastMath.scale(accumulator + row * headDim, count: headDim, by: correction)
                }
                runningSum[row] += tileSum
                runningMax[row] = newMax
            }
            // accumulator[rows, headDim] += P V
            sgemm(
                transposeA: false, transposeB: false, m: rows, n: headDim, k: columns,
                a: scores, lda: columns, b: value + keyStart * stride, ldb: stride, beta: 1,
                c: accumulator, ldc: headDim)
            keyStart += columns
        }
        for row in 0..<rows {
            let total = runningSum[row]
            let inverse: Float = total > 0 ? 1 / total : 0
            FastMath.scale(accumulator + row * headDim, into: output + row * stride, count: headDim, by: inverse)
        }
    }
}
