// quant_ops.cu — quantized weights on the device: NF4 and uniform dequant tiles (core/nf4.c,
// core/quant.c; layouts in core/nf4.h, core/quant.h) and L4Q's merge+quantize tile and STE backward
// (core/l4q.c). The per-element arithmetic is elem.h's (shared with the CPU) and the merge
// sums in l4q_merge_chunk's order, so tiles and codes equal the CPU's bit for bit. The merge
// is deliberately not a cuBLAS product: another summation order flips codes at rounding ties.
#include "ops.cuh"
#include "quant_elem.cuh"
#include "reduce.cuh"

#define TPB 256

// ---- NF4 ------------------------------------------------------------------------------------
template <typename T>
__global__ void k_nf4_dequant(T *out, const uint8_t *codes, const uint8_t *absmax_q, const float *absmax_scale,
                              float mean, const float *dq_code, long long e0, long long cnt) {
    CU_FOR(k, cnt) out[k] = cu_from_f32<T>(nf4_at(codes, absmax_q, absmax_scale, mean, dq_code, (size_t)(e0 + k)));
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
template <typename T>
__global__ void k_uniform_dequant(T *out, const uint8_t *packed, const float *s, const float *b, int bits, int gs,
                                  int in, int r0, long long cnt, size_t rb) {
    const int ng = (in + gs - 1) / gs, qn = -(1 << (bits - 1));
    CU_FOR(k, cnt) {
        int i = (int)(k / in), j = (int)(k % in), r = r0 + i;
        unsigned u = uniform_code_at(packed + (size_t)r * rb, j, bits);
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
template <typename TW, typename TO>
__global__ void k_l4q_merge_quant(TO *Wq, uint8_t *codes, const TW *W0, const float *A, const float *B,
                                  const float *s, const float *b, CuL4q q, int r0, int t) {
    int j = blockIdx.x * blockDim.x + threadIdx.x, i0 = blockIdx.y * L4Q_RPT;
    if (j >= q.in) return;
    int nr = t - i0 < L4Q_RPT ? t - i0 : L4Q_RPT;
    float w[L4Q_RPT];
    l4q_merge_block(w, W0, A, B, &q, (size_t)r0 + i0, nr, j);
    for (int ii = 0; ii < nr; ii++) {
        size_t R = (size_t)r0 + i0 + ii, ti = (size_t)(i0 + ii) * q.in + j;
        unsigned u;
        float wq = l4q_quant_elem(w[ii], s, b, &q, R, j, &u);
        Wq[ti] = cu_from_f32<TO>(wq);
        if (codes) codes[ti] = (uint8_t)u;
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

// STE backward, one block per (group g, L4Q_RPT tile rows): each thread re-merges its
// columns of the block's rows (sharing the A loads), adds their quant_ste_elem terms to
// per-row double sums, writes M⊙G in place; the block then reduces each row's sums with a
// fixed tree.
#define STE_TPB 128
// Threads per group block: the group length rounded up to a warp, at most STE_TPB (g32 groups
// would otherwise leave three warps of four idle).
static int group_threads(int gs) {
    int t = (gs + 31) / 32 * 32;
    return t < 32 ? 32 : t > STE_TPB ? STE_TPB : t;
}
template <typename TW>
__global__ void k_l4q_ste(float *G, float *ds, float *db, const TW *W0, const float *A, const float *B,
                          const float *s, const float *b, CuL4q q, int r0, int t) {
    int g = blockIdx.x, i0 = blockIdx.y * L4Q_RPT, nr = t - i0 < L4Q_RPT ? t - i0 : L4Q_RPT;
    int j0 = g * q.gs, len = q.in - j0 < q.gs ? q.in - j0 : q.gs;
    double acc_s[L4Q_RPT], acc_b[L4Q_RPT];
    for (int ii = 0; ii < L4Q_RPT; ii++) acc_s[ii] = acc_b[ii] = 0;
    for (int jj = threadIdx.x; jj < len; jj += blockDim.x) {
        float w[L4Q_RPT];
        l4q_merge_block(w, W0, A, B, &q, (size_t)r0 + i0, nr, j0 + jj);
        for (int ii = 0; ii < L4Q_RPT; ii++) {
            if (ii >= nr) break;
            float *gp = G + (size_t)(i0 + ii) * q.in + j0 + jj;
            *gp = l4q_ste_term(w[ii], *gp, s, b, &q, (size_t)r0 + i0 + ii, g, &acc_s[ii], &acc_b[ii]);
        }
    }
    for (int ii = 0; ii < nr; ii++) { // nr is uniform across the block: every thread reduces
        double as = block_sum(acc_s[ii]), ab = block_sum(acc_b[ii]);
        if (threadIdx.x == 0) l4q_ste_finish(ds, db, &q, ((size_t)r0 + i0 + ii) * q.ng + g, len, as, ab);
    }
}

template <typename TW>
int l4q_ste_bwd(CuCtx *c, float *G, float *ds, float *db, const TW *W0, const float *A, const float *B,
                const float *s, const float *b, const CuL4q *q, int r0, int t) {
    CU_TRY(l4q_check(q, r0, t));
    if (t == 0) return 0;
    unsigned gy = (unsigned)((t + L4Q_RPT - 1) / L4Q_RPT);
    CU_REQUIRE(gy <= 65535u, "l4q: tile of %d rows too tall", t);
    k_l4q_ste<TW><<<dim3(q->ng, gy), group_threads(q->gs), 0, c->stream>>>(G, ds, db, W0, A, B, s, b, *q, r0, t);
    CU_LAUNCH_CHECK();
    return 0;
}

// ---- QAT-LoRA / LSQ: quantizer with saved intermediates ----------------------------------------
template <typename TW, typename TO>
__global__ void k_qfwd_saved(const TW *W, const float *s, const float *b, CuL4q q, TO *Wq, float *dsf, uint8_t *mask) {
    CU_FOR(e, (long long)q.out * q.in) {
        size_t r = (size_t)(e / q.in), k = r * q.ng + (size_t)(e % q.in) / q.gs;
        int clip;
        float d;
        Wq[e] = cu_from_f32<TO>(quant_ste_elem(w0_f32(W[e]), quant_safe_scale(s[k]), b[k], (float)q.qn, (float)q.qp, &d, &clip));
        dsf[e] = d;
        mask[e] = (uint8_t)!clip;
    }
}
template <typename TW, typename TO>
int quant_fwd_saved(CuCtx *c, const TW *W, const float *s, const float *b, const CuL4q *q, TO *Wq, float *dsf,
                    uint8_t *mask) {
    long long n = (long long)q->out * q->in;
    if (n <= 0) return 0;
    CU_REQUIRE(q->gs > 0 && q->ng == (q->in + q->gs - 1) / q->gs, "quantizer: group %d, groups %d for rows of %d",
               q->gs, q->ng, q->in);
    k_qfwd_saved<TW, TO><<<cu_grid(n, TPB), TPB, 0, c->stream>>>(W, s, b, *q, Wq, dsf, mask);
    CU_LAUNCH_CHECK();
    return 0;
}
// One block per (row, group): the group's terms in double, a fixed tree.
__global__ void k_qbwd_saved(const float *G, const float *dsf, const uint8_t *mask, CuL4q q, float *ds, float *db,
                             float *dW) {
    int r = blockIdx.x, g = blockIdx.y, j0 = g * q.gs, len = q.in - j0 < q.gs ? q.in - j0 : q.gs;
    double as = 0, ab = 0;
    for (int jj = threadIdx.x; jj < len; jj += blockDim.x)
        qsaved_bwd_term(G, dsf, mask, dW, (size_t)r * q.in + j0 + jj, &as, &ab);
    as = block_sum(as);
    ab = block_sum(ab);
    if (threadIdx.x == 0) l4q_ste_finish(ds, db, &q, (size_t)r * q.ng + g, len, as, ab);
}
int quant_bwd_saved(CuCtx *c, const float *G, const float *dsf, const uint8_t *mask, const CuL4q *q, float *ds,
                    float *db, float *dW) {
    if (q->out <= 0 || q->in <= 0) return 0;
    CU_REQUIRE(q->ng <= 65535, "quantizer backward: %d groups per row (at most 65535)", q->ng);
    CU_REQUIRE(q->gs > 0 && q->ng == (q->in + q->gs - 1) / q->gs, "quantizer: group %d, groups %d for rows of %d",
               q->gs, q->ng, q->in);
    k_qbwd_saved<<<dim3(q->out, q->ng), group_threads(q->gs), 0, c->stream>>>(G, dsf, mask, *q, ds, db, dW);
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
#define QS_INST(TW, TO)                                                                                      \
    template int quant_fwd_saved<TW, TO>(CuCtx *, const TW *, const float *, const float *, const CuL4q *, TO *, \
                                         float *, uint8_t *);
QS_INST(float, float)
QS_INST(bf16, float)
QS_INST(__half, float)
QS_INST(float, bf16)
QS_INST(bf16, bf16)
QS_INST(__half, bf16)
