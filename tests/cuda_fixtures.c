// cuda_fixtures.c — writes the CPU side of the CUDA per-op parity test (tests/test_cuda_ops.cu):
// seeded random inputs and the outputs of the real CPU functions (core/ops.c, core/l4q.c via
// its Linear, core/optim.c, core/nf4.c, core/quant.c, core/half.c, the mm_* helpers), one
// file per case in the format of tests/cudafix.h. Run by `make cuda-fixtures` (usage:
// cuda_fixtures OUTDIR); a few MB in all. Not a test itself (the name has no test_ prefix).
#include "cudafix.h"
#include "deploy.h"
#include "half.h"
#include "linear.h"
#include "methods.h"
#include "nf4.h"
#include "ops.h"
#include "optim.h"
#include "quant.h"
#include "tensor.h"
#include "util.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// ---- the writer ---------------------------------------------------------------------------
typedef struct {
    char name[FIX_NAME_LEN];
    int dtype;
    const void *data;
    uint64_t count;
} FixArr;
static FixArr g_arr[48];
static int g_n;
static const char *g_dir;
static size_t g_total;

static void put(const char *name, int dtype, const void *data, size_t count) {
    if (g_n == (int)(sizeof g_arr / sizeof *g_arr)) die_internal("cuda_fixtures: too many arrays");
    FixArr *a = &g_arr[g_n++];
    memset(a->name, 0, sizeof a->name);
    snprintf(a->name, sizeof a->name, "%.*s", (int)sizeof a->name - 1, name); // the format's fixed-size field
    a->dtype = dtype;
    a->data = data;
    a->count = count;
}
#define PUTF(name, p, n) put(name, FIX_F32, p, n)
#define PUTI(name, p, n) put(name, FIX_I32, p, n)

// The one function that writes a fixture file: the arrays put() since the last call.
static void fix_write(const char *case_name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.bin", g_dir, case_name);
    FILE *f = fopen(path, "wb");
    if (!f) die_input("%s: %s", path, strerror(errno));
    uint32_t hdr[2] = {(uint32_t)g_n, 0};
    fwrite(FIX_MAGIC, 1, 8, f);
    fwrite(hdr, sizeof hdr, 1, f);
    for (int i = 0; i < g_n; i++) {
        uint32_t dt[2] = {(uint32_t)g_arr[i].dtype, 0};
        fwrite(g_arr[i].name, 1, FIX_NAME_LEN, f);
        fwrite(dt, sizeof dt, 1, f);
        fwrite(&g_arr[i].count, sizeof g_arr[i].count, 1, f);
        fwrite(g_arr[i].data, fix_elem_bytes(g_arr[i].dtype), g_arr[i].count, f);
        g_total += g_arr[i].count * fix_elem_bytes(g_arr[i].dtype);
    }
    if (ferror(f) | fclose(f)) die_input("%s: write failed", path);
    g_n = 0;
}

// ---- inputs -----------------------------------------------------------------------------------
static Rng g_rng;
// Arrays stay allocated until the program ends (put() keeps pointers): a few MB.
static float *randn(size_t n, float sc) {
    float *p = xmalloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) p[i] = rng_normal(&g_rng) * sc;
    return p;
}
static float *copyf(const float *src, size_t n) {
    float *p = xmalloc(n * sizeof(float) + 4);
    memcpy(p, src, n * sizeof(float));
    return p;
}

