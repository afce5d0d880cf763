// cblas_sgemm timed on the forward pass's matrix shapes: the rate our forward pass is compared against.
import COpenBLAS
import Foundation
import Model

/// Times `cblas_sgemm` on each matmul class and returns the seconds all of the class's products would take.
///
/// A class is timed on one product (attention classes on one head, in blocks of at most 1,024 query rows so the
/// score matrix stays small) and the time scaled by its count.
func sgemmSeconds(for work: MatmulClass) -> Double {
    let rowBlock = work.label.contains("attention") ? min(work.m, 1024) : work.m
    let blocks = (work.m + rowBlock - 1) / rowBlock
    let a = Tensor.randomNormal(shape: [rowBlock, work.k], seed: 1, stream: 1)
    let b = Tensor.randomNormal(shape: [work.k, work.n], seed: 1, stream: 2)
    var c = Tensor(zeros: [rowBlock, work.n])
    func once() {
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rowBlock), Int32(work.n), Int32(work.k), 1,
                        a.baseAddress, Int32(work.k), b.baseAddress, Int32(work.n), 0, c.baseAddress, Int32(work.n))
                }
            }
        }
    }
    once()  // warm up (thread pool, pages)
    // Repeat small products until at least 0.3 s has been measured.
    var repetitions = 0
    let start = Date()
    repeat {
        once()
        repetitions += 1
    } while Date().timeIntervalSince(start) < 0.3 && repetitions < 1000
    let perProduct = Date().timeIntervalSince(start) / Double(repetitions)
    return perProduct * Double(blocks) * Double(work.count)
}
