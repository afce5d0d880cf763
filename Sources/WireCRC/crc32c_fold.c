// CRC-32C by carry-less multiplication: folds the data with VPCLMULQDQ and lets the SSE4.2 crc32 instruction
// finish the last 16 bytes. C, because Swift cannot name vector intrinsics (Sources/Wire/CRC32C.swift calls it).
//
// How it works. In the reflected bit order of CRC-32C (bit 0 of byte 0 is the highest power of x), a 16-byte
// lane V followed by L more bits stands for V(x) x^L. Only V mod P matters for the CRC (P = x^32 + 0x1EDC6F41),
// so V can be replaced by any polynomial congruent to V x^D, added into the lane D bits further on. With V's
// first 8 bytes LO (the higher powers) and last 8 bytes HI, V x^D = LO x^(D+64) + HI x^D. A carry-less
// multiply of two reflected 64-bit halves yields their product times x (the 127-bit product sits one bit
// early in the 128-bit result), so the multipliers are x^(D+63) mod P for LO and x^(D-1) mod P for HI, each
// a 32-bit remainder stored bit-reflected in the high half of a 64-bit lane. The products have degree < 96
// and fit the lane they are added to. Four 64-byte accumulators fold by 256 bytes (D = 2048) per step, are
// merged by 64 bytes (D = 512), their four lanes by 16 bytes (D = 128), and what is left is one 16-byte
// lane congruent to everything before it: crc32 over it from register 0, then over the last < 16 bytes,
// gives the register. The starting register enters by XOR into the first 4 bytes, as crc32 itself does.
#include "WireCRC.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static const uint64_t fold2048[2] = {0xe9a5d8be00000000ull, 0x1426a81500000000ull};
static const uint64_t fold512[2] = {0x1c19243b00000000ull, 0x75bba45b00000000ull};
static const uint64_t fold128[2] = {0x3743f7bd00000000ull, 0x3171d43000000000ull};

void wire_crc32c_fold_constants(uint64_t out[6]) {
    out[0] = fold2048[0];
    out[1] = fold2048[1];
    out[2] = fold512[0];
    out[3] = fold512[1];
    out[4] = fold128[0];
    out[5] = fold128[1];
}

int wire_crc32c_fold_available(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const int sse42 = (ecx >> 20) & 1, pclmul = (ecx >> 1) & 1, osxsave = (ecx >> 27) & 1;
    if (!sse42 || !pclmul || !osxsave) return 0;
    unsigned int low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    // SSE, AVX, opmask, upper halves of ZMM0-15 and ZMM16-31: all saved by the operating system.
    if ((low & 0xE6) != 0xE6) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const int avx512f = (ebx >> 16) & 1, vpclmulqdq = (ecx >> 10) & 1;
    return avx512f && vpclmulqdq;
}

#define FOLD_TARGET __attribute__((target("avx512f,vpclmulqdq,pclmul,sse4.2")))

/// v x^D mod P (up to congruence), lane by lane, with the multipliers {LO's, HI's} in k.
FOLD_TARGET static inline __m512i fold_wide(__m512i v, __m512i k, __m512i next) {
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(v, k, 0x00), _mm512_clmulepi64_epi128(v, k, 0x11), next,
                                     0x96);
}

FOLD_TARGET static inline __m128i fold_lane(__m128i v, __m128i k, __m128i next) {
    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(v, k, 0x00), _mm_clmulepi64_si128(v, k, 0x11)), next);
}

FOLD_TARGET uint32_t wire_crc32c_fold(uint32_t crc, const void *bytes, size_t count) {
    const uint8_t *p = (const uint8_t *)bytes;
    size_t n = count;
    __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(p), _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)crc)));
    __m512i x1 = _mm512_loadu_si512(p + 64);
    __m512i x2 = _mm512_loadu_si512(p + 128);
    __m512i x3 = _mm512_loadu_si512(p + 192);
    p += 256;
    n -= 256;
    const __m512i k2048 = _mm512_broadcast_i32x4(_mm_set_epi64x((long long)fold2048[1], (long long)fold2048[0]));
    while (n >= 256) {
        x0 = fold_wide(x0, k2048, _mm512_loadu_si512(p));
        x1 = fold_wide(x1, k2048, _mm512_loadu_si512(p + 64));
        x2 = fold_wide(x2, k2048, _mm512_loadu_si512(p + 128));
        x3 = fold_wide(x3, k2048, _mm512_loadu_si512(p + 192));
        p += 256;
        n -= 256;
    }
    const __m512i k512 = _mm512_broadcast_i32x4(_mm_set_epi64x((long long)fold512[1], (long long)fold512[0]));
    x1 = fold_wide(x0, k512, x1);
    x2 = fold_wide(x1, k512, x2);
    x3 = fold_wide(x2, k512, x3);
    while (n >= 64) {
        x3 = fold_wide(x3, k512, _mm512_loadu_si512(p));
        p += 64;
        n -= 64;
    }
    const __m128i k128 = _mm_set_epi64x((long long)fold128[1], (long long)fold128[0]);
    __m128i lane = _mm512_extracti32x4_epi32(x3, 0);
    lane = fold_lane(lane, k128, _mm512_extracti32x4_epi32(x3, 1));
    lane = fold_lane(lane, k128, _mm512_extracti32x4_epi32(x3, 2));
    lane = fold_lane(lane, k128, _mm512_extracti32x4_epi32(x3, 3));
    while (n >= 16) {
        lane = fold_lane(lane, k128, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        n -= 16;
    }
    uint64_t reg = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(lane));
    reg = _mm_crc32_u64(reg, (uint64_t)_mm_extract_epi64(lane, 1));
    uint32_t result = (uint32_t)reg;
    while (n > 0) {
        result = _mm_crc32_u8(result, *p);
        p += 1;
        n -= 1;
    }
    return result;
}

#else

void wire_crc32c_fold_constants(uint64_t out[6]) {
    for (int index = 0; index < 6; index++) out[index] = 0;
}

int wire_crc32c_fold_available(void) { return 0; }

uint32_t wire_crc32c_fold(uint32_t crc, const void *bytes, size_t count) {
    (void)bytes;
    (void)count;
    return crc;  // never called: wire_crc32c_fold_available() is 0 here
}

#endif
