// qa_lora.c — QA-LoRA (Xu et al., ICLR 2024): LoRA whose input
// is the per-group average of X, on a frozen uniform base (method.base: gptq default, rtn).
//
//   P(X)[n, g] = (1/|g|)·Σ_{j∈g} X[n, j]        (groups = the quantizer's groups of the row)
//   Y = X·Q(W0)ᵀ + scale·(P(X)·Aᵀ)·Bᵀ,          A r×ng, B out×r, scale = alpha/rank
//
// Because the adapter sees only group means, its weight-space delta is constant within a
// group: ΔW[o, j] = scale·(B·A)[o, g(j)]/|g|. Adding that to the offsets b[o, g] of
// Wq = s·w̃ + b gives a fully quantized deploy with the same codes and scales — exact up
// to float rounding (the reference's merge does the same to its integer zero-points:
// qzeros −= (B·A)ᵀ·scale/group_size/scales). A last partial group averages over its own
// length. No LoRA dropout (the key is rejected): dropout before pooling would make the
// fold inexact per sample, and the L4Q comparison runs without it.
//
// Backward: dB += scale·dYᵀ·U, dU = scale·dY·B, dA += dUᵀ·P(X),
//           dX += dY·Wq + spread(dU·A), spread(Z)[n, j] = Z[n, g(j)]/|g|.
// Saved for backward: U = P(X)·Aᵀ (N×r); P(X) is recomputed from X (N×ng, transient).
#include "common.h"
#include "gemm.h"
#include <stdlib.h>
#include <string.h>


typedef struct {
    Linear base;
    Deploy q;          // frozen uniform base
    Param *A, *B;      // r×ng, out×r
    float scale;
    int gs, ng;
    float *U;
    int cap;
} QaLoraLinear;

// Xp[N×ng] = group means of X.
static void qa_pool(const QaLoraLinear *l, const float *X, float *Xp, int N) {
    int in = l->base.in, gs = l->gs, ng = l->ng;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int g = 0; g < ng; g++) {
            int j0 = g * gs, j1 = j0 + gs < in ? j0 + gs : in;
            float acc = 0;
            for (int j = j0; j < j1; j++) acc += X[(size_t)n * in + j];
            Xp[(size_t)n * ng + g] = acc / (float)(j1 - j0);
        }
}

static void qa_forward(Linear *L, const float *X, float *Y, int N) {
    QaLoraLinear *l = (QaLoraLinear *)L;
    int r = l->A->shape[0], ng = l->ng;
    if (N > l->cap) {
        free(l->U);
        l->U = xmalloc((size_t)N * r * sizeof(float));
        l->cap = N;
        L->mem.saved_bytes = (size_t)N * r * sizeof(float);
    }
    deploy_forward(&l->q, L, X, Y, N);
    float *Xp = xmalloc((size_t)N * ng * sizeof(float));
    mem_transient(&L->mem, (size_t)N * ng * sizeof(float));
    qa_pool(l, X, Xp, N);
    mm_xwt(Xp, l->A->data, l->U, N, ng, r, 0.0f);
    gemm_f32('N', 'T', N, L->out, r, l->scale, l->U, r, l->B->data, r, 1.0f, Y, L->out);
    free(Xp);
}

static void qa_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    QaLoraLinear *l = (QaLoraLinear *)L;
    int r = l->A->shape[0], ng = l->ng, in = L->in, out = L->out, gs = l->gs;
    size_t tb = (size_t)N * (ng + r) * sizeof(float);
    float *Xp = xmalloc((size_t)N * ng * sizeof(float)), *dU = xmalloc((size_t)N * r * sizeof(float));
    mem_transient(&L->mem, tb);
    qa_pool(l, X, Xp, N);
    mm_dytx(dY, l->U, l->B->grad, N, out, r, l->scale, 1.0f);
    gemm_f32('N', 'N', N, r, out, l->scale, dY, out, l->B->data, r, 0.0f, dU, r);
    mm_dytx(dU, Xp, l->A->grad, N, r, ng, 1.0f, 1.0f);
    if (dX) {
        deploy_backward_dx(&l->q, L, dY, dX, N);
        mm_dyw(dU, l->A->data, Xp, N, r, ng, 0.0f); // Xp reused as dP = dU·A
        #pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++)
            for (int g = 0; g < ng; g++) {
                int j0 = g * gs, j1 = j0 + gs < in ? j0 + gs : in;
                float v = Xp[(size_t)n * ng + g] / (float)(j1 - j0);
                for (int j = j0; j < j1; j++) dX[(size_t)n * in + j] += v;
            }
    }
    free(Xp);
    free(dU);
}

