// l4q.c — L4Q (SPEC §4; research/l4q-paper.md §1.3–1.5, §6): LoRA merged into the weight
// BEFORE quantization, one quantized tensor, trained A, B, s, b.
//
//   W = W0 + α·B·A,  v = (W − b)/s,  w̃ = rint(clamp(v, Q_N, Q_P)),  Wq = s·w̃ + b,  Y = X·Wqᵀ
//
// Memory-optimized design (the point of the paper): forward keeps nothing of size out×in —
// only references to W0, A, B, s, b; the model passes X again to backward. Both forward
// and backward walk the output rows in tiles of tile_rows: a tile of Wq is rebuilt from
// W0 + α·B_tile·A, and in backward the matching tile of G = dYᵀ·X (all N rows summed) is
// formed and consumed immediately into dA, dB, ds, db and dX. Transient memory is
// O(tile_rows × in); saved_bytes stays 0.
//
// Gradients (STE on round, M = [Q_N ≤ v ≤ Q_P]):
//   dA = α·Bᵀ·(M⊙G)   dB = α·(M⊙G)·Aᵀ   ds, db: quant_backward_rows   dX = dY·Wq (incl. b)
// None of the released code's bugs: b is in dX, db is grouped along the input dim like ds,
// the mask is always applied, and G sums over every token.
#include "linear.h"
#include "lora.h"
#include "quant.h"
#include "util.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
    Linear base;
    const float *W0;     // frozen out×in, not owned
    Param *A, *B, *s, *b;
    float alpha;         // the LoRA scale alpha/rank
    QuantSpec q;
    int tile, lsq_scale;
} L4qLinear;

// Wt[t×in] = W0[r0:r0+t] + α·B[r0:r0+t]·A — the merged weight of one row tile.
static void l4q_merged_rows(const L4qLinear *l, int r0, int t, float *Wt) {
    int in = l->base.in, r = l->A->shape[0];
    memcpy(Wt, l->W0 + (size_t)r0 * in, (size_t)t * in * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, in, r, l->alpha,
                l->B->data + (size_t)r0 * r, r, l->A->data, in, 1.0f, Wt, in);
}

static void l4q_forward(Linear *L, const float *X, float *Y, int N) {
    L4qLinear *l = (L4qLinear *)L;
    int in = L->in, out = L->out, tile = l->tile;
    float *Wt = xmalloc((size_t)tile * in * sizeof(float));
    mem_transient(&L->mem, (size_t)tile * in * sizeof(float));
    for (int r0 = 0; r0 < out; r0 += tile) {
        int t = out - r0 < tile ? out - r0 : tile;
        l4q_merged_rows(l, r0, t, Wt);
        quant_fake_rows(&l->q, Wt, l->s->data, l->b->data, r0, t, Wt);
        // Y[:, r0:r0+t] = X·Wq_tileᵀ (ldc = out writes the tile's columns in place)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, t, in, 1.0f, X, in, Wt, in, 0.0f, Y + r0, out);
    }
    free(Wt);
}

static void l4q_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    L4qLinear *l = (L4qLinear *)L;
    int in = L->in, out = L->out, tile = l->tile, r = l->A->shape[0];
    size_t tb = (size_t)tile * in * sizeof(float);
    float *Wt = xmalloc(tb), *Gt = xmalloc(tb);
    mem_transient(&L->mem, 2 * tb);
    for (int r0 = 0; r0 < out; r0 += tile) {
        int t = out - r0 < tile ? out - r0 : tile;
        l4q_merged_rows(l, r0, t, Wt);
        // G_tile = dY[:, r0:r0+t]ᵀ·X, summed over all N tokens
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t, in, N, 1.0f, dY + r0, out, X, in, 0.0f, Gt, in);
        // ds, db; Gt → M⊙G; Wt → Wq (for dX)
        quant_backward_rows(&l->q, Wt, Gt, l->s->data, l->b->data, r0, t, l->lsq_scale,
                            l->s->grad, l->b->grad, Wt);
        // dB[r0:r0+t] += α·(M⊙G)_tile·Aᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, r, in, l->alpha, Gt, in, l->A->data, in,
                    1.0f, l->B->grad + (size_t)r0 * r, r);
        // dA += α·B_tileᵀ·(M⊙G)_tile
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, in, t, l->alpha, l->B->data + (size_t)r0 * r, r,
                    Gt, in, 1.0f, l->A->grad, in);
        // dX += dY[:, r0:r0+t]·Wq_tile
        if (dX)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, t, 1.0f, dY + r0, out, Wt, in, 1.0f, dX, in);
    }
    free(Wt);
    free(Gt);
}

