// lsq.c — LSQ / full QAT baseline (docs/design.md "L4Q"): the projection weight itself trains, together
// with the group quantizer's s, b:
//
//   Y = X·Q(W; s,b)ᵀ     dW = M⊙G (straight-through, clip-masked)   ds, db as in L4Q
//   dX = dY·Wq           G = dYᵀ·X
//
// Autograd-style like qat_lora: Wq, the ds factor and the mask (out×in) are kept from
// forward to backward and G is a transient out×in buffer — on top of the weight gradient
// and AdamW state every full-QAT method carries.
#include "methods.h"
#include "quant.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    Linear base;
    Param *W, *s, *b;
    QuantSpec q;
    int lsq_scale;
    float *Wq, *dsf;
    uint8_t *mask;
} LsqLinear;

static void lsq_forward(Linear *L, const float *X, float *Y, int N) {
    LsqLinear *l = (LsqLinear *)L;
    quant_forward_saved(&l->q, l->W->data, l->s->data, l->b->data, l->Wq, l->dsf, l->mask);
    mm_xwt(X, l->Wq, Y, N, L->in, L->out, 0.0f);
}

static void lsq_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    LsqLinear *l = (LsqLinear *)L;
    size_t gb = (size_t)L->out * L->in * sizeof(float);
    float *G = xmalloc(gb);
    mem_transient(&L->mem, gb);
    mm_dytx(dY, X, G, N, L->out, L->in, 1.0f, 0.0f);
    quant_backward_saved(&l->q, G, l->dsf, l->mask, l->lsq_scale, l->s->grad, l->b->grad, l->W->grad);
    free(G);
    if (dX) mm_dyw(dY, l->Wq, dX, N, L->out, L->in, 1.0f);
}

static void lsq_deploy(Linear *L, Deploy *d) {
    LsqLinear *l = (LsqLinear *)L;
    quant_deploy(&l->q, l->W->data, l->s->data, l->b->data, d);
}

static void lsq_free(Linear *L) {
    LsqLinear *l = (LsqLinear *)L;
    param_free(l->s); param_free(l->b); free(l->s); free(l->b);
    free(l->Wq); free(l->dsf); free(l->mask);
    free(l); // W belongs to the model
}
static const LinearOps LSQ_OPS = {.name = "lsq", .forward = lsq_forward, .backward = lsq_backward, .deploy = lsq_deploy, .free = lsq_free};

static Linear *lsq_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    (void)rng;
    int out = W->shape[0], in = W->shape[1];
    LsqLinear *l = linear_alloc(sizeof *l, &LSQ_OPS, out, in, name);
    l->lsq_scale = m->lsq_grad_scale;
    // As in `full`: a Param that already has a grad is shared (tied head) and counted once.
    int shared = W->grad != NULL;
    param_make_trainable(W); // a 16-bit weight becomes the fp32 one that trains
    W->group = PG_QUANT;     // the quantized weight itself: method.quant_lr with s and b
    quant_params_build(m, name, W, out, in, &l->q, &l->s, &l->b);
    l->base.form = quant_form_name(l->q.bits, 0);
    l->W = W;
    size_t n = (size_t)out * in;
    l->Wq = xmalloc(n * sizeof(float));
    l->dsf = xmalloc(n * sizeof(float));
    l->mask = xmalloc(n);
    l->base.params[l->base.n_params++] = W;
    l->base.params[l->base.n_params++] = l->s;
    l->base.params[l->base.n_params++] = l->b;
    size_t tb = (l->s->n + l->b->n + (shared ? 0 : W->n)) * sizeof(float);
    l->base.mem.weight_bytes = 0; // the only copy of the weight is the trainable one
    l->base.mem.trainable_bytes = tb;
    l->base.mem.grad_opt_bytes = 3 * tb;
    l->base.mem.saved_bytes = n * (2 * sizeof(float) + 1);
    return &l->base;
}

const MethodEntry LSQ_METHOD = {.name = "lsq", .build = lsq_build, .keys = QUANT_KEYS | MK_TARGETS, .takes_w0_16bit = 1};
