// ops.c — forward/backward pairs of the LLaMA blocks. Dense products live in the linear
// layers (sgemm); these are the element-wise and attention loops, parallel with OpenMP.
#include "ops.h"
#include <math.h>
#include <string.h>

void embedding_forward(float *out, const int *tok, const float *emb, int R, int dim) {
    #pragma omp parallel for
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
    #pragma omp parallel for
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
    #pragma omp parallel for
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

void rope_tables(float *cos_t, float *sin_t, int T, int hs, float theta) {
    // Same float arithmetic as llama2.c so greedy decoding reproduces its text.
    for (int p = 0; p < T; p++)
        for (int j = 0; j < hs; j += 2) {
            float freq = 1.0f / powf(theta, j / (float)hs);
            float val = p * freq;
            cos_t[p * (hs / 2) + j / 2] = cosf(val);
            sin_t[p * (hs / 2) + j / 2] = sinf(val);
        }
}
static void rope_apply(float *x, int r0, int r1, int T, int cols, int hs, const float *ct, const float *st, float sign) {
    #pragma omp parallel for
    for (int r = r0; r < r1; r++) {
        int pos = r % T;
        float *xr = x + (size_t)r * cols;
        const float *c = ct + pos * (hs / 2), *s = st + pos * (hs / 2);
        for (int i = 0; i < cols; i += 2) {
            int j = (i % hs) / 2;
            float a = xr[i], b = xr[i + 1], sn = sign * s[j];
            xr[i] = a * c[j] - b * sn;
            xr[i + 1] = a * sn + b * c[j];
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

void attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                       int B, int T, int t0, int H, int KVH, int hs, int ldT) {
    int dim = H * hs, kvdim = KVH * hs, grp = H / KVH;
    float sc = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *kb = k + (size_t)b * T * kvdim + (h / grp) * hs;
            const float *vb = v + (size_t)b * T * kvdim + (h / grp) * hs;
            for (int t = t0; t < T; t++) {
                const float *qt = q + ((size_t)b * T + t) * dim + h * hs;
                float *p = att + (((size_t)b * H + h) * ldT + t) * ldT;
                float mx = -INFINITY;
                for (int s = 0; s <= t; s++) {
                    const float *ks = kb + (size_t)s * kvdim;
                    float d = 0;
                    for (int i = 0; i < hs; i++) d += qt[i] * ks[i];
                    p[s] = d * sc;
                    if (p[s] > mx) mx = p[s];
                }
                float sum = 0;
                for (int s = 0; s <= t; s++) { p[s] = expf(p[s] - mx); sum += p[s]; }
                float inv = 1.0f / sum;
                float *o = out + ((size_t)b * T + t) * dim + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0;
                for (int s = 0; s <= t; s++) {
                    p[s] *= inv;
                    const float *vs = vb + (size_t)s * kvdim;
                    for (int i = 0; i < hs; i++) o[i] += p[s] * vs[i];
                }
            }
        }
}

void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *att,
                        const float *q, const float *k, const float *v, int B, int T, int H, int KVH, int hs, int ldT) {
    int dim = H * hs, kvdim = KVH * hs, grp = H / KVH;
    float sc = 1.0f / sqrtf((float)hs);
    // One task per (sequence, kv head): the query heads sharing a kv head write the same
    // dk/dv rows, so they run in one thread.
    #pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int b = 0; b < B; b++)
        for (int kh = 0; kh < KVH; kh++) {
            float dp[T > 0 ? T : 1];
            const float *kb = k + (size_t)b * T * kvdim + kh * hs, *vb = v + (size_t)b * T * kvdim + kh * hs;
            float *dkb = dk + (size_t)b * T * kvdim + kh * hs, *dvb = dv + (size_t)b * T * kvdim + kh * hs;
            for (int h = kh * grp; h < (kh + 1) * grp; h++)
                for (int t = 0; t < T; t++) {
                    const float *p = att + (((size_t)b * H + h) * ldT + t) * ldT;
                    const float *go = dout + ((size_t)b * T + t) * dim + h * hs;
                    const float *qt = q + ((size_t)b * T + t) * dim + h * hs;
                    float *dqt = dq + ((size_t)b * T + t) * dim + h * hs;
                    float dot = 0;
                    for (int s = 0; s <= t; s++) {
                        const float *vs = vb + (size_t)s * kvdim;
                        float *dvs = dvb + (size_t)s * kvdim;
                        float d = 0;
                        for (int i = 0; i < hs; i++) { d += go[i] * vs[i]; dvs[i] += p[s] * go[i]; }
                        dp[s] = d;
                        dot += p[s] * d;
                    }
                    for (int s = 0; s <= t; s++) {
                        float ds = p[s] * (dp[s] - dot) * sc;
                        const float *ks = kb + (size_t)s * kvdim;
                        float *dks = dkb + (size_t)s * kvdim;
                        for (int i = 0; i < hs; i++) { dqt[i] += ds * ks[i]; dks[i] += ds * qt[i]; }
                    }
                }
        }
}

void swiglu_forward(float *g, const float *h1, const float *h3, long n) {
    #pragma omp parallel for
    for (long i = 0; i < n; i++) g[i] = h1[i] / (1.0f + expf(-h1[i])) * h3[i];
}
void swiglu_backward(float *dh1, float *dh3, const float *dg, const float *h1, const float *h3, long n) {
    #pragma omp parallel for
    for (long i = 0; i < n; i++) {
        float sg = 1.0f / (1.0f + expf(-h1[i])), silu = h1[i] * sg;
        dh3[i] += dg[i] * silu;
        dh1[i] += dg[i] * h3[i] * sg * (1.0f + h1[i] * (1.0f - sg));
    }
}

float logsoftmax_row(const float *lg, int V, int target, int *is_greedy, float *dl, float scale) {
    float mx = lg[0]; int am = 0;
    for (int i = 1; i < V; i++) if (lg[i] > mx) { mx = lg[i]; am = i; }
    double sum = 0;
    for (int i = 0; i < V; i++) sum += expf(lg[i] - mx);
    float lse = mx + (float)log(sum);
    float lp = target >= 0 ? lg[target] - lse : 0.0f;
    if (is_greedy) *is_greedy = (am == target);
    if (dl) {
        for (int i = 0; i < V; i++) dl[i] = scale * expf(lg[i] - lse);
        if (target >= 0) dl[target] -= scale;
    }
    return lp;
}
