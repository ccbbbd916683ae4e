// lin_l4q.cu — L4Q (core/l4q.c): LoRA merged into the weight BEFORE quantization,
//
//   W = W0 + α·B·A,  Wq = s·rint(clamp((W − b)/s, Q_N, Q_P)) + b,  Y = X·Wqᵀ
//
// trained A, B, s, b (DevProj.params in that order). As on the CPU, nothing of size out×in
// is kept between forward and backward: both walk the output rows in tiles of
// l4q_tile rows (tile_rows·span/in, span = the model's widest projection side), and each
// tile of Wq is rebuilt from W0, A, B, s, b by cuda-kernels' l4q_merge_quant (the CPU's
// merge order: fmaf over k ascending, then fmaf(α, acc, W0)). Backward, per tile:
//   dX += dY[:, tile]·Wq_tile                      (Wq rebuilt)
//   G   = dY[:, tile]ᵀ·X                            (fp32, summed over all N rows)
//   ds, db += STE sums over each group; G ← M⊙G     (l4q_ste_bwd, re-merging W)
//   dB[tile] += α·G·Aᵀ;  dA += α·B_tileᵀ·G
// One buffer of tile×in fp32 holds Wq (the model's type) and then G: the transient is one
// tile, as the CPU's.
#include "elem.h"
#include "l4q_tile.h"
#include "lin.cuh"
#include "ops.cuh"
#include "randw.h"
#include <stdlib.h>

typedef struct {
    GLin base;
    void *W0;          // out×in, the model's type
    DevParam *A, *B, *s, *b;
    CuL4q q;
    int tile;
} GL4q;

template <typename T>
static int l4q_fwd(GL4q *l, const void *X, void *Y, int N) {
    GLin *L = &l->base;
    void *buf = glin_scratch(L->c, (size_t)l->tile * L->in * sizeof(float));
    if (!buf) return -1;
    for (int r0 = 0; r0 < L->out; r0 += l->tile) {
        int t = L->out - r0 < l->tile ? L->out - r0 : l->tile;
        CU_TRY((l4q_merge_quant<T, T>(L->c, (T *)buf, NULL, (const T *)l->W0, l->A->x, l->B->x, l->s->x, l->b->x,
                                      &l->q, r0, t)));
        CU_TRY(glin_tile_fwd(L, X, buf, Y, N, r0, t));
    }
    return 0;
}

template <typename T>
static int l4q_bwd(GL4q *l, const void *X, const void *dY, void *dX, int N) {
    GLin *L = &l->base;
    CuCtx *c = L->c;
    int in = L->in, out = L->out, r = l->q.rank;
    float *G = (float *)glin_scratch(c, (size_t)l->tile * in * sizeof(float));
    if (!G) return -1;
    for (int r0 = 0; r0 < out; r0 += l->tile) {
        int t = out - r0 < l->tile ? out - r0 : l->tile;
        if (dX) {
            CU_TRY((l4q_merge_quant<T, T>(c, (T *)G, NULL, (const T *)l->W0, l->A->x, l->B->x, l->s->x, l->b->x, &l->q,
                                          r0, t)));
            CU_TRY(glin_tile_bwd(L, dY, G, dX, N, r0, t));
        }
        CU_TRY((gemm_dytx<T, float>(c, (const T *)dY + r0, out, (const T *)X, in, G, in, N, t, in, 1.0f, 0.0f)));
        CU_TRY(l4q_ste_bwd<T>(c, G, l->s->g, l->b->g, (const T *)l->W0, l->A->x, l->B->x, l->s->x, l->b->x, &l->q, r0,
                              t));
        CU_TRY((gemm_xwt<float, float>(c, G, in, l->A->x, in, l->B->g + (size_t)r0 * r, r, t, in, r, l->q.alpha,
                                       1.0f)));
        CU_TRY((gemm_dytx<float, float>(c, l->B->x + (size_t)r0 * r, r, G, in, l->A->g, in, t, r, in, l->q.alpha,
                                        1.0f)));
    }
    return 0;
}

