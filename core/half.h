// half.h — 16-bit floating-point storage (IEEE binary16 "f16" and bfloat16 "bf16") and its
// exact widening to fp32, shared by the GGUF and safetensors readers and by the frozen
// weights that stay 16-bit in memory and are widened a row tile at a time where a product
// needs them (tensor.h: Param.half).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "elem.h" // bf16_to_f32, f32_to_bf16_rne, f32_to_bf16_sr (shared with CUDA)
#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

// DT_F32, DT_F16, DT_BF16: core/elem.h (the CUDA side uses them too).
const char *dtype_name(int dt);  // "f32", "f16", "bf16"
size_t dtype_bytes(int dt);      // 4 or 2

// dst[i] = src[i] widened (exact for every value, NaN payloads kept as quiet NaNs); src holds
// n little-endian 16-bit values at any alignment. Inline: l4q widens 32 values at a time in
// its merge loop, where a call per row would cost as much as the conversion.
void f16_to_f32_scalar(const unsigned char *src, float *dst, size_t n); // the portable path
static inline void half_to_f32(int dt, const void *s, float *restrict dst, size_t n) {
    const unsigned char *src = (const unsigned char *)s;
    if (dt == DT_BF16) { // the top half of an fp32
        #pragma omp simd
        for (size_t k = 0; k < n; k++) {
            uint16_t h;
            memcpy(&h, src + 2 * k, 2);
            dst[k] = bf16_to_f32(h);
        }
        return;
    }
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + 2 * i))));
#elif defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + 2 * i))));
#endif
    if (i < n) f16_to_f32_scalar(src + 2 * i, dst + i, n - i);
}
// Round to nearest even (f16: overflow to ±Inf, subnormals kept; bf16: NaN stays NaN).
void f32_to_half(int dt, const float *src, uint16_t *dst, size_t n);
// Index of the first non-finite value (Inf/NaN) in src[0..n), or n when all are finite.
size_t half_first_nonfinite(int dt, const uint16_t *src, size_t n);

// One-value forms of the above, for block formats that store single f16 scales
// (core/ggml_quants.c) and their tests.
static inline float f16_to_f32(uint16_t h) { float f; f16_to_f32_scalar((const unsigned char *)&h, &f, 1); return f; }
static inline uint16_t f32_to_f16(float f) { uint16_t h; f32_to_half(DT_F16, &f, &h, 1); return h; }
static inline uint16_t f32_to_bf16(float f) { uint16_t h; f32_to_half(DT_BF16, &f, &h, 1); return h; }
// bf16_to_f32 and f32_to_bf16_sr (stochastic rounding): core/elem.h.
