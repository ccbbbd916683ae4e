// ops.c — forward/backward pairs of the LLaMA blocks. Dense products live in the linear
// layers (sgemm); these are the element-wise and attention loops, parallel with OpenMP.
#include "ops.h"
#include "elem.h" // el_exp (shared with the CUDA plugin)
#include "util.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

// Element-wise loops go parallel only above this many elements: waking the thread team
// costs microseconds (far more on a busy machine), which dominates one decoding step.
#define PAR_MIN 32768L

void embedding_forward(float *out, const int *tok, const float *emb, int R, int dim) {
    #pragma omp parallel for if ((long)R * dim > PAR_MIN)
    for (int r = 0; r < R; r++) memcpy(out + (size_t)r * dim, emb + (size_t)tok[r] * dim, dim * sizeof(float));
}
void embedding_backward(float *demb, const float *dout, const int *tok, int R, int dim) {
    // Serial: rows sharing a token would race.
    for (int r = 0; r < R; r++) {
        float *d = demb + (size_t)tok[r] * dim;
        const float *g = dout + (size_t)r * dim;
        for (int i = 0; i < dim; i++) d[i] += g[i];
    }
}

void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int R, int dim, float eps) {
    #pragma omp parallel for if ((long)R * dim > PAR_MIN)
    for (int r = 0; r < R; r++) {
        const float *xr = x + (size_t)r * dim;
        float *o = out + (size_t)r * dim;
        float ss = 0;
        for (int i = 0; i < dim; i++) ss += xr[i] * xr[i];
        float s = 1.0f / sqrtf(ss / dim + eps);
        rstd[r] = s;
        for (int i = 0; i < dim; i++) o[i] = xr[i] * s * w[i];
    }
}
void rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                      const float *rstd, int R, int dim) {
    #pragma omp parallel for if ((long)R * dim > PAR_MIN)
    for (int r = 0; r < R; r++) {
        const float *xr = x + (size_t)r * dim, *g = dout + (size_t)r * dim;
        float *d = dx + (size_t)r * dim, s = rstd[r], dot = 0;
        for (int i = 0; i < dim; i++) dot += g[i] * w[i] * xr[i];
        float c = dot * s * s * s / dim;
        for (int i = 0; i < dim; i++) d[i] += g[i] * w[i] * s - c * xr[i];
    }
    if (dw)
        for (int r = 0; r < R; r++) {
            const float *xr = x + (size_t)r * dim, *g = dout + (size_t)r * dim;
            for (int i = 0; i < dim; i++) dw[i] += g[i] * xr[i] * rstd[r];
        }
}

// Llama-3.1's frequency scaling (HF _compute_llama3_parameters): wavelengths above
// orig/lo are slowed by `factor`, below orig/hi kept, and blended smoothly between.
static float llama3_freq(float f, float factor, float lo, float hi, float orig) {
    double wavelen = 2 * M_PI / f;
    if (wavelen < orig / hi) return f;
    if (wavelen > orig / lo) return f / factor;
    double sm = (orig / wavelen - lo) / (hi - lo);
    return (float)((1 - sm) * f / factor + sm * f);
}

void rope_tables(float *cos_t, float *sin_t, int T, int hs, float theta, const float llama3[4]) {
    // Same float arithmetic as llama2.c so greedy decoding reproduces its text.
    for (int p = 0; p < T; p++)
        for (int j = 0; j < hs; j += 2) {
            float freq = 1.0f / powf(theta, j / (float)hs);
            if (llama3) freq = llama3_freq(freq, llama3[0], llama3[1], llama3[2], llama3[3]);
            float val = p * freq;
            cos_t[p * (hs / 2) + j / 2] = cosf(val);
            sin_t[p * (hs / 2) + j / 2] = sinf(val);
        }
}
static void rope_apply(float *x, int r0, int r1, int T, int cols, int hs, const float *ct, const float *st, float sign) {
    #pragma omp parallel for if ((long)(r1 - r0) * cols > PAR_MIN)
    for (int r = r0; r < r1; r++) {
        int pos = r % T;
        float *xr = x + (size_t)r * cols;
        const float *c = ct + pos * (hs / 2), *s = st + pos * (hs / 2);
        for (int h0 = 0; h0 < cols; h0 += hs) { // head by head: the pair index needs no division
            float *xh = xr + h0;
            #pragma omp simd
            for (int j = 0; j < hs / 2; j++) {
                float a = xh[2 * j], b = xh[2 * j + 1], sn = sign * s[j];
                xh[2 * j] = a * c[j] - b * sn;
                xh[2 * j + 1] = a * sn + b * c[j];
            }
        }
    }
}
void rope_forward(float *x, int r0, int r1, int T, int cols, int hs, const float *ct, const float *st) {
    rope_apply(x, r0, r1, T, cols, hs, ct, st, 1.0f);
}
// The rotation is orthogonal: its backward is the rotation by −angle.
void rope_backward(float *dx, int r0, int r1, int T, int cols, int hs, const float *ct, const float *st) {
    rope_apply(dx, r0, r1, T, cols, hs, ct, st, -1.0f);
}

// ---- attention ----------------------------------------------------------------------
// Head sizes are small (8 for stories260K), so vectorizing across the head dimension
// would waste most of a 16-lane register. The forward pass puts 16 query rows across the
// lanes (see att_block); the backward pass and decoding loop over key positions s, the
// backward transposing K and V per (sequence, kv head) into [hs][T] buffers so those
// loops read unit-stride rows and vectorize across s.

#ifdef __FMA__
#define FMA(a, b, c) fmaf(a, b, c)
#else
#define FMA(a, b, c) ((a) * (b) + (c))
#endif

// Attention of a trained model is peaked: many probabilities are tiny, and their products
// with values and gradients land in the subnormal range, where every x86 multiply-add
// takes a microcode assist (~100 cycles): this tripled the backward time of stories260K.
// Subnormals (< 1.2e-38) carry nothing these sums can resolve, so the attention loops run
// with flush-to-zero and denormals-are-zero, set per thread (MXCSR is per-thread state)
// and restored on the way out. Deterministic: the same inputs flush the same way.
static unsigned ftz_begin(void) {
#if defined(__SSE__)
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040); // FTZ (bit 15) | DAZ (bit 6)
    return old;
