// quant.h — the signed n-bit group quantizer shared by l4q, qat_lora, lsq, the PTQ
// baselines and the deployed (inference) layers (docs/design.md "L4Q").
//
// Grid: Q_N = −2^(n−1), Q_P = 2^(n−1) − 1, n ∈ {2,3,4,8}. A group is gs consecutive
// input-dim elements of one output row (gs = −1: the whole row; the last group of a row
// may be partial). Each group g has a real scale s_g and real offset b_g, stored row-major
// as out × n_groups:
//     v = (W − b)/s,  w̃ = rint(clamp(v, Q_N, Q_P)),  Wq = s·w̃ + b
// Clamp first, then round half-to-even (rintf in the default rounding mode), which is what
// torch.round does — roundf would break ties away from zero and disagree with the paper.
//
// Packed codes (the DEP_UNIFORM deployed form's storage, core/deploy.h): each code stored
// unsigned, u = w̃ − Q_N ∈ [0, 2^n − 1], in n bits, LSB-first: code j of a row occupies bits
// [j·n, j·n + n) of the row, bit k of the row being bit k%8 of byte k/8. Every row starts
// on a byte boundary (padded with 0 bits), so row r starts at byte r·deploy_row_bytes(n, in);
// 3-bit codes may straddle two bytes. Element-level: nothing here knows a layer or a form
// (the forms it fills, quant_deploy*: core/deploy.h). C and nvcc.
#pragma once
#include <stddef.h>
#include "elem.h" // the element formulas (quant_ste_elem, quant_code_of, ...), shared with CUDA
#include <math.h>
#include <stdint.h>

// Bytes of one packed row of `in` n-bit codes (the DEP_UNIFORM row).
static inline size_t deploy_row_bytes(int bits, int in) { return ((size_t)in * bits + 7) / 8; }

// Resolved quantizer geometry for an out×in matrix.
typedef struct {
    int bits, qn, qp;  // width and signed grid bounds
    int gs;            // resolved group size (> 0; = in when configured as −1)
    int ng;            // groups per row = ceil(in / gs)
    int out, in;
} QuantSpec;

// Validates bits ∈ {2,3,4,8} and group_size ∈ {−1} ∪ [1, in]; bad values → die_input
// naming the config key ("method.bits: ...", "method.group_size: ...").
void quant_spec(QuantSpec *q, int bits, int group_size, int out, int in);
static inline size_t quant_nparams(const QuantSpec *q) { return (size_t)q->out * q->ng; }
// Elements in group g of a row (the last group may be partial).
static inline int quant_group_len(const QuantSpec *q, int g) {
    int rem = q->in - g * q->gs;
    return rem < q->gs ? rem : q->gs;
}

// Scale guard: quant_safe_scale / QUANT_S_MIN (core/elem.h).

// Initialization of (s, b) per group (docs/design.md "L4Q").
typedef enum { QINIT_L4Q = 0, QINIT_MINMAX, QINIT_ABSMAX, QINIT_LSQP, QINIT_GPTQ } QuantInit;
// "l4q" | "minmax" | "absmax" | "lsq+" | "gptq"; anything else → die_input("method.init: ...").
// gptq (l4q only) is not a formula: its grid comes from a model-level pass
// (QuantInitPass, core/methods.h) whose records (MethodCfg.prep) quant_params_build (core/methods.h) reads.
QuantInit quant_init_parse(const char *name);
extern const char *const QUANT_INIT_NAMES[]; // in QuantInit order, NULL-terminated
//   l4q:    s = max(|min/Q_N|, |max/Q_P|), b = 0
//   minmax: s = (max−min)/(Q_P−Q_N),       b = max − s·Q_P
//   absmax: s = max|W|/2^(n−1),            b = 0
//   lsq+:   s = max(|μ−3σ|, |μ+3σ|)/2^(n−1), b = 0   (σ: population std of the group)
// A group whose formula gives s ≤ QUANT_S_MIN (e.g. all zeros) gets s = QUANT_S_MIN.
void quant_init_params(const QuantSpec *q, const float *W, QuantInit init, float *s, float *b);
// RTN baseline: per-group asymmetric min-max (the `minmax` init) — the PTQ quantizer the
// RTN/QLoRA*-uniform baselines use. Fills s, b and, if codes != NULL, the packed codes.
void quant_rtn(const QuantSpec *q, const float *W, float *s, float *b, uint8_t *codes);

