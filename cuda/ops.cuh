// ops.cuh — the kernel launchers of the CUDA backend, one per CPU function they mirror
// (core/ops.c, core/model.c, core/l4q.c, core/optim.c, core/nf4.c, core/quant.c, core/half.c).
// Conventions are the CPU's: row-major, rows r = b·T + t, backward launchers ACCUMULATE
// into their gradient outputs. All pointers are device pointers unless named host_*.
// Every launcher enqueues on c->stream, checks its launch (common.cuh) and returns 0, or
// -1 with one line in cu_last_error().
//
// Precision: templates over the activation/storage type T ∈ {float, bf16}, instantiated for
// both (ops.cu, attention.cu, classifier.cu, quant_ops.cu). Arithmetic is fp32 (accumulations
// fp32 or, where the CPU uses double, double); gradients of trainables, AdamW and norms'
// weights are fp32 in both modes. Every kernel file is compiled with -fmad=false (cuda.mk),
// so an expression rounds as the CPU's -std=c11 build rounds it; explicit fmaf() stays fma.
#pragma once
#include "common.cuh"
#include "elem.h"   // the element math shared with the C build (core/elem.h)
#include "nf4.h"    // the NF4 layout (NF4_BLOCK, nf4_blocks, ...)
#include "quant.h"  // the uniform layout (deploy_row_bytes)

// ---- model ops (core/ops.c) --------------------------------------------------------------
// out[r][:] = emb[tok[r]][:]                     out R×dim, emb V×dim
template <typename T> int embedding_fwd(CuCtx *c, T *out, const int *tok, const T *emb, int R, int dim);
// demb[tok[r]][:] += dout[r][:], rows in order (deterministic, the CPU's order per column)
template <typename T> int embedding_bwd(CuCtx *c, float *demb, const T *dout, const int *tok, int R, int dim);

// out = x·rstd·w, rstd[r] = 1/sqrt(mean(x[r]²) + eps)   x, out R×dim; w dim; rstd R
template <typename T>
int rmsnorm_fwd(CuCtx *c, T *out, float *rstd, const T *x, const float *w, int R, int dim, float eps);
// dx += ∂/∂x; dw += ∂/∂w (dw NULL: frozen; summed over rows in order, deterministic)
template <typename T>
int rmsnorm_bwd(CuCtx *c, T *dx, float *dw, const T *dout, const T *x, const float *w, const float *rstd, int R,
                int dim);

// Interleaved-pair RoPE in place on rows [r0, r1) of x (row stride cols, position r % T);
// cos_t, sin_t: [T_cap][hs/2] from rope_tables() uploaded. bwd rotates by −angle.
template <typename T>
int rope_fwd(CuCtx *c, T *x, int r0, int r1, int T_, int cols, int hs, const float *cos_t, const float *sin_t);
template <typename T>
int rope_bwd(CuCtx *c, T *dx, int r0, int r1, int T_, int cols, int hs, const float *cos_t, const float *sin_t);

// Causal GQA attention (attention_forward with t0 = 0). q, out: (B·T)×(H·hs); k, v:
// (B·T)×(KVH·hs); lse: [B][H][ldT] fp32, written for every t (NULL: inference).
// v1 = cuBLAS strided-batched QKᵀ and PV with a masked softmax between: needs scratch of at
// least attention_scratch_bytes(T, 1, ...) bytes; more lets more heads go per call.
size_t attention_scratch_bytes(int T_, int heads, int bf16_mode, int backward);
template <typename T>
int attention_fwd(CuCtx *c, T *out, float *lse, const T *q, const T *k, const T *v, int B, int T_, int H, int KVH,
                  int hs, int ldT, void *scratch, size_t scratch_bytes);
// dq, dk, dv accumulate; P is recomputed from q, k and lse; D = dout·out per row.
template <typename T>
int attention_bwd(CuCtx *c, T *dq, T *dk, T *dv, const T *dout, const T *out, const float *lse, const T *q,
                  const T *k, const T *v, int B, int T_, int H, int KVH, int hs, int ldT, void *scratch,
                  size_t scratch_bytes);

// g = silu(h1)·h3 (n elements); bwd accumulates dh1, dh3. exp is el_exp (core/elem.h), as on the CPU.
template <typename T> int swiglu_fwd(CuCtx *c, T *g, const T *h1, const T *h3, long long n);
template <typename T>
int swiglu_bwd(CuCtx *c, T *dh1, T *dh3, const T *dg, const T *h1, const T *h3, long long n);

