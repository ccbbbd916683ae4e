// half.h — IEEE half (f16) and bfloat16 to fp32, shared by the GGUF and safetensors readers.
#pragma once
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
