// test_elem.c — core/elem.h (the element math the CPU and the CUDA plugin share) equals the
// CPU formulas as they were before they moved there, bit for bit.
//
// The oracle is a frozen copy of the pre-refactor code, taken from commit aafd070
// (core/quant.h quant_safe_scale/quant_ste_elem/quant_code_of, core/quant.c quant_code and
// the dequant loop of quant_dequant_rows, core/optim.c Coef/adam_elem/the bf16 loop body of
// adamw_step, core/half.h f32_to_bf16_sr/bf16_to_f32, core/half.c the bf16 branch of
// f32_to_half, core/util.h mix64, core/nf4.c NF4_CODE and the element of nf4_dequant_rows).
// The CPU now calls elem.h, so the library functions are checked against the same copy:
// quant_fake_row/quant_encode/quant_dequant_rows, adamw_step (fp32 and bf16 moments),
// f32_to_half/half_to_f32 (bf16) and nf4_dequant_rows.
//
// Inputs: ≥ 10^6 per function, drawn from a mix of ordinary values, exact rounding ties
// (v = k + 0.5), values beyond the clamp bounds, scales at and below the guard (0, ±1e-8,
// subnormals), random bit patterns (NaN, ±Inf, subnormals).
#include "deploy.h"
#include "half.h"
#include "nf4.h"
#include "optim.h"
#include "quant.h"
#include "testlib.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

