// lora.h — the LoRA side branch every LoRA-style method shares (lora, qat_lora, the
// quantized-base baselines): Y += scale·(drop(X)·Aᵀ)·Bᵀ, scale = alpha/rank.
// Saved for backward: nothing. U = drop(X)·Aᵀ (N×r) is recomputed from the layer input,
// which the model keeps anyway; with dropout the mask is not stored either: the RNG state
// is kept and the same mask regenerated in backward.
#pragma once
#include "linear.h"

typedef struct {
    Param *A, *B;      // r×in, out×r
    float scale, dropout;
    Rng *rng, drop_state;
} LoraBranch;

// A ~ U(±1/√in) (kaiming-uniform, a=√5), B = 0.
void lora_init_AB(Param **A, Param **B, const char *name, int rank, int out, int in, Rng *rng);
// Initializes the branch, registers A, B in L->params and accounts them in L->mem.
void lb_init(LoraBranch *lb, Linear *L, const MethodCfg *m, const char *name, Rng *rng);
// Y += the branch's output.
void lb_forward(LoraBranch *lb, Linear *L, const float *X, float *Y, int N);
// dA, dB += ; dX += the branch's input gradient (dX may be NULL: none, or merged).
void lb_backward(LoraBranch *lb, Linear *L, const float *X, const float *dY, float *dX, int N);
// The base product with the frozen W0 and the branch: Y = X·W0ᵀ + branch (w0_forward, then
// lb_forward), and dX += dY·W0 + branch with dA, dB (w0_backward_dx, then lb_backward). In the
// bf16 mode without dropout the branch's pass over X (dY) also makes the product's bf16 copy.
void lb_forward_w0(LoraBranch *lb, Linear *L, const Param *W0, const float *X, float *Y, int N);
void lb_backward_w0(LoraBranch *lb, Linear *L, const Param *W0, const float *X, const float *dY, float *dX, int N);
void lb_free(LoraBranch *lb);
// Copies A, B, rank and scale into d's side-branch fields (mixed-precision deploy).
void lb_deploy(const LoraBranch *lb, Deploy *d);
// W (out×in) += scale·B·A (merging into an fp32 weight).
void lb_merge(const LoraBranch *lb, float *W, int out, int in);