// gemm — dims {N, in, out}, fpar {beta_xwt}: Y = X·Wᵀ + 0.5·Y0, dX = dX0 + dY·W, dW = dW0 + dYᵀ·X.
static void case_gemm(void) {
    int N = 37, in = 70, out = 50, dims[3] = {N, in, out};
    static float fpar[1] = {0.5f};
    float *X = randn((size_t)N * in, 1), *W = randn((size_t)out * in, 0.3f), *Y0 = randn((size_t)N * out, 1);
    float *dY = randn((size_t)N * out, 1), *dX0 = randn((size_t)N * in, 1), *dW0 = randn((size_t)out * in, 1);
    float *Y = copyf(Y0, (size_t)N * out), *dX = copyf(dX0, (size_t)N * in), *dW = copyf(dW0, (size_t)out * in);
    mm_xwt(X, W, Y, N, in, out, fpar[0]);
    mm_dyw(dY, W, dX, N, out, in, 1.0f);
    mm_dytx(dY, X, dW, N, out, in, 1.0f, 1.0f);
    PUTI("dims", dims, 3); PUTF("fpar", fpar, 1);
    PUTF("X", X, (size_t)N * in); PUTF("W", W, (size_t)out * in); PUTF("Y0", Y0, (size_t)N * out); PUTF("Y", Y, (size_t)N * out);
    PUTF("dY", dY, (size_t)N * out); PUTF("dX0", dX0, (size_t)N * in); PUTF("dX", dX, (size_t)N * in);
    PUTF("dW0", dW0, (size_t)out * in); PUTF("dW", dW, (size_t)out * in);
    fix_write("gemm");
}

// embedding — dims {V, dim, R}: out = emb[tok]; demb = demb0 + scatter(dout).
static void case_embedding(void) {
    int V = 64, dim = 48, R = 40, dims[3] = {V, dim, R};
    int *tok = xmalloc(R * sizeof(int));
    for (int r = 0; r < R; r++) tok[r] = (int)(rng_u64(&g_rng) % 16) * 3; // repeats: rows share tokens
    float *emb = randn((size_t)V * dim, 1), *out = xmalloc((size_t)R * dim * sizeof(float));
    float *dout = randn((size_t)R * dim, 1), *demb0 = randn((size_t)V * dim, 1), *demb = copyf(demb0, (size_t)V * dim);
    embedding_forward(out, tok, emb, R, dim);
    embedding_backward(demb, dout, tok, R, dim);
    PUTI("dims", dims, 3); PUTI("tok", tok, R); PUTF("emb", emb, (size_t)V * dim); PUTF("out", out, (size_t)R * dim);
    PUTF("dout", dout, (size_t)R * dim); PUTF("demb0", demb0, (size_t)V * dim); PUTF("demb", demb, (size_t)V * dim);
    fix_write("embedding");
}

// rmsnorm — dims {R, dim}, fpar {eps}.
static void case_rmsnorm(void) {
    int R = 33, dim = 200, dims[2] = {R, dim};
    static float fpar[1] = {1e-5f};
    float *x = randn((size_t)R * dim, 2), *w = randn(dim, 0.1f);
    for (int i = 0; i < dim; i++) w[i] += 1.0f;
    float *out = xmalloc((size_t)R * dim * sizeof(float)), *rstd = xmalloc(R * sizeof(float));
    rmsnorm_forward(out, rstd, x, w, R, dim, fpar[0]);
    float *dout = randn((size_t)R * dim, 1), *dx0 = randn((size_t)R * dim, 1), *dw0 = randn(dim, 1);
    float *dx = copyf(dx0, (size_t)R * dim), *dw = copyf(dw0, dim);
    rmsnorm_backward(dx, dw, dout, x, w, rstd, R, dim);
    PUTI("dims", dims, 2); PUTF("fpar", fpar, 1);
    PUTF("x", x, (size_t)R * dim); PUTF("w", w, dim); PUTF("out", out, (size_t)R * dim); PUTF("rstd", rstd, R);
    PUTF("dout", dout, (size_t)R * dim); PUTF("dx0", dx0, (size_t)R * dim); PUTF("dx", dx, (size_t)R * dim);
    PUTF("dw0", dw0, dim); PUTF("dw", dw, dim);
    fix_write("rmsnorm");
}