#else
    return 0;
#endif
}
static void ftz_end(unsigned old) {
#if defined(__SSE__)
    _mm_setcsr(old);
#else
    (void)old;
#endif
}

// Below this many multiply-adds a parallel region costs more than it saves (one decoding
// step of a small model is a few thousand).
#define ATT_PAR_WORK 200000L

#if defined(__AVX512F__)
#include <immintrin.h>
// r[c] = column c of the 16×16 block whose rows are r[0..15]: pairs of rows interleaved,
// then quads, then the 128-bit lanes gathered (three shuffle stages, 64 shuffles).
static inline void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) { t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]); t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]); }
    for (int g = 0; g < 16; g += 4) { // u[g + c]: rows g..g+3 at columns c, c+4, c+8, c+12 (one per lane)
        __m512d a = _mm512_castps_pd(t[g]), b = _mm512_castps_pd(t[g + 1]);
        __m512d c = _mm512_castps_pd(t[g + 2]), d = _mm512_castps_pd(t[g + 3]);
        u[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c)); u[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d)); u[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int c = 0; c < 4; c++) {
        __m512 v = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), w = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
        __m512 x = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88), y = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
        r[c] = _mm512_shuffle_f32x4(v, x, 0x88); r[c + 8] = _mm512_shuffle_f32x4(v, x, 0xdd);
        r[c + 4] = _mm512_shuffle_f32x4(w, y, 0x88); r[c + 12] = _mm512_shuffle_f32x4(w, y, 0xdd);
    }
}
#define T16 16 // the transposes below move 16×16 blocks through registers
#else
#define T16 (1 << 30) // no blocks: every element takes the scalar loops
#endif

// The backward pass's layout changes, per (sequence, kv head), between T×hs rows of stride
// `stride` and [hs][ld] rows (64-byte aligned, ld % 16 == 0): back = 0 moves a slice of K or
// V in, cols[i][s] = rows[s·stride + i]; back = 1 writes the accumulated gradients back,
// rows[s·stride + i] = cols[i][s] + 0 (+ 0: as the sum into zeroed memory it replaced, −0 →
// +0). Element by element these were a scattered store or load per float, a quarter of the
// pass's time at hs = 48; 16×16 blocks move sixteen rows at once.
static void transpose_rows(float *rows, float *cols, int T, int hs, int stride, int ld, int back) {
    int Tb = T / T16 * T16, Hb = hs / T16 * T16;
#if defined(__AVX512F__)
    for (int s0 = 0; s0 < Tb; s0 += 16)
        for (int i0 = 0; i0 < Hb; i0 += 16) {
            __m512 r[16];
            float *rw = rows + (size_t)s0 * stride + i0, *cl = cols + (size_t)i0 * ld + s0;
            for (int q = 0; q < 16; q++) r[q] = back ? _mm512_load_ps(cl + (size_t)q * ld) : _mm512_loadu_ps(rw + (size_t)q * stride);
            transpose16(r);
            for (int c = 0; c < 16; c++)
                if (back) _mm512_storeu_ps(rw + (size_t)c * stride, _mm512_add_ps(r[c], _mm512_setzero_ps()));
                else _mm512_store_ps(cl + (size_t)c * ld, r[c]);
        }
#endif
    for (int s = 0; s < T; s++) // what the blocks left: columns past Hb of every row, all of rows past Tb
        for (int i = s < Tb ? Hb : 0; i < hs; i++) {
            float *rw = rows + (size_t)s * stride + i, *cl = cols + (size_t)i * ld + s;
            if (back) *rw = *cl + 0.0f;
            else *cl = *rw;
        }
}

// out[s] = Σ_i a[i]·Xt[i][s] for s < n (Xt rows of stride ld). Eight rows per pass keep
// the partial sum in a register (a loop over i inside the s loop would not vectorize for
// a run-time hs); leftover rows go two, then one, per pass.
static void scores(float *restrict out, const float *a, const float *restrict Xt, int n, int hs, int ld) {
    int i = 0;
    for (; i + 7 < hs; i += 8) {
        const float *x0 = Xt + (size_t)i * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
        const float *x4 = x3 + ld, *x5 = x4 + ld, *x6 = x5 + ld, *x7 = x6 + ld;
        float a0 = a[i], a1 = a[i + 1], a2 = a[i + 2], a3 = a[i + 3];
        float a4 = a[i + 4], a5 = a[i + 5], a6 = a[i + 6], a7 = a[i + 7];
        if (i == 0) { // the first block writes out without reading it
            #pragma omp simd
            for (int s = 0; s < n; s++) out[s] = 0;
        }
        #pragma omp simd
        for (int s = 0; s < n; s++) {
            float d = FMA(a0, x0[s], out[s]), e = a1 * x1[s];
            d = FMA(a2, x2[s], d); e = FMA(a3, x3[s], e);
            d = FMA(a4, x4[s], d); e = FMA(a5, x5[s], e);
            d = FMA(a6, x6[s], d); e = FMA(a7, x7[s], e);
            out[s] = d + e;
        }
    }
    if (i == 0) {
        #pragma omp simd
        for (int s = 0; s < n; s++) out[s] = 0;
    }
    for (; i + 1 < hs; i += 2) {
        const float *xa = Xt + (size_t)i * ld, *xb = xa + ld;
        float aa = a[i], ab = a[i + 1];
        #pragma omp simd
        for (int s = 0; s < n; s++) out[s] = FMA(ab, xb[s], FMA(aa, xa[s], out[s]));
    }
    if (i < hs) {
        const float *xa = Xt + (size_t)i * ld;
        float aa = a[i];
        #pragma omp simd
        for (int s = 0; s < n; s++) out[s] = FMA(aa, xa[s], out[s]);
    }
}

