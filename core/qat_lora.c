// qat_lora.c — QAT-LoRA, the memory comparison point for L4Q (SPEC §4; paper §1.5):
//
//   Y = X·Q(W0; s,b)ᵀ + α·(X·Aᵀ)·Bᵀ       trains A, B, s, b
//
// Implemented the straightforward autograd way on purpose: forward keeps the out×in
// quantized weight, the ds factor and the clip mask for backward, and backward allocates
// the full out×in weight gradient G = dYᵀ·X. Those are reported honestly in saved_bytes
// and transient_peak — the O(out×in) per-layer cost the paper's L4Q design removes.
//
// Gradients: U = X·Aᵀ (saved, N×r), dU = α·dY·B
//   dB = α·dYᵀ·U   dA = dUᵀ·X   ds, db from G (quant_backward_saved)   dX = dY·Wq + dU·A
#include "linear.h"
#include "quant.h"
#include "util.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void lora_init_AB(Param **A, Param **B, const char *name, int rank, int out, int in, Rng *rng);
void quant_params_build(const MethodCfg *m, const char *name, const float *W, int out, int in,
                        QuantSpec *q, Param **s, Param **b);

typedef struct {
    Linear base;
    const float *W0;
    Param *A, *B, *s, *b;
    float alpha;
    QuantSpec q;
    int lsq_scale;
    float *Wq, *dsf;   // saved out×in (autograd's intermediates)
    uint8_t *mask;     // saved out×in clip mask
    float *U;          // saved N×r
    int cap;
} QatLoraLinear;

static void qat_forward(Linear *L, const float *X, float *Y, int N) {
    QatLoraLinear *l = (QatLoraLinear *)L;
    int in = L->in, out = L->out, r = l->A->shape[0];
    if (N > l->cap) {
        free(l->U);
        l->U = xmalloc((size_t)N * r * sizeof(float));
        l->cap = N;
    }
    quant_forward_saved(&l->q, l->W0, l->s->data, l->b->data, l->Wq, l->dsf, l->mask);
    L->mem.saved_bytes = (size_t)out * in * (2 * sizeof(float) + 1) + (size_t)l->cap * r * sizeof(float);
    mm_xwt(X, l->Wq, Y, N, in, out, 0.0f);
    mm_xwt(X, l->A->data, l->U, N, in, r, 0.0f);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, r, l->alpha, l->U, r, l->B->data, r, 1.0f, Y, out);
}

static void qat_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    QatLoraLinear *l = (QatLoraLinear *)L;
    int in = L->in, out = L->out, r = l->A->shape[0];
    size_t gb = (size_t)out * in * sizeof(float), ub = (size_t)N * r * sizeof(float);
    float *G = xmalloc(gb), *dU = xmalloc(ub);
    mem_transient(&L->mem, gb + ub);
    mm_dytx(dY, X, G, N, out, in, 0.0f);
    quant_backward_saved(&l->q, G, l->dsf, l->mask, l->lsq_scale, l->s->grad, l->b->grad, NULL);
    free(G);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, r, N, l->alpha, dY, out, l->U, r, 1.0f, l->B->grad, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, r, out, l->alpha, dY, out, l->B->data, r, 0.0f, dU, r);
    mm_dytx(dU, X, l->A->grad, N, r, in, 1.0f);
    if (dX) {
        mm_dyw(dY, l->Wq, dX, N, out, in, 1.0f);
        mm_dyw(dU, l->A->data, dX, N, r, in, 1.0f);
    }
    free(dU);
}

// Mixed precision (the paper's "n & fp"): codes of Q(W0) plus the fp LoRA side branch.
static void qat_deploy(Linear *L, Deploy *d) {
    QatLoraLinear *l = (QatLoraLinear *)L;
    int r = l->A->shape[0];
    quant_deploy(&l->q, l->W0, l->s->data, l->b->data, d);
    d->rank = r;
    d->lora_scale = l->alpha;
    d->lora_A = xmalloc(l->A->n * sizeof(float));
    d->lora_B = xmalloc(l->B->n * sizeof(float));
    memcpy(d->lora_A, l->A->data, l->A->n * sizeof(float));
    memcpy(d->lora_B, l->B->data, l->B->n * sizeof(float));
}

static void qat_free(Linear *L) {
    QatLoraLinear *l = (QatLoraLinear *)L;
    Param *ps[4] = {l->A, l->B, l->s, l->b};
    for (int i = 0; i < 4; i++) { param_free(ps[i]); free(ps[i]); }
    free(l->Wq); free(l->dsf); free(l->mask); free(l->U);
    free(l);
}
static const LinearOps QAT_LORA_OPS = {"qat_lora", qat_forward, qat_backward, qat_deploy, qat_free};

Linear *qat_lora_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    if (m->rank <= 0) die_input("method.rank: must be positive (got %d)", m->rank);
    if (!isfinite(m->alpha)) die_input("method.alpha: must be finite (got %g)", m->alpha);
    QatLoraLinear *l = xcalloc(1, sizeof *l);
    int out = W->shape[0], in = W->shape[1];
    l->base.ops = &QAT_LORA_OPS;
    l->base.out = out; l->base.in = in;
    snprintf(l->base.name, sizeof l->base.name, "%s", name);
    l->W0 = W->data;
    l->alpha = m->alpha / m->rank;
    l->lsq_scale = m->lsq_grad_scale;
    quant_params_build(m, name, W->data, out, in, &l->q, &l->s, &l->b);
    lora_init_AB(&l->A, &l->B, name, m->rank, out, in, rng);
    l->base.form = quant_form_name(l->q.bits, 1);
    size_t n = (size_t)out * in;
    l->Wq = xmalloc(n * sizeof(float));
    l->dsf = xmalloc(n * sizeof(float));
    l->mask = xmalloc(n);
    Param *ps[4] = {l->A, l->B, l->s, l->b};
    size_t tb = 0;
    for (int i = 0; i < 4; i++) { l->base.params[l->base.n_params++] = ps[i]; tb += ps[i]->n * sizeof(float); }
    l->base.mem.weight_bytes = W->n * sizeof(float);
    l->base.mem.trainable_bytes = tb;
    l->base.mem.grad_opt_bytes = 3 * tb;
    l->base.mem.saved_bytes = n * (2 * sizeof(float) + 1); // held from construction on
    return &l->base;
}
