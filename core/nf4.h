// nf4.h — the NF4 storage format of DEP_NF4 deployed weights (layout and sizes in
// core/deploy.h): bitsandbytes' NF4 code table, double quantization of the absmax values.
#pragma once
#include "deploy.h"
#include "elem.h" // the NF4 table and element dequant, shared with CUDA

extern const float NF4_CODE[16];
// Index of the NF4 code nearest to x ∈ [−1, 1] (midpoint decision; a tie goes down).
int nf4_index(float x);
// bitsandbytes' signed 8-bit "dynamic" map (create_dynamic_map(signed=True)), sorted.
const float *nf4_dq_code(void);
// Quantize W (out×in, flattened row-major) into d (kind DEP_NF4, no LoRA branch):
// per NF4_BLOCK absmax, codes packed two per byte, absmax double-quantized
// (mean-subtracted, 8-bit dynamic code, one fp32 scale per NF4_DQ_BLOCK).
void nf4_quantize(const float *W, int out, int in, Deploy *d);
// Dequantized rows [r0, r0+nrows) of an NF4 deploy into out (nrows×in).
void nf4_dequant_rows(const Deploy *d, int r0, int nrows, float *out);
// Stored bits per weight (codes + 8-bit absmax + fp32 second-level scales + the mean).
double nf4_bits_per_weight(const Deploy *d);
