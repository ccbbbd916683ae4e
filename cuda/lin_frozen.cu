// lin_frozen.cu — frozen projections: W0 as stored (method none, and every projection a
// method leaves untouched; core/linear.c w0_forward / w0_backward_dx), and the deployed
// forms a `.l4qz` file holds for inference (linear_from_deploy): fp32, uniform n-bit and NF4,
// each optionally with its fp32 LoRA side branch ("n&fp").
//
//   Y = X·Wᵀ (+ scale·(X·Aᵀ)·Bᵀ)        dX += dY·W (the side branch has no backward: inference)
//
// A packed base stays packed on the device and is dequantized a row tile at a time into the
// model's scratch (core/linear.c's tiled_product), so the fp32/bf16 weight never exists whole.
#include "elem.h"
#include "lin.cuh"
#include "randw.h"
#include "ops.cuh"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    GLin base;
    GBase w;
    DevParam sideA, sideB;        // the deployed side branch (not trained)
    GLora side;
    int has_side;
} GFrozen;

// Rows [r0, r0+t) of the packed base into Wt (the model's type).
static int dequant_rows(GLin *L, GBase *g, void *Wt, int r0, int t) {
    CuCtx *c = L->c;
    int in = L->in;
    if (g->kind == DEP_UNIFORM) {
        if (L->bf16) return uniform_dequant<bf16>(c, (bf16 *)Wt, g->codes, g->s, g->b, g->bits, g->gs, in, r0, t);
        return uniform_dequant<float>(c, (float *)Wt, g->codes, g->s, g->b, g->bits, g->gs, in, r0, t);
    }
    if (L->bf16)
        return nf4_dequant<bf16>(c, (bf16 *)Wt, g->codes, g->absmax_q, g->absmax_scale, g->absmax_mean, g->dq_code, in,
                                 r0, t);
    return nf4_dequant<float>(c, (float *)Wt, g->codes, g->absmax_q, g->absmax_scale, g->absmax_mean, g->dq_code, in,
                              r0, t);
}

int gbase_forward(GLin *L, GBase *g, const void *X, void *Y, int N) {
    if (g->W) return glin_tile_fwd(L, X, g->W, Y, N, 0, L->out);
    void *Wt = glin_scratch(L->c, (size_t)g->tile * L->in * (L->bf16 ? 2 : 4));
    if (!Wt) return -1;
    for (int r0 = 0; r0 < L->out; r0 += g->tile) {
        int t = L->out - r0 < g->tile ? L->out - r0 : g->tile;
        CU_TRY(dequant_rows(L, g, Wt, r0, t));
        CU_TRY(glin_tile_fwd(L, X, Wt, Y, N, r0, t));
    }
    return 0;
}

int gbase_backward_dx(GLin *L, GBase *g, const void *dY, void *dX, int N) {
    if (g->W) return glin_tile_bwd(L, dY, g->W, dX, N, 0, L->out);
    void *Wt = glin_scratch(L->c, (size_t)g->tile * L->in * (L->bf16 ? 2 : 4));
    if (!Wt) return -1;
    for (int r0 = 0; r0 < L->out; r0 += g->tile) {
        int t = L->out - r0 < g->tile ? L->out - r0 : g->tile;
        CU_TRY(dequant_rows(L, g, Wt, r0, t));
        CU_TRY(glin_tile_bwd(L, dY, Wt, dX, N, r0, t));
    }
    return 0;
}

void gbase_free(CuCtx *c, GBase *g) {
    void *ps[] = {g->W, g->codes, g->s, g->b, g->absmax_q, g->absmax_scale, g->dq_code};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) cu_free(c, ps[i]);
    memset(g, 0, sizeof *g);
}

static int frozen_forward(GLin *L, const void *X, void *Y, int N) {
    GFrozen *l = (GFrozen *)L;
    CU_TRY(gbase_forward(L, &l->w, X, Y, N));
    if (l->has_side) CU_TRY(glora_forward(L, &l->side, X, Y, N));
    return 0;
}

static int frozen_backward(GLin *L, const void *X, const void *dY, void *dX, int N) {
    (void)X;
    GFrozen *l = (GFrozen *)L;
    if (!dX) return 0;
    CU_REQUIRE(!l->has_side, "a deployed layer with a LoRA side branch is inference-only");
    return gbase_backward_dx(L, &l->w, dY, dX, N);
}

static void frozen_free(GLin *L) {
    GFrozen *l = (GFrozen *)L;
    CuCtx *c = L->c;
    gbase_free(c, &l->w);
    void *ps[] = {l->sideA.x, l->sideB.x, l->sideA.h, l->sideB.h};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) cu_free(c, ps[i]);
    free(l);
}

static const GLinOps FROZEN_OPS = {"frozen", frozen_forward, frozen_backward, frozen_free};

