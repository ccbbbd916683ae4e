// elem.h — the element math that the CPU (C11) and the CUDA plugin (nvcc, C++) both compute,
// from this one source, so a bit-exact comparison of the two sides compares one formula
// evaluated twice: the quantizer's clamp/round/STE and codes, the uniform and NF4 dequant of
// one element, the AdamW element update (fp32 and bf16 stochastic-rounded moments), mix64,
// exp (the softmaxes' and SwiGLU's), and f32 <-> bf16.
//
// Exactness: every operation is one IEEE-754 single-precision operation rounded to nearest.
// The C build is -std=c11, which turns FP contraction off in gcc, so a*b + c is a product
// then a sum. nvcc contracts to FMA by default (-fmad=true), so on the device the products,
// sums, quotients and square roots below go through the explicitly rounded intrinsics
// (__fmul_rn etc.), which are never contracted whatever the flags; never build this with
// --use_fast_math. rintf rounds half to even on both sides (torch.round's rule).
//
// Plain C11 that is also valid C++; L4Q_HD marks what both sides compile.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define L4Q_HD __host__ __device__ static inline
#else
#define L4Q_HD static inline
#endif

#ifdef __CUDA_ARCH__
#define EL_MUL(a, b) __fmul_rn((a), (b))
#define EL_ADD(a, b) __fadd_rn((a), (b))
#define EL_SUB(a, b) __fsub_rn((a), (b))
#define EL_DIV(a, b) __fdiv_rn((a), (b))
#define EL_SQRT(a) __fsqrt_rn(a)
#else
#define EL_MUL(a, b) ((a) * (b))
#define EL_ADD(a, b) ((a) + (b))
#define EL_SUB(a, b) ((a) - (b))
#define EL_DIV(a, b) ((a) / (b))
#define EL_SQRT(a) sqrtf(a)
#endif

// Storage dtypes of tensors and AdamW moments (half.h, device.h).
enum { DT_F32 = 0, DT_F16 = 1, DT_BF16 = 2 };

// ---- bits -------------------------------------------------------------------------------
L4Q_HD uint32_t el_f32_bits(float f) {
#ifdef __CUDA_ARCH__
    return __float_as_uint(f);
#else
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
#endif
}
L4Q_HD float el_bits_f32(uint32_t b) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(b);
#else
    float f;
    memcpy(&f, &b, 4);
    return f;
#endif
}

// A fused multiply-add where the target has one (the device always; the CPU when built for
// FMA, as the Makefile's -march=native does here), else a product then a sum.
#if defined(__CUDA_ARCH__) || defined(__FMA__)
#define EL_FMA(a, b, c) fmaf((a), (b), (c))
#else
#define EL_FMA(a, b, c) EL_ADD(EL_MUL((a), (b)), (c))
#endif

// exp as straight-line float code the CPU compiler can vectorize (libm's expf is a call per
// element; its vector variant needs -ffast-math, which we do not use) and the device
// computes operation for operation, so the softmaxes and SwiGLU round the same on both.
// Range reduction x = k·ln2 + r with |r| ≤ ln2/2 (ln2 split in two so k·ln2 is exact), a
// degree-6 polynomial for e^r (Cephes' expf coefficients, Horner to the end: max error
// 1.2 ulp against double exp over [−87, 88]), and 2^k built in the exponent bits. Inputs
// below −87 (including −∞, used to mask padding) give 0: e^−87 ≈ 1.6e-38 is negligible
// next to a row maximum's 1. NaN stays NaN.
L4Q_HD float el_exp(float x0) {
    // NaN fails both comparisons and becomes −87 here, so the int conversion below is
    // always defined (converting NaN to int32 is undefined); the last line returns it.
    float x = x0 > -87.0f ? (x0 < 88.0f ? x0 : 88.0f) : -87.0f; // 2^127 at most
    float kf = EL_MUL(x, 1.44269504088896341f);
    kf = EL_SUB(EL_ADD(kf, 12582912.0f), 12582912.0f); // round to nearest (1.5·2^23 trick, |kf| < 2^22)
    float r = EL_FMA(kf, -0.693359375f, x);
    r = EL_FMA(kf, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = EL_FMA(p, r, 1.3981999507e-3f);
    p = EL_FMA(p, r, 8.3334519073e-3f);
    p = EL_FMA(p, r, 4.1665795894e-2f);
    p = EL_FMA(p, r, 1.6666665459e-1f);
    p = EL_FMA(p, r, 5.0000001201e-1f);
    p = EL_FMA(p, r, 1.0f);
    p = EL_FMA(p, r, 1.0f);
    float scale = el_bits_f32((uint32_t)((int32_t)kf + 127) << 23);
    float y = x0 < -87.0f ? 0.0f : EL_MUL(p, scale);
    return x0 != x0 ? x0 : y;
}

// splitmix64's output function: a well-mixed value from a counter, for random streams
// indexed by position (the same for any thread count or device).
L4Q_HD uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// ---- bf16 ---------------------------------------------------------------------------------
// bf16 is the top half of an fp32: widening is exact.
L4Q_HD float bf16_to_f32(uint16_t h) { return el_bits_f32((uint32_t)h << 16); }
// Round to nearest even; NaN stays a (quiet) NaN.
L4Q_HD uint16_t f32_to_bf16_rne(float f) {
    uint32_t x = el_f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}
// bf16 by stochastic rounding: truncates after adding r16 (a uniform 16-bit random value)
// to the 16 bits dropped, so |x| rounds up with probability (dropped bits)/2^16 and the
// result equals x in expectation; values bf16 holds exactly stay exact, NaN stays NaN.
L4Q_HD uint16_t f32_to_bf16_sr(float x, uint32_t r16) {
    uint32_t b = el_f32_bits(x);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40);
    return (uint16_t)((b + (r16 & 0xffffu)) >> 16);
}

