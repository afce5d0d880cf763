// CRC-32C by carry-less multiplication: declarations for the Wire module (see crc32c_fold.c).
#ifndef WIRE_CRC_H
#define WIRE_CRC_H

#include <stddef.h>
#include <stdint.h>

/// 1 when `wire_crc32c_fold` can run here: x86-64 with SSE4.2, PCLMULQDQ, AVX-512F and VPCLMULQDQ, and an
/// operating system that saves the 512-bit registers; 0 otherwise (and always on other architectures).
int wire_crc32c_fold_available(void);

/// Runs the CRC-32C register `crc` (not inverted) over `count` bytes at `bytes` and returns the new register.
/// Needs `count` >= 256 and `wire_crc32c_fold_available()`; the caller checks both.
uint32_t wire_crc32c_fold(uint32_t crc, const void *bytes, size_t count);

/// The six folding constants the kernel uses, in order: for fold distances of 2048, 512 and 128 bits, the
/// multiplier of the first 8 bytes of a 16-byte lane, then of the last 8 (tests recompute them in Swift).
void wire_crc32c_fold_constants(uint64_t out[6]);

#endif
