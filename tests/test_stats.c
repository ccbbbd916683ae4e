// test_stats.c — results/stats.c, two ways.
//   test_stats            self-test on hand-computed cases (PASS/FAIL lines)
//   test_stats FILE       the oracle side for tests/test_stats.py: FILE holds samples, each
//                         "sample N K B SEED" then K weights, then N lines "a b stratum";
//                         prints one line per sample: "est lo hi p exact"
#include "results/stats.h"
#include "testlib.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int run_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); return 2; }
    size_t n;
    int K, B;
    unsigned long long seed;
    while (fscanf(f, " sample %zu %d %d %llu", &n, &K, &B, &seed) == 4) {
        double *W = xmalloc((size_t)K * sizeof *W), *a = xmalloc((n + 1) * sizeof *a), *b = xmalloc((n + 1) * sizeof *b);
        int *st = xmalloc((n + 1) * sizeof *st);
        for (int k = 0; k < K; k++) if (fscanf(f, "%lf", &W[k]) != 1) return 2;
        for (size_t u = 0; u < n; u++) if (fscanf(f, "%lf %lf %d", &a[u], &b[u], &st[u]) != 3) return 2;
        StatSample s = {n, a, b, st, K, W};
        double lo, hi;
        int exact;
        stats_bootstrap_ci(&s, B, seed, 0.95, &lo, &hi);
        double p = stats_signflip_p(&s, 10000, seed + 1, &exact);
        printf("%.17g %.17g %.17g %.17g %d\n", stats_estimate(&s), lo, hi, p, exact);
        free(W); free(a); free(b); free(st);
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2) return run_file(argv[1]);
    // McNemar: 0 of 5 discordant pairs go one way: 2 · 2^-5.
    CHECK(fabs(stats_mcnemar_p(0, 5) - 0.0625) < 1e-15, "mcnemar(0,5) = 1/16", "%g", stats_mcnemar_p(0, 5));
    CHECK(stats_mcnemar_p(3, 3) == 1.0 && stats_mcnemar_p(0, 0) == 1.0, "mcnemar ties → 1", "%s", "");
    // 1 vs 9 of 10: 2 · (1 + 10) / 1024.
    CHECK(fabs(stats_mcnemar_p(9, 1) - 22.0 / 1024) < 1e-15, "mcnemar(9,1)", "%g", stats_mcnemar_p(9, 1));
    // Sign flip, 3 distinct values: d = {1, 2, 4}: T = 7 is the largest of 8 patterns, |T*| ≥ 7 twice.
    double a[3] = {1, 2, 4}, b[3] = {1, 1, 1};
    StatSample s = {3, a, b, NULL, 1, NULL};
    int ex;
    double p = stats_signflip_p(&s, 100, 1, &ex);
    CHECK(ex && fabs(p - 0.25) < 1e-15, "sign flip exact enumeration", "p=%g exact=%d", p, ex);
    CHECK(fabs(stats_estimate(&s) - 7.0 / 3) < 1e-15, "estimate = mean", "%g", stats_estimate(&s));
    // Ratio of sums per stratum, weighted.
    double a2[4] = {1, 3, 2, 2}, b2[4] = {1, 1, 2, 2}, W[2] = {0.25, 0.75};
    int st[4] = {0, 0, 1, 1};
    StatSample s2 = {4, a2, b2, st, 2, W};
    CHECK(fabs(stats_estimate(&s2) - (0.25 * 2 + 0.75 * 1)) < 1e-15, "weighted ratio estimate", "%g", stats_estimate(&s2));
    // Bootstrap of a constant is that constant; same seed ⇒ same interval.
    double c[50], one[50];
    for (int i = 0; i < 50; i++) { c[i] = 0.5; one[i] = 1; }
    StatSample s3 = {50, c, one, NULL, 1, NULL};
    double lo, hi, lo2, hi2;
    stats_bootstrap_ci(&s3, 200, 9, 0.95, &lo, &hi);
    CHECK(fabs(lo - 0.5) < 1e-12 && fabs(hi - 0.5) < 1e-12, "bootstrap of a constant", "%g %g", lo, hi);
    for (int i = 0; i < 50; i++) c[i] = i % 7;
    stats_bootstrap_ci(&s3, 500, 9, 0.95, &lo, &hi);
    stats_bootstrap_ci(&s3, 500, 9, 0.95, &lo2, &hi2);
    CHECK(lo == lo2 && hi == hi2 && lo < 3 && hi > 3, "bootstrap deterministic per seed", "%g %g", lo, hi);
    double q[5] = {4, 1, 3, 2, 5};
    CHECK(fabs(stats_quantile(q, 5, 0.3) - 2.2) < 1e-15, "linear quantile (numpy default)", "%g", stats_quantile(q, 5, 0.3));
    double ps[4] = {0.01, 0.04, 0.03, 0.2}, adj[4];
    stats_holm(ps, 4, adj);
    CHECK(fabs(adj[0] - 0.04) < 1e-15 && fabs(adj[2] - 0.09) < 1e-15 && fabs(adj[1] - 0.09) < 1e-15 && fabs(adj[3] - 0.2) < 1e-15,
          "Holm adjustment", "%g %g %g %g", adj[0], adj[1], adj[2], adj[3]);
    T_EXIT();
}