// Fused form for head sizes that are multiples of 8 (all the models here): the last
// score block also masks s ≥ n to −∞ and returns the row maximum.
static float scores8_max(float *restrict out, const float *a, const float *restrict Xt, int n, int n16, int hs, int ld) {
    if (hs > 8) scores(out, a, Xt, n16, hs - 8, ld); // all but the last block
    int i = hs - 8, add = hs > 8; // a single block has nothing in out to add to (out is only written)
    const float *x0 = Xt + (size_t)i * ld, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
    const float *x4 = x3 + ld, *x5 = x4 + ld, *x6 = x5 + ld, *x7 = x6 + ld;
    float a0 = a[i], a1 = a[i + 1], a2 = a[i + 2], a3 = a[i + 3];
    float a4 = a[i + 4], a5 = a[i + 5], a6 = a[i + 6], a7 = a[i + 7], mx = -INFINITY;
    #pragma omp simd reduction(max : mx)
    for (int s = 0; s < n16; s++) {
        float d = add ? FMA(a0, x0[s], out[s]) : a0 * x0[s], e = a1 * x1[s];
        d = FMA(a2, x2[s], d); e = FMA(a3, x3[s], e);
        d = FMA(a4, x4[s], d); e = FMA(a5, x5[s], e);
        d = FMA(a6, x6[s], d); e = FMA(a7, x7[s], e);
        float v = s < n ? d + e : -INFINITY;
        out[s] = v;
        mx = v > mx ? v : mx;
    }
    return mx;
}
// Decoding a few new positions against a cache: transposing all of K and V would cost
// as much as the products themselves, so read the cache rows in place, serially.
static void attention_decode(float *out, float *lse, const float *q, const float *k, const float *v,
                             int B, int T, int t0, int H, int KVH, int hs, int ldT) {
    int dim = H * hs, kvdim = KVH * hs, grp = H / KVH;
    float sc = 1.0f / sqrtf((float)hs);
    float *p = xmalloc((size_t)T * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *kb = k + (size_t)b * T * kvdim + (h / grp) * hs;
            const float *vb = v + (size_t)b * T * kvdim + (h / grp) * hs;
            for (int t = t0; t < T; t++) {
                const float *qt = q + ((size_t)b * T + t) * dim + h * hs;
                float mx = -INFINITY, sum = 0;
                for (int s = 0; s <= t; s++) {
                    const float *ks = kb + (size_t)s * kvdim;
                    float d = 0;
                    for (int i = 0; i < hs; i++) d = FMA(qt[i], ks[i], d);
                    p[s] = d * sc;
                    mx = p[s] > mx ? p[s] : mx;
                }
                #pragma omp simd reduction(+ : sum)
                for (int s = 0; s <= t; s++) { p[s] = el_exp(p[s] - mx); sum += p[s]; }
                float inv = 1.0f / sum, *o = out + ((size_t)b * T + t) * dim + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0;
                for (int s = 0; s <= t; s++) {
                    const float *vs = vb + (size_t)s * kvdim;
                    float w = p[s] * inv;
                    for (int i = 0; i < hs; i++) o[i] = FMA(w, vs[i], o[i]);
                }
                if (lse) lse[((size_t)b * H + h) * ldT + t] = mx + logf(sum);
            }
        }
    free(p);
}

// The forward pass works on blocks of QB consecutive query rows of one head with the
// queries across the vector lanes: each key's K and V elements are broadcast to all
// lanes, so scores, running maxima, sums and outputs are all lane-wise and no loop ends
// in a horizontal reduction (with keys across the lanes, every short query row paid
// ten of them, which cost more than its products). K and V are read in place.
#define QB 16

// One block: queries tb .. tb+nq−1 (nq ≤ QB) of one head against keys 0 .. nk−1.
// Qt[i][j] = sc·q_{tb+j}[i] (zero for j ≥ nq); S is nk×QB scratch. Writes the output rows
// and, when lse != NULL, each row's log-normalizer.
static inline void att_block(float *out, float *lse, float *restrict S, const float *restrict Qt, const float *k,
                             const float *v, int tb, int nq, int nk, int hs, int dim, int kvdim) {
    float mx[QB], sum[QB];
    for (int j = 0; j < QB; j++) { mx[j] = -INFINITY; sum[j] = 0; }
    for (int s = 0; s < nk; s++) {
        const float *ks = k + (size_t)s * kvdim;
        float acc[QB] = {0};
        for (int i = 0; i < hs; i++) {
            float kv = ks[i];
            #pragma omp simd
            for (int j = 0; j < QB; j++) acc[j] = FMA(Qt[i * QB + j], kv, acc[j]);
        }
        float *Ss = S + (size_t)s * QB;
        #pragma omp simd
        for (int j = 0; j < QB; j++) {
            float a = s > tb + j ? -INFINITY : acc[j]; // causal mask on the diagonal block
            Ss[j] = a;
            mx[j] = a > mx[j] ? a : mx[j];
        }
    }
    for (int s = 0; s < nk; s++) {
        float *Ss = S + (size_t)s * QB;
        #pragma omp simd
        for (int j = 0; j < QB; j++) { float e = el_exp(Ss[j] - mx[j]); Ss[j] = e; sum[j] += e; }
    }
    float inv[QB];
    for (int j = 0; j < QB; j++) inv[j] = 1.0f / sum[j];
    // Weighted sums, eight value dimensions at a time so the accumulators stay in registers.
    for (int c = 0; c < hs; c += 8) {
        int w = hs - c < 8 ? hs - c : 8;
        float o[8][QB] = {{0}};
        for (int s = 0; s < nk; s++) {
            const float *vs = v + (size_t)s * kvdim + c, *Ss = S + (size_t)s * QB;
            for (int i = 0; i < w; i++) {
                float vv = vs[i];
                #pragma omp simd
                for (int j = 0; j < QB; j++) o[i][j] = FMA(Ss[j], vv, o[i][j]);
            }
        }
        for (int j = 0; j < nq; j++)
            for (int i = 0; i < w; i++) out[(size_t)(tb + j) * dim + c + i] = o[i][j] * inv[j];
    }
    if (lse)
        for (int j = 0; j < nq; j++) lse[tb + j] = mx[j] + logf(sum[j]);
}

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>
// el_exp on 16 lanes in as few instructions as possible (attention forward evaluates one
// per query-key pair, as many as its multiply-adds): rounding k·log2e to nearest-even and
// multiplying by the power of two 2^k are exact steps, so roundscale and scalef give
// exactly el_exp's results for −87 ≤ x ≤ 0. Callers pass x ≤ 0 (a score minus its row
// maximum) and run with flush-to-zero: below −87 the clamp at −104 makes 2^k·p flush to 0
// (−∞ for masked keys included), where el_exp returns 0 by a test.
static inline __m512 exp_v16(__m512 x0) {
    __m512 x = _mm512_max_ps(x0, _mm512_set1_ps(-104.0f));
    __m512 kf = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(kf, _mm512_set1_ps(-0.693359375f), x);
    r = _mm512_fmadd_ps(kf, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, kf);
}

