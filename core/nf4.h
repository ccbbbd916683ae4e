// nf4.h — the NF4 storage format of DEP_NF4 deployed weights (the form itself: core/deploy.h):
// bitsandbytes' NF4 code table, the block layout and its sizes, double quantization of the
// absmax values, and quantize / dequantize over the flat arrays of that layout.
//
// Layout of n weights (flattened row-major): two codes per byte (element 2k in the high
// nibble of byte k), one 8-bit absmax per NF4_BLOCK weights, one fp32 scale per
// NF4_DQ_BLOCK absmax values and one fp32 mean (absmax = code8[q]·scale + mean).
// C and nvcc (the CUDA plugin reads the same layout).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "elem.h" // the NF4 table and element dequant, shared with CUDA

#define NF4_BLOCK 64     // weights per absmax
#define NF4_DQ_BLOCK 256 // absmax values per second-level fp32 scale
static inline size_t nf4_codes_bytes(size_t n) { return (n + 1) / 2; }
static inline size_t nf4_blocks(size_t n) { return (n + NF4_BLOCK - 1) / NF4_BLOCK; }
static inline size_t nf4_scales(size_t n) { return (nf4_blocks(n) + NF4_DQ_BLOCK - 1) / NF4_DQ_BLOCK; }

extern const float NF4_CODE[16];
// Index of the NF4 code nearest to x ∈ [−1, 1] (midpoint decision; a tie goes down).
int nf4_index(float x);
// bitsandbytes' signed 8-bit "dynamic" map (create_dynamic_map(signed=True)), sorted.
const float *nf4_dq_code(void);
// Quantize the n values W: per NF4_BLOCK absmax, codes packed two per byte into codes
// (nf4_codes_bytes(n) bytes, zeroed by the caller), absmax double-quantized (mean-subtracted,
// 8-bit dynamic code into absmax_q[nf4_blocks(n)], one fp32 scale per NF4_DQ_BLOCK into
// absmax_scale[nf4_scales(n)]). Returns the mean. (A DEP_NF4 form: nf4_quantize, deploy.h.)
float nf4_encode(const float *W, size_t n, uint8_t *codes, uint8_t *absmax_q, float *absmax_scale);
// Elements [e0, e0+cnt) of the flattened weight those arrays hold, dequantized into out.
void nf4_decode(const uint8_t *codes, const uint8_t *absmax_q, const float *absmax_scale, float absmax_mean,
                size_t e0, size_t cnt, float *out);
