// lin_qbase.cu — LoRA over a frozen quantized base (baselines/ptq.c, qlora.c, qa_lora.c):
//
//   qlora (NF4 base), rtn_lora, gptq_lora (uniform n-bit base; GPTQ's calibration stays on
//   the CPU): Y = X·Q(W0)ᵀ + scale·(drop(X)·Aᵀ)·Bᵀ                     trains A r×in, B out×r
//   qa_lora (uniform base): Y = X·Q(W0)ᵀ + scale·(P(X)·Aᵀ)·Bᵀ, P(X)[n,g] = mean of X[n, group g]
//                                                                      trains A r×ng, B out×r
//
// The base is DevProj.base as the host built it (its codes, scales or NF4 blocks), kept
// packed and dequantized a row tile at a time (GBase). Backward, in the CPU's order:
// ptq: the branch's dA, dB, dX, then the base's dX; qa_lora: dB, dA, the base's dX, then
// dX += spread(dU·A), spread(Z)[n,j] = Z[n,g(j)]/|g|. qa_lora recomputes U = P(X)·Aᵀ in
// backward where the CPU saves it from forward (the same products on the same inputs).
#include "elem.h"
#include "lin.cuh"
#include "ops.cuh"
#include "randw.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    GLin base;
    GBase w;
    GLora lb;
    int qa;                 // qa_lora: the branch sees group means
    int gs, ng;
    void *xp;               // qa_lora: P(X) and its gradient, N×ng each (grown on demand)
    size_t xp_cap;
} GQBase;

// Xp[n][g] = (Σ_{j∈g} X[n][j]) / |g|, summed in float in j order (qa_pool).
template <typename T>
__global__ void pool_kernel(T *Xp, const T *X, int N, int in, int gs, int ng) {
    long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (k >= (long long)N * ng) return;
    int n = (int)(k / ng), g = (int)(k % ng);
    int j0 = g * gs, j1 = j0 + gs < in ? j0 + gs : in;
    float acc = 0;
    for (int j = j0; j < j1; j++) acc += cu_f32(X[(size_t)n * in + j]);
    Xp[k] = cu_from_f32<T>(acc / (float)(j1 - j0));
}
// dX[n][j] += dP[n][g(j)] / |g| (qa_backward's spread).
template <typename T>
__global__ void spread_kernel(T *dX, const T *dP, int N, int in, int gs, int ng) {
    long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (k >= (long long)N * in) return;
    int n = (int)(k / in), j = (int)(k % in), g = j / gs;
    int j0 = g * gs, j1 = j0 + gs < in ? j0 + gs : in;
    float v = cu_f32(dP[(size_t)n * ng + g]) / (float)(j1 - j0);
    dX[k] = cu_from_f32<T>(cu_f32(dX[k]) + v);
}

static int xp_buffers(GQBase *l, int N, void **Xp, void **dP) {
    size_t es = l->base.bf16 ? 2 : 4, need = (size_t)2 * N * l->ng * es;
    if (need > l->xp_cap) {
        cu_free(l->base.c, l->xp);
        l->xp = NULL;
        l->xp_cap = 0;
        CU_TRY(cu_malloc(l->base.c, &l->xp, need));
        l->xp_cap = need;
    }
    *Xp = l->xp;
    *dP = (char *)l->xp + (size_t)N * l->ng * es;
    return 0;
}

template <typename T>
static int pool(GQBase *l, const void *X, void *Xp, int N) {
    long long n = (long long)N * l->ng;
    pool_kernel<T><<<cu_blocks(n, 256), 256, 0, l->base.c->stream>>>((T *)Xp, (const T *)X, N, l->base.in, l->gs, l->ng);
    CU_LAUNCH_CHECK();
    return 0;
}
template <typename T>
static int spread(GQBase *l, void *dX, const void *dP, int N) {
    long long n = (long long)N * l->base.in;
    spread_kernel<T><<<cu_blocks(n, 256), 256, 0, l->base.c->stream>>>((T *)dX, (const T *)dP, N, l->base.in, l->gs,
                                                                         l->ng);
    CU_LAUNCH_CHECK();
    return 0;
}

