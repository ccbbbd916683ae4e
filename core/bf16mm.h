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
// A frozen weight's copies in the layouts oneDNN's kernels read (one per orientation): an
// empty holder from bf16mm_packed_new, filled on the products' first use of each
// orientation. Its owner (a layer: Linear.bf16_packed, given one by model_plan_memory where
// the memory account holds the copies) passes the same one with W every time. Same bits as
// the products with W as given, about 20 % faster.
typedef struct Bf16Packed Bf16Packed;
Bf16Packed *bf16mm_packed_new(void);
void bf16mm_packed_free(Bf16Packed *pk);
size_t bf16mm_pack_bytes(int out, int in); // both copies of an out×in weight (the memory account)
// Y (N×out) = bf16(X) (N×in) · Wᵀ, W (out×in) bf16; overwrites Y. pk: W's packed copies
// (NULL: W as given). tmp_bytes (if given) receives the bytes of the bf16 copy of X this call holds.
void bf16mm_xwt(const float *X, const uint16_t *W, Bf16Packed *pk, float *Y, int N, int in, int out, size_t *tmp_bytes);
// dX (N×in) += bf16(dY) (N×out) · W, W (out×in) bf16.
void bf16mm_dyw(const float *dY, const uint16_t *W, Bf16Packed *pk, float *dX, int N, int out, int in, size_t *tmp_bytes);
// The same two with the activation side rounded by the caller (bf16mm_round), into
// bf16mm_act_buf's buffer or its own.
void bf16mm_xwt_rounded(const uint16_t *Xb, const uint16_t *W, Bf16Packed *pk, float *Y, int N, int in, int out);
void bf16mm_dyw_rounded(const uint16_t *dYb, const uint16_t *W, Bf16Packed *pk, float *dX, int N, int out, int in);
// b[0..n) = x rounded to bf16 as every product here rounds its activation side (the CPU's
// conversion: nearest even, subnormals to zero); one thread.
void bf16mm_round(const float *x, uint16_t *b, size_t n);
// This thread's buffer for a rounded activation (n values, grown and kept: a fresh
// allocation per product would fault its pages in every time); the products above that
// round for themselves reuse it, so it is valid until this thread's next such product.
uint16_t *bf16mm_act_buf(size_t n);
// W's values as bf16: a bf16 Param's own storage, else a copy rounded once and kept with
// W (Param.bf16, freed by param_free). W must be frozen (its values never change).
const uint16_t *param_bf16(const Param *W);
