// tensor.c — see tensor.h.
#include "tensor.h"
#include "half.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

void param_init(Param *p, const char *name, float *data, int rows, int cols, int decay) {
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->data = data;
    p->shape[0] = rows; p->shape[1] = cols;
    p->n = (size_t)rows * cols;
    p->decay = decay;
}
void param_init16(Param *p, const char *name, int dtype, const uint16_t *half, int rows, int cols, int decay) {
    param_init(p, name, NULL, rows, cols, decay);
    p->dtype = dtype;
    p->half = half;
}
Param *param_new(const char *name, int rows, int cols, int decay) {
    Param *p = xmalloc(sizeof *p);
    param_init(p, name, xmalloc_aligned((size_t)rows * cols * sizeof(float)), rows, cols, decay);
    p->owned = 1;
    return p;
}
void param_widen(Param *p) {
    if (p->dtype == DT_F32) return;
    p->data = xmalloc_aligned(p->n * sizeof(float));
    p->owned = 1;
    param_rows(p, 0, p->shape[0], p->data);
    p->dtype = DT_F32;
    p->half = NULL;
}
void param_make_trainable(Param *p) {
    param_widen(p);
    if (!p->grad) p->grad = xmalloc_aligned_lazy(p->n * sizeof(float)); // resident from backward on (model_zero_grad)
}
void param_rows(const Param *p, int r0, int t, float *dst) {
    size_t cols = (size_t)p->shape[1], n = (size_t)t * cols;
    if (p->dtype == DT_F32) { memcpy(dst, p->data + (size_t)r0 * cols, n * sizeof(float)); return; }
    const uint16_t *src = p->half + (size_t)r0 * cols;
    // Parallel in 64 Ki-value chunks: a 7B projection tile is millions of values.
    size_t chunk = 1 << 16;
    #pragma omp parallel for schedule(static) if (n > 2 * chunk)
    for (size_t i = 0; i < n; i += chunk) half_to_f32(p->dtype, src + i, dst + i, n - i < chunk ? n - i : chunk);
}
const float *param_f32(const Param *p, float **tmp) {
    *tmp = NULL;
    if (p->dtype == DT_F32) return p->data;
    *tmp = xmalloc_aligned(p->n * sizeof(float));
    param_rows(p, 0, p->shape[0], *tmp);
    return *tmp;
}
size_t param_bytes(const Param *p) { return p->n * dtype_bytes(p->dtype); }
void param_free(Param *p) {
    if (!p) return;
    if (p->owned) free(p->data);
    free(p->grad);
    free(p->bf16);
    p->data = p->grad = NULL;
    p->bf16 = NULL;
}
