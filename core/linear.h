// linear.h — the seam: "a linear layer trained by method M" (README "The seam").
//
// Every projection of the model (q,k,v,o,gate,up,down, optionally the head) is a Linear.
// A method is one file that fills a LinearOps table and registers a MethodEntry (name,
// keys, defaults, constructor, optional model-level hooks; core/methods.h).
// Conventions (llm.c style):
//   forward(X[N×in]) → Y[N×out]           (Y overwritten)
//   backward(X, dY[N×out]) → dX += dY·Wᵀ-ish (dX may be NULL), param grads +=
// X is passed again to backward: the model keeps every layer input as an activation
// anyway (LoRA needs it), so a method never copies X. Anything else a method keeps from
// forward to backward is "saved for backward" and must be reported in mem.saved_bytes.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "deploy.h"
#include "half.h"
#include "tensor.h"
#include "util.h"

enum { P_Q, P_K, P_V, P_O, P_GATE, P_UP, P_DOWN, P_HEAD, N_PROJ };
// Projections per transformer layer (q..down); per-layer arrays are indexed [l*N_LAYER_PROJ + P_*].
enum { N_LAYER_PROJ = P_HEAD };
extern const char *const PROJ_NAMES[N_PROJ]; // "q","k","v","o","gate","up","down","head"

// Memory account of one layer (bytes). transient_peak is the largest scratch a forward
// or backward call allocated (tracked by the implementation with mem_transient()).
typedef struct {
    size_t weight_bytes;     // frozen base weight as held (fp32, packed codes, NF4, ...)
    size_t trainable_bytes;  // trainable parameters
    size_t grad_opt_bytes;   // their gradients + AdamW m, v (3× trainable for Adam + grad)
    size_t saved_bytes;      // kept between forward and backward beyond the shared input X
    size_t transient_peak;   // largest temporary buffer inside forward/backward
    size_t pack_bytes;       // the bf16 mode's packed copies of frozen weights (bf16mm.h); a
                             // model's account adds them to weight_bytes when it packs
} MemAccount;
void mem_add(MemAccount *acc, const MemAccount *m); // sums; transient_peak takes the max
static inline void mem_transient(MemAccount *m, size_t bytes) {
    if (bytes > m->transient_peak) m->transient_peak = bytes;
}

// Method hyper-parameters (YAML `method:` block). `set` marks which keys the config gave,
// so a method can reject keys it does not use (README "Training").
// The key names, listed once: X(ID, "yaml name"). Bit MK_ID of MethodCfg.set ⇔ key given;
// METHOD_KEY_NAMES[MKI_ID] is its name (core/methods.c), read by config.c and sweep.c.
#define METHOD_KEY_LIST(X) X(RANK, "rank") X(ALPHA, "alpha") X(DROPOUT, "dropout") \
    X(TARGETS, "targets") X(BITS, "bits") X(GROUP, "group_size") X(INIT, "init") \
    X(LSQ_SCALE, "lsq_grad_scale") X(TILE, "tile_rows") X(BASE, "base") \
    X(LOFTQ_ITERS, "loftq_iters") X(ACT_ORDER, "act_order") X(DAMP, "damp") X(CALIB, "calib_windows") \
    X(QUANT_LR, "quant_lr")
#define MK_INDEX_(id, s) MKI_##id,
#define MK_BIT_(id, s) MK_##id = 1u << MKI_##id,
enum { METHOD_KEY_LIST(MK_INDEX_) MK_COUNT };
enum { METHOD_KEY_LIST(MK_BIT_) };
#undef MK_INDEX_
#undef MK_BIT_
extern const char *const METHOD_KEY_NAMES[MK_COUNT];
typedef struct MethodPrep MethodPrep; // core/methods.h
typedef struct {
    char name[32];
    int rank;          // LoRA rank r (default 4)
    float alpha;       // lora_alpha; scale = alpha / rank (default 2·rank... see methods.c)
    float dropout;     // on the LoRA input
    unsigned targets;  // bit p set ⇔ projection p goes through the method (others: frozen fp32)
    int bits;          // quantizer width n ∈ {2,3,4,8}
    int group_size;    // −1 = whole row
    char init[16];     // l4q | minmax | absmax | lsq+
    int lsq_grad_scale;// 1: scale ds, db by 1/sqrt(group_elems·Q_P)
    int tile_rows;     // L4Q tile: tile_rows × tile_span floats (one buffer)
    int tile_span;     // the model's widest projection side (model_build sets it; 0: the layer's own)
    char base[16];     // quantized base for LoRA baselines: rtn | gptq | nf4
    int loftq_iters;
    int act_order;
    float damp;
    int calib_windows;
    double quant_lr;   // the quantizer parameters' base learning rate (PG_QUANT); 0 = train.lr
    unsigned set;      // MK_* bits given explicitly
    // Not configuration: a model-level pass's records (core/methods.h) for the constructors,
    // set by method_prepare's caller for model_build, which clears it in the Model's copy
    // (the records are the caller's); NULL when no pass ran.
    const MethodPrep *prep;
} MethodCfg;