// Fully quantized: same codes and scales, offsets b + scale·(B·A)/|g|.
static void qa_deploy(Linear *L, Deploy *d) {
    QaLoraLinear *l = (QaLoraLinear *)L;
    int r = l->A->shape[0], ng = l->ng, out = L->out, in = L->in;
    deploy_copy(d, &l->q);
    // Export-time r-term sums in double, so the folded offset is the correctly rounded
    // b + scale·(B·A)/|g| (the only rounding the fold adds).
    for (int o = 0; o < out; o++)
        for (int g = 0; g < ng; g++) {
            double ba = 0;
            for (int k = 0; k < r; k++) ba += (double)l->B->data[(size_t)o * r + k] * l->A->data[(size_t)k * ng + g];
            int len = (g + 1) * l->gs < in ? l->gs : in - g * l->gs;
            d->offset[(size_t)o * ng + g] = (float)(d->offset[(size_t)o * ng + g] + (double)l->scale * ba / len);
        }
}

static void qa_free(Linear *L) {
    QaLoraLinear *l = (QaLoraLinear *)L;
    deploy_free(&l->q);
    param_free(l->A); param_free(l->B); free(l->A); free(l->B);
    free(l->U);
    free(l);
}
static const LinearOps QA_OPS = {.name = "qa_lora", .forward = qa_forward, .backward = qa_backward, .deploy = qa_deploy, .free = qa_free};

static Linear *qa_lora_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    check_lora_cfg(m);
    int out = W->shape[0], in = W->shape[1];
    QaLoraLinear *l = linear_alloc(sizeof *l, &QA_OPS, out, in, name);
    l->base.frozen_base = &l->q;
    if (base_is_gptq(m)) gptq_base(m, name, in, &l->q);
    else quant_deploy_rtn(&l->q, W->data, out, in, m->bits, m->group_size);
    l->gs = l->q.group_size;
    l->ng = (in + l->gs - 1) / l->gs;
    l->scale = m->alpha / m->rank;
    // A over the pooled input: kaiming-uniform with fan-in ng (as nn.Linear(ng, r) would), B = 0.
    lora_init_AB(&l->A, &l->B, name, m->rank, out, l->ng, rng);
    l->base.params[l->base.n_params++] = l->A;
    l->base.params[l->base.n_params++] = l->B;
    size_t tb = (l->A->n + l->B->n) * sizeof(float);
    l->base.mem.weight_bytes = deploy_bytes(&l->q);
    l->base.mem.trainable_bytes = tb;
    l->base.mem.grad_opt_bytes = 3 * tb;
    l->base.form = quant_form_name(l->q.bits, 0);
    return &l->base;
}

// Twice L4Q's rank for the same LoRA parameter budget (the paper's protocol); alpha doubled
// with it so alpha/rank = 2 like the other LoRA methods; a GPTQ base.
static void qa_lora_defaults(MethodCfg *m) {
    m->rank = 8;
    m->alpha = 16;
    snprintf(m->base, sizeof m->base, "gptq");
}
const MethodEntry QA_LORA_METHOD = {
    .name = "qa_lora",
    .build = qa_lora_build,
    .keys = MK_RANK | MK_ALPHA | MK_TARGETS | UQ_KEYS | MK_BASE | GPTQ_KEYS,
    .defaults = qa_lora_defaults,
    .prepare = gptq_prepare,
};
