// linear.h — the seam: "a linear layer trained by method M" (SPEC §1).
//
// Every projection of the model (q,k,v,o,gate,up,down, optionally the head) is a Linear.
// A method is one file that fills a LinearOps table and a constructor registered in
// core/methods.c. Conventions (llm.c style):
//   forward(X[N×in]) → Y[N×out]           (Y overwritten)
//   backward(X, dY[N×out]) → dX += dY·Wᵀ-ish (dX may be NULL), param grads +=
// X is passed again to backward: the model keeps every layer input as an activation
// anyway (LoRA needs it), so a method never copies X. Anything else a method keeps from
// forward to backward is "saved for backward" and must be reported in mem.saved_bytes.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "half.h"
#include "tensor.h"
#include "util.h"

enum { P_Q, P_K, P_V, P_O, P_GATE, P_UP, P_DOWN, P_HEAD, N_PROJ };
extern const char *const PROJ_NAMES[N_PROJ]; // "q","k","v","o","gate","up","down","head"

// Memory account of one layer (bytes). transient_peak is the largest scratch a forward
// or backward call allocated (tracked by the implementation with mem_transient()).
typedef struct {
    size_t weight_bytes;     // frozen base weight as held (fp32, packed codes, NF4, ...)
    size_t trainable_bytes;  // trainable parameters
    size_t grad_opt_bytes;   // their gradients + AdamW m, v (3× trainable for Adam + grad)
    size_t saved_bytes;      // kept between forward and backward beyond the shared input X
    size_t transient_peak;   // largest temporary buffer inside forward/backward
} MemAccount;
void mem_add(MemAccount *acc, const MemAccount *m); // sums; transient_peak takes the max
static inline void mem_transient(MemAccount *m, size_t bytes) {
    if (bytes > m->transient_peak) m->transient_peak = bytes;
}

// Method hyper-parameters (YAML `method:` block). `set` marks which keys the config gave,
// so a method can reject keys it does not use (SPEC §9).
enum { MK_RANK = 1 << 0, MK_ALPHA = 1 << 1, MK_DROPOUT = 1 << 2, MK_TARGETS = 1 << 3,
       MK_BITS = 1 << 4, MK_GROUP = 1 << 5, MK_INIT = 1 << 6, MK_LSQ_SCALE = 1 << 7,
       MK_TILE = 1 << 8, MK_BASE = 1 << 9, MK_LOFTQ_ITERS = 1 << 10, MK_ACT_ORDER = 1 << 11,
       MK_DAMP = 1 << 12, MK_CALIB = 1 << 13 };
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
    unsigned set;      // MK_* bits given explicitly
} MethodCfg;

// Deployed (inference) form of one projection — what export writes and loaders read.
typedef enum { DEP_FP32 = 0, DEP_UNIFORM = 1, DEP_NF4 = 2 } DeployKind;
typedef struct {
    DeployKind kind;
    int out, in;
    float *w;                 // DEP_FP32: out×in
    int bits, group_size;     // DEP_UNIFORM: codes packed LSB-first, rows padded to bytes
    uint8_t *codes;           //   (see core/quant.h pack layout); DEP_NF4: 2 codes/byte
    size_t codes_bytes;
    float *scale, *offset;    // DEP_UNIFORM: out×n_groups each
    uint8_t *absmax_q;        // DEP_NF4: 8-bit double-quantized absmax per 64-block
    float *absmax_scale;      //   one fp32 scale per 256 absmax values
    float absmax_mean;        //   mean subtracted before the 8-bit quantization
    float *lora_A, *lora_B;   // optional side branch (mixed precision "n&fp"): A r×in, B out×r
    int rank;
    float lora_scale;
} Deploy;
void deploy_free(Deploy *d);
void deploy_copy(Deploy *dst, const Deploy *src); // deep copy
// The full fp32 weight of a deployed form (LoRA side branch folded in). Only for
// exporting to fp32 formats: inference never materializes it.
float *deploy_dequant(const Deploy *d);

typedef struct Linear Linear;
typedef struct {
    const char *name;
    void (*forward)(Linear *L, const float *X, float *Y, int N);
    void (*backward)(Linear *L, const float *X, const float *dY, float *dX, int N);
    // Fill the deployed form (export). NULL: not exportable.
    void (*deploy)(Linear *L, Deploy *out);
    void (*free)(Linear *L);
} LinearOps;

struct Linear {
    const LinearOps *ops;
    char name[48];        // e.g. "layers.3.q"
    int out, in;
    const char *form;     // inference form: "fp32", "4", "4&fp", "nf4&fp", ...
    Param *params[8];     // trainable tensors (for the optimizer), n_params of them
    int n_params;
    MemAccount mem;
    int training;         // 0: inference — methods may skip saving anything
};

// Build projection `name` (out×in, frozen weight in W) with method m. W->data is not
// copied; methods that train the weight itself (full, lsq) make W trainable in place.
Linear *linear_build(const MethodCfg *m, Param *W, const char *name, Rng *rng);
Linear *linear_from_deploy(const Deploy *d, const char *name); // inference path
void linear_free(Linear *L);
// Tiled low-bit paths shared by the deployed layers and the quantized-base baselines:
// rows [r0, r0+t) of any deployed form dequantized into Wt (t×in); Y = X·Wᵀ (overwrites)
// and dX += dY·W one ~64 KiB row tile at a time, so the fp32 W never exists whole.
int deploy_tile_rows(int out, int in);
void deploy_rows(const Deploy *d, int r0, int t, float *Wt);
void deploy_forward(const Deploy *d, Linear *L, const float *X, float *Y, int N);
void deploy_backward_dx(const Deploy *d, Linear *L, const float *dY, float *dX, int N);
// The frozen base W0 of a method (none, lora, l4q's callers): Y = X·W0ᵀ (overwrites) and
// dX += dY·W0. fp32 goes straight to sgemm; a 16-bit W0 (Param.half) is widened
// w0_tile_rows rows at a time (tracked in L->mem.transient_peak).
int w0_tile_rows(int out, int in);
void w0_forward(const Param *W, Linear *L, const float *X, float *Y, int N);
void w0_backward_dx(const Param *W, Linear *L, const float *dY, float *dX, int N);
// Y += the deployed fp LoRA side branch ("n&fp"), if d has one (inference only).
void deploy_branch_forward(const Deploy *d, Linear *L, const float *X, float *Y, int N);
const char *const *method_names(void); // NULL-terminated
void method_defaults(MethodCfg *m, const char *name); // die_input on unknown name

// Row-major helpers over cblas_sgemm used by every method.
// Y[N×out] (+)= X[N×in] · W[out×in]ᵀ
void mm_xwt(const float *X, const float *W, float *Y, int N, int in, int out, float beta);
// dX[N×in] (+)= dY[N×out] · W[out×in]
void mm_dyw(const float *dY, const float *W, float *dX, int N, int out, int in, float beta);
// dW[out×in] (+)= dY[N×out]ᵀ · X[N×in]
void mm_dytx(const float *dY, const float *X, float *dW, int N, int out, int in, float beta);
