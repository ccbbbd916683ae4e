// lora.c — LoRA on a frozen fp32 base: Y = X·W0ᵀ + α·(drop(X)·Aᵀ)·Bᵀ, α = alpha/rank.
// Saved for backward: the rank-r intermediate U = drop(X)·Aᵀ (N×r). With dropout the mask
// is not stored: the RNG state is saved and the same mask regenerated in backward.
#include "linear.h"
#include "util.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Linear base;
    const float *W0;
    Param *A, *B;         // r×in, out×r
    float scale, dropout;
    Rng *rng;
    float *U;             // N×r saved
    Rng drop_state;       // RNG state at forward, to regenerate the dropout mask
    int cap;              // rows allocated
} LoraLinear;

static void lora_ensure(LoraLinear *l, int N) {
    if (N <= l->cap) return;
    int r = l->A->shape[0];
    free(l->U);
    l->U = xmalloc((size_t)N * r * sizeof(float));
    l->cap = N;
    l->base.mem.saved_bytes = (size_t)N * r * sizeof(float);
}

// Dropped copy of X (inverted dropout) drawn from rng state `st`.
static float *lora_dropped(LoraLinear *l, const float *X, int N, Rng st) {
    size_t n = (size_t)N * l->base.in;
    float keep = 1.0f - l->dropout, inv = 1.0f / keep;
    float *Xd = xmalloc(n * sizeof(float));
    mem_transient(&l->base.mem, n * sizeof(float));
    for (size_t i = 0; i < n; i++) Xd[i] = rng_uniform(&st) < keep ? X[i] * inv : 0.0f;
    return Xd;
}

static void lora_forward(Linear *L, const float *X, float *Y, int N) {
    LoraLinear *l = (LoraLinear *)L;
    int r = l->A->shape[0], in = L->in, out = L->out;
    lora_ensure(l, N);
    float *Xd = NULL;
    if (l->dropout > 0 && L->training) {
        rng_seed(&l->drop_state, rng_u64(l->rng)); // one draw per call keeps streams cheap
        Xd = lora_dropped(l, X, N, l->drop_state);
    }
    mm_xwt(X, l->W0, Y, N, in, out, 0.0f);
    mm_xwt(Xd ? Xd : X, l->A->data, l->U, N, in, r, 0.0f);
    free(Xd);
    // Y += scale · U·Bᵀ : fold the scale into a scaled copy-free sgemm via alpha.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, r, l->scale, l->U, r, l->B->data, r, 1.0f, Y, out);
}

static void lora_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    LoraLinear *l = (LoraLinear *)L;
    int r = l->A->shape[0], in = L->in, out = L->out;
    float *Xd = (l->dropout > 0 && L->training) ? lora_dropped(l, X, N, l->drop_state) : NULL;
    const float *Xa = Xd ? Xd : X;
    // dB += scale · dYᵀ·U ; dU = scale · dY·B (N×r) ; dA += dUᵀ·Xa ; dX += dY·W0 + dU·A
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, r, N, l->scale, dY, out, l->U, r, 1.0f, l->B->grad, r);
    float *dU = xmalloc((size_t)N * r * sizeof(float));
    mem_transient(&L->mem, (size_t)N * r * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, r, out, l->scale, dY, out, l->B->data, r, 0.0f, dU, r);
    mm_dytx(dU, Xa, l->A->grad, N, r, in, 1.0f);
    if (dX) {
        mm_dyw(dY, l->W0, dX, N, out, in, 1.0f);
        if (Xd) {
            // d drop(X)/dX = mask/keep: replay the same uniform draws.
            float *t = xmalloc((size_t)N * in * sizeof(float));
            mm_dyw(dU, l->A->data, t, N, r, in, 0.0f);
            float keep = 1.0f - l->dropout;
            Rng st = l->drop_state;
            for (size_t i = 0; i < (size_t)N * in; i++) if (rng_uniform(&st) < keep) dX[i] += t[i] / keep;
            free(t);
        } else {
            mm_dyw(dU, l->A->data, dX, N, r, in, 1.0f);
        }
    }
    free(dU);
    free(Xd);
}

static void lora_deploy(Linear *L, Deploy *d) {
    // LoRA on fp32 is mergeable: deploy W0 + scale·B·A as plain fp32.
    LoraLinear *l = (LoraLinear *)L;
    int r = l->A->shape[0];
    memset(d, 0, sizeof *d);
    d->kind = DEP_FP32; d->out = L->out; d->in = L->in;
    d->w = xmalloc((size_t)L->out * L->in * sizeof(float));
    memcpy(d->w, l->W0, (size_t)L->out * L->in * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L->out, L->in, r, l->scale, l->B->data, r, l->A->data, L->in, 1.0f, d->w, L->in);
}

static void lora_free(Linear *L) {
    LoraLinear *l = (LoraLinear *)L;
    param_free(l->A); param_free(l->B); free(l->A); free(l->B);
    free(l->U); free(l);
}
static const LinearOps LORA_OPS = {"lora", lora_forward, lora_backward, lora_deploy, lora_free};

// Shared by every LoRA-style method: A ~ U(±1/√in) (kaiming-uniform, a=√5), B = 0.
void lora_init_AB(Param **A, Param **B, const char *name, int rank, int out, int in, Rng *rng) {
    char nm[96];
    snprintf(nm, sizeof nm, "%s.lora_A", name);
    *A = param_new(nm, rank, in, 1);
    snprintf(nm, sizeof nm, "%s.lora_B", name);
    *B = param_new(nm, out, rank, 1);
    float bound = 1.0f / sqrtf((float)in);
    for (size_t i = 0; i < (*A)->n; i++) (*A)->data[i] = (2.0f * rng_uniform(rng) - 1.0f) * bound;
    param_make_trainable(*A);
    param_make_trainable(*B);
}

Linear *lora_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    if (m->rank <= 0) die_input("method.rank: must be positive (got %d)", m->rank);
    if (m->dropout < 0 || m->dropout >= 1) die_input("method.dropout: must be in [0, 1) (got %g)", m->dropout);
    LoraLinear *l = xcalloc(1, sizeof *l);
    int out = W->shape[0], in = W->shape[1];
    l->base.ops = &LORA_OPS;
    l->base.out = out; l->base.in = in;
    l->base.form = "fp32";
    snprintf(l->base.name, sizeof l->base.name, "%s", name);
    l->W0 = W->data;
    l->scale = m->alpha / m->rank;
    l->dropout = m->dropout;
    l->rng = rng;
    lora_init_AB(&l->A, &l->B, name, m->rank, out, in, rng);
    l->base.params[l->base.n_params++] = l->A;
    l->base.params[l->base.n_params++] = l->B;
    size_t tb = (l->A->n + l->B->n) * sizeof(float);
    l->base.mem.weight_bytes = W->n * sizeof(float);
    l->base.mem.trainable_bytes = tb;
    l->base.mem.grad_opt_bytes = 3 * tb;
    return &l->base;
}
