// test_mm.c — the products under every method: gemm_f32 (core/gemm.c, oneDNN) on the
// training shapes (forward X·Wᵀ, input gradient dY·W, weight gradient dYᵀ·X) against a
// float64 reference and bit-identical for 1, 2 and 3 threads (a run resumed with another
// --threads continues the same numbers); and the weight-gradient product mm_dytx
// (core/linear.c), which sums a small dW over many tokens in fixed row chunks: against a
// float64 reference, bit-identical for any thread count, alpha and beta honoured, and the
// unsplit path equal to one gemm_f32.
#include "gemm.h"
#include "linear.h"
#include "testlib.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static float *rnd(size_t n, unsigned *s) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) { *s = *s * 1664525u + 1013904223u; p[i] = (float)((*s >> 8) / 16777216.0 - 0.5); }
    return p;
}

// dW = beta·dW0 + alpha·dYᵀX in float64; returns the largest |error| / Σ|terms| bound.
static double ref_err(const float *dY, const float *X, const float *dW0, const float *got, int N, int out, int in,
                      float alpha, float beta) {
    double worst = 0;
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++) {
            double s = 0, a = 0;
            for (int n = 0; n < N; n++) {
                double t = (double)dY[(size_t)n * out + o] * X[(size_t)n * in + i];
                s += t; a += fabs(t);
            }
            double want = (double)beta * dW0[(size_t)o * in + i] + alpha * s;
            double e = fabs(got[(size_t)o * in + i] - want) / (fabs(alpha) * a + fabs(beta * dW0[(size_t)o * in + i]) + 1e-30);
            if (e > worst) worst = e;
        }
    return worst;
}

static void one(const char *tag, int N, int out, int in, float alpha, float beta, int same_bits) {
    unsigned s = (unsigned)(N * 31 + out * 7 + in);
    float *dY = rnd((size_t)N * out, &s), *X = rnd((size_t)N * in, &s), *dW0 = rnd((size_t)out * in, &s);
    size_t n = (size_t)out * in;
    float *w1 = malloc(n * sizeof(float)), *w2 = malloc(n * sizeof(float)), *w3 = malloc(n * sizeof(float));
    memcpy(w1, dW0, n * sizeof(float)); memcpy(w2, dW0, n * sizeof(float)); memcpy(w3, dW0, n * sizeof(float));
    int th = omp_get_max_threads();
    omp_set_num_threads(1); mm_dytx(dY, X, w1, N, out, in, alpha, beta);
    omp_set_num_threads(2); mm_dytx(dY, X, w2, N, out, in, alpha, beta);
    omp_set_num_threads(3); mm_dytx(dY, X, w3, N, out, in, alpha, beta);
    omp_set_num_threads(th);
    char nm[160];
    double e = ref_err(dY, X, dW0, w2, N, out, in, alpha, beta);
    // fp32 accumulation over N terms: a relative error (to Σ|terms|) of N·2⁻²⁴ at worst.
    snprintf(nm, sizeof nm, "mm_dytx %s N=%d %dx%d alpha %g beta %g: within fp32 summation of the float64 product", tag, N, out, in,
             alpha, beta);
    CHECK(e < N * 6e-8, nm, "relative error %.3g", e);
    snprintf(nm, sizeof nm, "mm_dytx %s N=%d %dx%d: the same bits with 1, 2 and 3 threads", tag, N, out, in);
    if (same_bits) CHECK(!memcmp(w1, w2, n * sizeof(float)) && !memcmp(w1, w3, n * sizeof(float)), nm, "results differ between thread counts");
    free(dY); free(X); free(dW0); free(w1); free(w2); free(w3);
}

