// The adaptive-norm modulation of diffusers WanTransformerBlock and the model's output norm: (scale_shift_table +
// timestep projection) chunked into shift / scale / gate, applied as `norm(x) * (1 + scale) + shift` and
// `x + y * gate`.

/// Modulation parameters: a learned table `[chunks, dim]` plus a timestep projection per sample or per token.
///
/// Chunk `c` for token `n` of sample `b` is `table[c] + projection[r, c]`, where the projection row `r` is `b`
/// (one timestep per sample) or `tokenRows[b * N + n]` (per-token timesteps: the projection holds one row per
/// distinct timestep). The output norm shares one projection row between its chunks (`sharedProjection`), as
/// diffusers adds `temb` to both halves of its table.
struct WanModulation {
    /// The learned table, `chunks * dim` values.
    let table: Tensor
    /// The timestep projection `[rows, width]`.
    let projection: Tensor
    /// For per-token timesteps, the projection row of every token (`B x N` entries); nil for one row per sample.
    let tokenRows: [Int32]?
    /// Model width.
    let dim: Int
    /// Whether every chunk reads the same projection values (the output norm's `temb`).
    let sharedProjection: Bool

    /// Width of one projection row.
    private var projectionWidth: Int { projection.shape[projection.rank - 1] }

    /// Offset of the projection row that applies to `token` of sample `batch`.
    private func projectionRow(batch: Int, token: Int, tokens: Int) -> Int {
        guard let tokenRows else { return batch * projectionWidth }
        return Int(tokenRows[batch * tokens + token]) * projectionWidth
    }

    /// Offset of chunk `chunk` inside a projection row.
    private func projectionChunk(_ chunk: Int) -> Int { sharedProjection ? 0 : chunk * dim }

    /// `normed * (1 + scale) + shift` for `normed` `[B, N, dim]`, with float32 rounding after each operation.
    func modulate(_ normed: Tensor, shift: Int, scale: Int) -> Tensor {
        let tokens = normed.shape[1]
        return Tensor(shape: normed.shape) { out in
            normed.withUnsafeBufferPointer { input in
                table.withUnsafeBufferPointer { table in
                    projection.withUnsafeBufferPointer { projection in
                        Compute.parallelFor(normed.count / dim) { row in
                            let batch = row / tokens
                            let projectionBase = projectionRow(batch: batch, token: row % tokens, tokens: tokens)
                            let shiftTable = table.baseAddress! + shift * dim
                            let scaleTable = table.baseAddress! + scale * dim
                            let shiftProjection = projection.baseAddress! + projectionBase + projectionChunk(shift)
                            let scaleProjection = projection.baseAddress! + projectionBase + projectionChunk(scale)
                            let source = input.baseAddress! + row * dim
                            let destination = out.baseAddress! + row * dim
                            for d in 0..<dim {
                                let shiftValue = shiftTable[d] + shiftProjection[d]
                                let scaleValue = scaleTable[d] + scaleProjection[d]
                                let scaled = source[d] * (1 + scaleValue)
                                destination[d] = scaled + shiftValue
                            }
                        }
                    }
                }
            }
        }
    }

    /// `x + y * gate` for `x`, `y` `[B, N, dim]`.
    func gatedAdd(_ x: Tensor, _ y: Tensor, gate: Int) -> Tensor {
        precondition(x.shape == y.shape, "gated residual shapes \(x.shape) and \(y.shape) differ")
        let tokens = x.shape[1]
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { x in
                y.withUnsafeBufferPointer { y in
                    table.withUnsafeBufferPointer { table in
                        projection.withUnsafeBufferPointer { projection in
                            Compute.parallelFor(x.count / dim) { row in
                                let projectionBase = projectionRow(
                                    batch: row / tokens, token: row % tokens, tokens: tokens)
                                let gateTable = table.baseAddress! + gate * dim
                                let gateProjection = projection.baseAddress! + projectionBase + projectionChunk(gate)
                                let base = row * dim
                                for d in 0..<dim {
                                    let gateValue = gateTable[d] + gateProjection[d]
                                    let product = y[base + d] * gateValue
                                    out[base + d] = x[base + d] + product
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
