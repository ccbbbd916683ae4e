// attention.cu — causal GQA attention, v1: cuBLAS strided-batched products per head with
// masked softmax kernels between them (core/ops.c attention_forward / attention_backward).
//
// Head h reads kv head h / grp (grp = H / KVH). For one sequence b and one index j < grp,
// the heads h = kh·grp + j (kh = 0..KVH−1) have constant strides in q (grp·hs), k and v (hs),
// so each (b, j) is one strided-batched call over kv heads (chunked to fit the scratch).
// Per head, row-major T×T scores S = sc·Q·Kᵀ; the forward softmax writes P = e·(1/Σe) with
// e = exp(S − max) (0 past the causal limit) and lse = max + log Σe; O = P·V. Backward
// recomputes S, then P = exp(S − lse), dP = dO·Vᵀ, D = dO·O per row, dS = P∘(dP − D), and
// dV += Pᵀ·dO, dQ += sc·dS·K, dK += sc·dSᵀ·Q (heads of one kv head accumulate in j order:
// deterministic). In bf16 mode the scores stay fp32 and P, dS get bf16 copies for the
// products (cuBLAS takes A and B of one type).
#include "ops.cuh"
#include "reduce.cuh"

#define ATT_TPB 128

// Per-head stride of the score buffers in elements: T² rounded up to 64, so every head's
// fp32 and bf16 matrices start 128-byte aligned (cuBLAS's fast paths want 16 at least).
static long long head_stride(int T_) { return ((long long)T_ * T_ + 63) & ~63LL; }
static size_t per_head_bytes(int T_, int bf16_mode, int backward) {
    size_t t2 = (size_t)head_stride(T_);
    return backward ? t2 * (8 + (bf16_mode ? 4 : 0)) : t2 * (4 + (bf16_mode ? 2 : 0));
}
size_t attention_scratch_bytes(int T_, int heads, int bf16_mode, int backward) {
    return per_head_bytes(T_, bf16_mode, backward) * (size_t)(heads > 0 ? heads : 1);
}

// One block per (head of the chunk, query row t): S row → P row (in place for fp32; P16
// gets the bf16 copy when not NULL), lse.
template <typename T>
__global__ void k_softmax_fwd(float *S, T *P16, float *lse, int Tn, long long t2, int H, int grp, int j, int kh0, int b,
                              int ldT) {
    int t = blockIdx.x, hc = blockIdx.y;
    size_t ro = (size_t)hc * t2 + (size_t)t * Tn;
    float *row = S + ro;
    float mx = -INFINITY;
    for (int s = threadIdx.x; s <= t; s += blockDim.x) mx = fmaxf(mx, row[s]);
    mx = block_max(mx);
    float sum = 0;
    for (int s = threadIdx.x; s <= t; s += blockDim.x) sum += el_exp(row[s] - mx);
    sum = block_sum(sum);
    float inv = 1.0f / sum;
    for (int s = threadIdx.x; s < Tn; s += blockDim.x) {
        float p = s <= t ? el_exp(row[s] - mx) * inv : 0.0f;
        if (P16) P16[ro + s] = cu_from_f32<T>(p);
        else row[s] = p;
    }
    if (lse && threadIdx.x == 0) {
        int h = (kh0 + hc) * grp + j;
        lse[((size_t)b * H + h) * ldT + t] = mx + logf(sum);
    }
}