// att_block for head sizes that are multiples of 8, with the lanes in registers: QB
// queries as QB/16 vectors (one at QB = 16; two measured no faster for hs 8), each
// broadcast key or value element feeding all of them. The scores take eight value
// dimensions per pass with those query vectors held in registers, summed in the order the
// backward pass's scores8_max uses, so both passes see bit-identical scores.
#define NV (QB / 16)
static void att_block16(float *out, float *lse, float *restrict S, const float *restrict Qt, const float *k,
                        const float *v, int tb, int nq, int nk, int hs, int dim, int kvdim) {
    __m512 mx[NV], sum[NV];
    __m512i lane[NV];
    for (int u = 0; u < NV; u++) {
        mx[u] = _mm512_set1_ps(-INFINITY); sum[u] = _mm512_setzero_ps();
        lane[u] = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                   _mm512_set1_epi32(16 * u));
    }
    for (int c = 0; c < hs; c += 8) {
        __m512 q[8][NV];
        for (int i = 0; i < 8; i++)
            for (int u = 0; u < NV; u++) q[i][u] = _mm512_load_ps(Qt + (c + i) * QB + 16 * u);
        int last = c + 8 >= hs;
        for (int s = 0; s < nk; s++) {
            const float *ks = k + (size_t)s * kvdim + c;
            float *Ss = S + (size_t)s * QB;
            __m512 kk[8];
            for (int i = 0; i < 8; i++) kk[i] = _mm512_set1_ps(ks[i]);
            for (int u = 0; u < NV; u++) {
                __m512 d = c ? _mm512_fmadd_ps(q[0][u], kk[0], _mm512_load_ps(Ss + 16 * u)) : _mm512_mul_ps(q[0][u], kk[0]);
                __m512 e = _mm512_mul_ps(q[1][u], kk[1]);
                d = _mm512_fmadd_ps(q[2][u], kk[2], d); e = _mm512_fmadd_ps(q[3][u], kk[3], e);
                d = _mm512_fmadd_ps(q[4][u], kk[4], d); e = _mm512_fmadd_ps(q[5][u], kk[5], e);
                d = _mm512_fmadd_ps(q[6][u], kk[6], d); e = _mm512_fmadd_ps(q[7][u], kk[7], e);
                d = _mm512_add_ps(d, e);
                if (last) {
                    if (s > tb) // causal mask on the diagonal block: query tb+j sees keys ≤ tb+j
                        d = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY),
                                               _mm512_cmpge_epi32_mask(lane[u], _mm512_set1_epi32(s - tb)), d);
                    mx[u] = _mm512_max_ps(mx[u], d);
                }
                _mm512_store_ps(Ss + 16 * u, d);
            }
        }
    }
    // Exponentials in their own pass: its iterations are independent, so out-of-order
    // execution overlaps the long exp dependency chains of several keys.
    for (int s = 0; s < nk; s++) {
        float *Ss = S + (size_t)s * QB;
        for (int u = 0; u < NV; u++) {
            __m512 p = exp_v16(_mm512_sub_ps(_mm512_load_ps(Ss + 16 * u), mx[u]));
            _mm512_store_ps(Ss + 16 * u, p);
            sum[u] = _mm512_add_ps(sum[u], p);
        }
    }
    float ob[8 * QB] __attribute__((aligned(64)));
    for (int c = 0; c < hs; c += 8) {
        __m512 o[8][NV];
        for (int i = 0; i < 8; i++)
            for (int u = 0; u < NV; u++) o[i][u] = _mm512_setzero_ps();
        for (int s = 0; s < nk; s++) {
            const float *vs = v + (size_t)s * kvdim + c;
            float *Ss = S + (size_t)s * QB;
            __m512 p[NV];
            for (int u = 0; u < NV; u++) p[u] = _mm512_load_ps(Ss + 16 * u);
            for (int i = 0; i < 8; i++) {
                __m512 vv = _mm512_set1_ps(vs[i]);
                for (int u = 0; u < NV; u++) o[i][u] = _mm512_fmadd_ps(p[u], vv, o[i][u]);
            }
        }
        for (int u = 0; u < NV; u++) {
            __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), sum[u]);
            for (int i = 0; i < 8; i++) _mm512_store_ps(ob + i * QB + 16 * u, _mm512_mul_ps(o[i][u], inv));
        }
        for (int j = 0; j < nq; j++)
            for (int i = 0; i < 8; i++) out[(size_t)(tb + j) * dim + c + i] = ob[i * QB + j];
    }
    if (lse) {
        float m[QB], sm[QB];
        for (int u = 0; u < NV; u++) { _mm512_storeu_ps(m + 16 * u, mx[u]); _mm512_storeu_ps(sm + 16 * u, sum[u]); }
        for (int j = 0; j < nq; j++) lse[tb + j] = m[j] + logf(sm[j]);
    }
}
#define HAVE_ATT_BLOCK16 1
#endif

void attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                       int B, int T, int t0, int H, int KVH, int hs, int ldT) {
    int dim = H * hs, kvdim = KVH * hs, grp = H / KVH;
    float sc = 1.0f / sqrtf((float)hs);
    if ((long)(T - t0) * grp <= 8) {
        unsigned csr = ftz_begin();
        attention_decode(out, lse, q, k, v, B, T, t0, H, KVH, hs, ldT);
        ftz_end(csr);
        return;
    }
    long work = (long)B * H * (T - t0) * T * hs;
    int nb = (T - t0 + QB - 1) / QB;
    #pragma omp parallel if (work > ATT_PAR_WORK)
    {
        unsigned csr = ftz_begin();
        float *Qt = xmalloc_aligned((size_t)hs * QB * sizeof(float));
        float *S = xmalloc_aligned((size_t)T * QB * sizeof(float));
        // Blocks are independent (each writes its own output rows), so any schedule gives
        // the same result; later blocks see more keys, hence dynamic.
        #pragma omp for collapse(3) schedule(dynamic, 1)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int qb = nb - 1; qb >= 0; qb--) { // longest blocks first
                    int tb = t0 + qb * QB, nq = T - tb < QB ? T - tb : QB;
                    const float *qh = q + (size_t)b * T * dim + h * hs;
                    for (int i = 0; i < hs; i++)
                        for (int j = 0; j < QB; j++) Qt[i * QB + j] = j < nq ? qh[(size_t)(tb + j) * dim + i] * sc : 0.0f;
                    size_t kvo = (size_t)b * T * kvdim + (h / grp) * hs;
                    float *ob = out + (size_t)b * T * dim + h * hs, *lb = lse ? lse + ((size_t)b * H + h) * ldT : NULL;
#ifdef HAVE_ATT_BLOCK16
                    if (hs % 8 == 0) {
                        att_block16(ob, lb, S, Qt, k + kvo, v + kvo, tb, nq, tb + nq, hs, dim, kvdim);
                        continue;
                    }
#endif
                    att_block(ob, lb, S, Qt, k + kvo, v + kvo, tb, nq, tb + nq, hs, dim, kvdim);
                }
        free(Qt); free(S);
        ftz_end(csr);
    }
}

#ifndef HAVE_ATT_BLOCK16
// Backward of one query row against four key/value dimensions i..i+3 (rows of the
// transposed buffers): dV[i][s] += p[s]·g[i], dK[i][s] += ds[s]·qs[i], and
// dqa[i] = Σ_s ds[s]·K[i][s]. Four rows per pass share the loads of p and ds.
static void bwd_rows4(float *restrict dV, float *restrict dK, float *dqa, const float *restrict K,
                      const float *restrict p, const float *restrict ds, const float *g, const float *qs,
                      int n16, int ld) {
    float *v0 = dV, *v1 = v0 + ld, *v2 = v1 + ld, *v3 = v2 + ld;
    float *k0 = dK, *k1 = k0 + ld, *k2 = k1 + ld, *k3 = k2 + ld;
    const float *x0 = K, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
    float g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], q0 = qs[0], q1 = qs[1], q2 = qs[2], q3 = qs[3];
    float d0 = 0, d1 = 0, d2 = 0, d3 = 0;
    #pragma omp simd reduction(+ : d0, d1, d2, d3)
    for (int s = 0; s < n16; s++) {
        float ps = p[s], dss = ds[s];
        v0[s] = FMA(ps, g0, v0[s]); v1[s] = FMA(ps, g1, v1[s]);
        v2[s] = FMA(ps, g2, v2[s]); v3[s] = FMA(ps, g3, v3[s]);
        k0[s] = FMA(dss, q0, k0[s]); k1[s] = FMA(dss, q1, k1[s]);
        k2[s] = FMA(dss, q2, k2[s]); k3[s] = FMA(dss, q3, k3[s]);
        d0 = FMA(dss, x0[s], d0); d1 = FMA(dss, x1[s], d1);
        d2 = FMA(dss, x2[s], d2); d3 = FMA(dss, x3[s], d3);
    }
    dqa[0] = d0; dqa[1] = d1; dqa[2] = d2; dqa[3] = d3;
}

// The same for two query rows at once (p2, ds2 and g2, qs2 of the second row): each dV
// and dK element is then loaded and stored once per two rows, which halves the stores
// that bound the single-row loop.
static void bwd_rows4x2(float *restrict dV, float *restrict dK, float *dqa, float *dqa2, const float *restrict K,
                        const float *restrict p, const float *restrict ds, const float *restrict p2,
                        const float *restrict ds2, const float *g, const float *qs, const float *g2,
                        const float *qs2, int n16, int ld) {
    float *v0 = dV, *v1 = v0 + ld, *v2 = v1 + ld, *v3 = v2 + ld;
    float *k0 = dK, *k1 = k0 + ld, *k2 = k1 + ld, *k3 = k2 + ld;
    const float *x0 = K, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld;
    float g0 = g[0], g1 = g[1], g2_ = g[2], g3 = g[3], q0 = qs[0], q1 = qs[1], q2 = qs[2], q3 = qs[3];
    float h0 = g2[0], h1 = g2[1], h2 = g2[2], h3 = g2[3], r0 = qs2[0], r1 = qs2[1], r2 = qs2[2], r3 = qs2[3];
    float d0 = 0, d1 = 0, d2 = 0, d3 = 0, e0 = 0, e1 = 0, e2 = 0, e3 = 0;
    #pragma omp simd reduction(+ : d0, d1, d2, d3, e0, e1, e2, e3)
    for (int s = 0; s < n16; s++) {
        float ps = p[s], dss = ds[s], pt = p2[s], dst = ds2[s];
        v0[s] = FMA(pt, h0, FMA(ps, g0, v0[s])); v1[s] = FMA(pt, h1, FMA(ps, g1, v1[s]));
        v2[s] = FMA(pt, h2, FMA(ps, g2_, v2[s])); v3[s] = FMA(pt, h3, FMA(ps, g3, v3[s]));
        k0[s] = FMA(dst, r0, FMA(dss, q0, k0[s])); k1[s] = FMA(dst, r1, FMA(dss, q1, k1[s]));
        k2[s] = FMA(dst, r2, FMA(dss, q2, k2[s])); k3[s] = FMA(dst, r3, FMA(dss, q3, k3[s]));
        float y0 = x0[s], y1 = x1[s], y2 = x2[s], y3 = x3[s];
        d0 = FMA(dss, y0, d0); d1 = FMA(dss, y1, d1); d2 = FMA(dss, y2, d2); d3 = FMA(dss, y3, d3);
        e0 = FMA(dst, y0, e0); e1 = FMA(dst, y1, e1); e2 = FMA(dst, y2, e2); e3 = FMA(dst, y3, e3);
    }
    dqa[0] = d0; dqa[1] = d1; dqa[2] = d2; dqa[3] = d3;
    dqa2[0] = e0; dqa2[1] = e1; dqa2[2] = e2; dqa2[3] = e3;
}