typedef struct Linear Linear;
typedef struct {
    const char *name;
    void (*forward)(Linear *L, const float *X, float *Y, int N);
    void (*backward)(Linear *L, const float *X, const float *dY, float *dX, int N);
    // Fill the deployed form (export). NULL: not exportable.
    void (*deploy)(Linear *L, Deploy *out);
    void (*free)(Linear *L);
    // The bf16 mode (bf16mm.h): dX (N×in) += dYb · W with dY given already rounded to bf16
    // (the head's d-logits, rounded by model_head while they are in cache). NULL: not offered.
    void (*backward_dx_bf16)(Linear *L, const uint16_t *dYb, float *dX, int N);
} LinearOps;

struct Linear {
    const LinearOps *ops;
    char name[48];        // e.g. "layers.3.q"
    int out, in;
    const char *form;     // inference form: "fp32", "4", "4&fp", "nf4&fp", ...
    Param *params[8];     // trainable tensors (for the optimizer), n_params of them
    int n_params;
    MemAccount mem;
    // The bf16 mode: the frozen weight this layer multiplies by, packed (bf16mm.h); a holder
    // only where the model's memory account has room for the copies (model_plan_memory).
    struct Bf16Packed *bf16_packed;
    int training;         // 0: inference — methods may skip saving anything
    // Set by layers whose frozen base is held quantized (NF4, uniform codes), without the
    // side branch; NULL: the base is the W0 Param the layer was built on. For a device that
    // runs the layer (core/device.h DevProj.base).
    const Deploy *frozen_base;
};

void linear_free(Linear *L);
// For constructors: a zeroed layer struct of `size` bytes (its first member a Linear)
// with ops, shape and name set.
void *linear_alloc(size_t size, const LinearOps *ops, int out, int in, const char *name);
// (Building a layer by method name: linear_build, core/methods.h, the registry.)

// ---- row-tiled products ----------------------------------------------------------------------
// The frozen base W0 of a method (none, lora): Y = X·W0ᵀ (overwrites) and dX += dY·W0.
// fp32 goes straight to sgemm; a 16-bit W0 (Param.half) is widened w0_tile_rows rows at a
// time (tracked in L->mem.transient_peak).
int w0_tile_rows(int out, int in);
void w0_forward(const Param *W, Linear *L, const float *X, float *Y, int N);
// A frozen W0's account: weight_bytes as held (plus the bf16 mode's rounded copy of an
// fp32/f16 W0) and pack_bytes (the bf16 mode's packed copies, counted by model_memory
// only when the model packs).
void w0_account(MemAccount *m, const Param *W);
void w0_backward_dx(const Param *W, Linear *L, const float *dY, float *dX, int N);
// The same products on a deployed form (core/deploy.h), shared by the inference layers below
// and the quantized-base baselines: Y = X·Wᵀ (overwrites) and dX += dY·W one ~64 KiB row tile
// at a time (deploy_rows), so the fp32 W never exists whole; the tile is accounted as L's
// transient memory.
int deploy_tile_rows(int out, int in);
void deploy_forward(const Deploy *d, Linear *L, const float *X, float *Y, int N);
void deploy_backward_dx(const Deploy *d, Linear *L, const float *dY, float *dX, int N);
// Y += the side branch's output, if d has one (inference only).
void deploy_branch_forward(const Deploy *d, Linear *L, const float *X, float *Y, int N);
// The inference-only layer running d (borrowed: it must outlive the layer). Validates d
// (bad shapes or sizes → die_input naming `name`).
Linear *linear_from_deploy(const Deploy *d, const char *name);
// Row-major helpers over gemm_f32 (gemm.h) used by every method.
// Y[N×out] (+)= X[N×in] · W[out×in]ᵀ
void mm_xwt(const float *X, const float *W, float *Y, int N, int in, int out, float beta);
// dX[N×in] (+)= dY[N×out] · W[out×in]
void mm_dyw(const float *dY, const float *W, float *dX, int N, int out, int in, float beta);
// dW[out×in] = beta·dW + alpha·dY[N×out]ᵀ · X[N×in] (a small dW: summed in fixed row chunks)
void mm_dytx(const float *dY, const float *X, float *dW, int N, int out, int in, float alpha, float beta);
// The same with dY's row stride ldy (a tile of dY's columns: L4Q's and PEQA's G tiles).
void mm_dytx_ld(const float *dY, int ldy, const float *X, float *dW, int N, int out, int in, float alpha, float beta);
// Those row chunks, for callers that compute each chunk's partial product themselves (the
// LoRA branch's backward, in one pass per chunk): an N-row sum into an n-element dW takes
// mm_split_chunks(N, n) chunks of MM_SPLIT_ROWS rows (0: it runs as one product), and
// mm_split_sum adds the partials part[nc][n] in chunk order into dW (= beta·dW + Σ), so the
// bits are mm_dytx's.
#define MM_SPLIT_ROWS 512
int mm_split_chunks(int N, size_t n);
void mm_split_sum(float *part, int nc, size_t n, float *dW, float beta);
