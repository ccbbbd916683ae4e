// loftq.c — LoftQ (Li et al., 2023; the L4Q paper's LoftQ*):
// quantization-aware initialization of LoRA, then ordinary LoRA fine-tuning on the frozen
// quantized base (the ptq.c layer; mixed "n&fp" or "nf4&fp").
//
//   for t = 1..T (method.loftq_iters, default 5):
//       Q_t = quant(W − scale·B·A)        (B·A = 0 before the first step)
//       U Σ Vᵀ = SVD(W − Q_t)             (LAPACKE_sgesdd)
//       B = U_r·√Σ_r / √scale,  A = √Σ_r·V_rᵀ / √scale
// so scale·B·A (scale = alpha/rank, what the layer adds) is exactly the rank-r part of the
// residual; splitting √Σ evenly keeps A and B on the same magnitude for AdamW.
// quant = method.base: "rtn" (per-group min-max uniform, LoftQ*, default) or "nf4" (the
// NF4 + double-quant of qlora; bits must be 4 and group_size does not apply).
// T = 0 degenerates to LoRA on quant(W) with the usual init (A kaiming-uniform, B = 0).
#include "common.h"
#include "gemm.h"
#include "nf4.h"
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void loftq_quant(const float *W, int out, int in, const char *base, int bits, int gs, Deploy *d) {
    if (!strcmp(base, "nf4")) nf4_quantize(W, out, in, d);
    else quant_deploy_rtn(d, W, out, in, bits, gs);
}

void loftq_init(const float *W, int out, int in, const char *base, int bits, int group_size,
                int rank, float scale, int iters, Deploy *base_out, float *A, float *B, double *err) {
    size_t n = (size_t)out * in;
    int k = out < in ? out : in;
    if (iters == 0) { loftq_quant(W, out, in, base, bits, group_size, base_out); return; }
    if (!(scale > 0)) die_input("method.alpha: loftq needs alpha/rank > 0 to split the SVD factors (got %g)", scale);
    float *T = xmalloc(n * sizeof(float)), *Q = xmalloc(n * sizeof(float));
    float *S = xmalloc((size_t)k * sizeof(float)), *Uu = xmalloc((size_t)out * k * sizeof(float));
    float *Vt = xmalloc((size_t)k * in * sizeof(float));
    memset(base_out, 0, sizeof *base_out);
    float root = 1.0f / sqrtf(scale);
    for (int t = 0; t < iters; t++) {
        memcpy(T, W, n * sizeof(float));
        if (t > 0) // T = W − scale·B·A
            gemm_f32('N', 'N', out, in, rank, -scale, B, rank, A, in, 1.0f, T, in);
        deploy_free(base_out);
        loftq_quant(T, out, in, base, bits, group_size, base_out);
        deploy_rows(base_out, 0, out, Q); // init-time only: the training layer keeps just the codes
        for (size_t e = 0; e < n; e++) T[e] = W[e] - Q[e];
        lapack_int info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, 'S', out, in, T, in, S, Uu, k, Vt, in);
        if (info) die_internal("loftq: SVD of a %d x %d residual failed (LAPACK info %d)", out, in, (int)info);
        for (int j = 0; j < rank; j++) {
            float sq = sqrtf(S[j]) * root;
            for (int o = 0; o < out; o++) B[(size_t)o * rank + j] = Uu[(size_t)o * k + j] * sq;
            for (int i = 0; i < in; i++) A[(size_t)j * in + i] = Vt[(size_t)j * in + i] * sq;
        }
        if (err) { // ‖W − Q − scale·B·A‖_F = the singular values past rank r, recomputed directly
            for (size_t e = 0; e < n; e++) T[e] = W[e] - Q[e];
            gemm_f32('N', 'N', out, in, rank, -scale, B, rank, A, in, 1.0f, T, in);
            double acc = 0;
            for (size_t e = 0; e < n; e++) acc += (double)T[e] * T[e];
            err[t] = sqrt(acc);
        }
    }
    free(T); free(Q); free(S); free(Uu); free(Vt);
}

static Linear *loftq_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    check_lora_cfg(m);
    int out = W->shape[0], in = W->shape[1];
    int nf4 = !strcmp(m->base, "nf4");
    if (!nf4 && strcmp(m->base, "rtn"))
        die_input("method.base: loftq quantizes with 'rtn' (uniform, LoftQ*) or 'nf4', not '%s' "
                  "(GPTQ would need calibration inside every alternation)", m->base);
    if (nf4 && m->bits != 4) die_input("method.bits: loftq with base nf4 is 4-bit only (got %d)", m->bits);
    if (nf4 && (m->set & MK_GROUP)) die_input("method.group_size: does not apply to loftq with base nf4 (blocks of 64)");
    if (m->rank > (out < in ? out : in))
        die_input("method.rank: %d exceeds min(out, in) = %d of %s", m->rank, out < in ? out : in, name);
    if (m->loftq_iters < 0) die_input("method.loftq_iters: must be >= 0 (got %d)", m->loftq_iters);
    Deploy d;
    LoraBranch *lb;
    if (m->loftq_iters == 0) {
        loftq_quant(W->data, out, in, m->base, m->bits, m->group_size, &d);
        return qlayer_new(&d, m, name, rng, NULL);
    }
    // The kaiming init drawn by qlayer_new is overwritten; drawing it keeps the RNG stream
    // (and so every later layer's init) independent of the method's iteration count.
    float *A = xmalloc((size_t)m->rank * in * sizeof(float)), *B = xmalloc((size_t)out * m->rank * sizeof(float));
    loftq_init(W->data, out, in, m->base, m->bits, m->group_size, m->rank, m->alpha / m->rank, m->loftq_iters, &d, A, B, NULL);
    Linear *L = qlayer_new(&d, m, name, rng, &lb);
    memcpy(lb->A->data, A, lb->A->n * sizeof(float));
    memcpy(lb->B->data, B, lb->B->n * sizeof(float));
    free(A); free(B);
    return L;
}

const MethodEntry LOFTQ_METHOD = {.name = "loftq", .build = loftq_build, .keys = LORA_KEYS | UQ_KEYS | MK_BASE | MK_LOFTQ_ITERS};