// y[i] += x[i], i < n (model.c residual_add)
template <typename T> int residual_add(CuCtx *c, T *y, const T *x, long long n);

// LoRA dropout (the plugin's own masks: the CPU's Rng stream cannot be matched): out[i] =
// in[i]·(keep ? 1/(1−p) : 0), keep = u(seed, i) ≥ p with u uniform [0,1) from mix64(seed + i)
// (24 bits). The same seed gives the same mask, so backward calls it again on the gradient.
// out may alias in. p = 0 copies.
template <typename T> int dropout_apply(CuCtx *c, T *out, const T *in, long long n, float p, uint64_t seed);

// ---- the fused classifier (model_head + logsoftmax_row) -----------------------------------
// One chunk of m rows after the head GEMM wrote logits (m×V fp32). Per row i with target
// t = targets[i] (< 0: ignored, weight 0) and weight wi = (w ? w[i] : 1):
//   logprob[i] = log p(t) (0 when t < 0), greedy[i] = (first argmax == t),
//   nll_sum (one device double) += Σ_i −logprob[i]·wi, added in row order (deterministic);
//   backward: dlogits[i] = loss_scale·wi·(softmax − onehot(t)) (may alias logits when T = float).
// logprob, greedy may be NULL; dlogits NULL when not backward.
template <typename T>
int classifier_rows(CuCtx *c, const float *logits, T *dlogits, const int *targets, const float *w, int m, int V,
                    float loss_scale, float *logprob, int *greedy, double *nll_sum, double *row_scratch);
// row_scratch: m doubles (the per-row terms before the ordered sum).

// ---- optimizer (core/optim.c) ----------------------------------------------------------
// The per-step scalars come from elem.h's adam_coef (host, in double exactly as optim.c),
// with .decay set per tensor; the element update is elem.h's adam_elem / adam_elem_bf16.
// x, g, m, v of one tensor, n elements (fp32 moments).
int adamw_f32(CuCtx *c, float *x, const float *g, float *m, float *v, long long n, AdamCoef k);
// bf16 moments (raw bf16 bits), stochastic rounding with the CPU's stream:
// key = adam_bf16_key(seed, t, tensor_index) (elem.h), element j draws mix64(key + j).
int adamw_bf16(CuCtx *c, float *x, const float *g, uint16_t *m, uint16_t *v, long long n, AdamCoef k,
               uint64_t key);
// Earlier names of the above (kept: headers are shared with cuda/model.cu and plugin.cu).
typedef AdamCoef CuAdamCoef;
static inline AdamCoef cu_adam_coef(float lr, float beta1, float beta2, float eps, float weight_decay, long t,
                                    int decay) {
    AdamCoef k = adam_coef(lr, t, beta1, beta2, eps, weight_decay);
    k.decay = decay;
    return k;
}
static inline uint64_t cu_adam_key(uint64_t seed, long t, int tensor_index) {
    return adam_bf16_key(seed, t, tensor_index);
}

// Global gradient norm: per tensor, blocks of CU_NORM_BLOCK elements summed in double,
// the block partials then added in block order into *total (one device double; zero it
// first). Tensors are added in call order. grad_scale: g *= coef.
#define CU_NORM_BLOCK 4096
int grad_sumsq_add(CuCtx *c, const float *g, long long n, double *partials, double *total);
// partials: ceil(n / CU_NORM_BLOCK) doubles of scratch
int grad_scale(CuCtx *c, float *g, long long n, float coef);

// ---- casts (core/half.c) ---------------------------------------------------------------
// f32 → bf16 round-to-nearest-even (NaN stays NaN, as f32_to_half), and exact widenings.
int cast_f32_bf16(CuCtx *c, uint16_t *dst, const float *src, long long n);
int cast_bf16_f32(CuCtx *c, float *dst, const uint16_t *src, long long n);
int cast_f16_f32(CuCtx *c, float *dst, const uint16_t *src, long long n);
int cast_f16_bf16(CuCtx *c, uint16_t *dst, const uint16_t *src, long long n); // via fp32, RNE