int main(void) {
    // The LoRA factors' shapes at the stories15M batch (8192 tokens): split into chunks.
    one("split (LoRA dA)", 8192, 8, 288, 1.0f, 1.0f, 1);
    one("split (LoRA dB, scaled)", 8192, 768, 8, 2.0f, 1.0f, 1);
    one("split, N not a multiple of the chunk, beta 0", 3001, 16, 40, 1.0f, 0.0f, 1);
    one("split, beta 0.5", 1500, 4, 64, -0.5f, 0.5f, 1);
    one("one chunk", 300, 8, 64, 1.0f, 1.0f, 1);
    // L4Q's G tile (t×in of dY's columns, row stride out) through mm_dytx_ld.
    {
        unsigned s = 11;
        int N = 2100, out = 96, t = 40, in = 72;
        float *dY = rnd((size_t)N * out, &s), *X = rnd((size_t)N * in, &s), *dYt = malloc((size_t)N * t * sizeof(float));
        for (int n = 0; n < N; n++) memcpy(dYt + (size_t)n * t, dY + (size_t)n * out + 16, t * sizeof(float));
        float *a = calloc((size_t)t * in, sizeof(float)), *b = calloc((size_t)t * in, sizeof(float));
        mm_dytx_ld(dY + 16, out, X, a, N, t, in, 1.0f, 0.0f);
        mm_dytx(dYt, X, b, N, t, in, 1.0f, 0.0f);
        CHECK(!memcmp(a, b, (size_t)t * in * sizeof(float)), "mm_dytx_ld: a column tile of dY (row stride out) gives the packed tile's bits",
              "differs");
        free(dY); free(X); free(dYt); free(a); free(b);
    }
    one("unsplit (a large dW)", 1100, 300, 512, 1.0f, 0.0f, 1);
    // The unsplit path is one gemm_f32 call, bit for bit (full fine-tuning's dW, LSQ's G).
    unsigned s = 7;
    int N = 1100, out = 300, in = 512;
    float *dY = rnd((size_t)N * out, &s), *X = rnd((size_t)N * in, &s), *a = rnd((size_t)out * in, &s);
    float *b = malloc((size_t)out * in * sizeof(float));
    memcpy(b, a, (size_t)out * in * sizeof(float));
    mm_dytx(dY, X, a, N, out, in, 1.0f, 1.0f);
    gemm_f32('T', 'N', out, in, N, 1.0f, dY, out, X, in, 1.0f, b, in);
    CHECK(!memcmp(a, b, (size_t)out * in * sizeof(float)), "mm_dytx unsplit: equal to one gemm_f32", "differs");
    free(dY); free(X); free(a); free(b);
    // gemm_f32 on the shapes of a stories15M/260K step and a decoding row: C = op(A)·op(B) + C0/2.
    static const struct { int M, N, K; char ta, tb; } G[] = {
        {2048, 288, 288, 'N', 'T'}, {2048, 768, 288, 'N', 'T'}, {2048, 288, 768, 'N', 'N'}, {256, 4000, 288, 'N', 'T'},
        {256, 288, 4000, 'N', 'N'}, {288, 288, 2048, 'T', 'N'}, {8192, 64, 64, 'N', 'T'}, {1, 4000, 288, 'N', 'T'},
        {7, 172, 64, 'N', 'N'}}; // oneDNN's shapes (gemm.h); OpenBLAS's (N, K ≥ 1024) need not keep bits across thread counts
    for (size_t g = 0; g < sizeof G / sizeof *G; g++) {
        int M = G[g].M, Nn = G[g].N, K = G[g].K, lda = G[g].ta == 'N' ? K : M, ldb = G[g].tb == 'N' ? Nn : K;
        float *A = rnd((size_t)M * K, &s), *B = rnd((size_t)K * Nn, &s), *C0 = rnd((size_t)M * Nn, &s);
        float *c[3];
        for (int t = 0; t < 3; t++) {
            c[t] = malloc((size_t)M * Nn * sizeof(float));
            memcpy(c[t], C0, (size_t)M * Nn * sizeof(float));
            int th = omp_get_max_threads();
            omp_set_num_threads(t + 1);
            gemm_f32(G[g].ta, G[g].tb, M, Nn, K, 1.0f, A, lda, B, ldb, 0.5f, c[t], Nn);
            omp_set_num_threads(th);
        }
        double worst = 0;
        for (int i = 0; i < M; i += 1 + M / 64)
            for (int j = 0; j < Nn; j += 1 + Nn / 64) {
                double sum = 0, mag = 0;
                for (int k = 0; k < K; k++) {
                    double a = G[g].ta == 'N' ? A[(size_t)i * lda + k] : A[(size_t)k * lda + i];
                    double b = G[g].tb == 'N' ? B[(size_t)k * ldb + j] : B[(size_t)j * ldb + k];
                    sum += a * b; mag += fabs(a * b);
                }
                double want = sum + 0.5 * C0[(size_t)i * Nn + j], e = fabs(c[0][(size_t)i * Nn + j] - want) / (mag + 0.5 * fabs(C0[(size_t)i * Nn + j]));
                if (e > worst) worst = e;
            }
        char nm[160];
        snprintf(nm, sizeof nm, "gemm_f32 %c%c %dx%dx%d: float64 reference (%.1e of the summed magnitudes, bound 2e-6), same bits for 1/2/3 threads",
                 G[g].ta, G[g].tb, M, Nn, K, worst);
        CHECK(worst < 2e-6 && !memcmp(c[0], c[1], (size_t)M * Nn * sizeof(float)) && !memcmp(c[0], c[2], (size_t)M * Nn * sizeof(float)),
              nm, "error or thread-count difference");
        free(A); free(B); free(C0); free(c[0]); free(c[1]); free(c[2]);
    }
    T_EXIT();
}