// rope — dims {B, T, cols, hs, r0}: x0 rotated in place on rows [r0, B·T) → x; dx0 → dx.
static void case_rope(void) {
    int B = 2, T = 37, cols = 64, hs = 16, r0 = 5, R = B * T, dims[5] = {B, T, cols, hs, r0};
    float *ct = xmalloc((size_t)T * hs / 2 * sizeof(float)), *st = xmalloc((size_t)T * hs / 2 * sizeof(float));
    static const float llama3[4] = {8.0f, 1.0f, 4.0f, 16.0f}; // short context: scaling reaches these positions
    rope_tables(ct, st, T, hs, 10000.0f, llama3);
    float *x0 = randn((size_t)R * cols, 1), *x = copyf(x0, (size_t)R * cols);
    float *dx0 = randn((size_t)R * cols, 1), *dx = copyf(dx0, (size_t)R * cols);
    rope_forward(x, r0, R, T, cols, hs, ct, st);
    rope_backward(dx, r0, R, T, cols, hs, ct, st);
    PUTI("dims", dims, 5); PUTF("cos", ct, (size_t)T * hs / 2); PUTF("sin", st, (size_t)T * hs / 2);
    PUTF("x0", x0, (size_t)R * cols); PUTF("x", x, (size_t)R * cols); PUTF("dx0", dx0, (size_t)R * cols); PUTF("dx", dx, (size_t)R * cols);
    fix_write("rope");
}

// att_* — dims {B, T, H, KVH, hs}: out, lse (ldT = T) of attention_forward; dq, dk, dv =
// dq0.. + attention_backward(dout, out, lse).
static void case_attention(const char *name, int B, int T, int H, int KVH, int hs, float qscale) {
    int dims[5] = {B, T, H, KVH, hs};
    size_t R = (size_t)B * T, nq = R * H * hs, nk = R * KVH * hs, nl = (size_t)B * H * T;
    float *q = randn(nq, qscale), *k = randn(nk, 1), *v = randn(nk, 1), *dout = randn(nq, 1);
    float *out = xmalloc(nq * sizeof(float)), *lse = xmalloc(nl * sizeof(float));
    attention_forward(out, lse, q, k, v, B, T, 0, H, KVH, hs, T);
    float *dq0 = randn(nq, 1), *dk0 = randn(nk, 1), *dv0 = randn(nk, 1);
    float *dq = xmalloc(nq * sizeof(float)), *dk = xmalloc(nk * sizeof(float)), *dv = xmalloc(nk * sizeof(float));
    attention_backward(dq, dk, dv, dout, out, lse, q, k, v, B, T, H, KVH, hs, T); // writes; the device accumulates
    for (size_t i = 0; i < nq; i++) dq[i] += dq0[i];
    for (size_t i = 0; i < nk; i++) { dk[i] += dk0[i]; dv[i] += dv0[i]; }
    PUTI("dims", dims, 5); PUTF("q", q, nq); PUTF("k", k, nk); PUTF("v", v, nk); PUTF("out", out, nq); PUTF("lse", lse, nl);
    PUTF("dout", dout, nq); PUTF("dq0", dq0, nq); PUTF("dk0", dk0, nk); PUTF("dv0", dv0, nk);
    PUTF("dq", dq, nq); PUTF("dk", dk, nk); PUTF("dv", dv, nk);
    fix_write(name);
}

// swiglu — dims {n}; residual — dims {n}: y = y0 + x.
static void case_swiglu_residual(void) {
    int n = 5000, dims[1] = {n};
    float *h1 = randn(n, 4), *h3 = randn(n, 1), *g = xmalloc(n * sizeof(float));
    swiglu_forward(g, h1, h3, n);
    float *dg = randn(n, 1), *dh1_0 = randn(n, 1), *dh3_0 = randn(n, 1), *dh1 = xmalloc(n * sizeof(float)), *dh3 = xmalloc(n * sizeof(float));
    swiglu_backward(dh1, dh3, dg, h1, h3, n); // writes; the device kernel accumulates onto dh10, dh30
    for (int i = 0; i < n; i++) { dh1[i] += dh1_0[i]; dh3[i] += dh3_0[i]; }
    PUTI("dims", dims, 1); PUTF("h1", h1, n); PUTF("h3", h3, n); PUTF("g", g, n);
    PUTF("dg", dg, n); PUTF("dh10", dh1_0, n); PUTF("dh30", dh3_0, n); PUTF("dh1", dh1, n); PUTF("dh3", dh3, n);
    fix_write("swiglu");
    float *y0 = randn(n, 1), *x = randn(n, 1), *y = xmalloc(n * sizeof(float));
    for (int i = 0; i < n; i++) y[i] = y0[i] + x[i]; // model.c's residual_add (static there)
    PUTI("dims", dims, 1); PUTF("y0", y0, n); PUTF("x", x, n); PUTF("y", y, n);
    fix_write("residual");
}

