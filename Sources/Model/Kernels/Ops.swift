// Matrix products through cblas_sgemm and shape utilities (compare torch.matmul, permute, cat, narrow).
import COpenBLAS

/// The tensor operations the model components are built from.
///
/// Operations take and return contiguous float32 `Tensor`s. Shape errors are programming errors and stop
/// with a precondition that names the shapes; data from files is checked before it reaches these kernels.
public enum Ops {}

// MARK: - sgemm

extension Ops {
    /// C[m, n] = alpha * op(A) op(B) + beta * C, row-major, through one single-threaded `cblas_sgemm` call.
    static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for row in 0..<m {
                for column in 0..<n { c[row * ldc + column] = beta == 0 ? 0 : beta * c[row * ldc + column] }
            }
            return
        }
        _ = Compute.openBLASSingleThreaded
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

// MARK: - Parallel sgemm

/// How `Ops.parallelSgemm` cuts an [m, n] product into blocks of C: `rows` x `columns` blocks of `rowBlock` x
/// `columnBlock` (the last row and column of blocks may be smaller).
struct GemmGrid: Equatable {
    /// Row blocks.
    let rows: Int
    /// Column blocks.
    let columns: Int
    /// Rows of C per block.
    let rowBlock: Int
    /// Columns of C per block.
    let columnBlock: Int

    /// The first row, row count, first column and column count of block `index` (row-major over the grid).
    func block(_ index: Int, m: Int, n: Int) -> (row: Int, rowCount: Int, column: Int, columnCount: Int) {
        let row = (index / columns) * rowBlock, column = (index % columns) * columnBlock
        return (row, min(rowBlock, m - row), column, min(columnBlock, n - column))
    }
}

extension Ops {
    /// The most rows of C per block of a parallel product.
    @usableFromInline static let gemmRowBlock = 512
    /// Columns of C per block of a wide parallel product (also the widening block of 16-bit Linear weights).
    @usableFromInline static let gemmColumnBlock = 2048
    /// Products smaller than this many multiply-adds run as one call.
    @usableFromInline static let gemmSerialLimit = 1 << 21
    /// The fewest blocks a product above the serial limit is cut into, so that 2 and 4 threads have work.
    @usableFromInline static let gemmMinimumBlocks = 4

    /// The number of row and column blocks `parallelSgemm` cuts an [m, n] product into (see `gemmLayout`).
    static func gemmGrid(m: Int, n: Int, k: Int) -> (rows: Int, columns: Int) {
        let layout = gemmLayout(m: m, n: n, k: k)
        return (layout.rows, layout.columns)
    }

    /// The blocks `parallelSgemm` cuts an [m, n] product into. They depend only on the shapes, never on the thread
    /// count, so the sgemm calls (and the bits) are always the same.
    ///
    /// Rows are cut into the fewest blocks of at most 512, of equal size (rounded up to 16): 720 rows are two
    /// blocks of 368 and 352, not 512 and 208, so two threads get equal work. Columns are cut into blocks of 2,048
    /// unless that leaves fewer than `gemmMinimumBlocks` blocks (short products: few tokens, the text's 512 rows),
    /// or an odd number of blocks in an odd number of block rows below 16 blocks; then the columns are cut into
    /// equal blocks (rounded up to 16, at least 64 wide) to make up the count. Products of 512 x 2,048 blocks
    /// (1,024 rows and up, multiples of 512) keep the grid of fixed 512 x 2,048 blocks they always had.
    static func gemmLayout(m: Int, n: Int, k: Int) -> GemmGrid {
        if m * n * k <= gemmSerialLimit {
            return GemmGrid(rows: 1, columns: 1, rowBlock: max(m, 1), columnBlock: max(n, 1))
        }
        func divideRoundingUp(_ value: Int, _ divisor: Int) -> Int { (value + divisor - 1) / divisor }
        func roundUp16(_ value: Int) -> Int { divideRoundingUp(value, 16) * 16 }
        let rowBlock = roundUp16(divideRoundingUp(m, divideRoundingUp(m, gemmRowBlock)))
        let rows = divideRoundingUp(m, rowBlock)
        let wideColumns = divideRoundingUp(n, gemmColumnBlock)
        var target = max(wideColumns, divideRoundingUp(gemmMinimumBlocks, rows))
        if rows % 2 == 1 && target % 2 == 1 && rows * target < 16 { target += 1 }
        target = min(target, max(1, n / 64))
        if target == wideColumns {
            return GemmGrid(
                rows: rows, columns: wideColumns, rowBlock: rowBlock, columnBlock: wideColumns == 1 ? n : gemmColumnBlock)
        }
        let columnBlock = roundUp16(divideRoundingUp(n, target))
        return GemmGrid(rows: rows, columns: divideRoundingUp(n, columnBlock), rowBlock: rowBlock, columnBlock: columnBlock)
    }