template <typename T>
int attention_fwd(CuCtx *c, T *out, float *lse, const T *q, const T *k, const T *v, int B, int Tn, int H, int KVH,
                  int hs, int ldT, void *scratch, size_t scratch_bytes) {
    CU_REQUIRE(H > 0 && KVH > 0 && H % KVH == 0, "attention: %d heads not a multiple of %d kv heads", H, KVH);
    if (B <= 0 || Tn <= 0) return 0;
    const int bf = sizeof(T) == 2, grp = H / KVH, dim = H * hs, kvdim = KVH * hs;
    size_t ph = per_head_bytes(Tn, bf, 0);
    int nh = (int)(scratch_bytes / ph < (size_t)KVH ? scratch_bytes / ph : (size_t)KVH);
    CU_REQUIRE(nh >= 1, "attention: scratch of %zu bytes < %zu needed for T = %d", scratch_bytes, ph, Tn);
    const float sc = 1.0f / sqrtf((float)hs);
    const long long t2 = head_stride(Tn);
    float *S = (float *)scratch;
    T *P16 = bf ? (T *)(S + (size_t)nh * t2) : NULL;
    const T *P = bf ? P16 : (const T *)S;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < grp; j++)
            for (int kh0 = 0; kh0 < KVH; kh0 += nh) {
                int n = KVH - kh0 < nh ? KVH - kh0 : nh, h0 = kh0 * grp + j;
                const T *qb = q + (size_t)b * Tn * dim + (size_t)h0 * hs;
                const T *kb = k + (size_t)b * Tn * kvdim + (size_t)kh0 * hs;
                const T *vb = v + (size_t)b * Tn * kvdim + (size_t)kh0 * hs;
                // S (T×T, row t, column s) = sc·Q·Kᵀ: column-major S'(s, t) = Kᵀ…
                CU_TRY(gemm_batched_cm<T, float>(c, CUBLAS_OP_T, CUBLAS_OP_N, Tn, Tn, hs, sc, kb, kvdim, hs, qb, dim,
                                                 (long long)grp * hs, 0.0f, S, Tn, t2, n));
                k_softmax_fwd<T><<<dim3(Tn, n), ATT_TPB, 0, c->stream>>>(S, P16, lse, Tn, t2, H, grp, j, kh0, b, ldT);
                CU_LAUNCH_CHECK();
                // O (T×hs, row stride dim) = P·V
                T *ob = out + (size_t)b * Tn * dim + (size_t)h0 * hs;
                CU_TRY(gemm_batched_cm<T, T>(c, CUBLAS_OP_N, CUBLAS_OP_N, hs, Tn, Tn, 1.0f, vb, kvdim, hs, P, Tn, t2,
                                             0.0f, ob, dim, (long long)grp * hs, n));
            }
    return 0;
}

// Backward row kernel: S row (recomputed scores) → P, dP row → dS, with D = dO_t·O_t.
// fp32: in place; bf16: P16 / dS16 get the copies the products read.
template <typename T>
__global__ void k_softmax_bwd(float *S, float *dP, T *P16, T *dS16, const float *lse, const T *dout, const T *out,
                              int Tn, long long t2, int H, int grp, int j, int kh0, int b, int ldT, int hs) {
    int t = blockIdx.x, hc = blockIdx.y, h = (kh0 + hc) * grp + j, dim = H * hs;
    size_t ro = (size_t)hc * t2 + (size_t)t * Tn;
    const T *go = dout + ((size_t)b * Tn + t) * dim + (size_t)h * hs, *oo = out + ((size_t)b * Tn + t) * dim + (size_t)h * hs;
    float D = 0;
    for (int i = threadIdx.x; i < hs; i += blockDim.x) D += cu_f32(go[i]) * cu_f32(oo[i]);
    D = block_sum(D);
    float l = lse[((size_t)b * H + h) * ldT + t];
    for (int s = threadIdx.x; s < Tn; s += blockDim.x) {
        float p = s <= t ? el_exp(S[ro + s] - l) : 0.0f;
        float ds = s <= t ? p * (dP[ro + s] - D) : 0.0f;
        if (P16) {
            P16[ro + s] = cu_from_f32<T>(p);
            dS16[ro + s] = cu_from_f32<T>(ds);
        } else {
            S[ro + s] = p;
            dP[ro + s] = ds;
        }
    }
}