// The quantizer on one element: quant_ste_elem (Wq, ∂Wq/∂s, the clip flag — the
// per-element terms of the gradients below, summed by the L4Q tiles in core/l4q.c) and its
// forward half quant_fake_elem, in core/elem.h. Branch-free, so element loops over them
// vectorize under `omp simd`: they run over every weight of every layer three times per
// L4Q training step.
// Fake quantization of rows [r0, r0+nrows) of the weight: Wt holds those rows (row i of Wt
// is row r0+i of W, stride q->in), s, b are the full out×ng arrays; Wq gets the same layout
// as Wt and may alias it.
void quant_fake_rows(const QuantSpec *q, const float *Wt, const float *s, const float *b,
                     int r0, int nrows, float *Wq);
// One row of it: w is row r of the weight, o (may alias w) gets its Wq. Not parallel, for
// callers that already are (the L4Q tiles).
void quant_fake_row(const QuantSpec *q, const float *w, const float *s, const float *b, int r, float *o);
// Signed code w̃ of one value under (s, b): quant_code_of (core/elem.h), the same
// arithmetic quant_fake_rows/quant_encode use (the GPTQ baseline quantizes column by column).
// Inference-form label: "4" fully quantized, "4&fp" with an fp LoRA side branch.
const char *quant_form_name(int bits, int mixed);
// Quantize the whole W into packed codes (quant_codes_bytes(q) bytes).
void quant_encode(const QuantSpec *q, const float *W, const float *s, const float *b, uint8_t *codes);

// ---- packing ------------------------------------------------------------------------
static inline size_t quant_codes_bytes(const QuantSpec *q) { return (size_t)q->out * deploy_row_bytes(q->bits, q->in); }
// u[rows×in] unsigned codes (each < 2^bits) ↔ packed rows (padded to bytes; pad bits 0).
void quant_pack(const uint8_t *u, int rows, int in, int bits, uint8_t *packed);
void quant_unpack(const uint8_t *packed, int rows, int in, int bits, uint8_t *u);
// Dequantize rows [r0, r0+nrows) of packed codes to floats: out[(r−r0)·in + j] =
// s·(u − 2^(n−1)) + b. s, b are the full out×ng arrays.
void quant_dequant_rows(const uint8_t *packed, const float *s, const float *b, int bits, int gs,
                        int in, int r0, int nrows, float *out);

// ---- gradients (straight-through round, clip mask M = [Q_N ≤ v ≤ Q_P]) ---------------
// For G = ∂L/∂Wq:  ds_g += gsc·Σ_{j∈g} G_j·(M_j ? w̃_j − v_j : (v_j < Q_N ? Q_N : Q_P)),
//                  db_g += gsc·Σ_{j∈g} G_j·(1 − M_j),
// with gsc = 1, or with lsq_scale set the LSQ gradient scale gsc = 1/sqrt(n_g·Q_P), n_g
// the element count of group g (LSQ's "weights per scale"; a partial last group uses its
// own count). Off by default in the methods (method.lsq_grad_scale).
static inline float quant_lsq_gscale(const QuantSpec *q, int g) {
    return 1.0f / sqrtf((float)quant_group_len(q, g) * (float)q->qp);
}
// Autograd-style forward that keeps the out×in intermediates for backward (the naive
// baselines QAT-LoRA and LSQ): Wq, the ds factor (w̃ − v or the clipped bound) and M.
void quant_forward_saved(const QuantSpec *q, const float *W, const float *s, const float *b,
                         float *Wq, float *dsf, uint8_t *mask);
// Their backward from a full G: ds, db as above; if dW != NULL, dW += M⊙G (STE).
void quant_backward_saved(const QuantSpec *q, const float *G, const float *dsf, const uint8_t *mask,
                          int lsq_scale, float *ds, float *db, float *dW);