// classifier — dims {m, V}, fpar {loss_scale}: per row logsoftmax_row with weight w (targets
// < 0: weight 0) → lp, greedy, dl (loss_scale·w·(softmax − onehot)); nll (f64) = Σ −lp·w.
static void case_classifier(void) {
    int m = 24, V = 1000, dims[2] = {m, V};
    static float fpar[1] = {0.25f};
    float *lg = randn((size_t)m * V, 3), *w = xmalloc(m * sizeof(float)), *dl = xmalloc((size_t)m * V * sizeof(float));
    float *lp = xmalloc(m * sizeof(float));
    int *tg = xmalloc(m * sizeof(int)), *gr = xmalloc(m * sizeof(int));
    for (int i = 0; i < m; i++) {
        tg[i] = (int)(rng_u64(&g_rng) % V);
        w[i] = 0.5f + rng_uniform(&g_rng);
    }
    tg[5] = tg[11] = -1;
    lg[3 * V + 17] = lg[3 * V + 400] = 50.0f; // a tied maximum: greedy is the first
    tg[3] = 17;
    lg[7 * V + 9] = 40.0f; // a row whose target is the unique maximum
    tg[7] = 9;
    double nll = 0;
    for (int i = 0; i < m; i++) {
        float wi = tg[i] < 0 ? 0.0f : w[i];
        memcpy(dl + (size_t)i * V, lg + (size_t)i * V, V * sizeof(float));
        lp[i] = logsoftmax_row(lg + (size_t)i * V, V, tg[i], &gr[i], dl + (size_t)i * V, fpar[0] * wi);
        nll += -(double)lp[i] * wi;
    }
    PUTI("dims", dims, 2); PUTF("fpar", fpar, 1); PUTF("logits", lg, (size_t)m * V); PUTI("targets", tg, m);
    PUTF("w", w, m); PUTF("lp", lp, m); PUTI("greedy", gr, m); PUTF("dl", dl, (size_t)m * V);
    put("nll", FIX_F64, xmalloc(8), 1);
    memcpy((void *)g_arr[g_n - 1].data, &nll, 8);
    fix_write("classifier");
}

