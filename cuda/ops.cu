// ops.cu — the element-wise and row-wise model ops (core/ops.c, model.c residual_add,
// core/half.c casts), forward/backward side by side. Each kernel evaluates the CPU's
// expression in the CPU's order (built with -fmad=false: no contraction, like -std=c11);
// only the row reductions (RMSNorm's sums) group their terms differently.
#include "ops.cuh"
#include "reduce.cuh"

#define TPB 256

// ---- embedding --------------------------------------------------------------------------
template <typename T> __global__ void k_embedding_fwd(T *out, const int *tok, const T *emb, int R, int dim) {
    CU_FOR(i, (long long)R * dim) {
        long long r = i / dim, j = i % dim;
        out[i] = emb[(long long)tok[r] * dim + j];
    }
}
template <typename T> int embedding_fwd(CuCtx *c, T *out, const int *tok, const T *emb, int R, int dim) {
    k_embedding_fwd<<<cu_grid((long long)R * dim, TPB), TPB, 0, c->stream>>>(out, tok, emb, R, dim);
    CU_LAUNCH_CHECK();
    return 0;
}
// One thread per column, rows in order: the CPU's summation order for every element, and no
// atomics (rows sharing a token would race).
template <typename T> __global__ void k_embedding_bwd(float *demb, const T *dout, const int *tok, int R, int dim) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= dim) return;
    for (int r = 0; r < R; r++) {
        float *d = demb + (long long)tok[r] * dim + j;
        *d = *d + cu_f32(dout[(long long)r * dim + j]);
    }
}
template <typename T> int embedding_bwd(CuCtx *c, float *demb, const T *dout, const int *tok, int R, int dim) {
    k_embedding_bwd<<<cu_blocks(dim, TPB), TPB, 0, c->stream>>>(demb, dout, tok, R, dim);
    CU_LAUNCH_CHECK();
    return 0;
}

// ---- RMSNorm: one block per row --------------------------------------------------------
template <typename T>
__global__ void k_rmsnorm_fwd(T *out, float *rstd, const T *x, const float *w, int dim, float eps) {
    const T *xr = x + (long long)blockIdx.x * dim;
    T *o = out + (long long)blockIdx.x * dim;
    float ss = 0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float v = cu_f32(xr[i]);
        ss += v * v;
    }
    ss = block_sum(ss);
    float s = 1.0f / sqrtf(ss / dim + eps);
    if (threadIdx.x == 0) rstd[blockIdx.x] = s;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = cu_from_f32<T>(cu_f32(xr[i]) * s * w[i]);
}
template <typename T>
int rmsnorm_fwd(CuCtx *c, T *out, float *rstd, const T *x, const float *w, int R, int dim, float eps) {
    if (R <= 0) return 0;
    k_rmsnorm_fwd<<<R, TPB, 0, c->stream>>>(out, rstd, x, w, dim, eps);
    CU_LAUNCH_CHECK();
    return 0;
}
template <typename T>
__global__ void k_rmsnorm_bwd_dx(T *dx, const T *dout, const T *x, const float *w, const float *rstd, int dim) {
    long long off = (long long)blockIdx.x * dim;
    const T *xr = x + off, *g = dout + off;
    T *d = dx + off;
    float s = rstd[blockIdx.x], dot = 0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) dot += cu_f32(g[i]) * w[i] * cu_f32(xr[i]);
    dot = block_sum(dot);
    float cc = dot * s * s * s / dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        d[i] = cu_from_f32<T>(cu_f32(d[i]) + (cu_f32(g[i]) * w[i] * s - cc * cu_f32(xr[i])));
}
// dw[i] += Σ_r g·x·rstd[r], rows in order per column (the CPU's loop order).
template <typename T>
__global__ void k_rmsnorm_bwd_dw(float *dw, const T *dout, const T *x, const float *rstd, int R, int dim) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= dim) return;
    float acc = dw[i];
    for (int r = 0; r < R; r++) {
        long long e = (long long)r * dim + i;
        acc = acc + cu_f32(dout[e]) * cu_f32(x[e]) * rstd[r];
    }
    dw[i] = acc;
}
template <typename T>
int rmsnorm_bwd(CuCtx *c, T *dx, float *dw, const T *dout, const T *x, const float *w, const float *rstd, int R,
                int dim) {
    if (R <= 0) return 0;
    k_rmsnorm_bwd_dx<<<R, TPB, 0, c->stream>>>(dx, dout, x, w, rstd, dim);
    CU_LAUNCH_CHECK();
    if (dw) {
        k_rmsnorm_bwd_dw<<<cu_blocks(dim, TPB), TPB, 0, c->stream>>>(dw, dout, x, rstd, R, dim);
        CU_LAUNCH_CHECK();
    }
    return 0;
}