static int forward(GLin *L, const void *X, void *Y, int N) {
    GL4q *l = (GL4q *)L;
    return L->bf16 ? l4q_fwd<bf16>(l, X, Y, N) : l4q_fwd<float>(l, X, Y, N);
}
static int backward(GLin *L, const void *X, const void *dY, void *dX, int N) {
    GL4q *l = (GL4q *)L;
    return L->bf16 ? l4q_bwd<bf16>(l, X, dY, dX, N) : l4q_bwd<float>(l, X, dY, dX, N);
}
static void l4q_free(GLin *L) {
    cu_free(L->c, ((GL4q *)L)->W0);
    free(L);
}
static const GLinOps L4Q_OPS = {"l4q", forward, backward, l4q_free};

GLin *glin_l4q_new(const GLinArgs *a) {
    const DevProj *p = a->p;
    const DevMethod *m = &a->d->method;
    int out = p->out, in = p->in;
    if (p->n_params != 4) { cu_fail("projection %d: l4q lists %d trainables, expected 4 (A, B, s, b)", a->index, p->n_params); return NULL; }
    if (m->rank <= 0 || m->tile_rows <= 0) { cu_fail("l4q: rank %d, tile_rows %d must be positive", m->rank, m->tile_rows); return NULL; }
    if (m->bits != 2 && m->bits != 3 && m->bits != 4 && m->bits != 8) { cu_fail("method.bits: %d", m->bits); return NULL; }
    int gs = m->group_size == -1 ? in : m->group_size;
    if (gs <= 0 || gs > in) { cu_fail("method.group_size: %d for a row of %d", m->group_size, in); return NULL; }
    int ng = (in + gs - 1) / gs;
    DevParam *A = &a->params[0], *B = &a->params[1], *s = &a->params[2], *b = &a->params[3];
    if (A->rows != m->rank || A->cols != in || B->rows != out || B->cols != m->rank || s->rows != out ||
        s->cols != ng || b->rows != out || b->cols != ng) {
        cu_fail("projection %d: l4q trainables A %dx%d, B %dx%d, s %dx%d, b %dx%d; expected %dx%d, %dx%d, %dx%d, %dx%d",
                a->index, A->rows, A->cols, B->rows, B->cols, s->rows, s->cols, b->rows, b->cols, m->rank, in, out,
                m->rank, out, ng, out, ng);
        return NULL;
    }
    GL4q *l = (GL4q *)calloc(1, sizeof *l);
    if (!l) { cu_fail("out of host memory"); return NULL; }
    l->base.ops = &L4Q_OPS;
    l->base.c = a->c;
    l->base.out = out; l->base.in = in;
    l->base.bf16 = a->d->precision == DEVPREC_BF16;
    l->base.training = a->d->training;
    l->base.n_params = 4;
    for (int i = 0; i < 4; i++) l->base.params[i] = &a->params[i];
    l->A = A; l->B = B; l->s = s; l->b = b;
    l->q.out = out; l->q.in = in; l->q.rank = m->rank;
    l->q.bits = m->bits; l->q.qn = -(1 << (m->bits - 1)); l->q.qp = (1 << (m->bits - 1)) - 1;
    l->q.gs = gs; l->q.ng = ng;
    l->q.alpha = m->alpha / m->rank;
    l->q.lsq_scale = m->lsq_grad_scale;
    // core/l4q.c's tile (l4q_tile.h): tile_rows rows of the widest projection side.
    l->tile = l4q_tile(m->tile_rows, a->d->hidden_dim > a->d->dim ? a->d->hidden_dim : a->d->dim, out, in);
    if (devw_make(a->c, a->d, &p->w0, (long long)out * in, in, RANDW_PROJ + (uint64_t)a->index, l->base.bf16, &l->W0)) {
        l4q_free(&l->base);
        return NULL;
    }
    return &l->base;
}
