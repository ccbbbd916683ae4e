// quant_ops.cu — quantized weights on the device: NF4 and uniform dequant tiles (core/nf4.c,
// core/quant.c; layouts in core/deploy.h) and L4Q's merge+quantize tile and STE backward
// (core/l4q.c). The per-element arithmetic is elem.h's (shared with the CPU) and the merge
// sums in l4q_merge_chunk's order, so tiles and codes equal the CPU's bit for bit. The merge
// is deliberately not a cuBLAS product: another summation order flips codes at rounding ties.
#include "ops.cuh"
#include "reduce.cuh"

#define TPB 256

// ---- NF4 ------------------------------------------------------------------------------------
template <typename T>
__global__ void k_nf4_dequant(T *out, const uint8_t *codes, const uint8_t *absmax_q, const float *absmax_scale,
                              float mean, const float *dq_code, long long e0, long long cnt) {
    CU_FOR(k, cnt) {
        long long e = e0 + k, blk = e / NF4_BLOCK;
        float a = nf4_absmax_elem(dq_code[absmax_q[blk]], absmax_scale[blk / NF4_DQ_BLOCK], mean);
        out[k] = cu_from_f32<T>(nf4_dequant_elem(nf4_code_at(codes, (size_t)e), a));
    }
}
template <typename T>
int nf4_dequant(CuCtx *c, T *out_t, const uint8_t *codes, const uint8_t *absmax_q, const float *absmax_scale,
                float absmax_mean, const float *dq_code, int in, int r0, int t) {
    long long cnt = (long long)t * in;
    if (cnt <= 0) return 0;
    k_nf4_dequant<T><<<cu_grid(cnt, TPB), TPB, 0, c->stream>>>(out_t, codes, absmax_q, absmax_scale, absmax_mean,
                                                               dq_code, (long long)r0 * in, cnt);
    CU_LAUNCH_CHECK();
    return 0;
}

// ---- uniform ----------------------------------------------------------------------------------
// Code j of a row: bits [j·n, j·n + n) LSB-first; with n ≤ 8 it spans at most two bytes, and
// the second is read only when the code reaches into it (never past the row's last byte).
template <typename T>
__global__ void k_uniform_dequant(T *out, const uint8_t *packed, const float *s, const float *b, int bits, int gs,
                                  int in, int r0, long long cnt, size_t rb) {
    const int ng = (in + gs - 1) / gs, qn = -(1 << (bits - 1));
    CU_FOR(k, cnt) {
        int i = (int)(k / in), j = (int)(k % in), r = r0 + i;
        const uint8_t *p = packed + (size_t)r * rb;
        long long bit = (long long)j * bits;
        int sh = (int)(bit & 7);
        unsigned word = p[bit >> 3];
        if (sh + bits > 8) word |= (unsigned)p[(bit >> 3) + 1] << 8;
        unsigned u = (word >> sh) & ((1u << bits) - 1);
        size_t g = (size_t)r * ng + j / gs;
        out[k] = cu_from_f32<T>(quant_dequant_elem(u, s[g], b[g], qn));
    }
}
template <typename T>
int uniform_dequant(CuCtx *c, T *out_t, const uint8_t *packed, const float *s, const float *b, int bits, int gs,
                    int in, int r0, int t) {
    long long cnt = (long long)t * in;
    if (cnt <= 0) return 0;
    CU_REQUIRE(bits >= 1 && bits <= 8 && gs > 0, "uniform dequant: bits %d, group %d", bits, gs);
    k_uniform_dequant<T><<<cu_grid(cnt, TPB), TPB, 0, c->stream>>>(out_t, packed, s, b, bits, gs, in, r0, cnt,
                                                                           deploy_row_bytes(bits, in));
    CU_LAUNCH_CHECK();
    return 0;
}

// ---- L4Q --------------------------------------------------------------------------------------
// Merged element (row R, column j) of W = W0 + α·B·A in l4q_merge_chunk's order: acc starts
// at 0, acc = fmaf(B[R][k], A[k][j], acc) for k ascending, then fmaf(α, acc, W0[R][j]).
#define L4Q_RPT 8 // rows per thread: the A loads are shared by 8 accumulators
template <typename TW> __device__ __forceinline__ float w0_at(const TW *W0, size_t e) { return cu_f32(W0[e]); }

template <typename TW, typename TO>
__global__ void k_l4q_merge_quant(TO *Wq, uint8_t *codes, const TW *W0, const float *A, const float *B,
                                  const float *s, const float *b, CuL4q q, int r0, int t) {
    int j = blockIdx.x * blockDim.x + threadIdx.x, i0 = blockIdx.y * L4Q_RPT;
    if (j >= q.in) return;
    int nr = t - i0 < L4Q_RPT ? t - i0 : L4Q_RPT;
    float acc[L4Q_RPT];
#pragma unroll
    for (int ii = 0; ii < L4Q_RPT; ii++) acc[ii] = 0.0f;
    for (int k = 0; k < q.rank; k++) {
        float a = A[(size_t)k * q.in + j];
#pragma unroll
        for (int ii = 0; ii < L4Q_RPT; ii++)
            if (ii < nr) acc[ii] = fmaf(B[(size_t)(r0 + i0 + ii) * q.rank + k], a, acc[ii]);
    }
    const float qn = (float)q.qn, qp = (float)q.qp;
    const int g = j / q.gs;
#pragma unroll
    for (int ii = 0; ii < L4Q_RPT; ii++) {
        if (ii >= nr) break;
        size_t R = (size_t)r0 + i0 + ii, e = R * q.in + j, ti = (size_t)(i0 + ii) * q.in + j;
        float w = fmaf(q.alpha, acc[ii], w0_at(W0, e));
        float sg = quant_safe_scale(s[R * q.ng + g]), bg = b[R * q.ng + g];
        Wq[ti] = cu_from_f32<TO>(quant_fake_elem(w, sg, bg, qn, qp));
        if (codes) codes[ti] = (uint8_t)quant_ucode_elem(w, sg, bg, q.qn, q.qp);
    }
}

