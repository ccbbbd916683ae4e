// tensor.c — see tensor.h.
#include "tensor.h"
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
Param *param_new(const char *name, int rows, int cols, int decay) {
    Param *p = xmalloc(sizeof *p);
    param_init(p, name, xmalloc_aligned((size_t)rows * cols * sizeof(float)), rows, cols, decay);
    p->owned = 1;
    return p;
}
void param_make_trainable(Param *p) {
    if (!p->grad) p->grad = xmalloc_aligned(p->n * sizeof(float));
}
void param_free(Param *p) {
    if (!p) return;
    if (p->owned) free(p->data);
    free(p->grad);
    p->data = p->grad = NULL;
}
