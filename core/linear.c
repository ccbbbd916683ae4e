// linear.c — the seam's shared pieces (core/linear.h): building a projection through the
// method registry, the layer struct's life cycle, the memory account and the row-major
// sgemm helpers every method uses. The frozen-W0 products (w0_*) live with the other
// row-tiled products in core/deploy.c.
#include "linear.h"
#include "methods.h"
#include <cblas.h>
#include <stdlib.h>

const char *const PROJ_NAMES[N_PROJ] = {"q", "k", "v", "o", "gate", "up", "down", "head"};

void mm_xwt(const float *X, const float *W, float *Y, int N, int in, int out, float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, in, 1.0f, X, in, W, in, beta, Y, out);
}
void mm_dyw(const float *dY, const float *W, float *dX, int N, int out, int in, float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, out, 1.0f, dY, out, W, in, beta, dX, in);
}
void mm_dytx(const float *dY, const float *X, float *dW, int N, int out, int in, float beta) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, N, 1.0f, dY, out, X, in, beta, dW, in);
}

void mem_add(MemAccount *a, const MemAccount *m) {
    a->weight_bytes += m->weight_bytes;
    a->trainable_bytes += m->trainable_bytes;
    a->grad_opt_bytes += m->grad_opt_bytes;
    a->saved_bytes += m->saved_bytes;
    if (m->transient_peak > a->transient_peak) a->transient_peak = m->transient_peak;
}

// A method that does not declare takes_w0_16bit reads W->data whole while it builds (the
// quantized-base baselines), so a 16-bit weight is widened to fp32 for it first.
Linear *linear_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    const MethodEntry *e = method_lookup(m->name);
    if (W->dtype != DT_F32 && !e->takes_w0_16bit) param_widen(W);
    return e->build(m, W, name, rng);
}
void linear_free(Linear *L) { if (L) L->ops->free(L); }

void *linear_alloc(size_t size, const LinearOps *ops, int out, int in, const char *name) {
    Linear *L = xcalloc(1, size);
    L->ops = ops;
    L->out = out; L->in = in;
    snprintf(L->name, sizeof L->name, "%s", name);
    return L;
}
