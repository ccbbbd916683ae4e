// half.h — IEEE half (f16) and bfloat16 ↔ fp32, shared by the GGUF and safetensors readers
// and the GGUF exporter.
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, bits;
    if (e == 31) bits = sign | 0x7f800000u | (m << 13);             // Inf/NaN
    else if (e) bits = sign | ((e + 112) << 23) | (m << 13);          // normal: rebias 15→127
    else if (!m) bits = sign;                                         // ±0
    else {                                                            // subnormal: normalise
        int s = 0;
        while (!(m & 1024)) { m <<= 1; s++; }
        bits = sign | ((uint32_t)(113 - s) << 23) | ((m & 1023) << 13);
    }
    float f; memcpy(&f, &bits, 4); return f;
}

// bf16 is the top half of an fp32: widening is exact.
static inline float bf16_to_f32(uint16_t h) {
    uint32_t b = (uint32_t)h << 16;
    float f; memcpy(&f, &b, 4); return f;
}

// n little-endian 16-bit values at src (any alignment) to fp32.
static inline void f16_row_to_f32(const void *src, float *dst, size_t n) {
    const unsigned char *s = src;
    for (size_t j = 0; j < n; j++) { uint16_t h; memcpy(&h, s + 2 * j, 2); dst[j] = f16_to_f32(h); }
}
static inline void bf16_row_to_f32(const void *src, float *dst, size_t n) {
    const unsigned char *s = src;
    for (size_t j = 0; j < n; j++) { uint16_t h; memcpy(&h, s + 2 * j, 2); dst[j] = bf16_to_f32(h); }
}

// fp32 → half, round to nearest even (as F16C and numpy do); overflow → ±Inf, NaN quiet.
static inline uint16_t f32_to_f16(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return sign | 0x7e00;          // NaN
    if (ax >= 0x477ff000u) return sign | 0x7c00;         // rounds to ≥ 65520: Inf
    if (ax < 0x38800000u) {                              // below 2^-14: fp16 subnormal or 0
        float v; memcpy(&v, &ax, 4);                     // |f|·2^24 rounded (half-even) is its mantissa
        return sign | (uint16_t)rintf(v * 16777216.0f);
    }
    uint32_t mant = ax & 0x7fffff, e = (ax >> 23) - 112; // fp16 exponent field (1..30)
    uint32_t h = (e << 10) | (mant >> 13), rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++; // a carry into the exponent is correct
    return sign | (uint16_t)h;
}
// fp32 → bf16, round to nearest even, NaN kept quiet (ggml's rule).
static inline uint16_t f32_to_bf16(float f) {
    uint32_t n; memcpy(&n, &f, 4);
    if ((n & 0x7fffffff) > 0x7f800000) return (uint16_t)((n >> 16) | 64);
    return (uint16_t)((n + (0x7fff + ((n >> 16) & 1))) >> 16);
}