#define BR 2 // query rows per backward pass
#else
// Lane 4k+m of the result is the sum of a[4m+k]'s lanes: a halving tree over all sixteen
// vectors at once, 15 shuffle-add steps instead of 16 separate horizontal reductions.
static inline __m512 hsum16(const __m512 a[16]) {
    __m512 b[8], c[4], d[2];
    for (int m = 0; m < 8; m++) // chunks 0-1: a[2m]'s partial sums, 2-3: a[2m+1]'s
        b[m] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0x44),
                             _mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0xee));
    for (int m = 0; m < 4; m++) // chunk k: a[4m+k]'s
        c[m] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * m], b[2 * m + 1], 0x88),
                             _mm512_shuffle_f32x4(b[2 * m], b[2 * m + 1], 0xdd));
    for (int m = 0; m < 2; m++) // chunk k, lanes 0/2: a[8m+k]'s, lanes 1/3: a[8m+4+k]'s
        d[m] = _mm512_add_ps(_mm512_unpacklo_ps(c[2 * m], c[2 * m + 1]), _mm512_unpackhi_ps(c[2 * m], c[2 * m + 1]));
    return _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], 0x44), _mm512_shuffle_ps(d[0], d[1], 0xee));
}

// Backward of BR = 4 query rows against four key/value dimensions i..i+3 (rows of the
// transposed buffers): dV[i][s] += Σ_j p_j[s]·g_j[i], dK[i][s] += Σ_j ds_j[s]·qs_j[i]
// (rows in order, as one row at a time would add them) and dq_j[i] = Σ_s ds_j[s]·K[i][s].
// Row j's p and ds are pb rows 2j and 2j+1; qs and dqa rows have stride hs. Each dV and dK
// element is loaded and stored once per four rows (these memory operations bounded the
// two-row loop), and the sixteen dq sums share one reduction tree.
static void bwd_rows4x4(float *restrict dV, float *restrict dK, float *dqa, const float *restrict K,
                        const float *restrict pb, const float *const *go, const float *qs, int i, int hs,
                        int n16, int ld) {
    __m512 acc[16];
    for (int u = 0; u < 16; u++) acc[u] = _mm512_setzero_ps();
    for (int s = 0; s < n16; s += 16) {
        __m512 p[4], ds[4];
        for (int j = 0; j < 4; j++) {
            p[j] = _mm512_load_ps(pb + (size_t)2 * j * ld + s);
            ds[j] = _mm512_load_ps(pb + (size_t)(2 * j + 1) * ld + s);
        }
        for (int c = 0; c < 4; c++) {
            float *vr = dV + (size_t)c * ld + s, *kr = dK + (size_t)c * ld + s;
            __m512 vv = _mm512_load_ps(vr), kk = _mm512_load_ps(kr), x = _mm512_load_ps(K + (size_t)c * ld + s);
            for (int j = 0; j < 4; j++) {
                vv = _mm512_fmadd_ps(p[j], _mm512_set1_ps(go[j][i + c]), vv);
                kk = _mm512_fmadd_ps(ds[j], _mm512_set1_ps(qs[j * hs + i + c]), kk);
                acc[4 * c + j] = _mm512_fmadd_ps(ds[j], x, acc[4 * c + j]); // sum in lane 4j+c
            }
            _mm512_store_ps(vr, vv);
            _mm512_store_ps(kr, kk);
        }
    }
    float r[16];
    _mm512_storeu_ps(r, hsum16(acc));
    for (int j = 0; j < 4; j++) memcpy(dqa + j * hs + i, r + 4 * j, 4 * sizeof(float));
}
#define BR 4

// The scores and score gradients of the BR = 4 query rows before the exponentials: row j's
// S[s] = qs_j·k_s (−∞ for s ≥ n_j) into pb row 2j and dP[s] = g_j·v_s into pb row 2j+1,
// 16 keys per pass. Each Kt and Vt element loaded feeds four rows' multiply-adds; row by row
// (scores8_max, scores) every row read all of Kt and Vt from L2, which bounded the backward
// pass. Each element is summed as those do (blocks of eight dimensions, two chains per block,
// carried from block to block), so the bits are theirs. hs a multiple of 8.
static void bwd_scores4(float *restrict pb, const float *qs, const float *const *go, const int *n, const float *restrict Kt,
                        const float *restrict Vt, int n16, int hs, int ld) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int s = 0; s < n16; s += 16) {
        __m512 so[4], po[4]; // the sums so far: zeros before the first block, as scores starts
        for (int j = 0; j < 4; j++) so[j] = po[j] = _mm512_setzero_ps();
        for (int i = 0; i < hs; i += 8) {
            const float *kr = Kt + (size_t)i * ld + s, *vr = Vt + (size_t)i * ld + s;
            __m512 sd[4], se[4], pd[4], pe[4];
            for (int u = 0; u < 8; u++) {
                __m512 k = _mm512_load_ps(kr + (size_t)u * ld), v = _mm512_load_ps(vr + (size_t)u * ld);
                for (int j = 0; j < 4; j++) {
                    __m512 a = _mm512_set1_ps(qs[j * hs + i + u]), g = _mm512_set1_ps(go[j][i + u]);
                    if (u == 0) { // scores8_max's only block at hs = 8 is a product, not a multiply-add onto zero
                        sd[j] = hs == 8 ? _mm512_mul_ps(a, k) : _mm512_fmadd_ps(a, k, so[j]);
                        pd[j] = _mm512_fmadd_ps(g, v, po[j]);
                    } else if (u == 1) {
                        se[j] = _mm512_mul_ps(a, k);
                        pe[j] = _mm512_mul_ps(g, v);
                    } else if (u & 1) {
                        se[j] = _mm512_fmadd_ps(a, k, se[j]);
                        pe[j] = _mm512_fmadd_ps(g, v, pe[j]);
                    } else {
                        sd[j] = _mm512_fmadd_ps(a, k, sd[j]);
                        pd[j] = _mm512_fmadd_ps(g, v, pd[j]);
                    }
                }
            }
            for (int j = 0; j < 4; j++) { so[j] = _mm512_add_ps(sd[j], se[j]); po[j] = _mm512_add_ps(pd[j], pe[j]); }
        }
        __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(s), lane);
        for (int j = 0; j < 4; j++) {
            __mmask16 live = _mm512_cmplt_epi32_mask(idx, _mm512_set1_epi32(n[j]));
            _mm512_store_ps(pb + (size_t)2 * j * ld + s, _mm512_mask_blend_ps(live, _mm512_set1_ps(-INFINITY), so[j]));
            _mm512_store_ps(pb + (size_t)(2 * j + 1) * ld + s, po[j]);
        }
    }
}
#endif

