// stats.c — see stats.h. All randomness from util.h's Rng (xoshiro256**), seeded per call.
#include "stats.h"
#include "util.h"
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int stratum_of(const StatSample *s, size_t u) { return s->stratum ? s->stratum[u] : 0; }
static double weight_of(const StatSample *s, int k) { return s->W ? s->W[k] : 1.0; }

double stats_estimate(const StatSample *s) {
    double *sa = xcalloc((size_t)s->K, sizeof *sa), *sb = xcalloc((size_t)s->K, sizeof *sb);
    for (size_t u = 0; u < s->n; u++) { sa[stratum_of(s, u)] += s->a[u]; sb[stratum_of(s, u)] += s->b[u]; }
    double t = 0;
    for (int k = 0; k < s->K; k++) t += sb[k] != 0 ? weight_of(s, k) * sa[k] / sb[k] : 0;
    free(sa); free(sb);
    return t;
}

static int cmp_d(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

double stats_quantile(double *x, size_t n, double q) {
    if (n == 0) return NAN;
    qsort(x, n, sizeof *x, cmp_d);
    double h = (double)(n - 1) * q;
    size_t i = (size_t)floor(h);
    if (i + 1 >= n) return x[n - 1];
    return x[i] + (h - (double)i) * (x[i + 1] - x[i]);
}

// Uniform index in [0, n): Lemire's multiply-shift (bias < n / 2^64, immaterial here).
static size_t draw(Rng *r, size_t n) { return (size_t)(((unsigned __int128)rng_u64(r) * n) >> 64); }

void stats_bootstrap_ci(const StatSample *s, int B, uint64_t seed, double level, double *lo, double *hi) {
    *lo = *hi = NAN;
    if (s->n == 0 || B < 2) return;
    // Units of each stratum, contiguous.
    size_t *cnt = xcalloc((size_t)s->K + 1, sizeof *cnt), *idx = xmalloc(s->n * sizeof *idx);
    for (size_t u = 0; u < s->n; u++) cnt[stratum_of(s, u) + 1]++;
    for (int k = 0; k < s->K; k++) cnt[k + 1] += cnt[k];
    size_t *fill = xmalloc(((size_t)s->K + 1) * sizeof *fill);
    memcpy(fill, cnt, ((size_t)s->K + 1) * sizeof *fill);
    for (size_t u = 0; u < s->n; u++) idx[fill[stratum_of(s, u)]++] = u;
    double *rep = xmalloc((size_t)B * sizeof *rep);
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < B; i++) {
        double t = 0;
        for (int k = 0; k < s->K; k++) {
            size_t m = cnt[k + 1] - cnt[k];
            if (!m) continue;
            double sa = 0, sb = 0;
            for (size_t j = 0; j < m; j++) { size_t u = idx[cnt[k] + draw(&r, m)]; sa += s->a[u]; sb += s->b[u]; }
            if (sb != 0) t += weight_of(s, k) * sa / sb;
        }
        rep[i] = t;
    }
    *lo = stats_quantile(rep, (size_t)B, (1 - level) / 2);
    *hi = stats_quantile(rep, (size_t)B, (1 + level) / 2);
    free(rep); free(cnt); free(idx); free(fill);
}

double stats_mcnemar_p(long b, long c) {
    long n = b + c, k = b < c ? b : c;
    if (n <= 0) return 1.0;
    if (2 * k == n) return 1.0;
    // 2 · P(X ≤ k), X ~ Bin(n, 1/2); terms in log space (n reaches 10^5 for BLiMP).
    double lg_n = lgamma((double)n + 1), sum = 0;
    for (long i = 0; i <= k; i++) sum += exp(lg_n - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) - (double)n * M_LN2);
    double p = 2 * sum;
    return p < 1 ? p : 1.0;
}