static int l4q_check(const CuL4q *q, int r0, int t) {
    CU_REQUIRE(q->rank > 0 && q->in > 0 && q->gs > 0 && q->ng == (q->in + q->gs - 1) / q->gs,
               "l4q: bad geometry (rank %d, in %d, group %d, groups %d)", q->rank, q->in, q->gs, q->ng);
    CU_REQUIRE(r0 >= 0 && t >= 0 && r0 + t <= q->out, "l4q: rows [%d, %d) outside %d", r0, r0 + t, q->out);
    return 0;
}

template <typename TW, typename TO>
int l4q_merge_quant(CuCtx *c, TO *Wq, uint8_t *codes, const TW *W0, const float *A, const float *B, const float *s,
                    const float *b, const CuL4q *q, int r0, int t) {
    CU_TRY(l4q_check(q, r0, t));
    if (t == 0) return 0;
    unsigned gy = (unsigned)((t + L4Q_RPT - 1) / L4Q_RPT);
    CU_REQUIRE(gy <= 65535u, "l4q: tile of %d rows too tall", t);
    dim3 grid(cu_blocks(q->in, TPB), gy);
    k_l4q_merge_quant<TW, TO><<<grid, TPB, 0, c->stream>>>(Wq, codes, W0, A, B, s, b, *q, r0, t);
    CU_LAUNCH_CHECK();
    return 0;
}

// STE backward, one block per (group g, tile row i): the group's elements re-merged, their
// quant_ste_elem terms summed in double (fixed tree), G ← M⊙G in place.
#define STE_TPB 128
template <typename TW>
__global__ void k_l4q_ste(float *G, float *ds, float *db, const TW *W0, const float *A, const float *B,
                          const float *s, const float *b, CuL4q q, int r0) {
    int g = blockIdx.x, i = blockIdx.y;
    size_t R = (size_t)r0 + i, kq = R * q.ng + g;
    int j0 = g * q.gs, len = q.in - j0 < q.gs ? q.in - j0 : q.gs;
    const float qn = (float)q.qn, qp = (float)q.qp;
    float sg = quant_safe_scale(s[kq]), bg = b[kq];
    const float *Br = B + R * q.rank;
    float *gr = G + (size_t)i * q.in;
    double acc_s = 0, acc_b = 0;
    for (int jj = threadIdx.x; jj < len; jj += blockDim.x) {
        int j = j0 + jj;
        float acc = 0.0f;
        for (int k = 0; k < q.rank; k++) acc = fmaf(Br[k], A[(size_t)k * q.in + j], acc);
        float w = fmaf(q.alpha, acc, w0_at(W0, R * q.in + j));
        float dsf, gj = gr[j];
        int clip;
        (void)quant_ste_elem(w, sg, bg, qn, qp, &dsf, &clip);
        float gm = clip ? 0.0f : gj;
        acc_s += (double)gj * dsf;
        acc_b += (double)(gj - gm);
        gr[j] = gm;
    }
    acc_s = block_sum(acc_s);
    acc_b = block_sum(acc_b);
    if (threadIdx.x == 0) {
        float gsc = q.lsq_scale ? 1.0f / sqrtf((float)len * (float)q.qp) : 1.0f; // quant_lsq_gscale
        ds[kq] = ds[kq] + gsc * (float)acc_s;
        db[kq] = db[kq] + gsc * (float)acc_b;
    }
}

template <typename TW>
int l4q_ste_bwd(CuCtx *c, float *G, float *ds, float *db, const TW *W0, const float *A, const float *B,
                const float *s, const float *b, const CuL4q *q, int r0, int t) {
    CU_TRY(l4q_check(q, r0, t));
    if (t == 0) return 0;
    CU_REQUIRE(t <= 65535, "l4q: tile of %d rows too tall", t);
    k_l4q_ste<TW><<<dim3(q->ng, t), STE_TPB, 0, c->stream>>>(G, ds, db, W0, A, B, s, b, *q, r0);
    CU_LAUNCH_CHECK();
    return 0;
}

#define DQ_INST(T)                                                                                          \
    template int nf4_dequant<T>(CuCtx *, T *, const uint8_t *, const uint8_t *, const float *, float,       \
                                const float *, int, int, int);                                              \
    template int uniform_dequant<T>(CuCtx *, T *, const uint8_t *, const float *, const float *, int, int,  \
                                    int, int, int);
DQ_INST(float)
DQ_INST(bf16)
#define L4Q_INST(TW, TO)                                                                                      \
    template int l4q_merge_quant<TW, TO>(CuCtx *, TO *, uint8_t *, const TW *, const float *, const float *,   \
                                         const float *, const float *, const CuL4q *, int, int);
L4Q_INST(float, float)
L4Q_INST(bf16, float)
L4Q_INST(__half, float)
L4Q_INST(bf16, bf16)
L4Q_INST(float, bf16)
L4Q_INST(__half, bf16)
template int l4q_ste_bwd<float>(CuCtx *, float *, float *, float *, const float *, const float *, const float *,
                                const float *, const float *, const CuL4q *, int, int);
template int l4q_ste_bwd<bf16>(CuCtx *, float *, float *, float *, const bf16 *, const float *, const float *,
                               const float *, const float *, const CuL4q *, int, int);
template int l4q_ste_bwd<__half>(CuCtx *, float *, float *, float *, const __half *, const float *, const float *,
                                 const float *, const float *, const CuL4q *, int, int);
