// half.c — f16/bf16 <-> f32 (half.h; widening is inline there). bf16 is the top half of an
// fp32, so widening is a 16-bit shift; f16 uses the F16C (or AVX-512) conversion
// instructions when the build targets them, with a portable bit-level fallback that gives
// identical results.
#include "half.h"
#include <math.h>
#include <string.h>

const char *dtype_name(int dt) { return dt == DT_F16 ? "f16" : dt == DT_BF16 ? "bf16" : "f32"; }
size_t dtype_bytes(int dt) { return dt == DT_F16 || dt == DT_BF16 ? 2 : 4; }

static float f16_scalar(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023;
    if (e == 31) return el_bits_f32(sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0)); // Inf/NaN (quiet)
    if (e) return el_bits_f32(sign | ((e + 112) << 23) | (m << 13));                    // rebias 15 → 127
    float f = (float)m * 0x1p-24f;                                                    // ±0, subnormal: exact
    return sign ? -f : f;
}

static uint16_t f16_from_scalar(float f) {
    uint32_t x = el_f32_bits(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu)); // NaN
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);                         // rounds past 65504: Inf
    if (ax < 0x38800000u) {                                                           // below 2^-14: subnormal
        float a = el_bits_f32(ax) * 0x1p24f;  // exact scaling; nearbyintf rounds half to even
        return (uint16_t)(sign | (uint32_t)nearbyintf(a));
    }
    uint32_t r = ax + 0xfffu + ((ax >> 13) & 1);                                      // round half to even
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

void f16_to_f32_scalar(const unsigned char *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        dst[i] = f16_scalar(h);
    }
}

void f32_to_half(int dt, const float *restrict src, uint16_t *restrict dst, size_t n) {
    if (dt == DT_BF16) {
        for (size_t k = 0; k < n; k++) dst[k] = f32_to_bf16_rne(src[k]); // NaN stays NaN
        return;
    }
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#elif defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#endif
    for (; i < n; i++) dst[i] = f16_from_scalar(src[i]);
}

size_t half_first_nonfinite(int dt, const uint16_t *src, size_t n) {
    uint16_t emask = dt == DT_BF16 ? 0x7f80u : 0x7c00u; // all-ones exponent: Inf or NaN
    for (size_t i = 0; i < n; i++)
        if ((src[i] & emask) == emask) return i;
    return n;
}