// p[s] = exp(S[s] − l), ds[s] = p[s]·(dP[s] − D) in place of the scores S and dP.
static void bwd_row_exp(float *restrict p, float *restrict ds, float D, float l, int n16) {
    #pragma omp simd
    for (int s = 0; s < n16; s++) {
        float e = el_exp(p[s] - l);
        p[s] = e;
        ds[s] = e * (ds[s] - D);
    }
}

// One query row's recomputed probabilities p and score gradients ds over n16 keys
// (zero past the causal limit n). qs = q·sc; D = g·o.
static void bwd_row_probs(float *restrict p, float *restrict ds, const float *qs, const float *g, float D, float l,
                          const float *Kt, const float *Vt, int n, int n16, int hs, int ld) {
    // Scores exactly as the forward pass computed them (s ≥ n: −∞).
    if (hs % 8 == 0) scores8_max(p, qs, Kt, n, n16, hs, ld);
    else {
        scores(p, qs, Kt, n16, hs, ld);
        for (int s = n; s < n16; s++) p[s] = -INFINITY;
    }
    scores(ds, g, Vt, n16, hs, ld); // dP[s] = g·v_s
    bwd_row_exp(p, ds, D, l, n16);
}

// Flash-attention-style backward: the probabilities are not stored but recomputed per
// query row from q, K and the row's log-normalizer lse saved by the forward pass
// (P = exp(q·K·sc − lse)), which costs one extra score pass and an exp per key but
// replaces a B·H·T² activation per layer by B·H·T floats. With dP[s] = g·v_s and
// D = Σ_s P[s]·dP[s] = g·o (o the forward output row), dS = P ∘ (dP − D).
void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out, const float *lse,
                        const float *q, const float *k, const float *v, int B, int T, int H, int KVH, int hs, int ldT) {
    int dim = H * hs, kvdim = KVH * hs, grp = H / KVH;
    float sc = 1.0f / sqrtf((float)hs);
    long work = (long)B * H * T * T * hs;
    // Row stride of the transposed buffers: a multiple of 16, plus 16 so that it is never a
    // multiple of 1 KiB, whose rows would all map to the same few L1 sets (at T = 256 the
    // transposes and the 8-row score passes thrashed them).
    int ldt = ((T + 15) & ~15) + 16;
    // One task per (sequence, kv head): the query heads sharing a kv head write the same
    // dk/dv rows, so they run in one thread, accumulating into transposed local copies.
    // As in the forward pass, key loops run to a multiple of 16 over zero padding.
    #pragma omp parallel if (work > ATT_PAR_WORK)
    {
        unsigned csr = ftz_begin();
        size_t n2 = (size_t)hs * ldt;
        float *Kt = xmalloc_aligned(n2 * sizeof(float)), *Vt = xmalloc_aligned(n2 * sizeof(float));
        float *dKt = xmalloc_aligned(n2 * sizeof(float)), *dVt = xmalloc_aligned(n2 * sizeof(float));
        // BR query rows at a time: probabilities and score gradients of each.
        float *pb = xmalloc_aligned((size_t)2 * BR * ldt * sizeof(float));
        // qs, dqa, then hs zeros: the output gradient of padding rows
        float *qs = xmalloc_aligned((size_t)(2 * BR + 1) * hs * sizeof(float)), *dqa = qs + BR * hs;
        memset(dqa + BR * hs, 0, hs * sizeof(float)); // 0·garbage could be NaN
        #pragma omp for collapse(2) schedule(dynamic, 1)
        for (int b = 0; b < B; b++)
            for (int kh = 0; kh < KVH; kh++) {
                transpose_rows((float *)k + (size_t)b * T * kvdim + kh * hs, Kt, T, hs, kvdim, ldt, 0);
                transpose_rows((float *)v + (size_t)b * T * kvdim + kh * hs, Vt, T, hs, kvdim, ldt, 0);
                memset(dKt, 0, n2 * sizeof(float));
                memset(dVt, 0, n2 * sizeof(float));
                for (int h = kh * grp; h < (kh + 1) * grp; h++)
                    for (int t = 0; t < T; t += BR) {
                        int m = T - t < BR ? T - t : BR; // rows t .. t+m−1
                        int n16 = (t + m + 15) & ~15; // keys of the longest row
                        const float *go[BR];
                        float Dr[BR], lr[BR];
                        for (int j = 0; j < m; j++) {
                            size_t row = ((size_t)b * T + t + j) * dim + h * hs;
                            const float *qt = q + row, *ot = out + row;
                            float *qj = qs + j * hs, D = 0;
                            go[j] = dout + row;
                            #pragma omp simd reduction(+ : D) // not one serial chain of hs latencies
                            for (int i = 0; i < hs; i++) { qj[i] = qt[i] * sc; D = FMA(go[j][i], ot[i], D); }
                            Dr[j] = D;
                            lr[j] = lse[((size_t)b * H + h) * ldT + t + j];
                        }
#ifdef HAVE_ATT_BLOCK16
                        if (hs % 8 == 0) { // the block's rows together (rows past T: zero q and g, no keys)
                            int nr[BR];
                            for (int j = 0; j < BR; j++) {
                                nr[j] = j < m ? t + j + 1 : 0;
                                if (j >= m) { go[j] = dqa + BR * hs; memset(qs + j * hs, 0, hs * sizeof(float)); }
                            }
                            bwd_scores4(pb, qs, go, nr, Kt, Vt, n16, hs, ldt);
                            for (int j = 0; j < m; j++)
                                bwd_row_exp(pb + (size_t)2 * j * ldt, pb + (size_t)(2 * j + 1) * ldt, Dr[j], lr[j], n16);
                        } else
#endif
                            for (int j = 0; j < m; j++)
                                bwd_row_probs(pb + (size_t)2 * j * ldt, pb + (size_t)(2 * j + 1) * ldt, qs + j * hs, go[j],
                                              Dr[j], lr[j], Kt, Vt, t + j + 1, n16, hs, ldt);
                        int i = 0;
#ifdef HAVE_ATT_BLOCK16
                        // Rows past T (the last block of T % 4 ≠ 0) add zeros: p = ds = g = qs = 0.
                        for (int j = m; j < BR; j++) {
                            go[j] = dqa + BR * hs;
                            memset(qs + j * hs, 0, hs * sizeof(float));
                            memset(pb + (size_t)2 * j * ldt, 0, (size_t)2 * ldt * sizeof(float));
                        }
                        for (; i + 3 < hs; i += 4)
                            bwd_rows4x4(dVt + (size_t)i * ldt, dKt + (size_t)i * ldt, dqa, Kt + (size_t)i * ldt, pb, go,
                                        qs, i, hs, n16, ldt);
#else
                        const float *p0 = pb, *ds0 = pb + ldt, *p1 = pb + 2 * ldt, *ds1 = pb + 3 * ldt;
                        if (m == 2)
                            for (; i + 3 < hs; i += 4)
                                bwd_rows4x2(dVt + (size_t)i * ldt, dKt + (size_t)i * ldt, dqa + i, dqa + hs + i,
                                            Kt + (size_t)i * ldt, p0, ds0, p1, ds1, go[0] + i, qs + i, go[1] + i,
                                            qs + hs + i, n16, ldt);
                        else
                            for (; i + 3 < hs; i += 4)
                                bwd_rows4(dVt + (size_t)i * ldt, dKt + (size_t)i * ldt, dqa + i, Kt + (size_t)i * ldt,
                                          p0, ds0, go[0] + i, qs + i, n16, ldt);
#endif
                        for (; i < hs; i++) // leftover dimensions, row by row
                            for (int j = 0; j < m; j++) {
                                float *dvi = dVt + (size_t)i * ldt, *dki = dKt + (size_t)i * ldt;
                                const float *ki = Kt + (size_t)i * ldt, *pj = pb + (size_t)2 * j * ldt, *dsj = pj + ldt;
                                float gi = go[j][i], qi = qs[j * hs + i], d = 0;
                                #pragma omp simd reduction(+ : d)
                                for (int s = 0; s < n16; s++) {
                                    dvi[s] = FMA(pj[s], gi, dvi[s]);
                                    dki[s] = FMA(dsj[s], qi, dki[s]);
                                    d = FMA(dsj[s], ki[s], d);
                                }
                                dqa[j * hs + i] = d;
                            }
                        for (int j = 0; j < m; j++) {
                            float *dqt = dq + ((size_t)b * T + t + j) * dim + h * hs;
                            for (int i2 = 0; i2 < hs; i2++) dqt[i2] = dqa[j * hs + i2] * sc + 0.0f;
                        }
                    }
                transpose_rows(dk + (size_t)b * T * kvdim + kh * hs, dKt, T, hs, kvdim, ldt, 1);
                transpose_rows(dv + (size_t)b * T * kvdim + kh * hs, dVt, T, hs, kvdim, ldt, 1);
            }
        free(Kt); free(Vt); free(dKt); free(dVt); free(pb); free(qs);
        ftz_end(csr);
    }
}

