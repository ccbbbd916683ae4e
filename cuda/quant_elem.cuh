// quant_elem.cuh — the per-element bodies of the quantized-weight kernels (quant_ops.cu) as
// __host__ __device__ functions, so the very code the kernels run can also be checked on
// the host against the CPU fixtures (test_cuda_ops --host, no device needed). The
// arithmetic of each element is elem.h's; these add only indexing and summation order.
#pragma once
#include "ops.cuh"

#define CU_HD __host__ __device__ __forceinline__

// Widening of a stored W0 element (exact for bf16 and f16).
CU_HD float w0_f32(float x) { return x; }
CU_HD float w0_f32(bf16 x) { return __bfloat162float(x); }
CU_HD float w0_f32(__half x) { return __half2float(x); }

// NF4 element e (flat row-major index) of a DEP_NF4 weight (core/nf4.c nf4_decode).
CU_HD float nf4_at(const uint8_t *codes, const uint8_t *absmax_q, const float *absmax_scale, float mean,
                   const float *dq_code, size_t e) {
    size_t blk = e / NF4_BLOCK;
    float a = nf4_absmax_elem(dq_code[absmax_q[blk]], absmax_scale[blk / NF4_DQ_BLOCK], mean);
    return nf4_dequant_elem(nf4_code_at(codes, e), a);
}

// Unsigned code j of a packed uniform row: bits [j·n, j·n + n) LSB-first (core/deploy.h).
// With n ≤ 8 a code spans at most two bytes; the second is read only when the code reaches
// into it, so nothing past the row's last byte is ever read.
CU_HD unsigned uniform_code_at(const uint8_t *row, int j, int bits) {
    long long bit = (long long)j * bits;
    int sh = (int)(bit & 7);
    unsigned word = row[bit >> 3];
    if (sh + bits > 8) word |= (unsigned)row[(bit >> 3) + 1] << 8;
    return (word >> sh) & ((1u << bits) - 1);
}

// Merged W = W0 + α·B·A at rows R0 .. R0+nr−1 (nr ≤ L4Q_RPT), column j, into w[0..nr):
// l4q_merge_chunk's order — acc from 0, acc = fmaf(B[R][k], A[k][j], acc) for k ascending,
// then fmaf(α, acc, W0[R][j]). The rows share each load of A[k][j].
#define L4Q_RPT 8
template <typename TW>
CU_HD void l4q_merge_block(float *w, const TW *W0, const float *A, const float *B, const CuL4q *q, size_t R0, int nr,
                           int j) {
    float acc[L4Q_RPT];
    for (int ii = 0; ii < L4Q_RPT; ii++) acc[ii] = 0.0f;
    for (int k = 0; k < q->rank; k++) {
        float a = A[(size_t)k * q->in + j];
        for (int ii = 0; ii < L4Q_RPT; ii++)
            if (ii < nr) acc[ii] = fmaf(B[(R0 + ii) * q->rank + k], a, acc[ii]);
    }
    for (int ii = 0; ii < nr; ii++) w[ii] = fmaf(q->alpha, acc[ii], w0_f32(W0[(R0 + ii) * q->in + j]));
}

// Quantized value of merged w at (row R, column j) under its group's guarded scale and
// offset (quant_fake_row's arithmetic); *u gets the stored code w̃ − Q_N (quant_encode's).
CU_HD float l4q_quant_elem(float w, const float *s, const float *b, const CuL4q *q, size_t R, int j, unsigned *u) {
    size_t k = R * q->ng + j / q->gs;
    float sg = quant_safe_scale(s[k]), bg = b[k];
    *u = quant_ucode_elem(w, sg, bg, q->qn, q->qp);
    return quant_fake_elem(w, sg, bg, (float)q->qn, (float)q->qp);
}

// STE terms of one element of group g of row R (l4q_quant_rows' Gt branch): adds G·dsf to
// *acc_s and G·clip to *acc_b (in double), returns M⊙G.
CU_HD float l4q_ste_term(float w, float gj, const float *s, const float *b, const CuL4q *q, size_t R, int g,
                         double *acc_s, double *acc_b) {
    size_t k = R * q->ng + g;
    float dsf;
    int clip;
    (void)quant_ste_elem(w, quant_safe_scale(s[k]), b[k], (float)q->qn, (float)q->qp, &dsf, &clip);
    float gm = clip ? 0.0f : gj;
    *acc_s += (double)gj * dsf;
    *acc_b += (double)(gj - gm);
    return gm;
}
// ds, db of group k (len elements) from the group's sums, with the optional LSQ scale
// 1/sqrt(len·Q_P) (quant_lsq_gscale).
CU_HD void l4q_ste_finish(float *ds, float *db, const CuL4q *q, size_t k, int len, double acc_s, double acc_b) {
    float gsc = q->lsq_scale ? 1.0f / sqrtf((float)len * (float)q->qp) : 1.0f;
    ds[k] = ds[k] + gsc * (float)acc_s;
    db[k] = db[k] + gsc * (float)acc_b;
}

// quant_backward_saved's terms of element e of group k: adds G·dsf to *acc_s and, outside
// the grid, G to *acc_b; inside, dW[e] += G when dW is given.
CU_HD void qsaved_bwd_term(const float *G, const float *dsf, const uint8_t *mask, float *dW, size_t e, double *acc_s,
                           double *acc_b) {
    *acc_s += (double)G[e] * dsf[e];
    if (!mask[e]) *acc_b += G[e];
    else if (dW) dW[e] = dW[e] + G[e];
}
