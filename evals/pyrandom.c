// pyrandom.c — see pyrandom.h: CPython's random.Random (MT19937, init_by_array seeding,
// getrandbits-based randbelow, sample's set/pool selection) for lm-eval's few-shot draws.
#include "evals/pyrandom.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

// MT19937 with CPython's seeding (init_by_array over the 32-bit words of |seed|) and
// CPython's randbelow/sample algorithms, so shot draws equal lm-eval's.
static void mt_init(PyRandom *r, uint32_t s) {
    r->mt[0] = s;
    for (int i = 1; i < 624; i++) r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->idx = 624;
}
void pyrandom_seed(PyRandom *r, uint64_t seed) {
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    int klen = key[1] ? 2 : 1;
    mt_init(r, 19650218u);
    int i = 1, j = 0;
    for (int k = 624 > klen ? 624 : klen; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++; j++;
        if (i >= 624) { r->mt[0] = r->mt[623]; i = 1; }
        if (j >= klen) j = 0;
    }
    for (int k = 623; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= 624) { r->mt[0] = r->mt[623]; i = 1; }
    }
    r->mt[0] = 0x80000000u;
    r->idx = 624;
}
uint32_t pyrandom_u32(PyRandom *r) {
    if (r->idx >= 624) {
        for (int k = 0; k < 624; k++) {
            uint32_t y = (r->mt[k] & 0x80000000u) | (r->mt[(k + 1) % 624] & 0x7fffffffu);
            r->mt[k] = r->mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        r->idx = 0;
    }
    uint32_t y = r->mt[r->idx++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}
static int bit_length(uint32_t n) { int k = 0; while (n) { k++; n >>= 1; } return k; }
static uint32_t randbelow(PyRandom *r, uint32_t n) {
    int k = bit_length(n); // CPython: getrandbits(n.bit_length()) until < n
    if (k == 0) return 0;
    uint32_t v;
    do v = pyrandom_u32(r) >> (32 - k); while (v >= n);
    return v;
}
void pyrandom_sample(PyRandom *r, int n, int k, int *out) {
    if (k < 0 || k > n) die_internal("sample: k=%d out of range for a population of %d", k, n);
    int setsize = 21;
    if (k > 5) { // 4 ** ceil(log(3k, 4))
        double l = log((double)k * 3) / log(4.0);
        int c = (int)ceil(l);
        long p = 1;
        for (int i = 0; i < c; i++) p *= 4;
        setsize += (int)p;
    }
    if (n <= setsize) {
        int *pool = xmalloc(n * sizeof(int));
        for (int i = 0; i < n; i++) pool[i] = i;
        for (int i = 0; i < k; i++) {
            int j = (int)randbelow(r, (uint32_t)(n - i));
            out[i] = pool[j];
            pool[j] = pool[n - i - 1];
        }
        free(pool);
    } else {
        for (int i = 0; i < k; i++) {
            int j, dup;
            do {
                j = (int)randbelow(r, (uint32_t)n);
                dup = 0;
                for (int q = 0; q < i; q++) dup |= out[q] == j;
            } while (dup);
            out[i] = j;
        }
    }
}