// ---- the frozen oracle (commit aafd070) ---------------------------------------------------
#define REF_S_MIN 1e-8f
static float ref_safe_scale(float s) {
    if (s >= REF_S_MIN || s <= -REF_S_MIN) return s;
    return s < 0 ? -REF_S_MIN : REF_S_MIN;
}
static float ref_ste_elem(float w, float s, float b, float qn, float qp, float *dsf, int *clip) {
    float v = (w - b) / s;
    float c = v < qn ? qn : v > qp ? qp : v, t = rintf(c);
    *clip = v < qn || v > qp;
    *dsf = *clip ? c : t - v;
    return s * t + b;
}
static unsigned ref_code(float w, float s, float b, int qn, int qp) {
    float v = (w - b) / s;
    float c = v < (float)qn ? (float)qn : v > (float)qp ? (float)qp : v;
    return (unsigned)((int)rintf(c) - qn);
}
static int ref_code_of(float w, float s, float b, int qn, int qp) {
    float v = (w - b) / ref_safe_scale(s);
    float c = v < (float)qn ? (float)qn : v > (float)qp ? (float)qp : v;
    return (int)rintf(c);
}
static float ref_dequant(unsigned u, float sg, float bg, int qn) { return sg * (float)((int)u + qn) + bg; }
typedef struct { float step_size, bc2_sqrt, decay_mul, w1, b2, w2, eps; int decay; } RefCoef;
static RefCoef ref_coef(float lr, long t, float beta1, float beta2, float eps, float wd) {
    double bc1 = 1.0 - pow((double)beta1, (double)t);
    double bc2 = 1.0 - pow((double)beta2, (double)t);
    RefCoef k = {.step_size = (float)(-((double)lr / bc1)), .bc2_sqrt = (float)sqrt(bc2),
                 .decay_mul = (float)(1.0 - (double)lr * (double)wd), .w1 = (float)(1.0 - (double)beta1),
                 .b2 = beta2, .w2 = (float)(1.0 - (double)beta2), .eps = eps};
    return k;
}
static float ref_adam_elem(float x, float g, float *m, float *v, const RefCoef *k) {
    if (k->decay) x *= k->decay_mul;
    float mj = *m + k->w1 * (g - *m);
    float vj = *v * k->b2;
    vj = vj + k->w2 * g * g;
    float denom = sqrtf(vj) / k->bc2_sqrt + k->eps;
    *m = mj; *v = vj;
    return x + k->step_size * mj / denom;
}
static uint64_t ref_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static float ref_bf16_to_f32(uint16_t h) { uint32_t b = (uint32_t)h << 16; float f; memcpy(&f, &b, 4); return f; }
static uint16_t ref_bf16_sr(float x, uint32_t r16) {
    uint32_t b;
    memcpy(&b, &x, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40);
    return (uint16_t)((b + (r16 & 0xffffu)) >> 16);
}
static uint16_t ref_bf16_rne(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}
// One element of the bf16-moment loop of adamw_step (tensor i, step t, element j).
static float ref_adam_bf16(float x, float g, uint16_t *m, uint16_t *v, const RefCoef *k, uint64_t seed, long t, int i,
                           long long j) {
    const uint64_t key = ref_mix64(seed ^ ref_mix64(((uint64_t)t << 20) + (uint64_t)i));
    float mj = ref_bf16_to_f32(*m), vj = ref_bf16_to_f32(*v);
    x = ref_adam_elem(x, g, &mj, &vj, k);
    uint64_t r = ref_mix64(key + (uint64_t)j);
    *m = ref_bf16_sr(mj, (uint32_t)r);
    *v = ref_bf16_sr(vj, (uint32_t)(r >> 16));
    return x;
}
static const float REF_NF4[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

// ---- inputs --------------------------------------------------------------------------------
static Rng R;
static uint32_t bits_of(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }
static float of_bits(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
// Bit for bit, except that any NaN equals any NaN: which operand's payload an x86 add or
// multiply passes on depends on the operand order the compiler picks (it may commute them
// differently in two inlined copies: seen under the ASan build's -O1), and the GPU returns
// a canonical NaN anyway. NaN-ness itself must agree.
static int same(float a, float b) { return (isnan(a) && isnan(b)) || bits_of(a) == bits_of(b); }
static float special(void) {
    static const float sp[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e-8f, -1e-8f, 9.9999e-9f, 1e-45f,
                               -1e-45f, 1.17549435e-38f, 3.4028235e38f, -3.4028235e38f, 0.5f, -0.5f, 1.5f, 2.5f};
    return sp[rng_u64(&R) % (sizeof sp / sizeof *sp)];
}
// A value: ordinary (70%), a random bit pattern (15%: NaN, Inf, subnormals), special (15%).
static float any_value(float scale) {
    uint64_t k = rng_u64(&R) % 100;
    if (k < 70) return (rng_uniform(&R) * 2 - 1) * scale;
    if (k < 85) return of_bits((uint32_t)rng_u64(&R));
    return special();
}
// (w, s, b) for the quantizer: ties (w = b + s·(k + 0.5) with s, b powers of two so v is
// exactly k + .5), clamps (|v| up to 3·Q_P), guard-sized scales, and any_value mixes.
static void quant_input(int qn, int qp, float *w, float *s, float *b) {
    uint64_t k = rng_u64(&R) % 8;
    int e = (int)(rng_u64(&R) % 20) - 10;
    float p2 = ldexpf(1.0f, e);
    *b = (rng_u64(&R) & 1) ? 0.0f : ldexpf((float)((int)(rng_u64(&R) % 9) - 4), e);
    *s = (rng_u64(&R) & 1) ? p2 : -p2;
    if (k < 3) { // exact ties inside and just outside the grid
        int c = (int)(rng_u64(&R) % (unsigned)(qp - qn + 3)) + qn - 2;
        *w = *b + *s * ((float)c + 0.5f);
    } else if (k < 4) { // clamps
        *w = *b + *s * (rng_uniform(&R) * 6 - 3) * (float)qp;
    } else if (k < 5) { // scale at or below the guard (the caller guards in quant_fake_row)
        *s = (rng_u64(&R) & 1) ? special() : (rng_uniform(&R) * 2 - 1) * 2e-8f;
        *w = any_value(1e-7f);
    } else if (k < 7) {
        *s = any_value(0.1f); *b = any_value(0.05f); *w = any_value(1.0f);
    } else {
        *s = (rng_uniform(&R) + 0.01f) * 0.1f; *b = (rng_uniform(&R) - 0.5f) * 0.05f;
        *w = (rng_uniform(&R) * 2 - 1) * 1.5f;
    }
}

#define NQ 1200000
static const int BITS[4] = {2, 3, 4, 8};

static void check_quant(void) {
    long bad_guard = 0, bad_ste = 0, bad_fake = 0, bad_ucode = 0, bad_code = 0, bad_deq = 0, ties = 0, clamps = 0, nans = 0,
         guards = 0;
    for (long i = 0; i < NQ; i++) {
        int bits = BITS[i % 4], qn = -(1 << (bits - 1)), qp = (1 << (bits - 1)) - 1;
        float w, s, b;
        quant_input(qn, qp, &w, &s, &b);
        bad_guard += !same(quant_safe_scale(s), ref_safe_scale(s));
        guards += s > -REF_S_MIN && s < REF_S_MIN;
        float sg = ref_safe_scale(s), d1, d2;
        int c1, c2;
        // Raw s too: the formula itself, whatever its caller guards.
        for (int raw = 0; raw < 2; raw++) {
            float ss = raw ? s : sg;
            float y1 = quant_ste_elem(w, ss, b, (float)qn, (float)qp, &d1, &c1);
            float y2 = ref_ste_elem(w, ss, b, (float)qn, (float)qp, &d2, &c2);
            bad_ste += !same(y1, y2) || !same(d1, d2) || c1 != c2;
            bad_fake += !same(quant_fake_elem(w, ss, b, (float)qn, (float)qp), y2);
        }
        float v = (w - b) / sg;
        ties += v == floorf(v) + 0.5f && v >= qn && v <= qp;
        clamps += v < qn || v > qp;
        nans += isnan(v);
        if (!isnan(v)) { // an int conversion of NaN is undefined behaviour in both
            bad_ucode += quant_ucode_elem(w, sg, b, qn, qp) != ref_code(w, sg, b, qn, qp);
            bad_code += quant_code_of(w, s, b, qn, qp) != ref_code_of(w, s, b, qn, qp);
        }
        unsigned u = (unsigned)(rng_u64(&R) % (1u << bits));
        bad_deq += !same(quant_dequant_elem(u, s, b, qn), ref_dequant(u, s, b, qn));
    }
    printf("quantizer inputs: %d, ties %ld, clamped %ld, NaN v %ld, unguarded scales %ld\n", NQ, ties, clamps, nans, guards);
    CHECK(ties > NQ / 10 && clamps > NQ / 10 && nans > 1000 && guards > 10000, "elem: quantizer inputs cover ties, clamps, NaN and the guard",
          "ties %ld clamps %ld nans %ld guards %ld", ties, clamps, nans, guards);
    CHECK(bad_guard == 0, "elem: quant_safe_scale", "%ld differ", bad_guard);
    CHECK(bad_ste == 0, "elem: quant_ste_elem (Wq, dsf, clip)", "%ld differ", bad_ste);
    CHECK(bad_fake == 0, "elem: quant_fake_elem", "%ld differ", bad_fake);
    CHECK(bad_ucode == 0, "elem: quant_ucode_elem (deployed codes)", "%ld differ", bad_ucode);
    CHECK(bad_code == 0, "elem: quant_code_of", "%ld differ", bad_code);
    CHECK(bad_deq == 0, "elem: quant_dequant_elem", "%ld differ", bad_deq);
    // Known answers, so the oracle itself is pinned: ties go to even, clamp before round.
    float d;
    int c;
    CHECK(quant_fake_elem(2.5f, 1, 0, -8, 7) == 2.0f && quant_fake_elem(-0.5f, 1, 0, -8, 7) == 0.0f &&
              quant_fake_elem(3.5f, 1, 0, -8, 7) == 4.0f && quant_fake_elem(7.5f, 1, 0, -8, 7) == 7.0f &&
              quant_fake_elem(-9.0f, 0.5f, 0, -8, 7) == -4.0f && quant_code_of(1.0f, 0.0f, 0, -8, 7) == 7 &&
              quant_ste_elem(100.0f, 1, 0, -8, 7, &d, &c) == 7.0f && d == 7.0f && c == 1 &&
              quant_ste_elem(1.25f, 1, 0, -8, 7, &d, &c) == 1.0f && d == -0.25f && c == 0,
          "elem: quantizer known answers (half to even, clamp then round)", "wrong");
}

// The library's row functions (they now call elem.h) against the frozen element loop.
static void check_quant_rows(void) {
    const int out = 37, in = 200, ng_gs[3] = {32, 7, -1};
    long bad_fake = 0, bad_enc = 0, bad_deq = 0;
    for (int bi = 0; bi < 4; bi++)
        for (int gi = 0; gi < 3; gi++) {
            QuantSpec q;
            quant_spec(&q, BITS[bi], ng_gs[gi], out, in);
            float *W = xmalloc(sizeof(float) * out * in), *Wq = xmalloc(sizeof(float) * out * in);
            float *s = xmalloc(sizeof(float) * out * q.ng), *b = xmalloc(sizeof(float) * out * q.ng);
            float *deq = xmalloc(sizeof(float) * out * in);
            for (int k = 0; k < out * q.ng; k++) {
                float w;
                quant_input(q.qn, q.qp, &w, &s[k], &b[k]);
                if (isnan(s[k]) || isinf(s[k])) s[k] = 0.01f; // codes of NaN v are undefined
                if (isnan(b[k]) || isinf(b[k])) b[k] = 0.0f;
            }
            for (int r = 0; r < out; r++)
                for (int j = 0; j < in; j++) {
                    size_t g = (size_t)r * q.ng + j / q.gs;
                    float sg = s[g], sb, bb;
                    quant_input(q.qn, q.qp, &W[(size_t)r * in + j], &sb, &bb);
                    // Most elements on this group's grid (ties and clamps), some anything finite.
                    if (rng_u64(&R) % 4) W[(size_t)r * in + j] = b[g] + ref_safe_scale(sg) * ((float)((int)(rng_u64(&R) % 40) - 20) * 0.5f);
                    if (!isfinite(W[(size_t)r * in + j])) W[(size_t)r * in + j] = 0.25f;
                }
            quant_fake_rows(&q, W, s, b, 0, out, Wq);
            uint8_t *codes = xmalloc(quant_codes_bytes(&q)), *u = xmalloc((size_t)out * in);
            quant_encode(&q, W, s, b, codes);
            quant_unpack(codes, out, in, q.bits, u);
            quant_dequant_rows(codes, s, b, q.bits, q.gs, in, 0, out, deq);
            for (int r = 0; r < out; r++)
                for (int j = 0; j < in; j++) {
                    size_t e = (size_t)r * in + j, g = (size_t)r * q.ng + j / q.gs;
                    float d, sg = ref_safe_scale(s[g]);
                    int c;
                    float y = ref_ste_elem(W[e], sg, b[g], (float)q.qn, (float)q.qp, &d, &c);
                    unsigned uc = ref_code(W[e], sg, b[g], q.qn, q.qp);
                    bad_fake += !same(Wq[e], y);
                    bad_enc += u[e] != uc;
                    bad_deq += !same(deq[e], ref_dequant(uc, s[g], b[g], q.qn));
                }
            free(W); free(Wq); free(s); free(b); free(deq); free(codes); free(u);
        }
    CHECK(bad_fake == 0, "elem: quant_fake_rows = frozen element loop", "%ld differ", bad_fake);
    CHECK(bad_enc == 0, "elem: quant_encode codes = frozen quant_code", "%ld differ", bad_enc);
    CHECK(bad_deq == 0, "elem: quant_dequant_rows = frozen dequant", "%ld differ", bad_deq);
}

#define NA 1100000
static void check_adam(void) {
    long bad_coef = 0, bad32 = 0, bad16 = 0;
    static const float lrs[] = {1e-3f, 5e-3f, 2e-4f, 1e-5f, 0.1f};
    for (long i = 0; i < NA; i++) {
        float lr = lrs[i % 5], b1 = (i / 5) % 3 ? 0.9f : 0.8f, b2 = (i / 15) % 2 ? 0.999f : 0.95f, eps = (i / 30) % 2 ? 1e-8f : 1e-6f;
        float wd = (i / 60) % 3 ? 0.01f : 0.0f;
        long t = 1 + (long)(rng_u64(&R) % 5000);
        AdamCoef k = adam_coef(lr, t, b1, b2, eps, wd);
        RefCoef rk = ref_coef(lr, t, b1, b2, eps, wd);
        k.decay = rk.decay = wd != 0 && (i & 1);
        bad_coef += !same(k.step_size, rk.step_size) || !same(k.bc2_sqrt, rk.bc2_sqrt) || !same(k.decay_mul, rk.decay_mul) ||
                    !same(k.w1, rk.w1) || !same(k.b2, rk.b2) || !same(k.w2, rk.w2) || !same(k.eps, rk.eps);
        float x = any_value(0.5f), g = any_value(rng_u64(&R) % 2 ? 1e-3f : 10.0f);
        float m = any_value(1e-2f), v = rng_u64(&R) % 8 ? fabsf(any_value(1e-4f)) : any_value(1e-4f);
        float m2 = m, v2 = v;
        float x1 = adam_elem(x, g, &m, &v, &k), x2 = ref_adam_elem(x, g, &m2, &v2, &rk);
        bad32 += !same(x1, x2) || !same(m, m2) || !same(v, v2);
        uint16_t mb = (uint16_t)rng_u64(&R), vb = (uint16_t)rng_u64(&R);
        if (rng_u64(&R) % 4) { mb = ref_bf16_rne(any_value(1e-2f)); vb = ref_bf16_rne(fabsf(any_value(1e-4f))); }
        uint16_t mb2 = mb, vb2 = vb;
        uint64_t seed = rng_u64(&R);
        int ti = (int)(rng_u64(&R) % 300);
        long long j = (long long)(rng_u64(&R) % 100000000);
        x1 = adam_elem_bf16(x, g, &mb, &vb, &k, adam_bf16_key(seed, t, ti), (uint64_t)j);
        x2 = ref_adam_bf16(x, g, &mb2, &vb2, &rk, seed, t, ti, j);
        bad16 += !same(x1, x2) || mb != mb2 || vb != vb2;
    }
    CHECK(bad_coef == 0, "elem: adam_coef", "%ld differ", bad_coef);
    CHECK(bad32 == 0, "elem: adam_elem (fp32 moments)", "%ld of %d differ", bad32, NA);
    CHECK(bad16 == 0, "elem: adam_elem_bf16 (stochastic-rounded moments, mix64 keys)", "%ld of %d differ", bad16, NA);
}

// adamw_step itself (fp32 and bf16 moments, decay on one tensor) against the frozen loop.
static void check_adamw_step(void) {
    for (int pass = 0; pass < 2; pass++) {
        const int dt = pass ? DT_BF16 : DT_F32;
        enum { NP = 3, STEPS = 4 };
        const size_t sz[NP] = {40000, 70001, 513};
        Param p[NP], *ps[NP];
        float *x[NP], *m32[NP], *v32[NP];
        uint16_t *m16[NP], *v16[NP];
        for (int i = 0; i < NP; i++) {
            memset(&p[i], 0, sizeof p[i]);
            snprintf(p[i].name, sizeof p[i].name, "p%d", i);
            p[i].n = sz[i];
            p[i].decay = i == 1;
            p[i].data = xmalloc(sz[i] * 4); p[i].grad = xmalloc(sz[i] * 4);
            x[i] = xmalloc(sz[i] * 4); m32[i] = xcalloc(sz[i], 4); v32[i] = xcalloc(sz[i], 4);
            m16[i] = xcalloc(sz[i], 2); v16[i] = xcalloc(sz[i], 2);
            for (size_t j = 0; j < sz[i]; j++) x[i][j] = p[i].data[j] = (rng_uniform(&R) - 0.5f);
            ps[i] = &p[i];
        }
        const uint64_t seed = 1234567;
        AdamW *o = adamw_new(ps, NP, 0.9f, 0.999f, 1e-8f, 0.01f, dt, seed);
        long bad = 0;
        for (int st = 1; st <= STEPS; st++) {
            float lr = 1e-3f * (float)st;
            for (int i = 0; i < NP; i++)
                for (size_t j = 0; j < sz[i]; j++) p[i].grad[j] = j % 997 ? (rng_uniform(&R) - 0.5f) * 1e-2f : 0.0f;
            adamw_step(o, ps, NP, lr);
            RefCoef k = ref_coef(lr, st, 0.9f, 0.999f, 1e-8f, 0.01f);
            for (int i = 0; i < NP; i++) {
                k.decay = p[i].decay;
                for (size_t j = 0; j < sz[i]; j++)
                    x[i][j] = dt == DT_F32 ? ref_adam_elem(x[i][j], p[i].grad[j], &m32[i][j], &v32[i][j], &k)
                                           : ref_adam_bf16(x[i][j], p[i].grad[j], &m16[i][j], &v16[i][j], &k, seed, st, i, (long long)j);
                bad += memcmp(x[i], p[i].data, sz[i] * 4) != 0;
                bad += dt == DT_F32 ? memcmp(m32[i], o->m[i], sz[i] * 4) || memcmp(v32[i], o->v[i], sz[i] * 4)
                                    : memcmp(m16[i], o->m[i], sz[i] * 2) || memcmp(v16[i], o->v[i], sz[i] * 2);
            }
        }
        CHECK(bad == 0, dt == DT_F32 ? "elem: adamw_step fp32 = frozen loop (4 steps, 110k values)"
                                     : "elem: adamw_step bf16 moments = frozen loop (4 steps, 110k values)",
              "%ld tensor-steps differ", bad);
        adamw_free(o);
        for (int i = 0; i < NP; i++) { free(p[i].data); free(p[i].grad); free(x[i]); free(m32[i]); free(v32[i]); free(m16[i]); free(v16[i]); }
    }
}

static void check_bits(void) {
    long bad_mix = 0, bad_w = 0, bad_rne = 0, bad_sr = 0, bad_lib = 0, nan_in = 0;
    for (uint32_t h = 0; h < 65536; h++) bad_w += !same(bf16_to_f32((uint16_t)h), ref_bf16_to_f32((uint16_t)h));
    enum { NB = 1 << 20 };
    float *src = xmalloc(NB * 4), *wide = xmalloc(NB * 4);
    uint16_t *lib = xmalloc(NB * 2);
    for (long i = 0; i < NB; i++) {
        uint64_t z = rng_u64(&R);
        bad_mix += mix64(z) != ref_mix64(z) || mix64((uint64_t)i) != ref_mix64((uint64_t)i);
        // Random bit patterns, and ties: the dropped half exactly 0x8000 with either parity.
        uint32_t b = (uint32_t)z;
        if (i % 3 == 1) b = (b & 0xffff0000u) | 0x8000u;
        if (i % 7 == 2) b = (b & 0xffff0000u) | 0x7fffu;
        float f = i % 11 == 3 ? special() : of_bits(b);
        src[i] = f;
        nan_in += isnan(f);
        bad_rne += f32_to_bf16_rne(f) != ref_bf16_rne(f);
        uint32_t r16 = (uint32_t)(z >> 32);
        bad_sr += f32_to_bf16_sr(f, r16) != ref_bf16_sr(f, r16);
    }
    f32_to_half(DT_BF16, src, lib, NB);
    for (long i = 0; i < NB; i++) bad_lib += lib[i] != ref_bf16_rne(src[i]);
    half_to_f32(DT_BF16, lib, wide, NB);
    for (long i = 0; i < NB; i++) bad_lib += !same(wide[i], ref_bf16_to_f32(lib[i]));
    CHECK(bad_mix == 0, "elem: mix64 (2^21 inputs)", "%ld differ", bad_mix);
    CHECK(bad_w == 0, "elem: bf16_to_f32 on all 65536 patterns", "%ld differ", bad_w);
    CHECK(bad_rne == 0 && nan_in > 1000, "elem: f32_to_bf16_rne (2^20 inputs, ties, NaN)", "%ld differ, %ld NaN inputs", bad_rne, nan_in);
    CHECK(bad_sr == 0, "elem: f32_to_bf16_sr (2^20 inputs)", "%ld differ", bad_sr);
    CHECK(bad_lib == 0, "elem: f32_to_half/half_to_f32 bf16 = frozen", "%ld differ", bad_lib);
    CHECK(f32_to_bf16_rne(of_bits(0x3f808000u)) == 0x3f80 && f32_to_bf16_rne(of_bits(0x3f818000u)) == 0x3f82 &&
              (f32_to_bf16_rne(NAN) & 0x7fc0) == 0x7fc0,
          "elem: bf16 known answers (ties to even, NaN quiet)", "wrong");
    free(src); free(wide); free(lib);
}

static void check_nf4(void) {
    long bad = 0;
    for (int k = 0; k < 16; k++) bad += !same(nf4_value(k), REF_NF4[k]) || !same(NF4_CODE[k], REF_NF4[k]);
    CHECK(bad == 0, "elem: NF4 table (nf4_value, NF4_CODE)", "%ld differ", bad);
    long bad_e = 0, bad_a = 0;
    uint8_t codes[64];
    for (long i = 0; i < 1000000; i++) {
        if (i % 64 == 0)
            for (int c = 0; c < 64; c++) codes[c] = (uint8_t)rng_u64(&R);
        size_t e = (size_t)(i % 128);
        uint8_t byte = codes[e / 2];
        int ref_k = e % 2 ? byte & 15 : byte >> 4;
        float a = any_value(1.0f), c8 = any_value(1.0f), sc = any_value(0.1f), mean = any_value(0.1f);
        bad_e += nf4_code_at(codes, e) != ref_k || !same(nf4_dequant_elem(ref_k, a), REF_NF4[ref_k] * a);
        bad_a += !same(nf4_absmax_elem(c8, sc, mean), c8 * sc + mean);
    }
    CHECK(bad_e == 0, "elem: nf4_code_at + nf4_dequant_elem (10^6)", "%ld differ", bad_e);
    CHECK(bad_a == 0, "elem: nf4_absmax_elem (10^6)", "%ld differ", bad_a);
    // nf4_dequant_rows (the library) against the frozen element formula over a real deploy.
    const int out = 50, in = 130;
    float *W = xmalloc(sizeof(float) * out * in), *deq = xmalloc(sizeof(float) * out * in);
    for (int i = 0; i < out * in; i++) W[i] = rng_normal(&R) * 0.02f;
    Deploy d;
    nf4_quantize(W, out, in, &d);
    nf4_dequant_rows(&d, 0, out, deq);
    const float *dq = nf4_dq_code();
    long bad_r = 0;
    for (size_t e = 0; e < (size_t)out * in; e++) {
        size_t blk = e / NF4_BLOCK;
        float a = dq[d.absmax_q[blk]] * d.absmax_scale[blk / NF4_DQ_BLOCK] + d.absmax_mean;
        uint8_t byte = d.codes[e / 2];
        bad_r += !same(deq[e], REF_NF4[e % 2 ? byte & 15 : byte >> 4] * a);
    }
    CHECK(bad_r == 0, "elem: nf4_dequant_rows = frozen formula", "%ld differ", bad_r);
    deploy_free(&d);
    free(W); free(deq);
}

int main(void) {
    rng_seed(&R, 20261207);
    check_quant();
    check_quant_rows();
    check_adam();
    check_adamw_step();
    check_bits();
    check_nf4();
    T_EXIT();
}
