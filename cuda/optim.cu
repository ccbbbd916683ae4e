// optim.cu — AdamW (fp32 and bf16 stochastic-rounded moments) and the global gradient norm
// with clip scaling (core/optim.c adamw_step, grad_clip). The element update is elem.h's,
// the same source the CPU compiles, so parameters and moments match bit for bit.
#include "ops.cuh"
#include "reduce.cuh"

#define TPB 256

__global__ void k_adamw_f32(float *x, const float *g, float *m, float *v, long long n, AdamCoef k) {
    CU_FOR(j, n) {
        float mj = m[j], vj = v[j];
        x[j] = adam_elem(x[j], g[j], &mj, &vj, &k);
        m[j] = mj;
        v[j] = vj;
    }
}
int adamw_f32(CuCtx *c, float *x, const float *g, float *m, float *v, long long n, AdamCoef k) {
    if (n <= 0) return 0;
    k_adamw_f32<<<cu_grid(n, TPB), TPB, 0, c->stream>>>(x, g, m, v, n, k);
    CU_LAUNCH_CHECK();
    return 0;
}

__global__ void k_adamw_bf16(float *x, const float *g, uint16_t *m, uint16_t *v, long long n, AdamCoef k,
                             uint64_t key) {
    CU_FOR(j, n) {
        uint16_t mj = m[j], vj = v[j];
        x[j] = adam_elem_bf16(x[j], g[j], &mj, &vj, &k, key, (uint64_t)j);
        m[j] = mj;
        v[j] = vj;
    }
}
int adamw_bf16(CuCtx *c, float *x, const float *g, uint16_t *m, uint16_t *v, long long n, AdamCoef k,
               uint64_t key) {
    if (n <= 0) return 0;
    k_adamw_bf16<<<cu_grid(n, TPB), TPB, 0, c->stream>>>(x, g, m, v, n, k, key);
    CU_LAUNCH_CHECK();
    return 0;
}

// One block per CU_NORM_BLOCK elements: Σ g² in double (16 consecutive per thread, then the
// block's fixed tree), as grad_clip's blocks (whose partials are serial sums: the order
// inside a block differs, the value agrees to double rounding).
__global__ void k_sumsq_blocks(const float *g, long long n, double *part) {
    long long lo = (long long)blockIdx.x * CU_NORM_BLOCK;
    double s = 0;
    for (int e = threadIdx.x; e < CU_NORM_BLOCK; e += blockDim.x) {
        long long j = lo + e;
        if (j < n) s += (double)g[j] * g[j];
    }
    s = block_sum(s);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}
// Partials added one by one onto the running total in block order, tensors in call order:
// grad_clip's own sequence of additions.
__global__ void k_sum_partials(double *total, const double *part, long long nb) {
    double t = *total;
    for (long long b = 0; b < nb; b++) t += part[b];
    *total = t;
}
int grad_sumsq_add(CuCtx *c, const float *g, long long n, double *partials, double *total) {
    if (n <= 0) return 0;
    long long nb = (n + CU_NORM_BLOCK - 1) / CU_NORM_BLOCK;
    CU_REQUIRE(nb <= 0x7fffffffLL, "grad norm: tensor of %lld elements too large", n);
    k_sumsq_blocks<<<(unsigned)nb, TPB, 0, c->stream>>>(g, n, partials);
    CU_LAUNCH_CHECK();
    k_sum_partials<<<1, 1, 0, c->stream>>>(total, partials, nb);
    CU_LAUNCH_CHECK();
    return 0;
}

__global__ void k_scale(float *g, long long n, float coef) { CU_FOR(j, n) g[j] = g[j] * coef; }
int grad_scale(CuCtx *c, float *g, long long n, float coef) {
    if (n <= 0) return 0;
    k_scale<<<cu_grid(n, TPB), TPB, 0, c->stream>>>(g, n, coef);
    CU_LAUNCH_CHECK();
    return 0;
}