// Benchmarks at scale (DevModelDesc.random_weights): p[i] = lo + (hi−lo)·u(seed, i), u a
// uniform [0,1) from mix64 — deterministic, generated on the device.
template <typename T> int fill_uniform(CuCtx *c, T *p, long long n, uint64_t seed, float lo, float hi);
template <typename T> int fill_const(CuCtx *c, T *p, long long n, float value);

// ---- quantized bases (core/nf4.c, core/quant.c; layouts in core/nf4.h, core/quant.h) -----
// NF4 rows [r0, r0+t) of an out×in weight into out_t (t×in):
//   W[e] = NF4[code(e)]·(dq_code[absmax_q[e/64]]·absmax_scale[e/64/256] + mean)
// code(e): high nibble of codes[e/2] for even e. dq_code: the 256-entry map (nf4_dq_code()).
template <typename T>
int nf4_dequant(CuCtx *c, T *out_t, const uint8_t *codes, const uint8_t *absmax_q, const float *absmax_scale,
                float absmax_mean, const float *dq_code, int in, int r0, int t);
// Uniform rows [r0, r0+t): out_t[i][j] = s·(u − 2^(bits−1)) + b, u unpacked LSB-first from
// rows of deploy_row_bytes(bits, in) bytes; s, b: out×ng (ng = ceil(in/gs)).
template <typename T>
int uniform_dequant(CuCtx *c, T *out_t, const uint8_t *packed, const float *s, const float *b, int bits, int gs,
                    int in, int r0, int t);

// ---- L4Q (core/l4q.c) ---------------------------------------------------------------------
// The geometry of one L4Q projection (quant.h QuantSpec + the LoRA factors).
typedef struct {
    int out, in, rank;
    int bits, qn, qp, gs, ng;   // as QuantSpec (gs resolved, ng = ceil(in/gs))
    float alpha;                // the LoRA scale alpha/rank
    int lsq_scale;              // ds, db scaled by 1/sqrt(group_len·Q_P)
} CuL4q;

// Forward/dX tile, rows [r0, r0+t): W = W0 + α·B·A merged exactly as l4q_merge_chunk
// (acc = Σ_k fmaf(B[i][k], A[k][j], acc), k ascending, then fmaf(α, acc, W0[i][j])), then
// Wq = s·rint(clamp((W − b)/s)) + b with guarded s (elem.h), stored as TO (fp32 parity,
// bf16 speed). W0 (out×in) as stored: TW ∈ {float, bf16, __half}. A: rank×in, B: out×rank,
// s, b: out×ng, all fp32. codes (t×in, may be NULL): the unsigned codes u = w̃ − Q_N.
template <typename TW, typename TO>
int l4q_merge_quant(CuCtx *c, TO *Wq, uint8_t *codes, const TW *W0, const float *A, const float *B, const float *s,
                    const float *b, const CuL4q *q, int r0, int t);
// Backward tile: G (t×in fp32, = dY[:, r0:r0+t]ᵀ·X) becomes M⊙G in place; for each group
// ds[k] += gsc·(float)Σ G·dsf and db[k] += gsc·(float)Σ G·clip (double sums, as
// l4q_quant_rows' Gt branch), re-merging W from W0, A, B (nothing saved from forward).
template <typename TW>
int l4q_ste_bwd(CuCtx *c, float *G, float *ds, float *db, const TW *W0, const float *A, const float *B,
                const float *s, const float *b, const CuL4q *q, int r0, int t);

// ---- the saved-intermediates quantizer (QAT-LoRA, LSQ: core/quant.c) ----------------------
// quant_forward_saved on the whole out×in W (TW as stored, widened exactly; q's rank/alpha
// unused): Wq (TO), the ds factor dsf (fp32) and the mask (1 = inside the grid) saved for
// backward — the O(out×in) memory those baselines pay and L4Q does not.
template <typename TW, typename TO>
int quant_fwd_saved(CuCtx *c, const TW *W, const float *s, const float *b, const CuL4q *q, TO *Wq, float *dsf,
                    uint8_t *mask);
// quant_backward_saved from a full G (out×in fp32): per group ds[k] += gsc·(float)Σ G·dsf and
// db[k] += gsc·(float)Σ_{outside} G (double sums); dW (NULL: none) += M⊙G.
int quant_bwd_saved(CuCtx *c, const float *G, const float *dsf, const uint8_t *mask, const CuL4q *q, float *ds,
                    float *db, float *dW);