static int qb_forward(GLin *L, const void *X, void *Y, int N) {
    GQBase *l = (GQBase *)L;
    CU_TRY(gbase_forward(L, &l->w, X, Y, N));
    if (!l->qa) return glora_forward(L, &l->lb, X, Y, N);
    void *Xp, *dP;
    CU_TRY(xp_buffers(l, N, &Xp, &dP));
    CU_TRY(L->bf16 ? pool<bf16>(l, X, Xp, N) : pool<float>(l, X, Xp, N));
    return glora_forward(L, &l->lb, Xp, Y, N);
}

static int qb_backward(GLin *L, const void *X, const void *dY, void *dX, int N) {
    GQBase *l = (GQBase *)L;
    if (!l->qa) {
        CU_TRY(glora_backward(L, &l->lb, X, dY, dX, N));
        return dX ? gbase_backward_dx(L, &l->w, dY, dX, N) : 0;
    }
    void *Xp, *dP;
    CU_TRY(xp_buffers(l, N, &Xp, &dP));
    CU_TRY(L->bf16 ? pool<bf16>(l, X, Xp, N) : pool<float>(l, X, Xp, N));
    CU_TRY(cu_zero(L->c, dP, (size_t)N * l->ng * (L->bf16 ? 2 : 4)));
    CU_TRY(glora_backward(L, &l->lb, Xp, dY, dX ? dP : NULL, N));
    if (!dX) return 0;
    CU_TRY(gbase_backward_dx(L, &l->w, dY, dX, N));
    return L->bf16 ? spread<bf16>(l, dX, dP, N) : spread<float>(l, dX, dP, N);
}

static void qb_free(GLin *L) {
    GQBase *l = (GQBase *)L;
    gbase_free(L->c, &l->w);
    cu_free(L->c, l->xp);
    free(l);
}
static const GLinOps QBASE_OPS = {"qbase_lora", qb_forward, qb_backward, qb_free};

GLin *glin_qbase_new(const GLinArgs *a) {
    const DevProj *p = a->p;
    const char *name = a->d->method.name;
    if (!p->base) { cu_fail("projection %d: %s needs its quantized base (DevProj.base) from the host", a->index, name); return NULL; }
    int qa = !strcmp(name, "qa_lora");
    int want = !strcmp(name, "qlora") ? DEP_NF4 : DEP_UNIFORM;
    if ((int)p->base->kind != want) {
        cu_fail("projection %d: %s expects a %s base, got kind %d", a->index, name, want == DEP_NF4 ? "NF4" : "uniform",
                (int)p->base->kind);
        return NULL;
    }
    if (p->n_params != 2) { cu_fail("projection %d: %s lists %d trainables, expected 2 (A, B)", a->index, name, p->n_params); return NULL; }
    GQBase *l = (GQBase *)calloc(1, sizeof *l);
    if (!l) { cu_fail("out of host memory"); return NULL; }
    l->base.ops = &QBASE_OPS;
    l->base.c = a->c;
    l->base.out = p->out; l->base.in = p->in;
    l->base.bf16 = a->d->precision == DEVPREC_BF16;
    l->base.training = a->d->training;
    l->base.seed = a->d->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(a->index + 1));
    l->base.n_params = 2;
    l->base.params[0] = &a->params[0];
    l->base.params[1] = &a->params[1];
    l->qa = qa;
    l->gs = p->base->group_size > 0 ? p->base->group_size : p->in;
    l->ng = (p->in + l->gs - 1) / l->gs;
    int rc = gbase_deploy(&l->base, &l->w, p->base, a->index);
    if (!rc) rc = glora_bind(&l->base, &l->lb, &a->params[0], &a->params[1], p->out, qa ? l->ng : p->in, &a->d->method, a->index);
    if (!rc && qa) l->lb.dropout = 0; // qa_lora has no dropout (the CPU rejects the key)
    if (!rc && p->base->rank > 0) rc = cu_fail("projection %d: %s's base carries a LoRA side branch", a->index, name);
    if (rc) { qb_free(&l->base); return NULL; }
    return &l->base;
}
