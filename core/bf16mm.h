// bf16mm.h — the bf16 compute mode (train.precision: bf16, `--precision bf16`): products
// with frozen weights (a 16-bit or fp32 W0, the frozen head, deployed fp32 weights) take
// both operands rounded to bf16 (round to nearest even) and accumulate in fp32, on CPUs
// with bf16 dot products (AVX512-BF16), through oneDNN's matmul. Trainable parameters,
// their gradients, AdamW and the quantizers stay fp32. Process-wide: off (fp32, bit for bit
// the products without this file) until bf16mm_enable.
#pragma once
#include "tensor.h"
#include <stdint.h>

int bf16mm_cpu_supported(void); // the CPU has AVX512-BF16 (L4Q_CPU_NO_BF16=1: as if not, for tests)
// Turns the mode on; on a CPU without bf16 dot products: die_input naming `what` (the key or flag).
void bf16mm_enable(const char *what);
int bf16mm_on(void);
// Y (N×out) = bf16(X) (N×in) · Wᵀ, W (out×in) bf16; overwrites Y. tmp_bytes (if given)
// receives the bytes of the bf16 copy of X this call holds.
void bf16mm_xwt(const float *X, const uint16_t *W, float *Y, int N, int in, int out, size_t *tmp_bytes);
// dX (N×in) += bf16(dY) (N×out) · W, W (out×in) bf16.
void bf16mm_dyw(const float *dY, const uint16_t *W, float *dX, int N, int out, int in, size_t *tmp_bytes);
// W's values as bf16: a bf16 Param's own storage, else a copy rounded once and kept with
// W (Param.bf16, freed by param_free). W must be frozen (its values never change).
const uint16_t *param_bf16(const Param *W);