    /// `sgemm` cut into the fixed `gemmLayout` blocks of C, run in parallel.
    static func parallelSgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let grid = gemmLayout(m: m, n: n, k: k)
        Compute.parallelFor(grid.rows * grid.columns) { index in
            let block = grid.block(index, m: m, n: n)
            // Row `row` of op(A) and column `column` of op(B).
            let aBlock = transposeA ? a + block.row : a + block.row * lda
            let bBlock = transposeB ? b + block.column * ldb : b + block.column
            sgemm(
                transposeA: transposeA, transposeB: transposeB, m: block.rowCount, n: block.columnCount, k: k,
                alpha: alpha, a: aBlock, lda: lda, b: bBlock, ldb: ldb, beta: beta,
                c: c + block.row * ldc + block.column, ldc: ldc)
        }
    }
}

// MARK: - Matrix products

extension Ops {
    /// The matrix product of `a` and `b` through `cblas_sgemm`.
    ///
    /// `a` is [M, K] (or [K, M] when `transposeA`), `b` is [K, N] (or [N, K] when `transposeB`). Rank-3
    /// operands are batched: [B, M, K] x [B, K, N] -> [B, M, N]; a rank-2 operand next to a rank-3 one is
    /// shared by every batch entry.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition((2...3).contains(a.rank) && (2...3).contains(b.rank), "matmul needs rank 2 or 3, got \(a.shape) x \(b.shape)")
        let batchA = a.rank == 3 ? a.shape[0] : 1
        let batchB = b.rank == 3 ? b.shape[0] : 1
        precondition(batchA == batchB || a.rank == 2 || b.rank == 2, "matmul batch mismatch: \(a.shape) x \(b.shape)")
        let batch = max(batchA, batchB)
        let rowsA = a.shape[a.rank - 2], columnsA = a.shape[a.rank - 1]
        let rowsB = b.shape[b.rank - 2], columnsB = b.shape[b.rank - 1]
        let m = transposeA ? columnsA : rowsA
        let k = transposeA ? rowsA : columnsA
        let kB = transposeB ? columnsB : rowsB
        let n = transposeB ? rowsB : columnsB
        precondition(k == kB, "matmul inner dimensions differ: \(a.shape)\(transposeA ? "^T" : "") x \(b.shape)\(transposeB ? "^T" : "")")
        let outputShape = (a.rank == 3 || b.rank == 3) ? [batch, m, n] : [m, n]
        // A shared right operand with an untransposed batched left operand is one big product.
        if a.rank == 3 && b.rank == 2 && !transposeA {
            return Tensor(shape: outputShape) { output in
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        parallelSgemm(
                            transposeA: false, transposeB: transposeB, m: batch * m, n: n, k: k,
                            a: pa.baseAddress!, lda: columnsA, b: pb.baseAddress!, ldb: columnsB,
                            c: output.baseAddress!, ldc: n)
                    }
                }
            }
        }
        let strideA = a.rank == 3 ? rowsA * columnsA : 0
        let strideB = b.rank == 3 ? rowsB * columnsB : 0
        return Tensor(shape: outputShape) { output in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    for entry in 0..<batch {
                        parallelSgemm(
                            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                            a: pa.baseAddress! + entry * strideA, lda: columnsA,
                            b: pb.baseAddress! + entry * strideB, ldb: columnsB,
                            c: output.baseAddress! + entry * m * n, ldc: n)
                    }
                }
            }
        }
    }
}

// MARK: - Shape utilities