// Deployed form: the integer codes of Q(W0 + α·B·A) and s, b — fully quantized, no LoRA
// branch at inference (paper §1.8). The scales are stored guarded (quant_safe_scale) so
// the deployed weight equals the training-time Wq exactly.
static void l4q_deploy(Linear *L, Deploy *d) {
    L4qLinear *l = (L4qLinear *)L;
    float *W = xmalloc((size_t)L->out * L->in * sizeof(float)); // export-time only
    l4q_merged_rows(l, 0, L->out, W);
    quant_deploy(&l->q, W, l->s->data, l->b->data, d);
    free(W);
}

static void l4q_free(Linear *L) {
    L4qLinear *l = (L4qLinear *)L;
    Param *ps[4] = {l->A, l->B, l->s, l->b};
    for (int i = 0; i < 4; i++) { param_free(ps[i]); free(ps[i]); }
    free(l);
}
static const LinearOps L4Q_OPS = {"l4q", l4q_forward, l4q_backward, l4q_deploy, l4q_free};

// Quantizer parameters s, b (out × n_groups, no weight decay), initialized from W by the
// configured init. Shared by l4q, qat_lora and lsq.
void quant_params_build(const MethodCfg *m, const char *name, const float *W, int out, int in,
                        QuantSpec *q, Param **s, Param **b) {
    quant_spec(q, m->bits, m->group_size, out, in);
    QuantInit init = quant_init_parse(m->init);
    char nm[96];
    snprintf(nm, sizeof nm, "%s.qscale", name);
    *s = param_new(nm, out, q->ng, 0);
    snprintf(nm, sizeof nm, "%s.qoffset", name);
    *b = param_new(nm, out, q->ng, 0);
    quant_init_params(q, W, init, (*s)->data, (*b)->data);
    param_make_trainable(*s);
    param_make_trainable(*b);
}

Linear *l4q_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    if (m->rank <= 0) die_input("method.rank: must be positive (got %d)", m->rank);
    if (!isfinite(m->alpha)) die_input("method.alpha: must be finite (got %g)", m->alpha);
    if (m->tile_rows <= 0) die_input("method.tile_rows: must be positive (got %d)", m->tile_rows);
    L4qLinear *l = xcalloc(1, sizeof *l);
    int out = W->shape[0], in = W->shape[1];
    l->base.ops = &L4Q_OPS;
    l->base.out = out; l->base.in = in;
    snprintf(l->base.name, sizeof l->base.name, "%s", name);
    l->W0 = W->data;
    l->alpha = m->alpha / m->rank;
    l->tile = m->tile_rows < out ? m->tile_rows : out;
    l->lsq_scale = m->lsq_grad_scale;
    // B = 0 at construction, so W0 + α·B·A = W0: the init sees the merged weight.
    quant_params_build(m, name, W->data, out, in, &l->q, &l->s, &l->b);
    lora_init_AB(&l->A, &l->B, name, m->rank, out, in, rng);
    l->base.form = quant_form_name(l->q.bits, 0);
    Param *ps[4] = {l->A, l->B, l->s, l->b};
    size_t tb = 0;
    for (int i = 0; i < 4; i++) { l->base.params[l->base.n_params++] = ps[i]; tb += ps[i]->n * sizeof(float); }
    l->base.mem.weight_bytes = W->n * sizeof(float);
    l->base.mem.trainable_bytes = tb;
    l->base.mem.grad_opt_bytes = 3 * tb;
    l->base.mem.saved_bytes = 0;
    return &l->base;
}
