// tensor.h — a named parameter tensor: data, optional grad, shape. Frozen tensors have
// grad == NULL and never reach the optimizer (no gradient buffer, no Adam state).
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char name[64];
    float *data;   // not owned when it points into a checkpoint blob
    float *grad;   // NULL ⇔ frozen
    size_t n;      // element count
    int shape[2];  // rows, cols (cols = 1 for vectors/scalars)
    int decay;     // 1: AdamW weight decay applies (not for norms, scales, offsets)
    int group;     // AdamW parameter group (PG_*): its own learning rate (core/optim.h)
    int owned;     // 1: data was allocated for this tensor and is freed with it
    // A frozen tensor loaded as f16/bf16 stays 16-bit: dtype DT_F16/DT_BF16 (half.h), the
    // values in half (not owned) and data == NULL until something widens it.
    int dtype;
    const uint16_t *half;
    uint16_t *bf16; // a frozen fp32/f16 weight rounded to bf16 for the bf16 products (bf16mm.h), made on first use
} Param;
// Optimizer groups: everything trains at train.lr except a method's quantizer parameters
// (s, b; lsq's weight; peqa's scales), which follow method.quant_lr when it is given.
enum { PG_MAIN = 0, PG_QUANT = 1, PG_COUNT = 2 };

void param_init(Param *p, const char *name, float *data, int rows, int cols, int decay);
Param *param_new(const char *name, int rows, int cols, int decay); // zeroed, owned data
void param_init16(Param *p, const char *name, int dtype, const uint16_t *half, int rows, int cols, int decay);
// Allocates grad; a 16-bit tensor is widened to owned fp32 first (what trains is fp32).
void param_make_trainable(Param *p);
void param_widen(Param *p);                           // 16-bit → owned fp32 (no-op for fp32)
// Rows [r0, r0+t) as fp32 into dst (t × cols): widened, or copied from fp32 data.
void param_rows(const Param *p, int r0, int t, float *dst);
// The whole tensor as fp32: p->data itself, or a widened copy in *tmp (free it after use;
// *tmp is NULL when nothing was allocated).
const float *param_f32(const Param *p, float **tmp);
size_t param_bytes(const Param *p);                   // as held: n × 4 or n × 2
void param_free(Param *p);                                          // frees owned data + grad
