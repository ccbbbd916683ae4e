// stats.h — the report's statistics: one estimator, its percentile bootstrap interval and
// its sign-flip permutation p-value, on per-document data. Seeded and deterministic.
//
// A sample is n units (documents, or perplexity windows) in K strata (the leaf tasks of a
// group such as csqa or blimp; K = 1 for a single task). Each unit has a numerator a_u and
// a denominator b_u, and the statistic is a weighted mean of per-stratum ratios:
//
//     T = Σ_k W_k · (Σ_{u∈k} a_u) / (Σ_{u∈k} b_u)
//
// Accuracy: a = 0/1 correctness (or, paired, the difference of two runs'), b = 1, so T
// is the group's mean accuracy (difference). Perplexity: a = summed NLL of a window (or
// its difference between two runs), b = its predicted tokens, so T is the token-weighted
// mean NLL (difference), ppl = exp(T).
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n;
    const double *a, *b;   // n each
    const int *stratum;    // n, each in [0, K); NULL ⇒ one stratum
    int K;
    const double *W;       // K weights; NULL ⇒ W_0 = 1 (K must then be 1)
} StatSample;

double stats_estimate(const StatSample *s);

// Percentile bootstrap: B replicates, each resampling every stratum's units with
// replacement (the stratum sizes kept), T recomputed; the interval is the (1−level)/2 and
// (1+level)/2 quantiles of the replicates (numpy's default "linear" quantile).
void stats_bootstrap_ci(const StatSample *s, int B, uint64_t seed, double level, double *lo, double *hi);

// Two-sided paired sign-flip permutation test of T = 0: under the null each unit's a_u is
// as likely to be −a_u (denominators fixed), so T* = Σ ±e_u with e_u = W_k a_u / Σ_{u∈k} b_u.
// p = P(|T*| ≥ |T|). Exact when every nonzero |e_u| is equal (then it is the exact
// binomial/McNemar test on the signs) or when at most 20 units are nonzero (all 2^m sign
// patterns); otherwise Monte Carlo with B draws, p = (1 + #{|T*| ≥ |T|}) / (1 + B).
// *exact (may be NULL) says which.
double stats_signflip_p(const StatSample *s, int B, uint64_t seed, int *exact);

// Exact two-sided McNemar test on b and c discordant pairs: the binomial test of b
// successes in b + c trials at p = 1/2 (scipy.stats.binomtest(b, b + c).pvalue).
double stats_mcnemar_p(long b, long c);

// Mean and sample standard deviation (n − 1; NaN for n < 2) of the finite values.
void stats_mean_sd(const double *x, int n, double *mean, double *sd, int *used);

// numpy.quantile(x, q) with the default linear interpolation; sorts x in place.
double stats_quantile(double *x, size_t n, double q);

// Welch's two-sample t-test, two-sided, on the finite values of x and y (each run one
// unit: it counts the variation between seeds that the pooled tests above do not):
// scipy.stats.ttest_ind(x, y, equal_var=False).pvalue. NaN when a side has fewer than 2
// values or both have no spread.
double stats_welch_p(const double *x, int nx, const double *y, int ny);

// Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1).
void stats_holm(const double *p, int n, double *adj);
