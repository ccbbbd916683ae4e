// deploy.h — the deployed (inference) form of one projection: what export writes, what
// the loaders read and what quantized layers run on (core/linear.h: linear_from_deploy,
// deploy_forward). The form's life cycle, its dequantization, the LoRA merge and the
// constructors of its quantized kinds are core/deploy.c; the element-level quantizers they
// call, and the storage layouts with their sizes, are core/quant.h and core/nf4.h.
//
//   DEP_FP32     w: out×in floats.
//   DEP_UNIFORM  n-bit codes, bits ∈ {2,3,4,8}, packed as core/quant.h describes (row r at
//                byte r·deploy_row_bytes(n, in)); scale, offset: out × n_groups floats,
//                w = scale·(u + Q_N) + offset.
//   DEP_NF4      bitsandbytes NF4 with double quantization over the flattened weight, laid
//                out as core/nf4.h describes (codes, absmax_q, absmax_scale, absmax_mean).
//   DEP_F16,     h: out×in 16-bit values (half.h), the frozen W0 of a LoRA-style run on a
//   DEP_BF16     16-bit base exactly as it was stored (`lora`, `none`): deploying it as fp32
//                would double it (a 7B bf16 base: 13 GB → 26 GB).
//   Any kind may carry an fp32 LoRA side branch ("n&fp"): Y += lora_scale·(X·Aᵀ)·Bᵀ.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "elem.h"  // DT_F16, DT_BF16 (C and nvcc; half.h is C only)
#include "nf4.h"   // the NF4 layout (NF4_BLOCK, nf4_blocks, ...)
#include "quant.h" // the uniform layout (deploy_row_bytes), QuantSpec

typedef enum { DEP_FP32 = 0, DEP_UNIFORM = 1, DEP_NF4 = 2, DEP_F16 = 3, DEP_BF16 = 4 } DeployKind;
typedef struct {
    DeployKind kind;
    int out, in;
    float *w;                 // DEP_FP32: out×in
    // DEP_F16, DEP_BF16: out×in. Borrowed (h_own NULL) when a trained model deploys its
    // frozen 16-bit W0: the ModelFile the model was built from must outlive the form, so
    // the deployed model costs no second copy of the base; owned (h_own == h) when read
    // from a file or copied.
    const uint16_t *h;
    uint16_t *h_own;
    int bits, group_size;     // DEP_UNIFORM (group_size −1 or ≤ 0: the whole row)
    uint8_t *codes;           // DEP_UNIFORM, DEP_NF4: packed codes, codes_bytes of them
    size_t codes_bytes;
    float *scale, *offset;    // DEP_UNIFORM: out×n_groups each
    uint8_t *absmax_q;        // DEP_NF4: nf4_blocks(n) 8-bit double-quantized absmax
    float *absmax_scale;      //   nf4_scales(n) fp32 scales
    float absmax_mean;        //   mean subtracted before the 8-bit quantization
    float *lora_A, *lora_B;   // optional side branch: A rank×in, B out×rank
    int rank;
    float lora_scale;
} Deploy;

// ---- kinds and sizes (the layouts' own sizes: nf4.h, quant.h) -----------------------------
static inline int deploy_is_half(const Deploy *d) { return d->kind == DEP_F16 || d->kind == DEP_BF16; }
static inline int deploy_half_dtype(const Deploy *d) { return d->kind == DEP_BF16 ? DT_BF16 : DT_F16; }
static inline int deploy_group(const Deploy *d) { return d->group_size > 0 ? d->group_size : d->in; }
// Entries of scale (and of offset) of a DEP_UNIFORM form: out × n_groups.
static inline size_t deploy_nparams(const Deploy *d) {
    int gs = deploy_group(d);
    return (size_t)d->out * ((d->in + gs - 1) / gs);
}

// ---- the form's life cycle -----------------------------------------------------------------
// A DEP_FP32 form of the out×in weight w (w is taken over; copy: a copy of it).
void deploy_fp32(Deploy *d, int out, int in, float *w);
void deploy_fp32_copy(Deploy *d, int out, int in, const float *w);
// A DEP_F16 / DEP_BF16 form (dtype DT_F16 | DT_BF16) borrowing the out×in values h.
void deploy_half(Deploy *d, int out, int in, int dtype, const uint16_t *h);
void deploy_free(Deploy *d);
void deploy_copy(Deploy *dst, const Deploy *src); // deep copy
// Bytes the weight occupies as stored (codes + per-group or absmax storage; fp32: out·in·4,
// 16-bit: out·in·2, borrowed or not),
// without the LoRA side branch.
size_t deploy_bytes(const Deploy *d);
// Rows [r0, r0+t) of the weight (side branch not included) dequantized into Wt (t×in).
void deploy_rows(const Deploy *d, int r0, int t, float *Wt);
// The full fp32 weight (LoRA side branch folded in). Only for exporting to fp32 formats:
// inference never materializes it.
float *deploy_dequant(const Deploy *d);
// `export --merge`: fold the LoRA side branch (scale·B·A) into the base and re-quantize in
// the same family — NF4 → NF4 (+DQ), uniform → per-group min-max RTN at the same bits and
// group size, 16-bit → the same 16-bit type (rounded to nearest even) — leaving rank 0.
// No-op without a side branch; DEP_FP32 adds B·A exactly. The
// merged result is a different (re-rounded) model: report it separately.
void deploy_merge_lora(Deploy *d);

// ---- the quantized kinds, filled by the element-level quantizers --------------------------
// A DEP_UNIFORM deploy for q with codes/scale/offset allocated (contents unset).
void quant_deploy_alloc(const QuantSpec *q, Deploy *d);
// Per-group min-max RTN of W (out×in) into a fresh DEP_UNIFORM deploy.
void quant_deploy_rtn(Deploy *d, const float *W, int out, int in, int bits, int group_size);
// The deployed form of W quantized with trained s, b (scales made safe, as in training).
void quant_deploy(const QuantSpec *q, const float *W, const float *s, const float *b, Deploy *d);
// Quantize W (out×in, flattened row-major) into d (kind DEP_NF4, no LoRA branch): nf4_encode.
void nf4_quantize(const float *W, int out, int in, Deploy *d);
// Dequantized rows [r0, r0+nrows) of an NF4 deploy into out (nrows×in).
void nf4_dequant_rows(const Deploy *d, int r0, int nrows, float *out);
// Stored bits per weight (codes + 8-bit absmax + fp32 second-level scales + the mean).
double nf4_bits_per_weight(const Deploy *d);
