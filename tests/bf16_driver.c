// bf16_driver.c — for tests/test_bf16.py: one projection through the seam in the bf16 mode,
// forward and input gradient: frozen (method `none`), or with --lora R ALPHA a `lora` layer
// (W0 frozen, rank-R branch with the given A, B, no dropout).
//   bf16_driver IN OUT [--pack] [--lora R ALPHA]  (IN: int32 N, in, out, wdtype (0 f32,
//   2 bf16), then fp32 X[N·in], W[out·in], dY[N·out], dX0[N·in], with --lora A[R·in] and
//   B[out·R]; W is held as bf16 when wdtype is 2; --pack: the weight's packed copies, as a
//   model whose memory account holds them uses)
// OUT: fp32 Y[N·out] (X·Wᵀ, + the branch), then dX[N·in] = dX0 + dY·W (+ the branch's), with
// --lora then dA[R·in] and dB[out·R].
#include "bf16mm.h"
#include "half.h"
#include "methods.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rd(FILE *f, void *p, size_t n) { if (fread(p, 1, n, f) != n) die_input("bf16_driver: short input"); }

int main(int argc, char **argv) {
    int pack = 0, R = 0;
    float alpha = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--pack")) pack = 1;
        else if (!strcmp(argv[i], "--lora") && i + 2 < argc) { R = atoi(argv[i + 1]); alpha = (float)atof(argv[i + 2]); i += 2; }
        else { fprintf(stderr, "usage: bf16_driver IN OUT [--pack] [--lora R ALPHA]\n"); return 2; }
    }
    threads_init(0);
    bf16mm_enable("bf16_driver");
    FILE *f = fopen(argv[1], "rb");
    if (!f) die_input("%s: cannot open", argv[1]);
    int h[4];
    rd(f, h, sizeof h);
    int N = h[0], in = h[1], out = h[2], dt = h[3];
    float *X = xmalloc((size_t)N * in * 4), *W = xmalloc((size_t)out * in * 4), *dY = xmalloc((size_t)N * out * 4);
    float *dX = xmalloc((size_t)N * in * 4), *Y = xmalloc((size_t)N * out * 4);
    rd(f, X, (size_t)N * in * 4); rd(f, W, (size_t)out * in * 4); rd(f, dY, (size_t)N * out * 4); rd(f, dX, (size_t)N * in * 4);
    MethodCfg m;
    method_defaults(&m, R ? "lora" : "none");
    if (R) { m.rank = R; m.alpha = alpha; }
    Param P;
    uint16_t *Wh = NULL;
    if (dt == DT_BF16) {
        Wh = xmalloc((size_t)out * in * 2);
        f32_to_half(DT_BF16, W, Wh, (size_t)out * in);
        param_init16(&P, "w", DT_BF16, Wh, out, in, 1);
    } else param_init(&P, "w", W, out, in, 1);
    Rng r;
    rng_seed(&r, 1);
    Linear *L = linear_build(&m, &P, "w", &r);
    if (R) { // the branch's factors: A, B as registered by lb_init
        rd(f, L->params[0]->data, (size_t)R * in * 4); rd(f, L->params[1]->data, (size_t)out * R * 4);
        for (int k = 0; k < 2; k++) memset(L->params[k]->grad, 0, L->params[k]->n * 4);
        L->training = 1;
    }
    fclose(f);
    if (pack) L->bf16_packed = bf16mm_packed_new();
    L->ops->forward(L, X, Y, N);
    L->ops->backward(L, X, dY, dX, N);
    f = fopen(argv[2], "wb");
    if (!f || fwrite(Y, 4, (size_t)N * out, f) != (size_t)N * out || fwrite(dX, 4, (size_t)N * in, f) != (size_t)N * in)
        die_input("%s: cannot write", argv[2]);
    for (int k = 0; k < (R ? 2 : 0); k++)
        if (fwrite(L->params[k]->grad, 4, L->params[k]->n, f) != L->params[k]->n) die_input("%s: cannot write", argv[2]);
    fclose(f);
    linear_free(L);
    param_free(&P);
    free(X); free(W); free(dY); free(dX); free(Y); free(Wh);
    return 0;
}
