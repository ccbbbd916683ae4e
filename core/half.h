// half.h — 16-bit floating-point storage (IEEE binary16 "f16" and bfloat16 "bf16") and its
// exact widening to fp32, shared by the GGUF and safetensors readers and by the frozen
// weights that stay 16-bit in memory and are widened a row tile at a time where a product
// needs them (tensor.h: Param.half).
#pragma once
#include <stddef.h>
#include <stdint.h>

enum { DT_F32 = 0, DT_F16 = 1, DT_BF16 = 2 };
const char *dtype_name(int dt);  // "f32", "f16", "bf16"
size_t dtype_bytes(int dt);      // 4 or 2

// dst[i] = src[i] widened (exact for every value, NaN payloads kept as quiet NaNs); src holds
// n little-endian 16-bit values at any alignment.
void half_to_f32(int dt, const void *src, float *dst, size_t n);
// Round to nearest even (f16: overflow to ±Inf, subnormals kept; bf16: NaN stays NaN).
void f32_to_half(int dt, const float *src, uint16_t *dst, size_t n);
// Index of the first non-finite value (Inf/NaN) in src[0..n), or n when all are finite.
size_t half_first_nonfinite(int dt, const uint16_t *src, size_t n);