double stats_signflip_p(const StatSample *s, int B, uint64_t seed, int *exact) {
    if (exact) *exact = 1;
    double *sb = xcalloc((size_t)s->K, sizeof *sb);
    for (size_t u = 0; u < s->n; u++) sb[stratum_of(s, u)] += s->b[u];
    double *e = xmalloc((s->n + 1) * sizeof *e), t = 0, sum_abs = 0;
    size_t m = 0, npos = 0;
    for (size_t u = 0; u < s->n; u++) {
        int k = stratum_of(s, u);
        double v = sb[k] != 0 ? weight_of(s, k) * s->a[u] / sb[k] : 0;
        if (v == 0) continue;
        t += v;
        npos += v > 0;
        e[m++] = fabs(v);
        sum_abs += fabs(v);
    }
    free(sb);
    double p = 1.0;
    // |T*| ≥ |T| up to rounding: T* and T are sums in different orders.
    double tol = 1e-9 * sum_abs, thr = fabs(t) - tol;
    qsort(e, m, sizeof *e, cmp_d);
    if (m == 0) p = 1.0;
    else if (e[m - 1] - e[0] <= 1e-12 * e[m - 1]) {
        p = stats_mcnemar_p((long)npos, (long)(m - npos));
    } else if (m <= 20) {
        // All 2^m patterns in Gray-code order: one sign changes per step.
        double cur = 0;
        for (size_t i = 0; i < m; i++) cur -= e[i];
        unsigned long long total = 1ULL << m, hits = fabs(cur) >= thr;
        unsigned signs = 0;
        for (unsigned long long g = 1; g < total; g++) {
            int bit = __builtin_ctzll(g);
            signs ^= 1u << bit;
            cur += (signs >> bit & 1u) ? 2 * e[bit] : -2 * e[bit];
            hits += fabs(cur) >= thr;
        }
        p = (double)hits / (double)total;
    } else {
        if (exact) *exact = 0;
        // Equal |e| values flip as one binomial count (the popcount of that many random
        // bits), so integer-valued data (accuracy pooled over seeds) costs m/64 words a draw.
        double *val = xmalloc(m * sizeof *val);
        size_t *cnt = xmalloc(m * sizeof *cnt), ng = 0;
        for (size_t i = 0; i < m; i++) {
            if (ng && e[i] - val[ng - 1] <= 1e-12 * e[i]) cnt[ng - 1]++;
            else { val[ng] = e[i]; cnt[ng++] = 1; }
        }
        Rng r;
        rng_seed(&r, seed);
        long hits = 0;
        for (int d = 0; d < B; d++) {
            double ts = 0;
            uint64_t word = 0;
            int left = 0;
            for (size_t g = 0; g < ng; g++) {
                size_t need = cnt[g], pos = 0;
                while (need) {
                    if (!left) { word = rng_u64(&r); left = 64; }
                    int take = need < (size_t)left ? (int)need : left;
                    uint64_t bits = take == 64 ? word : word & ((1ULL << take) - 1);
                    pos += (size_t)__builtin_popcountll(bits);
                    word = take == 64 ? 0 : word >> take;
                    left -= take;
                    need -= (size_t)take;
                }
                ts += val[g] * (2.0 * (double)pos - (double)cnt[g]);
            }
            hits += fabs(ts) >= thr;
        }
        p = (1.0 + (double)hits) / (1.0 + (double)B);
        free(val); free(cnt);
    }
    free(e);
    return p;
}

void stats_mean_sd(const double *x, int n, double *mean, double *sd, int *used) {
    double s = 0, s2 = 0;
    int k = 0;
    for (int i = 0; i < n; i++) if (isfinite(x[i])) { s += x[i]; k++; }
    *mean = k ? s / k : NAN;
    for (int i = 0; i < n; i++) if (isfinite(x[i])) s2 += (x[i] - *mean) * (x[i] - *mean);
    *sd = k > 1 ? sqrt(s2 / (k - 1)) : NAN;
    if (used) *used = k;
}

double stats_welch_p(const double *x, int nx, const double *y, int ny) {
    double mx, sx, my, sy;
    int kx, ky;
    stats_mean_sd(x, nx, &mx, &sx, &kx);
    stats_mean_sd(y, ny, &my, &sy, &ky);
    if (kx < 2 || ky < 2) return NAN;
    double vx = sx * sx / kx, vy = sy * sy / ky, se2 = vx + vy;
    if (!(se2 > 0)) return NAN;
    // Welch–Satterthwaite degrees of freedom (not an integer in general; GSL takes any ν > 0).
    double df = se2 * se2 / (vx * vx / (kx - 1) + vy * vy / (ky - 1));
    double t = fabs(mx - my) / sqrt(se2);
    return fmin(1.0, 2 * gsl_cdf_tdist_Q(t, df));
}

void stats_holm(const double *p, int n, double *adj) {
    int *o = xmalloc((size_t)(n + 1) * sizeof *o);
    for (int i = 0; i < n; i++) o[i] = i;
    // Insertion sort by p (n is a handful of tasks).
    for (int i = 1; i < n; i++) for (int j = i; j > 0 && p[o[j]] < p[o[j - 1]]; j--) { int t = o[j]; o[j] = o[j - 1]; o[j - 1] = t; }
    double run = 0;
    for (int i = 0; i < n; i++) {
        double v = (double)(n - i) * p[o[i]];
        if (v > 1) v = 1;
        if (v < run) v = run;
        run = v;
        adj[o[i]] = v;
    }
    free(o);
}