// adamw_f32 / adamw_bf16 — dims {n0, n1, steps, decay0, decay1}, fpar {lr, beta1, beta2, eps,
// wd}, seed as u16×4 "seed": two tensors stepped `steps` times with grads g<step>_<i>; the
// final x<i>, m<i>, v<i> (f32, or raw bf16 bits as u16).
static void case_adamw(int state_dtype) {
    enum { STEPS = 3 };
    int n[2] = {100, 3000}, dims[5] = {n[0], n[1], STEPS, 0, 1};
    static float fpar[5] = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f};
    static uint64_t seed = 0x5eed1234abcdULL;
    Param *ps[2];
    for (int i = 0; i < 2; i++) {
        ps[i] = param_new(i ? "p1" : "p0", n[i], 1, dims[3 + i]);
        float *x0 = randn(n[i], 0.5f);
        memcpy(ps[i]->data, x0, n[i] * sizeof(float));
        param_make_trainable(ps[i]);
        PUTF(i ? "x0_1" : "x0_0", x0, n[i]);
    }
    AdamW *o = adamw_new(ps, 2, fpar[1], fpar[2], fpar[3], fpar[4], state_dtype, seed);
    for (int s = 0; s < STEPS; s++)
        for (int i = 0; i < 2; i++) {
            float *g = randn(n[i], s == 2 ? 1e-3f : 1.0f); // small grads: v shrinks (bf16 SR matters)
            memcpy(ps[i]->grad, g, n[i] * sizeof(float));
            char nm[32];
            snprintf(nm, sizeof nm, "g%d_%d", s, i);
            PUTF(nm, g, n[i]);
            if (i == 1) adamw_step(o, ps, 2, fpar[0]);
        }
    for (int i = 0; i < 2; i++) {
        PUTF(i ? "x1" : "x0", copyf(ps[i]->data, n[i]), n[i]);
        int dt = state_dtype == DT_F32 ? FIX_F32 : FIX_U16;
        size_t es = state_dtype == DT_F32 ? 4 : 2;
        void *m = xmalloc(n[i] * es), *v = xmalloc(n[i] * es);
        memcpy(m, o->m[i], n[i] * es);
        memcpy(v, o->v[i], n[i] * es);
        put(i ? "m1" : "m0", dt, m, n[i]);
        put(i ? "v1" : "v0", dt, v, n[i]);
    }
    PUTI("dims", dims, 5); PUTF("fpar", fpar, 5); put("seed", FIX_U16, &seed, 4);
    fix_write(state_dtype == DT_F32 ? "adamw_f32" : "adamw_bf16");
    adamw_free(o);
    for (int i = 0; i < 2; i++) { param_free(ps[i]); free(ps[i]); }
}

// gradnorm — dims {n0, n1}, fpar {max_norm}: grad_clip over two tensors → norm (f64), the
// clipped grads c0, c1.
static void case_gradnorm(void) {
    int n[2] = {10000, 5000}, dims[2] = {n[0], n[1]};
    static float fpar[1] = {1.0f};
    Param *ps[2];
    for (int i = 0; i < 2; i++) {
        ps[i] = param_new(i ? "p1" : "p0", n[i], 1, 0);
        param_make_trainable(ps[i]);
        float *g = randn(n[i], 1);
        memcpy(ps[i]->grad, g, n[i] * sizeof(float));
        PUTF(i ? "g1" : "g0", g, n[i]);
    }
    double *norm = xmalloc(8);
    *norm = grad_clip(ps, 2, fpar[0]);
    for (int i = 0; i < 2; i++) PUTF(i ? "c1" : "c0", copyf(ps[i]->grad, n[i]), n[i]);
    PUTI("dims", dims, 2); PUTF("fpar", fpar, 1); put("norm", FIX_F64, norm, 1);
    fix_write("gradnorm");
    for (int i = 0; i < 2; i++) { param_free(ps[i]); free(ps[i]); }
}

// casts — dims {n}: f32 → bf16 (RNE, f32_to_half), bf16 bits → f32, f16 bits → f32
// (half_to_f32), f16 → bf16 (widen, then RNE).
static void case_casts(void) {
    int n = 4096, dims[1] = {n};
    float *f = randn(n, 1);
    uint32_t specials[] = {0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffc01234u, 0x80000000u, 0x00000001u,
                           0x007fffffu, 0x7f7fffffu, 0x3f808000u, 0x3f818000u, 0x3f807fffu, 0x3f808001u, 0xbf808000u};
    for (size_t i = 0; i < sizeof specials / 4; i++) memcpy(&f[i], &specials[i], 4);
    for (int i = 64; i < 512; i++) { // ties: the dropped half exactly 0x8000, both parities
        uint32_t b;
        memcpy(&b, &f[i], 4);
        b = (b & 0xffff0000u) | 0x8000u;
        memcpy(&f[i], &b, 4);
    }
    uint16_t *bf = xmalloc(n * 2), *hb = xmalloc(n * 2), *bits = xmalloc(n * 2);
    float *bw = xmalloc(n * 4), *hw = xmalloc(n * 4);
    f32_to_half(DT_BF16, f, bf, n);
    for (int i = 0; i < n; i++) bits[i] = (uint16_t)rng_u64(&g_rng);
    half_to_f32(DT_BF16, bits, bw, n);
    half_to_f32(DT_F16, bits, hw, n);
    f32_to_half(DT_BF16, hw, hb, n);
    PUTI("dims", dims, 1); PUTF("f", f, n); put("bf", FIX_U16, bf, n); put("bits", FIX_U16, bits, n);
    PUTF("bf_w", bw, n); PUTF("f16_w", hw, n); put("f16_bf", FIX_U16, hb, n);
    fix_write("casts");
}