// ---- the group quantizer (core/quant.h) ---------------------------------------------------
// Scale guard: s is trained freely (the paper has no clamp); a scale that reaches zero
// would turn v into inf/NaN, so the quantizer divides by a scale of magnitude at least
// QUANT_S_MIN (sign kept). Gradients are computed at the guarded value. NaN passes through.
#define QUANT_S_MIN 1e-8f
L4Q_HD float quant_safe_scale(float s) {
    if (s >= QUANT_S_MIN || s <= -QUANT_S_MIN) return s;
    return s < 0 ? -QUANT_S_MIN : QUANT_S_MIN;
}

// The quantizer on one element with the (guarded) group parameters s, b, straight-through
// round, clip mask M = [Q_N ≤ v ≤ Q_P]: returns Wq = s·w̃ + b, sets *clip = 1 − M and
// *dsf = ∂Wq/∂s (clipped: the bound; inside: w̃ − v); ∂Wq/∂b = *clip, ∂Wq/∂w = M.
// v = (w − b)/s, w̃ = rint(clamp(v, Q_N, Q_P)): clamp first, then round half to even.
// Branch-free, so element loops over it vectorize under `omp simd`.
L4Q_HD float quant_ste_elem(float w, float s, float b, float qn, float qp, float *dsf, int *clip) {
    float v = EL_DIV(EL_SUB(w, b), s);
    float c = v < qn ? qn : v > qp ? qp : v, t = rintf(c);
    *clip = v < qn || v > qp;
    *dsf = *clip ? c : EL_SUB(t, v);
    return EL_ADD(EL_MUL(s, t), b);
}
// Wq of one element (the forward half of quant_ste_elem).
L4Q_HD float quant_fake_elem(float w, float s, float b, float qn, float qp) {
    float dsf;
    int clip;
    return quant_ste_elem(w, s, b, qn, qp, &dsf, &clip);
}
// Unsigned stored code w̃ − Q_N of one value under an already guarded scale s: the
// arithmetic of quant_fake_elem, term for term (deployed codes equal the trained Wq's).
L4Q_HD unsigned quant_ucode_elem(float w, float s, float b, int qn, int qp) {
    float v = EL_DIV(EL_SUB(w, b), s);
    float c = v < (float)qn ? (float)qn : v > (float)qp ? (float)qp : v;
    return (unsigned)((int)rintf(c) - qn);
}
// Signed code w̃ of one value, guarding s itself (the GPTQ baseline's column-by-column form).
L4Q_HD int quant_code_of(float w, float s, float b, int qn, int qp) {
    float v = EL_DIV(EL_SUB(w, b), quant_safe_scale(s));
    float c = v < (float)qn ? (float)qn : v > (float)qp ? (float)qp : v;
    return (int)rintf(c);
}
// Uniform dequant of one stored code u (unsigned, < 2^bits): s·(u + Q_N) + b, Q_N = −2^(bits−1).
L4Q_HD float quant_dequant_elem(unsigned u, float s, float b, int qn) {
    return EL_ADD(EL_MUL(s, (float)((int)u + qn)), b);
}

// ---- NF4 (core/nf4.h) ---------------------------------------------------------------------
// bitsandbytes' NF4 code table (the values of its CUDA/CPU dequantization table).
#define NF4_CODE_INIT                                                                              \
    {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,                     \
     -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,                    \
     0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,       \
     0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f}
#ifdef __CUDACC__
static __constant__ float NF4_CODE_DEV[16] = NF4_CODE_INIT;
#endif
// NF4 table entry k (0..15).
L4Q_HD float nf4_value(int k) {
#ifdef __CUDA_ARCH__
    return NF4_CODE_DEV[k & 15];
#else
    static const float t[16] = NF4_CODE_INIT;
    return t[k & 15];
#endif
}
// The code of element e (flat row-major index) in packed NF4 codes: element 2k in the high
// nibble of byte k, 2k+1 in the low one (bitsandbytes' packing).
L4Q_HD int nf4_code_at(const uint8_t *codes, size_t e) {
    uint8_t byte = codes[e / 2];
    return e % 2 ? byte & 15 : byte >> 4;
}
// A block's absmax from its double-quantized form: code8 (the dynamic-map entry of its
// index) · the second-level scale + the mean of all absmax values.
L4Q_HD float nf4_absmax_elem(float code8, float scale, float mean) { return EL_ADD(EL_MUL(code8, scale), mean); }
// One dequantized element: NF4 value of code k times the block's absmax.
L4Q_HD float nf4_dequant_elem(int k, float absmax) { return EL_MUL(nf4_value(k), absmax); }

