// lin_lora.cu — the LoRA side branch (core/lora.c lb_*) and the `lora` method over a frozen
// W0: Y = X·W0ᵀ + scale·(drop(X)·Aᵀ)·Bᵀ, scale = alpha/rank.
//
// Saved for backward: nothing; U = drop(X)·Aᵀ (N×r) is recomputed in backward from the
// layer input, as on the CPU. The products are always the unmerged ones (the CPU merges
// W0 + scale·B·A when the batch is at least as tall as the weight: a different rounding
// of the same model, within the parity tolerance; on the GPU the merge would cost an
// out×in pass per call).
//
// Dropout (> 0, training only): the mask comes from cuda-kernels' dropout_apply (mix64 of a
// seed and the element index) with the seed drawn from (layer seed, forward call), so
// backward regenerates forward's mask without storing it. It is NOT the CPU's Rng stream: a
// run with dropout is a different sample of the same method, and parity runs use dropout 0.
#include "elem.h"
#include "lin.cuh"
#include "randw.h"
#include "ops.cuh"
#include <stdlib.h>

// The dropout mask of this layer's current forward call: cuda-kernels' dropout_apply
// keyed by (layer seed, call counter), so backward regenerates it.
static uint64_t drop_seed(const GLin *L) { return mix64(L->seed ^ mix64(L->calls)); }

template <typename T>
static int branch_fwd(GLin *L, GLora *lb, const void *Xv, void *Yv, int N) {
    CuCtx *c = L->c;
    int r = lb->rank, in = lb->in, out = L->out;
    int drop = lb->dropout > 0 && L->training;
    size_t es = sizeof(T);
    char *scr = (char *)glin_scratch(c, (size_t)N * r * es + (drop ? (size_t)N * in * es : 0));
    if (!scr) return -1;
    T *U = (T *)scr, *Xd = drop ? (T *)(scr + (size_t)N * r * es) : NULL;
    const T *X = (const T *)Xv;
    if (drop) {
        L->calls++;
        CU_TRY(dropout_apply<T>(c, Xd, X, (long long)N * in, lb->dropout, drop_seed(L)));
        X = Xd;
    }
    const T *A = sizeof(T) == 2 ? (const T *)lb->A->h : (const T *)lb->A->x;
    const T *B = sizeof(T) == 2 ? (const T *)lb->B->h : (const T *)lb->B->x;
    CU_TRY((gemm_xwt<T, T>(c, X, in, A, in, U, r, N, in, r, 1.0f, 0.0f)));
    return gemm_xwt<T, T>(c, U, r, B, r, (T *)Yv, out, N, r, out, lb->scale, 1.0f);
}

template <typename T>
static int branch_bwd(GLin *L, GLora *lb, const void *Xv, const void *dYv, void *dXv, int N) {
    CuCtx *c = L->c;
    int r = lb->rank, in = lb->in, out = L->out;
    int drop = lb->dropout > 0 && L->training;
    size_t es = sizeof(T);
    char *scr = (char *)glin_scratch(c, (size_t)2 * N * r * es + (drop ? (size_t)2 * N * in * es : 0));
    if (!scr) return -1;
    T *U = (T *)scr, *dU = U + (size_t)N * r;
    T *Xd = drop ? dU + (size_t)N * r : NULL, *t = drop ? Xd + (size_t)N * in : NULL;
    const T *X = (const T *)Xv, *dY = (const T *)dYv;
    if (drop) { // forward's mask again (same seed and call)
        CU_TRY(dropout_apply<T>(c, Xd, X, (long long)N * in, lb->dropout, drop_seed(L)));
        X = Xd;
    }
    const T *A = sizeof(T) == 2 ? (const T *)lb->A->h : (const T *)lb->A->x;
    const T *B = sizeof(T) == 2 ? (const T *)lb->B->h : (const T *)lb->B->x;
    // U = drop(X)·Aᵀ; dB += scale·dYᵀ·U; dU = scale·dY·B; dA += dUᵀ·drop(X); dX += dU·A (masked)
    CU_TRY((gemm_xwt<T, T>(c, X, in, A, in, U, r, N, in, r, 1.0f, 0.0f)));
    CU_TRY((gemm_dytx<T, float>(c, dY, out, U, r, lb->B->g, r, N, out, r, lb->scale, 1.0f)));
    CU_TRY((gemm_dyw<T, T>(c, dY, out, B, r, dU, r, N, out, r, lb->scale, 0.0f)));
    CU_TRY((gemm_dytx<T, float>(c, dU, r, X, in, lb->A->g, in, N, r, in, 1.0f, 1.0f)));
    if (!dXv) return 0;
    if (!drop) return gemm_dyw<T, T>(c, dU, r, A, in, (T *)dXv, in, N, r, in, 1.0f, 1.0f);
    // dX += mask·(dU·A)/keep: the same mask on the input gradient, then added.
    CU_TRY((gemm_dyw<T, T>(c, dU, r, A, in, t, in, N, r, in, 1.0f, 0.0f)));
    CU_TRY(dropout_apply<T>(c, t, t, (long long)N * in, lb->dropout, drop_seed(L)));
    return residual_add<T>(c, (T *)dXv, t, (long long)N * in);
}