void swiglu_forward(float *g, const float *h1, const float *h3, long n) {
    #pragma omp parallel for simd if (n > PAR_MIN)
    for (long i = 0; i < n; i++) g[i] = h1[i] / (1.0f + el_exp(-h1[i])) * h3[i];
}
void swiglu_backward(float *dh1, float *dh3, const float *dg, const float *h1, const float *h3, long n) {
    #pragma omp parallel for simd if (n > PAR_MIN)
    for (long i = 0; i < n; i++) {
        float sg = 1.0f / (1.0f + el_exp(-h1[i])), silu = h1[i] * sg;
        dh3[i] = dg[i] * silu + 0.0f; // + 0: as the sum into zeroed memory it replaced (−0 → +0)
        dh1[i] = dg[i] * h3[i] * sg * (1.0f + h1[i] * (1.0f - sg)) + 0.0f;
    }
}

float logsoftmax_row(const float *lg, int V, int target, int *is_greedy, float *dl, float scale) {
    // Flush subnormals (see ftz_begin): scaled probabilities of very unlikely tokens
    // would otherwise be subnormal d-logits, slowing every product the head's backward
    // sgemm forms with them.
    unsigned csr = ftz_begin();
    float mx = -INFINITY;
    #pragma omp simd reduction(max : mx)
    for (int i = 0; i < V; i++) mx = lg[i] > mx ? lg[i] : mx;
    if (is_greedy) {
        // Whether the target is the first index attaining the maximum (as a serial scan picks
        // it; V − 1 when none does, a row of NaNs): only logits before it need a look, and
        // only when it attains it. The scalar scan up to the maximum took a quarter of this
        // function's time.
        int g = target >= 0 && target < V && (lg[target] == mx || target == V - 1);
        for (int i0 = 0; g && i0 < target; i0 += 256) {
            int n = target - i0 < 256 ? target - i0 : 256, hit = 0;
            #pragma omp simd reduction(| : hit)
            for (int i = 0; i < n; i++) hit |= lg[i0 + i] == mx;
            g = !hit;
        }
        *is_greedy = g;
    }
    float lt = target >= 0 ? lg[target] : 0.0f; // dl may overwrite lg below
    // Lanes of the simd sum are separate partial sums: accurate enough in float for the
    // few-thousand-term rows here (the loss tests hold to 1e-5 relative). With dl, the
    // exponentials are kept there and scaled afterwards: one exp per logit, not two.
    float sum = 0;
    if (dl) {
        #pragma omp simd reduction(+ : sum)
        for (int i = 0; i < V; i++) { float e = el_exp(lg[i] - mx); dl[i] = e; sum += e; }
    } else {
        #pragma omp simd reduction(+ : sum)
        for (int i = 0; i < V; i++) sum += el_exp(lg[i] - mx);
    }
    float lse = mx + logf(sum), lp = target >= 0 ? lt - lse : 0.0f;
    if (dl) {
        float k = scale / sum; // softmax = e / sum
        #pragma omp simd
        for (int i = 0; i < V; i++) dl[i] *= k;
        if (target >= 0) dl[target] -= scale;
    }
    ftz_end(csr);
    return lp;
}