template <typename T>
int attention_bwd(CuCtx *c, T *dq, T *dk, T *dv, const T *dout, const T *out, const float *lse, const T *q,
                  const T *k, const T *v, int B, int Tn, int H, int KVH, int hs, int ldT, void *scratch,
                  size_t scratch_bytes) {
    CU_REQUIRE(H > 0 && KVH > 0 && H % KVH == 0, "attention: %d heads not a multiple of %d kv heads", H, KVH);
    if (B <= 0 || Tn <= 0) return 0;
    const int bf = sizeof(T) == 2, grp = H / KVH, dim = H * hs, kvdim = KVH * hs;
    size_t ph = per_head_bytes(Tn, bf, 1);
    int nh = (int)(scratch_bytes / ph < (size_t)KVH ? scratch_bytes / ph : (size_t)KVH);
    CU_REQUIRE(nh >= 1, "attention backward: scratch of %zu bytes < %zu needed for T = %d", scratch_bytes, ph, Tn);
    const float sc = 1.0f / sqrtf((float)hs);
    const long long t2 = head_stride(Tn), qs = (long long)grp * hs;
    float *S = (float *)scratch, *dP = S + (size_t)nh * t2;
    T *P16 = bf ? (T *)(dP + (size_t)nh * t2) : NULL, *dS16 = bf ? P16 + (size_t)nh * t2 : NULL;
    const T *P = bf ? P16 : (const T *)S, *dS = bf ? dS16 : (const T *)dP;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < grp; j++)
            for (int kh0 = 0; kh0 < KVH; kh0 += nh) {
                int n = KVH - kh0 < nh ? KVH - kh0 : nh, h0 = kh0 * grp + j;
                size_t qo = (size_t)b * Tn * dim + (size_t)h0 * hs, ko = (size_t)b * Tn * kvdim + (size_t)kh0 * hs;
                CU_TRY(gemm_batched_cm<T, float>(c, CUBLAS_OP_T, CUBLAS_OP_N, Tn, Tn, hs, sc, k + ko, kvdim, hs, q + qo,
                                                 dim, qs, 0.0f, S, Tn, t2, n));
                // dP (T×T) = dO·Vᵀ
                CU_TRY(gemm_batched_cm<T, float>(c, CUBLAS_OP_T, CUBLAS_OP_N, Tn, Tn, hs, 1.0f, v + ko, kvdim, hs,
                                                 dout + qo, dim, qs, 0.0f, dP, Tn, t2, n));
                k_softmax_bwd<T><<<dim3(Tn, n), ATT_TPB, 0, c->stream>>>(S, dP, P16, dS16, lse, dout, out, Tn, t2, H, grp,
                                                                         j, kh0, b, ldT, hs);
                CU_LAUNCH_CHECK();
                // dV (T×hs) += Pᵀ·dO
                CU_TRY(gemm_batched_cm<T, T>(c, CUBLAS_OP_N, CUBLAS_OP_T, hs, Tn, Tn, 1.0f, dout + qo, dim, qs, P, Tn, t2,
                                             1.0f, dv + ko, kvdim, hs, n));
                // dQ (T×hs) += sc·dS·K
                CU_TRY(gemm_batched_cm<T, T>(c, CUBLAS_OP_N, CUBLAS_OP_N, hs, Tn, Tn, sc, k + ko, kvdim, hs, dS, Tn, t2,
                                             1.0f, dq + qo, dim, qs, n));
                // dK (T×hs) += sc·dSᵀ·Q
                CU_TRY(gemm_batched_cm<T, T>(c, CUBLAS_OP_N, CUBLAS_OP_T, hs, Tn, Tn, sc, q + qo, dim, qs, dS, Tn, t2,
                                             1.0f, dk + ko, kvdim, hs, n));
            }
    return 0;
}

#define ATT_INST(T)                                                                                            \
    template int attention_fwd<T>(CuCtx *, T *, float *, const T *, const T *, const T *, int, int, int, int,  \
                                  int, int, void *, size_t);                                                    \
    template int attention_bwd<T>(CuCtx *, T *, T *, T *, const T *, const T *, const float *, const T *,      \
                                  const T *, const T *, int, int, int, int, int, int, void *, size_t);
ATT_INST(float)
ATT_INST(bf16)