int glora_forward(GLin *L, GLora *lb, const void *X, void *Y, int N) {
    return L->bf16 ? branch_fwd<bf16>(L, lb, X, Y, N) : branch_fwd<float>(L, lb, X, Y, N);
}
int glora_backward(GLin *L, GLora *lb, const void *X, const void *dY, void *dX, int N) {
    return L->bf16 ? branch_bwd<bf16>(L, lb, X, dY, dX, N) : branch_bwd<float>(L, lb, X, dY, dX, N);
}

// ---- the `lora` method --------------------------------------------------------------------
typedef struct {
    GLin base;
    void *W0;     // out×in, the model's type
    GLora lb;
} GLoraLin;

static int lora_forward(GLin *L, const void *X, void *Y, int N) {
    GLoraLin *l = (GLoraLin *)L;
    CU_TRY(glin_tile_fwd(L, X, l->W0, Y, N, 0, L->out));
    return glora_forward(L, &l->lb, X, Y, N);
}
static int lora_backward(GLin *L, const void *X, const void *dY, void *dX, int N) {
    GLoraLin *l = (GLoraLin *)L;
    if (dX) CU_TRY(glin_tile_bwd(L, dY, l->W0, dX, N, 0, L->out));
    return glora_backward(L, &l->lb, X, dY, dX, N);
}
static void lora_free(GLin *L) {
    cu_free(L->c, ((GLoraLin *)L)->W0);
    free(L);
}
static const GLinOps LORA_OPS = {"lora", lora_forward, lora_backward, lora_free};

// Checks that trainables i, j are the r×in and out×r factors of a LoRA branch.
int glora_bind(GLin *L, GLora *lb, DevParam *A, DevParam *B, int out, int in, const DevMethod *m, int index) {
    CU_REQUIRE(m->rank > 0, "method.rank: %d", m->rank);
    CU_REQUIRE(A->rows == m->rank && A->cols == in && B->rows == out && B->cols == m->rank,
               "projection %d: LoRA factors %dx%d and %dx%d, expected %dx%d and %dx%d", index, A->rows, A->cols,
               B->rows, B->cols, m->rank, in, out, m->rank);
    lb->A = A; lb->B = B;
    lb->rank = m->rank; lb->in = in;
    lb->scale = m->alpha / m->rank;
    lb->dropout = m->dropout;
    if (!L->bf16) return 0;
    DevParam *ps[2] = {A, B};
    for (int i = 0; i < 2; i++)
        if (!ps[i]->h) {
            CU_TRY(cu_malloc(L->c, (void **)&ps[i]->h, (size_t)ps[i]->n * 2));
            CU_TRY(devparam_refresh(L->c, ps[i]));
        }
    return 0;
}

GLin *glin_lora_new(const GLinArgs *a) {
    const DevProj *p = a->p;
    GLoraLin *l = (GLoraLin *)calloc(1, sizeof *l);
    if (!l) { cu_fail("out of host memory"); return NULL; }
    l->base.ops = &LORA_OPS;
    l->base.c = a->c;
    l->base.out = p->out; l->base.in = p->in;
    l->base.bf16 = a->d->precision == DEVPREC_BF16;
    l->base.training = a->d->training;
    l->base.seed = a->d->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(a->index + 1));
    if (p->n_params != 2) {
        cu_fail("projection %d: lora lists %d trainables, expected 2 (A, B)", a->index, p->n_params);
        free(l);
        return NULL;
    }
    l->base.n_params = 2;
    l->base.params[0] = &a->params[0];
    l->base.params[1] = &a->params[1];
    if (glora_bind(&l->base, &l->lb, &a->params[0], &a->params[1], p->out, p->in, &a->d->method, a->index) ||
        devw_make(a->c, a->d, &p->w0, (long long)p->out * p->in, p->in, RANDW_PROJ + (uint64_t)a->index, l->base.bf16, &l->W0)) {
        lora_free(&l->base);
        return NULL;
    }
    return &l->base;
}
