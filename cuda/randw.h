// randw.h — the frozen weights of a random benchmark/parity model (DevModelDesc.random_weights),
// one formula that the plugin evaluates on the device and the CPU fixture writer
// (tests/cudafix_e2e.c) and device test (cuda/test_e2e.c) evaluate on the host, so a
// random stories15M- or LLaMA-7B-shape model needs no upload and both sides hold the same
// weights bit for bit.
//
//   u = mix64(seed ^ mix64((tensor << 40) + index)) >> 40         (24 random bits)
//   w = (u·2⁻²³ − 1) · bound                                       uniform in [−bound, bound)
//
// u·2⁻²³ and the subtraction are exact in fp32; the product is one correctly rounded
// multiply on both sides (the caller passes bound = 1/sqrt(in) computed once on the host).
// Norms are 1. Tensor ids: RANDW_TOK_EMB, RANDW_WCLS, RANDW_PROJ + projection index
// (layer·7 + P_*; the head, when it is a method layer, is RANDW_WCLS).
//
// Include after util.h (host C) or core/elem.h (CUDA), either of which defines mix64.
#pragma once
#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define RANDW_HD __host__ __device__ static inline
#else
#define RANDW_HD static inline
#endif

enum { RANDW_TOK_EMB = 1, RANDW_WCLS = 2, RANDW_PROJ = 16 };

RANDW_HD float randw_value(uint64_t seed, uint64_t tensor, uint64_t index, float bound) {
    uint64_t u = mix64(seed ^ mix64((tensor << 40) + index)) >> 40;
    float x = (float)(int32_t)u * (1.0f / 8388608.0f) - 1.0f; // exact: 24-bit integer scaled by 2^-23
#ifdef __CUDA_ARCH__
    return __fmul_rn(x, bound);
#else
    return x * bound;
#endif
}
// The scale of a tensor with `in` inputs (host only: one sqrt, one division, rounded once each).
static inline float randw_bound(int in) { return 1.0f / sqrtf((float)in); }