// nf4 — dims {out, in, r0, t}, fpar {absmax_mean}: nf4_quantize(W) → codes, absmax_q,
// absmax_scale; dq_code (256); tile = nf4_dequant_rows(r0, t).
static void case_nf4(void) {
    int out = 96, in = 200, r0 = 8, t = 40, dims[4] = {out, in, r0, t};
    float *W = randn((size_t)out * in, 0.05f);
    Deploy d;
    nf4_quantize(W, out, in, &d);
    size_t n = (size_t)out * in;
    float *tile = xmalloc((size_t)t * in * sizeof(float));
    nf4_dequant_rows(&d, r0, t, tile);
    static float fpar[1];
    fpar[0] = d.absmax_mean;
    PUTI("dims", dims, 4); PUTF("fpar", fpar, 1); put("codes", FIX_U8, d.codes, d.codes_bytes);
    put("absmax_q", FIX_U8, d.absmax_q, nf4_blocks(n)); PUTF("absmax_scale", d.absmax_scale, nf4_scales(n));
    PUTF("dq_code", nf4_dq_code(), 256); PUTF("tile", tile, (size_t)t * in);
    fix_write("nf4");
}

// uniform_b<bits> — dims {out, in, bits, gs (resolved), r0, t}: quant_deploy_rtn(W) → codes,
// scale, offset; tile = quant_dequant_rows(r0, t).
static void case_uniform(int bits, int gs, int out, int in) {
    float *W = randn((size_t)out * in, 0.05f);
    Deploy d;
    quant_deploy_rtn(&d, W, out, in, bits, gs);
    int g = deploy_group(&d), r0 = 2, t = out - 3, dims[6] = {out, in, bits, g, r0, t};
    float *tile = xmalloc((size_t)t * in * sizeof(float));
    deploy_rows(&d, r0, t, tile);
    PUTI("dims", dims, 6); put("codes", FIX_U8, d.codes, d.codes_bytes);
    PUTF("scale", d.scale, deploy_nparams(&d)); PUTF("offset", d.offset, deploy_nparams(&d)); PUTF("tile", tile, (size_t)t * in);
    char name[32];
    snprintf(name, sizeof name, "uniform_b%d", bits);
    fix_write(name);
}