extension Ops {
    /// The dimensions of `x` reordered as `order` says, copied into contiguous storage
    /// (torch `x.permute(order).contiguous()`).
    public static func permute(_ x: Tensor, _ order: [Int]) -> Tensor {
        precondition(order.count == x.rank && Set(order) == Set(0..<x.rank), "bad permutation \(order) for \(x.shape)")
        let rank = x.rank
        let outputShape = order.map { x.shape[$0] }
        if rank <= 1 || order == Array(0..<rank) { return x.reshaped(outputShape) }
        var inputStrides = [Int](repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) { inputStrides[axis] = inputStrides[axis + 1] * x.shape[axis + 1] }
        let strides = order.map { inputStrides[$0] }  // input stride of each output axis
        let innerCount = outputShape[rank - 1]
        let innerStride = strides[rank - 1]
        let outerCount = x.count / max(innerCount, 1)
        if x.count == 0 { return Tensor(zeros: outputShape) }
        return Tensor(shape: outputShape) { output in
            x.withUnsafeBufferPointer { input in
                let source = input.baseAddress!
                let destination = output.baseAddress!
                var index = [Int](repeating: 0, count: rank)  // the output position, last axis excluded
                var offset = 0
                for outer in 0..<outerCount {
                    let row = destination + outer * innerCount
                    if innerStride == 1 {
                        row.update(from: source + offset, count: innerCount)
                    } else {
                        for inner in 0..<innerCount { row[inner] = source[offset + inner * innerStride] }
                    }
                    // Advance the output position over all axes but the last.
                    var axis = rank - 2
                    while axis >= 0 {
                        index[axis] += 1
                        offset += strides[axis]
                        if index[axis] < outputShape[axis] { break }
                        offset -= strides[axis] * outputShape[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
    }

    /// The tensors joined along `axis`; every other dimension must agree (torch.cat).
    public static func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate needs at least one tensor")
        let first = tensors[0]
        precondition(axis >= 0 && axis < first.rank, "axis \(axis) out of range for \(first.shape)")
        for tensor in tensors {
            precondition(
                tensor.rank == first.rank
                    && (0..<first.rank).allSatisfy { $0 == axis || tensor.shape[$0] == first.shape[$0] },
                "concatenate shapes differ off axis \(axis): \(first.shape) and \(tensor.shape)")
        }
        var outputShape = first.shape
        outputShape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
        let outerCount = first.shape[..<axis].reduce(1, *)
        let innerCount = first.shape[(axis + 1)...].reduce(1, *)
        let outputRow = outputShape[axis] * innerCount
        return Tensor(shape: outputShape) { output in
            var columnOffset = 0
            for tensor in tensors {
                let chunk = tensor.shape[axis] * innerCount
                tensor.withUnsafeBufferPointer { input in
                    for outer in 0..<outerCount where chunk > 0 {
                        (output.baseAddress! + outer * outputRow + columnOffset)
                            .update(from: input.baseAddress! + outer * chunk, count: chunk)
                    }
                }
                columnOffset += chunk
            }
        }
    }

    /// The part of `x` whose index along `axis` lies in `range` (torch.narrow, copied).
    public static func slice(_ x: Tensor, axis: Int, range: Range<Int>) -> Tensor {
        precondition(axis >= 0 && axis < x.rank, "axis \(axis) out of range for \(x.shape)")
        precondition(range.lowerBound >= 0 && range.upperBound <= x.shape[axis], "slice \(range) out of range for axis \(axis) of \(x.shape)")
        var outputShape = x.shape
        outputShape[axis] = range.count
        let outerCount = x.shape[..<axis].reduce(1, *)
        let innerCount = x.shape[(axis + 1)...].reduce(1, *)
        let inputRow = x.shape[axis] * innerCount
        let chunk = range.count * innerCount
        return Tensor(shape: outputShape) { output in
            x.withUnsafeBufferPointer { input in
                for outer in 0..<outerCount where chunk > 0 {
                    (output.baseAddress! + outer * chunk)
                        .update(from: input.baseAddress! + outer * inputRow + range.lowerBound * innerCount, count: chunk)
                }
            }
        }
    }
}

// MARK: - Elementwise arithmetic

extension Ops {
    /// a + b elementwise (same shapes).
    public static func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "add shapes differ: \(a.shape) and \(b.shape)")
        return zipMap(a, b) { $0 + $1 }
    }

    /// a * b elementwise (same shapes).
    public static func multiply(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "multiply shapes differ: \(a.shape) and \(b.shape)")
        return zipMap(a, b) { $0 * $1 }
    }

    /// x [..., D] + row [D], the row added to every last-dimension vector.
    public static func addRow(_ x: Tensor, _ row: Tensor) -> Tensor {
        let width = row.count
        precondition(x.rank >= 1 && x.shape[x.rank - 1] == width, "addRow: row of \(row.shape) does not fit \(x.shape)")
        return Tensor(shape: x.shape) { output in
            x.withUnsafeBufferPointer { input in
                row.withUnsafeBufferPointer { rowValues in
                    let rows = width == 0 ? 0 : x.count / width
                    for r in 0..<rows {
                        let base = r * width
                        for c in 0..<width { output[base + c] = input[base + c] + rowValues[c] }
                    }
                }
            }
        }
    }

    /// x * factor elementwise.
    public static func scale(_ x: Tensor, by factor: Float) -> Tensor {
        map(x) { $0 * factor }
    }

    /// f(x) elementwise, in parallel over fixed blocks.
    @inline(__always)
    static func map(_ x: Tensor, _ transform: (Float) -> Float) -> Tensor {
        Tensor(shape: x.shape) { output in
            x.withUnsafeBufferPointer { input in
                let source = input.baseAddress, destination = output.baseAddress
                let count = x.count
                let blockSize = 1 << 16
                Compute.parallelFor((count + blockSize - 1) / blockSize) { block in
                    let start = block * blockSize
                    for index in start..<min(count, start + blockSize) { destination![index] = transform(source![index]) }
                }
            }
        }
    }

    /// f(a, b) elementwise for two tensors of the same element count.
    @inline(__always)
    static func zipMap(_ a: Tensor, _ b: Tensor, _ transform: (Float, Float) -> Float) -> Tensor {
        Tensor(shape: a.shape) { output in
            a.withUnsafeBufferPointer { left in
                b.withUnsafeBufferPointer { right in
                    let first = left.baseAddress, second = right.baseAddress, destination = output.baseAddress
                    let count = a.count
                    let blockSize = 1 << 16
                    Compute.parallelFor((count + blockSize - 1) / blockSize) { block in
                        let start = block * blockSize
                        for index in start..<min(count, start + blockSize) {
                            destination![index] = transform(first![index], second![index])
                        }
                    }
                }
            }
        }
    }
}
