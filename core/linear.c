// linear.c — the seam's shared pieces (core/linear.h): building a projection through the
// method registry, the layer struct's life cycle, the memory account and the row-major
// sgemm helpers every method uses. The frozen-W0 products (w0_*) live with the other
// row-tiled products in core/deploy.c.
#include "linear.h"
#include "methods.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

const char *const PROJ_NAMES[N_PROJ] = {"q", "k", "v", "o", "gate", "up", "down", "head"};

void mm_xwt(const float *X, const float *W, float *Y, int N, int in, int out, float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, in, 1.0f, X, in, W, in, beta, Y, out);
}
void mm_dyw(const float *dY, const float *W, float *dX, int N, int out, int in, float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, out, 1.0f, dY, out, W, in, beta, dX, in);
}
// OpenBLAS divides a product among threads by its output, so a small dW summed over many
// tokens (a LoRA factor's gradient, r×in or out×r over N = 8192 rows; L4Q's 288×288 G
// tile) runs at a few GFLOP/s. Such a product is cut here into fixed MM_SPLIT_ROWS-row chunks, each
// chunk's partial product computed single-threaded inside the parallel loop (OpenBLAS
// runs serially inside an OpenMP region) and the partials added in chunk order: the same
// bits for any thread count. Measured 5-7x faster on the LoRA factors' shapes (bench: make bench).
#define MM_SPLIT_ROWS 512
#define MM_SPLIT_MAX_OUT (1 << 17) // dW elements (288×288 splits: 3-4x): beyond, OpenBLAS splits well
void mm_dytx_ld(const float *dY, int ldy, const float *X, float *dW, int N, int out, int in, float alpha, float beta) {
    size_t n = (size_t)out * in;
    int nc = (N + MM_SPLIT_ROWS - 1) / MM_SPLIT_ROWS;
    if (nc < 2 || n > MM_SPLIT_MAX_OUT) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, N, alpha, dY, ldy, X, in, beta, dW, in);
        return;
    }
    float *part = xmalloc((size_t)nc * n * sizeof(float)); // [nc][out×in]
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < nc; c++) {
        int r0 = c * MM_SPLIT_ROWS, rows = N - r0 < MM_SPLIT_ROWS ? N - r0 : MM_SPLIT_ROWS;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, rows, alpha, dY + (size_t)r0 * ldy, ldy,
                    X + (size_t)r0 * in, in, 0.0f, part + (size_t)c * n, in);
    }
    for (int c = 1; c < nc; c++)
        for (size_t i = 0; i < n; i++) part[i] += part[(size_t)c * n + i];
    if (beta == 0.0f) memcpy(dW, part, n * sizeof(float));
    else for (size_t i = 0; i < n; i++) dW[i] = beta * dW[i] + part[i];
    free(part);
}
void mm_dytx(const float *dY, const float *X, float *dW, int N, int out, int in, float alpha, float beta) {
    mm_dytx_ld(dY, out, X, dW, N, out, in, alpha, beta);
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