// l4q_* — dims {out, in, rank, bits, gs (resolved), ng, N, lsq_scale, w0_dtype (DT_*)}, fpar
// {alpha/rank}: one L4Q layer (core/l4q.c through linear_build) with W0 (f32 "W0", or 16-bit
// bits "W0h"), trained-looking A, B, s, b (some rows with B = 0, W0 on the half grid and a
// power-of-two s: rounding ties; some scales shrunk: clipping). Outputs: Wq (deployed
// codes dequantized = the training-time Wq bit for bit), u (unsigned codes), Y = X·Wqᵀ, and
// from backward(X, dY, dX0): dX, dA, dB, ds, db.
static void case_l4q(const char *name, int w0_dtype, int bits, int gs, int lsq) {
    int out = 48, in = 100, rank = 4, N = 16;
    MethodCfg m;
    method_defaults(&m, "l4q");
    m.rank = rank; m.alpha = 8; m.bits = bits; m.group_size = gs; m.tile_rows = 5; m.lsq_grad_scale = lsq;
    float *W0 = randn((size_t)out * in, 0.05f);
    const float sgrid = 1.0f / 32; // tie rows 0..7: W0 = (k + 1/2)·sgrid, B = 0, s = sgrid, b = 0
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < in; j++) W0[(size_t)i * in + j] = ((float)((int)(rng_u64(&g_rng) % 12) - 6) + 0.5f) * sgrid;
    Param W;
    uint16_t *W0h = NULL;
    if (w0_dtype == DT_F32) param_init(&W, "layers.0.q.weight", W0, out, in, 1);
    else {
        W0h = xmalloc((size_t)out * in * 2);
        f32_to_half(w0_dtype, W0, W0h, (size_t)out * in);
        param_init16(&W, "layers.0.q.weight", w0_dtype, W0h, out, in, 1);
    }
    Linear *L = linear_build(&m, &W, "layers.0.q", &g_rng);
    L->training = 1;
    Param *A = L->params[0], *B = L->params[1], *s = L->params[2], *b = L->params[3];
    QuantSpec q;
    quant_spec(&q, bits, gs, out, in);
    for (size_t i = 0; i < A->n; i++) A->data[i] = rng_normal(&g_rng) * 0.3f;
    for (size_t i = 0; i < B->n; i++) B->data[i] = i < (size_t)8 * rank ? 0.0f : rng_normal(&g_rng) * 0.02f;
    for (int r = 0; r < out; r++)
        for (int g = 0; g < q.ng; g++) {
            size_t k = (size_t)r * q.ng + g;
            if (r < 8) { s->data[k] = sgrid; b->data[k] = 0; continue; }
            if (r % 5 == 0) s->data[k] *= 0.6f; // values beyond the grid clip
            b->data[k] = rng_normal(&g_rng) * 0.005f;
        }
    s->data[(size_t)9 * q.ng] = 0.0f; // a zero scale: the guard
    float *X = randn((size_t)N * in, 1), *dY = randn((size_t)N * out, 1), *dX0 = randn((size_t)N * in, 1);
    float *Y = xmalloc((size_t)N * out * sizeof(float)), *dX = copyf(dX0, (size_t)N * in);
    L->ops->forward(L, X, Y, N);
    for (int i = 0; i < 4; i++) memset(L->params[i]->grad, 0, L->params[i]->n * sizeof(float));
    L->ops->backward(L, X, dY, dX, N);
    Deploy d;
    L->ops->deploy(L, &d);
    float *Wq = xmalloc((size_t)out * in * sizeof(float));
    deploy_rows(&d, 0, out, Wq);
    uint8_t *u = xmalloc((size_t)out * in);
    quant_unpack(d.codes, out, in, bits, u);
    int dims[9] = {out, in, rank, bits, q.gs, q.ng, N, lsq, w0_dtype};
    static float fpar[1];
    fpar[0] = m.alpha / m.rank;
    PUTI("dims", dims, 9); PUTF("fpar", fpar, 1);
    if (w0_dtype == DT_F32) PUTF("W0", W0, (size_t)out * in);
    else put("W0h", FIX_U16, W0h, (size_t)out * in);
    PUTF("A", copyf(A->data, A->n), A->n); PUTF("B", copyf(B->data, B->n), B->n);
    PUTF("s", copyf(s->data, s->n), s->n); PUTF("b", copyf(b->data, b->n), b->n);
    PUTF("X", X, (size_t)N * in); PUTF("dY", dY, (size_t)N * out); PUTF("dX0", dX0, (size_t)N * in);
    PUTF("Wq", Wq, (size_t)out * in); put("u", FIX_U8, u, (size_t)out * in); PUTF("Y", Y, (size_t)N * out);
    PUTF("dX", dX, (size_t)N * in);
    PUTF("dA", copyf(A->grad, A->n), A->n); PUTF("dB", copyf(B->grad, B->n), B->n);
    PUTF("ds", copyf(s->grad, s->n), s->n); PUTF("db", copyf(b->grad, b->n), b->n);
    fix_write(name);
    deploy_free(&d);
    linear_free(L);
}