// ---- RoPE: one thread per interleaved pair ------------------------------------------------
template <typename T>
__global__ void k_rope(T *x, int r0, int r1, int Tn, int cols, int hs, const float *ct, const float *st, float sign) {
    int half = cols / 2;
    CU_FOR(idx, (long long)(r1 - r0) * half) {
        int r = r0 + (int)(idx / half), i = 2 * (int)(idx % half);
        int pos = r % Tn, j = (i % hs) / 2;
        T *xr = x + (long long)r * cols;
        float cj = ct[pos * (hs / 2) + j], sn = sign * st[pos * (hs / 2) + j];
        float a = cu_f32(xr[i]), b = cu_f32(xr[i + 1]);
        xr[i] = cu_from_f32<T>(a * cj - b * sn);
        xr[i + 1] = cu_from_f32<T>(a * sn + b * cj);
    }
}
template <typename T>
static int rope_apply(CuCtx *c, T *x, int r0, int r1, int Tn, int cols, int hs, const float *ct, const float *st,
                      float sign) {
    if (r1 <= r0) return 0;
    CU_REQUIRE(cols % 2 == 0 && hs % 2 == 0 && cols % hs == 0, "rope: cols %d / head size %d not even multiples", cols,
               hs);
    k_rope<<<cu_grid((long long)(r1 - r0) * (cols / 2), TPB), TPB, 0, c->stream>>>(x, r0, r1, Tn, cols, hs, ct, st,
                                                                                     sign);
    CU_LAUNCH_CHECK();
    return 0;
}
template <typename T>
int rope_fwd(CuCtx *c, T *x, int r0, int r1, int Tn, int cols, int hs, const float *ct, const float *st) {
    return rope_apply(c, x, r0, r1, Tn, cols, hs, ct, st, 1.0f);
}
// The rotation is orthogonal: its backward is the rotation by −angle.
template <typename T>
int rope_bwd(CuCtx *c, T *dx, int r0, int r1, int Tn, int cols, int hs, const float *ct, const float *st) {
    return rope_apply(c, dx, r0, r1, Tn, cols, hs, ct, st, -1.0f);
}

// ---- SwiGLU ---------------------------------------------------------------------------
template <typename T> __global__ void k_swiglu_fwd(T *g, const T *h1, const T *h3, long long n) {
    CU_FOR(i, n) {
        float a = cu_f32(h1[i]);
        g[i] = cu_from_f32<T>(a / (1.0f + el_exp(-a)) * cu_f32(h3[i]));
    }
}
template <typename T> int swiglu_fwd(CuCtx *c, T *g, const T *h1, const T *h3, long long n) {
    if (n <= 0) return 0;
    k_swiglu_fwd<<<cu_grid(n, TPB), TPB, 0, c->stream>>>(g, h1, h3, n);
    CU_LAUNCH_CHECK();
    return 0;
}
template <typename T>
__global__ void k_swiglu_bwd(T *dh1, T *dh3, const T *dg, const T *h1, const T *h3, long long n) {
    CU_FOR(i, n) {
        float a = cu_f32(h1[i]), b = cu_f32(h3[i]), d = cu_f32(dg[i]);
        float sg = 1.0f / (1.0f + el_exp(-a)), silu = a * sg;
        dh3[i] = cu_from_f32<T>(cu_f32(dh3[i]) + d * silu);
        dh1[i] = cu_from_f32<T>(cu_f32(dh1[i]) + d * b * sg * (1.0f + a * (1.0f - sg)));
    }
}
template <typename T>
int swiglu_bwd(CuCtx *c, T *dh1, T *dh3, const T *dg, const T *h1, const T *h3, long long n) {
    if (n <= 0) return 0;
    k_swiglu_bwd<<<cu_grid(n, TPB), TPB, 0, c->stream>>>(dh1, dh3, dg, h1, h3, n);
    CU_LAUNCH_CHECK();
    return 0;
}

// ---- residual -----------------------------------------------------------------------------
template <typename T> __global__ void k_residual_add(T *y, const T *x, long long n) {
    CU_FOR(i, n) y[i] = cu_from_f32<T>(cu_f32(y[i]) + cu_f32(x[i]));
}
template <typename T> int residual_add(CuCtx *c, T *y, const T *x, long long n) {
    if (n <= 0) return 0;
    k_residual_add<<<cu_grid(n, TPB), TPB, 0, c->stream>>>(y, x, n);
    CU_LAUNCH_CHECK();
    return 0;
}

