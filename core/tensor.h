// tensor.h — a named parameter tensor: data, optional grad, shape. Frozen tensors have
// grad == NULL and never reach the optimizer (no gradient buffer, no Adam state).
#pragma once
#include <stddef.h>

typedef struct {
    char name[64];
    float *data;   // not owned when it points into a checkpoint blob
    float *grad;   // NULL ⇔ frozen
    size_t n;      // element count
    int shape[2];  // rows, cols (cols = 1 for vectors/scalars)
    int decay;     // 1: AdamW weight decay applies (not for norms, scales, offsets)
    int owned;     // 1: data was allocated for this tensor and is freed with it
} Param;

void param_init(Param *p, const char *name, float *data, int rows, int cols, int decay);
Param *param_new(const char *name, int rows, int cols, int decay); // zeroed, owned data
void param_make_trainable(Param *p);                                 // allocates grad
void param_free(Param *p);                                          // frees owned data + grad