// qsaved_* — dims {out, in, bits, gs (resolved), ng, lsq_scale}: quant_forward_saved(W, s, b)
// → Wq, dsf, mask (u8); quant_backward_saved(G) onto ds0, db0 → ds, db and dW0 → dW.
static void case_qsaved(const char *name, int bits, int gs, int lsq) {
    int out = 40, in = 72;
    QuantSpec q;
    quant_spec(&q, bits, gs, out, in);
    size_t n = (size_t)out * in, ng = (size_t)out * q.ng;
    float *W = randn(n, 0.05f), *s = xmalloc(ng * sizeof(float)), *b = xmalloc(ng * sizeof(float));
    const float sgrid = 1.0f / 32; // rows 0..3: W on the half grid, s = sgrid, b = 0: rounding ties
    for (size_t e = 0; e < (size_t)4 * in; e++) W[e] = ((float)((int)(rng_u64(&g_rng) % 6) - 3) + 0.5f) * sgrid;
    quant_init_params(&q, W, QINIT_L4Q, s, b);
    for (int r = 0; r < out; r++)
        for (int g = 0; g < q.ng; g++) {
            size_t k = (size_t)r * q.ng + g;
            if (r < 4) { s[k] = sgrid; b[k] = 0; continue; }
            if (r % 4 == 0) s[k] *= 0.5f;
            b[k] = rng_normal(&g_rng) * 0.005f;
        }
    float *Wq = xmalloc(n * sizeof(float)), *dsf = xmalloc(n * sizeof(float));
    uint8_t *mask = xmalloc(n);
    quant_forward_saved(&q, W, s, b, Wq, dsf, mask);
    float *G = randn(n, 1), *ds0 = randn(ng, 0.1f), *db0 = randn(ng, 0.1f), *dW0 = randn(n, 1);
    float *ds = copyf(ds0, ng), *db = copyf(db0, ng), *dW = copyf(dW0, n);
    quant_backward_saved(&q, G, dsf, mask, lsq, ds, db, dW);
    int dims[6] = {out, in, bits, q.gs, q.ng, lsq};
    PUTI("dims", dims, 6); PUTF("W", W, n); PUTF("s", s, ng); PUTF("b", b, ng);
    PUTF("Wq", Wq, n); PUTF("dsf", dsf, n); put("mask", FIX_U8, mask, n);
    PUTF("G", G, n); PUTF("ds0", ds0, ng); PUTF("db0", db0, ng); PUTF("dW0", dW0, n);
    PUTF("ds", ds, ng); PUTF("db", db, ng); PUTF("dW", dW, n);
    fix_write(name);
}

int main(int argc, char **argv) {
    if (argc != 2) die_input("usage: cuda_fixtures OUTDIR");
    g_dir = argv[1];
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", g_dir);
    if (system(cmd) != 0) die_input("%s: cannot create the directory", g_dir);
    rng_seed(&g_rng, 20261207);
    case_gemm();
    case_embedding();
    case_rmsnorm();
    case_rope();
    case_attention("att_mha", 2, 64, 4, 4, 16, 1.0f);
    case_attention("att_gqa", 1, 128, 32, 8, 8, 1.0f);
    case_attention("att_mha512", 1, 512, 2, 2, 32, 0.5f);
    case_attention("att_gqa100", 2, 100, 4, 2, 16, 2.0f);
    case_swiglu_residual();
    case_classifier();
    case_adamw(DT_F32);
    case_adamw(DT_BF16);
    case_gradnorm();
    case_casts();
    case_nf4();
    case_uniform(2, 16, 12, 64);
    case_uniform(3, 32, 10, 100);
    case_uniform(4, -1, 8, 77);
    case_uniform(8, 64, 6, 130);
    case_l4q("l4q_f32", DT_F32, 4, 32, 0);
    case_l4q("l4q_bf16", DT_BF16, 4, 32, 0);
    case_l4q("l4q_f16_lsq", DT_F16, 3, -1, 1);
    case_qsaved("qsaved_b4", 4, 32, 0);
    case_qsaved("qsaved_b2_lsq", 2, -1, 1);
    printf("cuda_fixtures: %s: %.1f MB\n", g_dir, g_total / 1e6);
    return 0;
}