// Uploads a deployed form (deploy.h layouts; sizes checked as linear_from_deploy does).
int gbase_deploy(GLin *L, GBase *g, const Deploy *dp, int index) {
    CuCtx *c = L->c;
    size_t n = (size_t)dp->out * dp->in;
    CU_REQUIRE(dp->out == L->out && dp->in == L->in, "projection %d: deployed %dx%d, expected %dx%d", index,
               dp->out, dp->in, L->out, L->in);
    g->kind = dp->kind;
    if (dp->kind == DEP_FP32) {
        CU_REQUIRE(dp->w != NULL, "projection %d: fp32 deployed weight has no data", index);
        DevTensor t = {"deployed fp32", DT_F32, dp->w, NULL, n, dp->out, dp->in, 0};
        DevModelDesc none;
        memset(&none, 0, sizeof none);
        CU_TRY(devw_make(c, &none, &t, (long long)n, dp->in, 0, L->bf16, &g->W));
    } else if (dp->kind == DEP_UNIFORM) {
        int gs = dp->group_size > 0 ? dp->group_size : dp->in, ng = (dp->in + gs - 1) / gs;
        CU_REQUIRE(dp->bits == 2 || dp->bits == 3 || dp->bits == 4 || dp->bits == 8,
                   "projection %d: %d-bit codes", index, dp->bits);
        CU_REQUIRE(dp->codes && dp->scale && dp->offset && dp->codes_bytes == (size_t)dp->out * deploy_row_bytes(dp->bits, dp->in),
                   "projection %d: uniform codes hold %zu bytes", index, dp->codes_bytes);
        g->bits = dp->bits; g->gs = gs;
        CU_TRY(cu_malloc_upload(c, (void **)&g->codes, dp->codes, dp->codes_bytes));
        CU_TRY(cu_malloc_upload(c, (void **)&g->s, dp->scale, (size_t)dp->out * ng * sizeof(float)));
        CU_TRY(cu_malloc_upload(c, (void **)&g->b, dp->offset, (size_t)dp->out * ng * sizeof(float)));
    } else if (dp->kind == DEP_NF4) {
        CU_REQUIRE(dp->codes && dp->codes_bytes == nf4_codes_bytes(n) && dp->absmax_q && dp->absmax_scale,
                   "projection %d: NF4 deployed weight is incomplete", index);
        float tab[256];
        nf4_dq_table(tab);
        g->absmax_mean = dp->absmax_mean;
        CU_TRY(cu_malloc_upload(c, (void **)&g->codes, dp->codes, dp->codes_bytes));
        CU_TRY(cu_malloc_upload(c, (void **)&g->absmax_q, dp->absmax_q, nf4_blocks(n)));
        CU_TRY(cu_malloc_upload(c, (void **)&g->absmax_scale, dp->absmax_scale, nf4_scales(n) * sizeof(float)));
        CU_TRY(cu_malloc_upload(c, (void **)&g->dq_code, tab, sizeof tab));
    } else {
        return cu_fail("projection %d: unknown deployed kind %d", index, (int)dp->kind);
    }
    int tile = (int)((32ll << 20) / L->in); // 32 Mi elements per dequantized tile
    g->tile = tile < 1 ? 1 : tile > L->out ? L->out : tile;
    return 0;
}

// The deployed LoRA side branch of an inference layer (not trained: no gradients).
static int upload_side(GFrozen *l, const Deploy *dp, int index) {
    CuCtx *c = l->base.c;
    if (dp->rank > 0) {
        CU_REQUIRE(dp->lora_A && dp->lora_B, "projection %d: LoRA side branch of rank %d has no factors", index, dp->rank);
        DevParam *A = &l->sideA, *B = &l->sideB;
        A->n = (long long)dp->rank * dp->in; A->rows = dp->rank; A->cols = dp->in;
        B->n = (long long)dp->out * dp->rank; B->rows = dp->out; B->cols = dp->rank;
        CU_TRY(cu_malloc_upload(c, (void **)&A->x, dp->lora_A, (size_t)A->n * sizeof(float)));
        CU_TRY(cu_malloc_upload(c, (void **)&B->x, dp->lora_B, (size_t)B->n * sizeof(float)));
        if (l->base.bf16) {
            CU_TRY(cu_malloc(c, (void **)&A->h, (size_t)A->n * 2));
            CU_TRY(cu_malloc(c, (void **)&B->h, (size_t)B->n * 2));
            CU_TRY(devparam_refresh(c, A));
            CU_TRY(devparam_refresh(c, B));
        }
        l->side.A = A; l->side.B = B; l->side.rank = dp->rank; l->side.in = dp->in;
        l->side.scale = dp->lora_scale; l->side.dropout = 0;
        l->has_side = 1;
    }
    return 0;
}

int gbase_w0(GLin *L, GBase *g, const GLinArgs *a) {
    memset(g, 0, sizeof *g);
    g->tile = L->out;
    return devw_make(a->c, a->d, &a->p->w0, (long long)L->out * L->in, L->in, RANDW_PROJ + (uint64_t)a->index, L->bf16,
                     &g->W);
}

GLin *glin_frozen_new(const GLinArgs *a) {
    const DevProj *p = a->p;
    GFrozen *l = (GFrozen *)calloc(1, sizeof *l);
    if (!l) { cu_fail("out of host memory"); return NULL; }
    l->base.ops = &FROZEN_OPS;
    l->base.c = a->c;
    l->base.out = p->out; l->base.in = p->in;
    l->base.bf16 = a->d->precision == DEVPREC_BF16;
    int rc = p->base ? gbase_deploy(&l->base, &l->w, p->base, a->index) : gbase_w0(&l->base, &l->w, a);
    if (!rc && p->base && p->base->rank > 0) rc = upload_side(l, p->base, a->index);
    if (rc) { frozen_free(&l->base); return NULL; }
    return &l->base;
}