// bitsandbytes' signed 8-bit "dynamic" map (create_dynamic_map(signed=True)): NF4's
// double-quantized absmax values are indices into it. Regenerated in float32 as bitsandbytes
// builds it with torch: for i = 0..6, the 2^i midpoints of linspace(0.1, 1, 2^i + 1) times
// 10^(i−6), both signs, plus 0 and 1, sorted (256 values). Host only (pow in double); the
// CPU (core/nf4.c) and the CUDA plugin (cuda/lin_frozen.cu, which uploads it) build it here.
static inline void nf4_dq_table(float out[256]) {
    float v[300];
    int n = 0;
    for (int i = 0; i < 7; i++) {
        int steps = (1 << i) + 1, half = steps / 2;
        float start = 0.1f, end = 1.0f, step = (end - start) / (float)(steps - 1);
        float lin[65];
        for (int k = 0; k < steps; k++) // torch's linspace: from the start up to half, from the end after
            lin[k] = k < half ? start + step * (float)k : end - step * (float)(steps - k - 1);
        float mag = (float)pow(10.0, i - 6);
        for (int k = 0; k + 1 < steps; k++) {
            float mean = (lin[k] + lin[k + 1]) / 2.0f;
            v[n++] = mag * mean;
            v[n++] = -(mag * mean);
        }
    }
    v[n++] = 0.0f;
    v[n++] = 1.0f;
    for (int i = 1; i < n; i++) { // insertion sort, 256 values
        float x = v[i];
        int k = i;
        while (k > 0 && v[k - 1] > x) { v[k] = v[k - 1]; k--; }
        v[k] = x;
    }
    memcpy(out, v, 256 * sizeof(float));
}

// ---- AdamW (core/optim.h) -----------------------------------------------------------------
// The per-step scalars, as torch computes them: in double on the Python side, then used as
// float32 scalars by the tensor kernels. decay: this tensor takes weight decay.
typedef struct { float step_size, bc2_sqrt, decay_mul, w1, b2, w2, eps; int decay; } AdamCoef;
// The scalars of step t (t ≥ 1, after the increment) at learning rate lr; decay is set per
// tensor by the caller (p->decay && weight_decay != 0). Host only (pow in double).
static inline AdamCoef adam_coef(float lr, long t, float beta1, float beta2, float eps, float weight_decay) {
    double bc1 = 1.0 - pow((double)beta1, (double)t);
    double bc2 = 1.0 - pow((double)beta2, (double)t);
    AdamCoef k = {(float)(-((double)lr / bc1)), (float)sqrt(bc2), (float)(1.0 - (double)lr * (double)weight_decay),
                  (float)(1.0 - (double)beta1), beta2, (float)(1.0 - (double)beta2), eps, 0};
    return k;
}
// One element in torch's float32 arithmetic: returns the new x, updates *m and *v.
L4Q_HD float adam_elem(float x, float g, float *m, float *v, const AdamCoef *k) {
    if (k->decay) x = EL_MUL(x, k->decay_mul);
    float mj = EL_ADD(*m, EL_MUL(k->w1, EL_SUB(g, *m))); // torch.lerp with weight < 0.5: m + w·(g − m)
    float vj = EL_MUL(*v, k->b2);
    vj = EL_ADD(vj, EL_MUL(EL_MUL(k->w2, g), g));
    float denom = EL_ADD(EL_DIV(EL_SQRT(vj), k->bc2_sqrt), k->eps);
    *m = mj;
    *v = vj;
    return EL_ADD(x, EL_DIV(EL_MUL(k->step_size, mj), denom));
}
// The random key of tensor i at step t for bf16 moments (seed: the optimizer's seed).
L4Q_HD uint64_t adam_bf16_key(uint64_t seed, long t, int i) {
    return mix64(seed ^ mix64(((uint64_t)t << 20) + (uint64_t)i));
}
// One element with bf16 moments: widen, update, store both moments by stochastic rounding
// with the bits of mix64(key + j) (m: low 16, v: the next 16).
L4Q_HD float adam_elem_bf16(float x, float g, uint16_t *m, uint16_t *v, const AdamCoef *k, uint64_t key, uint64_t j) {
    float mj = bf16_to_f32(*m), vj = bf16_to_f32(*v);
    x = adam_elem(x, g, &mj, &vj, k);
    uint64_t r = mix64(key + j);
    *m = f32_to_bf16_sr(mj, (uint32_t)r);
    *v = f32_to_bf16_sr(vj, (uint32_t)(r >> 16));
    return x;
}
