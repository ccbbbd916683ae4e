// testlib.h — tiny assertion helpers for the C tests: PASS/FAIL lines, non-zero exit.
#pragma once
#include <math.h>
#include <stdio.h>
static int t_fails;
#define CHECK(cond, name, ...) do { if (cond) printf("PASS: %s\n", name); \
    else { t_fails++; printf("FAIL: %s: ", name); printf(__VA_ARGS__); printf("\n"); } } while (0)
static inline float t_maxdiff(const float *a, const float *b, size_t n) {
    float m = 0; for (size_t i = 0; i < n; i++) { float d = fabsf(a[i] - b[i]); if (!(d <= m)) m = d; } return m;
}
#define T_EXIT() return t_fails ? 1 : 0
