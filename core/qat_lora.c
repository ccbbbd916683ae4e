// qat_lora.c — QAT-LoRA, the memory comparison point for L4Q (docs/design.md "L4Q"):
//
//   Y = X·Q(W0; s,b)ᵀ + α·(X·Aᵀ)·Bᵀ       trains A, B, s, b
//
// Implemented the straightforward autograd way on purpose: forward keeps the out×in
// quantized weight, the ds factor and the clip mask for backward, and backward allocates
// the full out×in weight gradient G = dYᵀ·X. Those are reported honestly in saved_bytes
// and transient_peak — the O(out×in) per-layer cost the paper's L4Q design removes.
//
// Gradients: ds, db from G (quant_backward_saved), dX = dY·Wq + the LoRA branch's
// (lora.h: dB = α·dYᵀ·U, dA = dUᵀ·X with U = X·Aᵀ recomputed, dU = α·dY·B).
#include "methods.h"
#include "lora.h"
#include "quant.h"
#include "util.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Linear base;
    const Param *W0;   // frozen, fp32 or 16-bit
    Param *s, *b;
    LoraBranch lb;     // A, B (the side branch saves nothing)
    QuantSpec q;
    int lsq_scale;
    float *Wq, *dsf;   // saved out×in (autograd's intermediates)
    uint8_t *mask;     // saved out×in clip mask
} QatLoraLinear;

static void qat_forward(Linear *L, const float *X, float *Y, int N) {
    QatLoraLinear *l = (QatLoraLinear *)L;
    const float *W0 = l->W0->data;
    if (l->W0->dtype != DT_F32) { param_rows(l->W0, 0, L->out, l->Wq); W0 = l->Wq; } // widened in place, then quantized
    quant_forward_saved(&l->q, W0, l->s->data, l->b->data, l->Wq, l->dsf, l->mask);
    mm_xwt(X, l->Wq, Y, N, L->in, L->out, 0.0f);
    lb_forward(&l->lb, L, X, Y, N);
}

static void qat_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    QatLoraLinear *l = (QatLoraLinear *)L;
    int in = L->in, out = L->out;
    size_t gb = (size_t)out * in * sizeof(float);
    float *G = xmalloc(gb);
    mem_transient(&L->mem, gb);
    mm_dytx(dY, X, G, N, out, in, 1.0f, 0.0f);
    quant_backward_saved(&l->q, G, l->dsf, l->mask, l->lsq_scale, l->s->grad, l->b->grad, NULL);
    free(G);
    if (dX) mm_dyw(dY, l->Wq, dX, N, out, in, 1.0f);
    lb_backward(&l->lb, L, X, dY, dX, N);
}

// Mixed precision (the paper's "n & fp"): codes of Q(W0) plus the fp LoRA side branch.
static void qat_deploy(Linear *L, Deploy *d) {
    QatLoraLinear *l = (QatLoraLinear *)L;
    float *tmp;
    quant_deploy(&l->q, param_f32(l->W0, &tmp), l->s->data, l->b->data, d);
    free(tmp);
    lb_deploy(&l->lb, d);
}

static void qat_free(Linear *L) {
    QatLoraLinear *l = (QatLoraLinear *)L;
    Param *ps[2] = {l->s, l->b};
    for (int i = 0; i < 2; i++) { param_free(ps[i]); free(ps[i]); }
    lb_free(&l->lb);
    free(l->Wq); free(l->dsf); free(l->mask);
    free(l);
}
static const LinearOps QAT_LORA_OPS = {.name = "qat_lora", .forward = qat_forward, .backward = qat_backward, .deploy = qat_deploy, .free = qat_free};

static Linear *qat_lora_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    int out = W->shape[0], in = W->shape[1];
    QatLoraLinear *l = linear_alloc(sizeof *l, &QAT_LORA_OPS, out, in, name);
    l->W0 = W;
    l->lsq_scale = m->lsq_grad_scale;
    quant_params_build(m, name, W, out, in, &l->q, &l->s, &l->b);
    lb_init(&l->lb, &l->base, m, name, rng);
    l->base.form = quant_form_name(l->q.bits, 1);
    size_t n = (size_t)out * in;
    l->Wq = xmalloc(n * sizeof(float));
    l->dsf = xmalloc(n * sizeof(float));
    l->mask = xmalloc(n);
    Param *ps[2] = {l->s, l->b};
    size_t tb = 0;
    for (int i = 0; i < 2; i++) { l->base.params[l->base.n_params++] = ps[i]; tb += ps[i]->n * sizeof(float); }
    l->base.mem.weight_bytes = param_bytes(W);
    l->base.mem.trainable_bytes += tb;
    l->base.mem.grad_opt_bytes += 3 * tb;
    l->base.mem.saved_bytes += n * (2 * sizeof(float) + 1); // held from construction on
    return &l->base;
}

const MethodEntry QAT_LORA_METHOD = {
    .name = "qat_lora",
    .build = qat_lora_build,
    .keys = QUANT_KEYS | MK_RANK | MK_ALPHA | MK_TARGETS,
    .takes_w0_16bit = 1,
};