// ---- casts (core/half.c; bf16 through elem.h) -----------------------------------------------
__global__ void k_f32_bf16(uint16_t *d, const float *s, long long n) { CU_FOR(i, n) d[i] = f32_to_bf16_rne(s[i]); }
__global__ void k_bf16_f32(float *d, const uint16_t *s, long long n) { CU_FOR(i, n) d[i] = bf16_to_f32(s[i]); }
__global__ void k_f16_f32(float *d, const uint16_t *s, long long n) {
    CU_FOR(i, n) d[i] = __half2float(__ushort_as_half(s[i])); // exact, NaN payloads quieted
}
__global__ void k_f16_bf16(uint16_t *d, const uint16_t *s, long long n) {
    CU_FOR(i, n) d[i] = f32_to_bf16_rne(__half2float(__ushort_as_half(s[i])));
}
#define CAST_FN(name, kern, TD, TS)                                         \
    int name(CuCtx *c, TD *dst, const TS *src, long long n) {              \
        if (n <= 0) return 0;                                               \
        kern<<<cu_grid(n, TPB), TPB, 0, c->stream>>>(dst, src, n);          \
        CU_LAUNCH_CHECK();                                                  \
        return 0;                                                           \
    }
CAST_FN(cast_f32_bf16, k_f32_bf16, uint16_t, float)
CAST_FN(cast_bf16_f32, k_bf16_f32, float, uint16_t)
CAST_FN(cast_f16_f32, k_f16_f32, float, uint16_t)
CAST_FN(cast_f16_bf16, k_f16_bf16, uint16_t, uint16_t)

// A uniform [0, 1) from a counter (24 bits of mix64): fills and dropout masks.
__device__ __forceinline__ float u24(uint64_t seed, long long i) {
    return (float)(mix64(seed + (uint64_t)i) >> 40) * (1.0f / 16777216.0f);
}

// ---- fills ---------------------------------------------------------------------------------
template <typename T> __global__ void k_fill_uniform(T *p, long long n, uint64_t seed, float lo, float hi) {
    CU_FOR(i, n) {
        p[i] = cu_from_f32<T>(lo + (hi - lo) * u24(seed, i));
    }
}
template <typename T> int fill_uniform(CuCtx *c, T *p, long long n, uint64_t seed, float lo, float hi) {
    if (n <= 0) return 0;
    k_fill_uniform<<<cu_grid(n, TPB), TPB, 0, c->stream>>>(p, n, seed, lo, hi);
    CU_LAUNCH_CHECK();
    return 0;
}
template <typename T> __global__ void k_fill_const(T *p, long long n, float v) { CU_FOR(i, n) p[i] = cu_from_f32<T>(v); }
template <typename T> int fill_const(CuCtx *c, T *p, long long n, float value) {
    if (n <= 0) return 0;
    k_fill_const<<<cu_grid(n, TPB), TPB, 0, c->stream>>>(p, n, value);
    CU_LAUNCH_CHECK();
    return 0;
}

// ---- dropout ---------------------------------------------------------------------------------
template <typename T> __global__ void k_dropout(T *out, const T *in, long long n, float p, float scale, uint64_t seed) {
    CU_FOR(i, n) out[i] = cu_from_f32<T>(u24(seed, i) >= p ? cu_f32(in[i]) * scale : 0.0f);
}
template <typename T> int dropout_apply(CuCtx *c, T *out, const T *in, long long n, float p, uint64_t seed) {
    if (n <= 0) return 0;
    CU_REQUIRE(p >= 0.0f && p < 1.0f, "dropout: p = %g outside [0, 1)", p);
    if (p == 0.0f) {
        if (out != in) CUDA_CHECK(cudaMemcpyAsync(out, in, n * sizeof(T), cudaMemcpyDeviceToDevice, c->stream));
        return 0;
    }
    k_dropout<<<cu_grid(n, TPB), TPB, 0, c->stream>>>(out, in, n, p, 1.0f / (1.0f - p), seed);
    CU_LAUNCH_CHECK();
    return 0;
}

#define OPS_INST(T)                                                                                           \
    template int embedding_fwd<T>(CuCtx *, T *, const int *, const T *, int, int);                           \
    template int embedding_bwd<T>(CuCtx *, float *, const T *, const int *, int, int);                       \
    template int rmsnorm_fwd<T>(CuCtx *, T *, float *, const T *, const float *, int, int, float);           \
    template int rmsnorm_bwd<T>(CuCtx *, T *, float *, const T *, const T *, const float *, const float *, int, \
                                int);                                                                         \
    template int rope_fwd<T>(CuCtx *, T *, int, int, int, int, int, const float *, const float *);           \
    template int rope_bwd<T>(CuCtx *, T *, int, int, int, int, int, const float *, const float *);           \
    template int swiglu_fwd<T>(CuCtx *, T *, const T *, const T *, long long);                                \
    template int swiglu_bwd<T>(CuCtx *, T *, T *, const T *, const T *, const T *, long long);                \
    template int residual_add<T>(CuCtx *, T *, const T *, long long);                                         \
    template int fill_uniform<T>(CuCtx *, T *, long long, uint64_t, float, float);                           \
    template int fill_const<T>(CuCtx *, T *, long long, float);                                               \
    template int dropout_apply<T>(CuCtx *, T *, const T *, long long, float, uint64_t);
OPS_INST(float)
OPS_INST(bf16)
