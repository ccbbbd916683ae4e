// pyrandom.h — Python's random.Random, bit for bit, for lm-eval's few-shot sampling.
#pragma once
#include <stdint.h>

// Python-compatible Mersenne Twister, so the few-shot draws are exactly lm-eval's
// `random.Random(1234).sample(pool, n)` stream for the same pool and document order.
typedef struct { uint32_t mt[624]; int idx; } PyRandom;
void pyrandom_seed(PyRandom *r, uint64_t seed);
uint32_t pyrandom_u32(PyRandom *r);
void pyrandom_sample(PyRandom *r, int n, int k, int *out); // random.sample(range(n), k)
