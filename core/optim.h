// optim.h — AdamW (PyTorch's torch.optim.AdamW, single-tensor path, step for step),
// global-norm gradient clipping, and the learning-rate schedules of README "Training".
#pragma once
#include <stddef.h>
#include <stdio.h>
#include "tensor.h"

// State exists only for trainable params (grad != NULL); frozen ones are skipped and
// cost nothing. The param list passed to adamw_step/save/load must be the same (same
// order, same trainable set) as at adamw_new.
//
// state_dtype DT_F32: torch's AdamW exactly. DT_BF16 (train.optim_state: bf16, README
// "Training"): m and v are stored as bf16 — half the optimizer memory — and each step
// widens them (exact), computes the fp32 update below from them, and stores the new m and
// v with stochastic rounding (f32_to_bf16_sr; the random bits are mix64 of seed, step,
// tensor and element, so they do not depend on the thread count and a resumed run repeats
// them). Round-to-nearest would stall v: β2·v moves v by 0.1% per step, under half a bf16
// ulp (0.2–0.4%), so a shrinking v would never shrink; stochastic rounding keeps every
// stored moment equal to the fp32 one in expectation.
typedef struct {
    float beta1, beta2, eps, weight_decay;
    int state_dtype;   // DT_F32 | DT_BF16
    uint64_t seed;     // DT_BF16: the stochastic rounding stream
    long t;            // steps taken (bias correction uses t after increment)
    int n;             // params at construction
    void **m, **v;     // per param (float or bf16 by state_dtype); NULL for frozen ones
    size_t *sizes;     // element counts (for checkpoint validation)
    size_t state_bytes;// m + v bytes (the "optimizer" part of grad_optimizer_bytes)
} AdamW;

AdamW *adamw_new(Param **ps, int n, float beta1, float beta2, float eps, float weight_decay, int state_dtype,
                 uint64_t seed);
// One update with learning rate lr. Per trainable param, exactly as torch:
//   if p.decay: p *= 1 − lr·wd          (decoupled decay, applied before the update)
//   m = lerp(m, g, 1−β1);  v = β2·v + (1−β2)·g²
//   p −= (lr / (1−β1ᵗ)) · m / (sqrt(v) / sqrt(1−β2ᵗ) + eps)
void adamw_step(AdamW *o, Param **ps, int n, float lr);
// The same with torch's parameter groups: param p steps with lr[p->group] (PG_*), the one
// difference between groups (betas, eps and weight decay are shared). adamw_step(lr) is
// this with every group at lr.
void adamw_step_groups(AdamW *o, Param **ps, int n, const float lr[PG_COUNT]);
// The memory account's grad_opt_bytes (MemAccount) with state of this dtype: the fp32
// gradients (as many bytes as the trainable parameters) plus m and v. Methods account
// fp32 state (3× trainable); training replaces that figure with this one.
size_t adamw_grad_opt_bytes(int state_dtype, size_t trainable_bytes);
void adamw_free(AdamW *o);
// Checkpoint: t and m, v of every trainable param with its name and size. Load checks
// that the param list matches (die_input naming the first mismatch).
void adamw_save(const AdamW *o, Param **ps, int n, FILE *f);
void adamw_load(AdamW *o, Param **ps, int n, FILE *f, const char *what);
// Param i's first non-finite moment value: its index, with *which set to " (AdamW first
// moment)" or " (AdamW second moment)"; −1 when both are finite or param i is frozen.
long adamw_first_nonfinite(const AdamW *o, int i, const char **which);

// Global L2 norm over all trainable grads (accumulated in double, in a fixed order so it
// is bit-identical for any thread count). If max_norm > 0 and the norm exceeds it, grads
// are scaled by max_norm / (norm + 1e-6) (torch.nn.utils.clip_grad_norm_). Returns the
// pre-clip norm.
double grad_clip(Param **ps, int n, float max_norm);

// Learning rate for 0-based update index `step` of `total`:
//   warmup W = round(warmup·total) if warmup < 1, else warmup steps;
//   step < W: base·(step+1)/W (linear; the first update already moves);
//   constant: base afterwards;
//   cosine:   base·½(1+cos(π·(step−W)/(total−1−W))) — starts at base right after warmup
//             and reaches exactly 0 at the last update (step = total−1).
// schedule: "constant" | "cosine" (anything else → die_input).
float lr_at(const char *schedule, long step, long total, double warmup, float base_lr);
long warmup_steps(long total, double warmup);
