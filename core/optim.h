// optim.h — AdamW (PyTorch's torch.optim.AdamW, single-tensor path, step for step),
// global-norm gradient clipping, and the learning-rate schedules of README "Training".
#pragma once
#include <stddef.h>
#include <stdio.h>
#include "tensor.h"

// State exists only for trainable params (grad != NULL); frozen ones are skipped and
// cost nothing. The param list passed to adamw_step/save/load must be the same (same
// order, same trainable set) as at adamw_new.
typedef struct {
    float beta1, beta2, eps, weight_decay;
    long t;            // steps taken (bias correction uses t after increment)
    int n;             // params at construction
    float **m, **v;    // per param; NULL for frozen ones
    size_t *sizes;     // element counts (for checkpoint validation)
    size_t state_bytes;// m + v bytes (the "optimizer" part of grad_optimizer_bytes)
} AdamW;

AdamW *adamw_new(Param **ps, int n, float beta1, float beta2, float eps, float weight_decay);
// One update with learning rate lr. Per trainable param, exactly as torch:
//   if p.decay: p *= 1 − lr·wd          (decoupled decay, applied before the update)
//   m = lerp(m, g, 1−β1);  v = β2·v + (1−β2)·g²
//   p −= (lr / (1−β1ᵗ)) · m / (sqrt(v) / sqrt(1−β2ᵗ) + eps)
void adamw_step(AdamW *o, Param **ps, int n, float lr);
void adamw_free(AdamW *o);
// Checkpoint: t and m, v of every trainable param with its name and size. Load checks
// that the param list matches (die_input naming the first mismatch).
void adamw_save(const AdamW *o, Param **ps, int n, FILE *f);
void adamw_load(AdamW *o, Param **ps, int n, FILE *f, const char *what);

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
