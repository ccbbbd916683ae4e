// lin_qat.cu — the autograd-style baselines the paper compares L4Q's memory with
// (core/qat_lora.c, core/lsq.c):
//
//   qat_lora: Y = X·Q(W0; s,b)ᵀ + scale·(X·Aᵀ)·Bᵀ     trains A, B, s, b (that order, as the host lists them)
//   lsq:      Y = X·Q(W; s,b)ᵀ                          trains W itself, s, b
//
// Implemented the straightforward way on purpose, as on the CPU: forward keeps the out×in
// quantized weight Wq (the model's type), the ds factor (fp32) and the clip mask (bytes) for
// backward, and backward forms the full out×in G = dYᵀ·X (fp32, transient). These are the
// O(out×in) costs L4Q's design removes, so their device memory is measured honestly.
// Gradients (quant_backward_saved, cuda-kernels' quant_bwd_saved): ds_g += gsc·Σ G·dsf,
// db_g += gsc·Σ_{clipped} G in double; lsq: dW += M⊙G; dX += dY·Wq (+ the LoRA branch's).
#include "elem.h"
#include "lin.cuh"
#include "ops.cuh"
#include "randw.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    GLin base;
    int lsq;
    void *W0;               // qat_lora: frozen out×in (model's type); lsq: NULL (W is params[0])
    DevParam *W, *s, *b;    // W: lsq's trained weight
    GLora lb;               // qat_lora
    void *Wq;               // saved: out×in, the model's type
    float *dsf;             // saved: out×in
    uint8_t *mask;          // saved: out×in, 1 = inside the grid
    CuL4q q;                // the quantizer's geometry (rank, alpha unused)
} GQat;

template <typename T>
static int qat_fwd(GQat *l, const void *X, void *Y, int N) {
    GLin *L = &l->base;
    if (l->lsq) CU_TRY(quant_fwd_saved<float, T>(L->c, l->W->x, l->s->x, l->b->x, &l->q, (T *)l->Wq, l->dsf, l->mask));
    else CU_TRY(quant_fwd_saved<T, T>(L->c, (const T *)l->W0, l->s->x, l->b->x, &l->q, (T *)l->Wq, l->dsf, l->mask));
    CU_TRY(glin_tile_fwd(L, X, l->Wq, Y, N, 0, L->out));
    return l->lsq ? 0 : glora_forward(L, &l->lb, X, Y, N);
}

template <typename T>
static int qat_bwd(GQat *l, const void *X, const void *dY, void *dX, int N) {
    GLin *L = &l->base;
    CuCtx *c = L->c;
    float *G = (float *)glin_scratch(c, (size_t)L->out * L->in * sizeof(float));
    if (!G) return -1;
    CU_TRY(gemm_dytx<T, float>(c, (const T *)dY, L->out, (const T *)X, L->in, G, L->in, N, L->out, L->in, 1.0f, 0.0f));
    CU_TRY(quant_bwd_saved(c, G, l->dsf, l->mask, &l->q, l->s->g, l->b->g, l->lsq ? l->W->g : NULL));
    if (dX) CU_TRY(glin_tile_bwd(L, dY, l->Wq, dX, N, 0, L->out));
    return l->lsq ? 0 : glora_backward(L, &l->lb, X, dY, dX, N);
}

static int forward(GLin *L, const void *X, void *Y, int N) {
    return L->bf16 ? qat_fwd<bf16>((GQat *)L, X, Y, N) : qat_fwd<float>((GQat *)L, X, Y, N);
}
static int backward(GLin *L, const void *X, const void *dY, void *dX, int N) {
    return L->bf16 ? qat_bwd<bf16>((GQat *)L, X, dY, dX, N) : qat_bwd<float>((GQat *)L, X, dY, dX, N);
}
static void qat_free(GLin *L) {
    GQat *l = (GQat *)L;
    void *ps[] = {l->W0, l->Wq, l->dsf, l->mask};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) cu_free(L->c, ps[i]);
    free(l);
}
static const GLinOps QAT_OPS = {"qat", forward, backward, qat_free};

GLin *glin_qat_new(const GLinArgs *a) {
    const DevProj *p = a->p;
    const DevMethod *m = &a->d->method;
    int lsq = !strcmp(m->name, "lsq"), out = p->out, in = p->in;
    if (p->n_params != (lsq ? 3 : 4)) {
        cu_fail("projection %d: %s lists %d trainables, expected %s", a->index, m->name, p->n_params,
                lsq ? "3 (W, s, b)" : "4 (A, B, s, b)");
        return NULL;
    }
    if (m->bits != 2 && m->bits != 3 && m->bits != 4 && m->bits != 8) { cu_fail("method.bits: %d", m->bits); return NULL; }
    int gs = m->group_size == -1 ? in : m->group_size;
    if (gs <= 0 || gs > in) { cu_fail("method.group_size: %d for a row of %d", m->group_size, in); return NULL; }
    GQat *l = (GQat *)calloc(1, sizeof *l);
    if (!l) { cu_fail("out of host memory"); return NULL; }
    l->base.ops = &QAT_OPS;
    l->base.c = a->c;
    l->base.out = out; l->base.in = in;
    l->base.bf16 = a->d->precision == DEVPREC_BF16;
    l->base.training = a->d->training;
    l->base.n_params = p->n_params;
    for (int i = 0; i < p->n_params; i++) l->base.params[i] = &a->params[i];
    l->lsq = lsq;
    l->q.out = out; l->q.in = in; l->q.rank = m->rank; l->q.alpha = 0;
    l->q.bits = m->bits; l->q.qn = -(1 << (m->bits - 1)); l->q.qp = (1 << (m->bits - 1)) - 1;
    l->q.gs = gs; l->q.ng = (in + gs - 1) / gs; l->q.lsq_scale = m->lsq_grad_scale;
    int k0 = lsq ? 1 : 2; // s, b follow W (lsq) or A, B (qat_lora)
    l->s = &a->params[k0]; l->b = &a->params[k0 + 1];
    int rc = 0;
    if (l->s->rows != out || l->s->cols != l->q.ng || l->b->rows != out || l->b->cols != l->q.ng)
        rc = cu_fail("projection %d: s, b are %dx%d and %dx%d, expected %dx%d", a->index, l->s->rows, l->s->cols,
                     l->b->rows, l->b->cols, out, l->q.ng);
    if (!rc && lsq) {
        l->W = &a->params[0];
        if (l->W->rows != out || l->W->cols != in) rc = cu_fail("projection %d: lsq's W is %dx%d", a->index, l->W->rows, l->W->cols);
    }
    if (!rc && !lsq) rc = glora_bind(&l->base, &l->lb, &a->params[0], &a->params[1], out, in, m, a->index);
    if (!rc && !lsq)
        rc = devw_make(a->c, a->d, &p->w0, (long long)out * in, in, RANDW_PROJ + (uint64_t)a->index, l->base.bf16, &l->W0);
    size_t n = (size_t)out * in;
    if (!rc) rc = cu_malloc(a->c, &l->Wq, n * (l->base.bf16 ? 2 : 4));
    if (!rc) rc = cu_malloc(a->c, (void **)&l->dsf, n * sizeof(float));
    if (!rc) rc = cu_malloc(a->c, (void **)&l->mask, n);
    if (rc) { qat_free(&l->base); return NULL; }
    return &l->base;
}
