// test_baselines.c — the baselines/ methods (baselines/README.md).
//
// Without arguments (as the suite runs it): NF4 table and nearest-code rule, NF4+DQ round
// trip and bits/weight (a real stories260K layer and the asymptote), uniform RTN deploy
// round trip, GPTQ vs RTN output reconstruction on stories260K's real layers with real
// calibration activations (3 and 4 bits, with and without act-order), the model-level
// GPTQ pass (records == in-place weights, perplexity vs RTN), LoftQ's error over the
// alternations, every method's export → l4qz → load → same logits (QA-LoRA's fold ≤ 1e-5),
// qlora's memory account, and bad configurations (exit 2 with a clear message).
// With arguments it is the C side of tests/test_baselines.py (the torch oracle):
//   grad METHOD DIR      random layer of METHOD (qlora|qa_lora|peqa|rtn_lora|loftq), forward
//                        + backward; dumps inputs, outputs and grads as raw arrays in DIR
//   gptq DIR ACT_ORDER   GPTQ on a random correlated case; dumps W, H, the result
//   nf4 DIR              NF4 table, dynamic map, and a quantized random matrix
#include "baselines/baselines.h"
#include <float.h>
#include "checkpoint.h"
#include "l4qz.h"
#include "snapshot.h"
#include "linear.h"
#include "methods.h"
#include "model.h"
#include "nf4.h"
#include "ppl.h"
#include "quant.h"
#include "testlib.h"
#include "tokenizer.h"
#include "util.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_path[4096];
// Under the sanitizers (the suite's second pass) the real-model checks run on fewer and
// shorter windows: same code paths, a fraction of the time.
#if defined(__SANITIZE_ADDRESS__)
#define LIGHT 1
#else
#define LIGHT 0
#endif
static const char *data_file(const char *rel) {
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    return resolve_path(rel, NULL, buf[k], sizeof buf[k]);
}
static float *randv(Rng *r, size_t n, float sc) {
    float *p = xmalloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) p[i] = rng_normal(r) * sc;
    return p;
}
static MethodCfg cfg(const char *name, int bits, int gs) {
    MethodCfg m;
    method_defaults(&m, name);
    m.bits = bits; m.group_size = gs;
    return m;
}
static void dump(const char *dir, const char *name, const void *p, size_t bytes) {
    snprintf(g_path, sizeof g_path, "%s/%s", dir, name);
    FILE *f = fopen(g_path, "wb");
    if (!f || fwrite(p, 1, bytes, f) != bytes) die_internal("cannot write %s", g_path);
    fclose(f);
}

// ---- drivers for the python oracle ------------------------------------------------------------

static int mode_grad(const char *method, const char *dir) {
    int out = 24, in = 80, N = 12, gs = 16;
    Rng rng;
    rng_seed(&rng, 7);
    Param W;
    float *w = randv(&rng, (size_t)out * in, 0.1f);
    param_init(&W, "w", w, out, in, 1);
    MethodCfg m = cfg(method, 4, gs);
    if (!strcmp(method, "qa_lora") || !strcmp(method, "loftq")) snprintf(m.base, sizeof m.base, "rtn");
    if (!strcmp(method, "peqa")) m.bits = 3;
    m.rank = 4; m.alpha = 6;
    Linear *L = linear_build(&m, &W, "t", &rng);
    L->training = 1;
    // The frozen base as the layer holds it, taken before training moves anything (qa_lora's
    // deploy folds B·A into the offsets; with B = 0 it is the base itself).
    Deploy d;
    L->ops->deploy(L, &d);
    float *Wq = xmalloc((size_t)out * in * sizeof(float));
    if (d.kind == DEP_NF4) nf4_dequant_rows(&d, 0, out, Wq);
    else quant_dequant_rows(d.codes, d.scale, d.offset, d.bits, d.group_size, in, 0, out, Wq);
    deploy_free(&d);
    // Nonzero B (and perturbed scales) so every gradient path carries signal.
    for (int i = 0; i < L->n_params; i++) {
        Param *p = L->params[i];
        for (size_t k = 0; k < p->n; k++) p->data[k] += rng_normal(&rng) * (strstr(p->name, "qscale") ? 0.05f * p->data[k] : 0.05f);
        memset(p->grad, 0, p->n * sizeof(float));
    }
    float *X = randv(&rng, (size_t)N * in, 1.0f), *dY = randv(&rng, (size_t)N * out, 0.1f);
    float *Y = xmalloc((size_t)N * out * sizeof(float)), *dX = xcalloc((size_t)N * in, sizeof(float));
    L->ops->forward(L, X, Y, N);
    L->ops->backward(L, X, dY, dX, N);
    L->ops->deploy(L, &d); // after training: what export writes (qa_lora: merged)
    float *Wm = xmalloc((size_t)out * in * sizeof(float));
    if (d.kind == DEP_NF4) nf4_dequant_rows(&d, 0, out, Wm);
    else quant_dequant_rows(d.codes, d.scale, d.offset, d.bits, d.group_size, in, 0, out, Wm);
    dump(dir, "Wdeploy", Wm, (size_t)out * in * 4);
    free(Wm);
    snprintf(g_path, sizeof g_path, "%s/meta.txt", dir);
    FILE *f = fopen(g_path, "w");
    fprintf(f, "out %d\nin %d\nN %d\ngs %d\nrank %d\nscale %.9g\nbits %d\nkind %d\n", out, in, N, d.group_size,
            m.rank, m.alpha / m.rank, d.bits, (int)d.kind);
    for (int i = 0; i < L->n_params; i++) fprintf(f, "param %s %d %d\n", L->params[i]->name, L->params[i]->shape[0], L->params[i]->shape[1]);
    fclose(f);
    dump(dir, "W0", w, (size_t)out * in * 4);
    dump(dir, "X", X, (size_t)N * in * 4);
    dump(dir, "dY", dY, (size_t)N * out * 4);
    dump(dir, "Y", Y, (size_t)N * out * 4);
    dump(dir, "dX", dX, (size_t)N * in * 4);
    dump(dir, "Wq", Wq, (size_t)out * in * 4);
    for (int i = 0; i < L->n_params; i++) {
        char nm[128];
        const char *suffix = strrchr(L->params[i]->name, '.') + 1;
        snprintf(nm, sizeof nm, "p_%s", suffix);
        dump(dir, nm, L->params[i]->data, L->params[i]->n * 4);
        snprintf(nm, sizeof nm, "g_%s", suffix);
        dump(dir, nm, L->params[i]->grad, L->params[i]->n * 4);
    }
    if (d.kind == DEP_UNIFORM) {
        QuantSpec q;
        quant_spec(&q, d.bits, d.group_size, out, in);
        uint8_t *u = xmalloc((size_t)out * in);
        quant_unpack(d.codes, out, in, d.bits, u);
        dump(dir, "codes", u, (size_t)out * in);
        dump(dir, "dscale", d.scale, quant_nparams(&q) * 4);
        dump(dir, "doffset", d.offset, quant_nparams(&q) * 4);
        free(u);
    }
    deploy_free(&d);
    linear_free(L);
    free(w); free(X); free(dY); free(Y); free(dX); free(Wq);
    return 0;
}

static int mode_gptq(const char *dir, int act_order) {
    int out = 24, in = 160, N = 512, gs = 32, bits = 3;
    Rng rng;
    rng_seed(&rng, 11);
    float *W = randv(&rng, (size_t)out * in, 0.1f);
    // Correlated inputs (mixing matrix) with one dead feature: H is far from diagonal.
    float *Z = randv(&rng, (size_t)N * in, 1.0f), *Mx = randv(&rng, (size_t)in * in, 0.3f), *X = xmalloc((size_t)N * in * 4);
    for (int i = 0; i < in; i++) Mx[(size_t)i * in + i] += 1.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, in, 1.0f, Z, in, Mx, in, 0.0f, X, in);
    for (int n = 0; n < N; n++) X[(size_t)n * in + 5] = 0;
    double *H = xcalloc((size_t)in * in, sizeof(double));
    for (int n = 0; n < N; n++)
        for (int i = 0; i < in; i++)
            for (int k = 0; k < in; k++) H[(size_t)i * in + k] += 2.0 / N * X[(size_t)n * in + i] * X[(size_t)n * in + k];
    float *Wq = xmalloc((size_t)out * in * 4);
    memcpy(Wq, W, (size_t)out * in * 4);
    QuantSpec q;
    quant_spec(&q, bits, gs, out, in);
    float *s = xmalloc(quant_nparams(&q) * 4), *b = xmalloc(quant_nparams(&q) * 4);
    uint8_t *codes = xmalloc(quant_codes_bytes(&q)), *u = xmalloc((size_t)out * in);
    double loss = gptq_quantize_matrix(bits, gs, Wq, out, in, H, 0.01f, act_order, s, b, codes);
    quant_unpack(codes, out, in, bits, u);
    snprintf(g_path, sizeof g_path, "%s/meta.txt", dir);
    FILE *f = fopen(g_path, "w");
    fprintf(f, "out %d\nin %d\ngs %d\nbits %d\nact_order %d\nloss %.17g\n", out, in, gs, bits, act_order, loss);
    fclose(f);
    dump(dir, "W", W, (size_t)out * in * 4);
    dump(dir, "H", H, (size_t)in * in * 8);
    dump(dir, "Wq", Wq, (size_t)out * in * 4);
    dump(dir, "s", s, quant_nparams(&q) * 4);
    dump(dir, "b", b, quant_nparams(&q) * 4);
    dump(dir, "codes", u, (size_t)out * in);
    free(W); free(Z); free(Mx); free(X); free(H); free(Wq); free(s); free(b); free(codes); free(u);
    return 0;
}

static int mode_nf4(const char *dir) {
    int out = 40, in = 100; // 4000 values: 63 blocks, the last one partial
    Rng rng;
    rng_seed(&rng, 3);
    float *W = randv(&rng, (size_t)out * in, 0.05f);
    for (int i = 0; i < 64; i++) W[i] *= 10; // one block with a much larger absmax
    Deploy d;
    nf4_quantize(W, out, in, &d);
    float *Wd = xmalloc((size_t)out * in * 4);
    nf4_dequant_rows(&d, 0, out, Wd);
    size_t blocks = ((size_t)out * in + 63) / 64;
    dump(dir, "table", NF4_CODE, 64);
    dump(dir, "dqmap", nf4_dq_code(), 256 * 4);
    dump(dir, "W", W, (size_t)out * in * 4);
    dump(dir, "codes", d.codes, d.codes_bytes);
    dump(dir, "absmax_q", d.absmax_q, blocks);
    dump(dir, "absmax_scale", d.absmax_scale, ((blocks + 255) / 256) * 4);
    dump(dir, "absmax_mean", &d.absmax_mean, 4);
    dump(dir, "Wd", Wd, (size_t)out * in * 4);
    deploy_free(&d);
    free(W); free(Wd);
    return 0;
}

// ---- self-checks -----------------------------------------------------------------------------

static void check_nf4_basics(void) {
    static const char *const PUBLISHED_NF4[16] = {"-1.0", "-0.6961928009986877", "-0.5250730514526367",
        "-0.39491748809814453", "-0.28444138169288635", "-0.18477343022823334", "-0.09105003625154495", "0.0",
        "0.07958029955625534", "0.16093020141124725", "0.24611230194568634", "0.33791524171829224",
        "0.44070982933044434", "0.5626170039176941", "0.7229568362236023", "1.0"};
    int same = 1, self = 1, mid = 1;
    for (int i = 0; i < 16; i++) {
        float v = (float)strtod(PUBLISHED_NF4[i], NULL);
        same &= memcmp(&v, &NF4_CODE[i], 4) == 0;
        self &= nf4_index(NF4_CODE[i]) == i;
        if (i < 15) {
            float m = (NF4_CODE[i] + NF4_CODE[i + 1]) * 0.5f;
            mid &= nf4_index(m) == i && nf4_index(nextafterf(m, 2.0f)) == i + 1;
        }
    }
    CHECK(same, "nf4 table bit-exact vs bitsandbytes' published values", "differs");
    CHECK(self && mid, "nf4 nearest code: each value to itself, midpoints down", "self %d mid %d", self, mid);
    const float *dq = nf4_dq_code();
    int sorted = 1;
    for (int i = 1; i < 256; i++) sorted &= dq[i] > dq[i - 1];
    CHECK(sorted && dq[255] == 1.0f && dq[0] < -0.99f, "dynamic 8-bit map: 256 increasing values up to 1", "bad map");

    // Round trip: every value within half the widest NF4 gap of its block's absmax (+ DQ error).
    Rng rng;
    rng_seed(&rng, 1);
    int out = 96, in = 200;
    float *W = randv(&rng, (size_t)out * in, 0.02f);
    Deploy d;
    nf4_quantize(W, out, in, &d);
    float *Wd = xmalloc((size_t)out * in * 4);
    nf4_dequant_rows(&d, 0, out, Wd);
    float *Wt = xmalloc((size_t)7 * in * 4);
    nf4_dequant_rows(&d, 13, 7, Wt);
    // |x − c·a'| ≤ |x − c·a| + |c|·|a − a'|: half the widest NF4 gap of the exact absmax a,
    // plus the double-quantization error of the stored absmax a'.
    double worst = 0, dqrel = 0;
    for (size_t blk = 0; blk * 64 < (size_t)out * in; blk++) {
        size_t e1 = (blk + 1) * 64 < (size_t)out * in ? (blk + 1) * 64 : (size_t)out * in;
        float a = 0;
        for (size_t e = blk * 64; e < e1; e++) a = fmaxf(a, fabsf(W[e]));
        float a2 = dq[d.absmax_q[blk]] * d.absmax_scale[blk / 256] + d.absmax_mean;
        dqrel = fmax(dqrel, fabs(a2 - a) / a);
        for (size_t e = blk * 64; e < e1; e++) worst = fmax(worst, (fabs(W[e] - Wd[e]) - fabs(a2 - a)) / a);
    }
    printf("  nf4 round trip: worst error %.4f of absmax (bound %.4f), worst DQ absmax error %.2e relative\n", worst,
           0.5 * (1.0 - 0.6961928009986877), dqrel);
    CHECK(worst <= 0.5 * (1.0 - 0.6961928009986877) + 1e-6 && dqrel < 0.01,
          "nf4 round trip: error <= half the widest gap + the DQ absmax error", "%g (dq %g)", worst, dqrel);
    CHECK(!memcmp(Wt, Wd + (size_t)13 * in, (size_t)7 * in * 4), "nf4 tile dequant == whole dequant rows", "differ");
    // Re-quantizing the dequantized weight reproduces the codes (stable fixed point) almost everywhere.
    Deploy d2;
    nf4_quantize(Wd, out, in, &d2);
    size_t same_codes = 0;
    for (size_t k = 0; k < d.codes_bytes; k++) same_codes += d.codes[k] == d2.codes[k];
    CHECK(same_codes >= d.codes_bytes * 99 / 100, "nf4 re-quantization keeps >= 99% of code bytes", "%zu of %zu", same_codes, d.codes_bytes);
    deploy_free(&d2);
    deploy_free(&d);
    free(Wd); free(Wt); free(W);

    // Bits per weight: the asymptote and a real stories260K layer.
    int bo = 1024, bi = 4096;
    float *Wb = randv(&rng, (size_t)bo * bi, 0.02f);
    nf4_quantize(Wb, bo, bi, &d);
    double bpw = nf4_bits_per_weight(&d);
    CHECK(fabs(bpw - 4.127) < 0.001, "nf4+DQ bits/weight on a 1024x4096 matrix ~ 4.127", "%.5f", bpw);
    deploy_free(&d);
    free(Wb);
    ModelFile *mf = model_file_load(data_file("models/stories260K/stories260K.bin"));
    int o2, i2;
    proj_dims(&mf->c, P_GATE, &o2, &i2);
    nf4_quantize(mf->w[P_GATE], o2, i2, &d);
    bpw = nf4_bits_per_weight(&d);
    printf("  stories260K layers.0.gate (%dx%d) NF4+DQ: %.4f bits/weight\n", o2, i2, bpw);
    CHECK(bpw > 4.125 && bpw < 4.135, "nf4+DQ bits/weight on stories260K layers.0.gate (one DQ scale, short tensor)", "%.5f", bpw);
    deploy_free(&d);
    model_file_free(mf);
}

static void check_uniform_roundtrip(void) {
    Rng rng;
    rng_seed(&rng, 2);
    int out = 33, in = 70;
    float *W = randv(&rng, (size_t)out * in, 0.1f);
    static const int BITS[4] = {2, 3, 4, 8}, GS[3] = {16, -1, 32};
    int ok = 1;
    for (int bi = 0; bi < 4; bi++)
        for (int gi = 0; gi < 3; gi++) {
            int bits = BITS[bi];
            MethodCfg m = cfg("rtn", bits, GS[gi]);
            Param P;
            param_init(&P, "w", W, out, in, 1);
            Linear *L = linear_build(&m, &P, "w", &rng);
            Deploy d;
            L->ops->deploy(L, &d);
            QuantSpec q;
            quant_spec(&q, bits, GS[gi], out, in);
            float *s = xmalloc(quant_nparams(&q) * 4), *b = xmalloc(quant_nparams(&q) * 4);
            float *F = xmalloc((size_t)out * in * 4), *D = xmalloc((size_t)out * in * 4);
            quant_rtn(&q, W, s, b, NULL);
            quant_fake_rows(&q, W, s, b, 0, out, F);
            quant_dequant_rows(d.codes, d.scale, d.offset, bits, q.gs, in, 0, out, D);
            ok &= !memcmp(F, D, (size_t)out * in * 4);
            // and the layer's forward equals X·Fᵀ
            float *X = randv(&rng, 5 * (size_t)in, 1), *Y = xmalloc(5 * (size_t)out * 4), *Yr = xmalloc(5 * (size_t)out * 4);
            L->ops->forward(L, X, Y, 5);
            mm_xwt(X, F, Yr, 5, in, out, 0);
            ok &= t_maxdiff(Y, Yr, 5 * (size_t)out) < 1e-5f;
            free(X); free(Y); free(Yr); free(s); free(b); free(F); free(D);
            deploy_free(&d);
            linear_free(L);
        }
    CHECK(ok, "rtn deploy: codes dequantize to quant_fake_rows exactly; forward matches (2/3/4/8 bits, gs 16/32/row)", "mismatch");
    free(W);
}

// ---- GPTQ on stories260K's real layers -----------------------------------------------------------

typedef struct { ModelFile *mf; Tokenizer *tok; int *stream; int n; } Real;
static Real real_load(void) {
    Real r;
    r.mf = model_file_load(data_file("models/stories260K/stories260K.bin"));
    r.tok = tok_load(data_file("models/stories260K/tok512.bin"), r.mf->c.vocab_size);
    const char *p = data_file("tinystories/tinystories_train_excerpt.txt");
    size_t len;
    char *text = read_file(p, &len);
    r.stream = text_to_stream(r.tok, p, text, len, &r.n);
    free(text);
    return r;
}
static void real_free(Real *r) { model_file_free(r->mf); tok_free(r->tok); free(r->stream); }

// ‖X·Δᵀ‖²_F = Σ_rows Δ_r·H·Δ_rᵀ with H = Σ x xᵀ (any positive multiple compares the same).
static double recon_err(const float *W, const float *Wq, int out, int in, const double *H) {
    double tot = 0;
    double *dl = xmalloc((size_t)in * sizeof(double));
    for (int r = 0; r < out; r++) {
        for (int i = 0; i < in; i++) dl[i] = (double)W[(size_t)r * in + i] - Wq[(size_t)r * in + i];
        for (int i = 0; i < in; i++) {
            double a = 0;
            for (int k = 0; k < in; k++) a += H[(size_t)i * in + k] * dl[k];
            tot += dl[i] * a;
        }
    }
    free(dl);
    return tot;
}

static void check_gptq_real(void) {
    Real R = real_load();
    const Config *c = &R.mf->c;
    int T = LIGHT ? 128 : 256, nw = 8, B = 4, L = c->n_layers;
    Model *M = model_build(R.mf, NULL, B, T, 0);
    // H for the four distinct inputs of every layer (fp model; the matrix-level comparison).
    static const int INPUT_OF[N_LAYER_PROJ] = {0, 0, 0, 1, 2, 2, 3}, REP[4] = {P_Q, P_O, P_GATE, P_DOWN};
    double *H[64][4];
    for (int l = 0; l < L; l++)
        for (int k = 0; k < 4; k++) {
            int o, in;
            proj_dims(c, REP[k], &o, &in);
            H[l][k] = xcalloc((size_t)in * in, sizeof(double));
        }
    long stride = (R.n - T) / (nw - 1);
    int *tok = xmalloc((size_t)B * T * sizeof(int));
    for (int w0 = 0; w0 < nw; w0 += B) {
        for (int b = 0; b < B; b++) memcpy(tok + (size_t)b * T, R.stream + (w0 + b) * stride, (size_t)T * sizeof(int));
        model_forward(M, tok, B, T, 0);
        for (int l = 0; l < L; l++)
            for (int k = 0; k < 4; k++) {
                int o, in;
                proj_dims(c, REP[k], &o, &in);
                const float *X = model_proj_input(M, l, REP[k]);
                float *S = xmalloc((size_t)in * in * 4);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, in, B * T, 1.0f, X, in, X, in, 0.0f, S, in);
                for (size_t e = 0; e < (size_t)in * in; e++) H[l][k][e] += 2.0 * S[e] / (nw * T);
                free(S);
            }
    }
    free(tok);
    model_free(M);
    struct { int bits, gs, act; } cases[] = {{4, 32, 0}, {3, 32, 0}, {3, -1, 0}, {3, 32, 1}, {4, -1, 1}};
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        int bits = cases[ci].bits, gs = cases[ci].gs, act = cases[ci].act, wins = 0, total = 0;
        double eg = 0, er = 0;
        for (int l = 0; l < L; l++)
            for (int p = 0; p < N_LAYER_PROJ; p++) {
                int out, in;
                proj_dims(c, p, &out, &in);
                const float *W = R.mf->w[l * N_LAYER_PROJ + p];
                QuantSpec q;
                quant_spec(&q, bits, gs, out, in);
                float *Wg = xmalloc((size_t)out * in * 4), *Wr = xmalloc((size_t)out * in * 4);
                float *s = xmalloc(quant_nparams(&q) * 4), *b = xmalloc(quant_nparams(&q) * 4);
                uint8_t *codes = xmalloc(quant_codes_bytes(&q));
                memcpy(Wg, W, (size_t)out * in * 4);
                gptq_quantize_matrix(bits, gs, Wg, out, in, H[l][INPUT_OF[p]], 0.01f, act, s, b, codes);
                quant_rtn(&q, W, s, b, NULL);
                quant_fake_rows(&q, W, s, b, 0, out, Wr);
                double g = recon_err(W, Wg, out, in, H[l][INPUT_OF[p]]), r = recon_err(W, Wr, out, in, H[l][INPUT_OF[p]]);
                wins += g < r; total++; eg += g; er += r;
                free(Wg); free(Wr); free(s); free(b); free(codes);
            }
        printf("  GPTQ vs RTN, %d-bit g%d%s: sum ||X(W-Wq)^T||^2 %.4g vs %.4g (ratio %.3f), GPTQ lower on %d/%d layers\n",
               bits, gs, act ? " act-order" : "", eg, er, eg / er, wins, total);
        char nm[128];
        snprintf(nm, sizeof nm, "gptq < rtn output error on every stories260K projection (%d-bit, g%d%s)", bits, gs, act ? ", act-order" : "");
        CHECK(wins == total, nm, "GPTQ lower on %d/%d (ratio %.3f)", wins, total, eg / er);
    }
    for (int l = 0; l < L; l++) for (int k = 0; k < 4; k++) free(H[l][k]);
    real_free(&R);
}

static double val_ppl(ModelFile *mf, const MethodCfg *m, const Tokenizer *tok) {
    const char *p = data_file("tinystories/tinystories_valid_excerpt.txt");
    size_t len;
    char *text = read_file(p, &len);
    int n;
    int *st = text_to_stream(tok, p, text, len, &n);
    free(text);
    int T = 128, nwin = LIGHT ? 8 : 24;
    Model *M = model_build(mf, m, 4, T, 0);
    PplResult r = ppl_stream(&M, 1, st, (long)nwin * T + 1 < n ? (long)nwin * T + 1 : n, T, 0, 0);
    model_free(M);
    free(st);
    return exp(r.nll / r.predicted);
}

static void check_gptq_model(void) {
    Real R = real_load();
    MethodCfg fp = cfg("none", 4, 32);
    double ppl_fp = val_ppl(R.mf, &fp, R.tok);
    MethodCfg rtn = cfg("rtn", 3, 32);
    double ppl_rtn = val_ppl(R.mf, &rtn, R.tok);
    MethodCfg g = cfg("gptq", 3, 32);
    g.calib_windows = LIGHT ? 4 : 16;
    MethodPrep *rec = baselines_prepare(R.mf, &g, R.tok, NULL, 128);
    CHECK(rec && baselines_needs_prepare(&g), "baselines_prepare runs the GPTQ pass for gptq", "records %p", (void *)rec);
    g.prep = rec;
    // Records == the weights written back in place, and the gptq layers wrap them.
    Model *M = model_build(R.mf, &g, 1, 8, 0);
    int exact = 1;
    for (int i = 0; i < R.mf->c.n_layers * N_LAYER_PROJ; i++) {
        Deploy d;
        M->lin[i]->ops->deploy(M->lin[i], &d);
        float *D = xmalloc((size_t)d.out * d.in * 4);
        quant_dequant_rows(d.codes, d.scale, d.offset, d.bits, d.group_size, d.in, 0, d.out, D);
        exact &= !memcmp(D, R.mf->w[i], (size_t)d.out * d.in * 4) && d.kind == DEP_UNIFORM && d.rank == 0;
        free(D);
        deploy_free(&d);
    }
    CHECK(exact, "gptq layers deploy exactly the codes written back into the model file", "mismatch");
    CHECK(!strcmp(M->lin[0]->form, "3"), "gptq inference form is fully quantized '3'", "%s", M->lin[0]->form);
    model_free(M);
    double ppl_g = val_ppl(R.mf, &g, R.tok);
    printf("  stories260K val ppl (%d windows of 128): fp32 %.3f, RTN 3-bit g32 %.3f, GPTQ 3-bit g32 %.3f\n", LIGHT ? 8 : 24, ppl_fp, ppl_rtn, ppl_g);
    CHECK(ppl_g < ppl_rtn, "model-level GPTQ (3-bit g32) perplexity below RTN", "%.3f vs %.3f", ppl_g, ppl_rtn);
    // qlora_uniform (base gptq by default) and gptq_lora reuse the same records.
    MethodCfg ql = cfg("qlora_uniform", 3, 32);
    CHECK(!strcmp(ql.base, "gptq") && baselines_needs_prepare(&ql), "qlora_uniform defaults to a GPTQ base", "%s", ql.base);
    MethodCfg gl = cfg("gptq_lora", 3, 32);
    gl.prep = rec;
    double ppl_gl = val_ppl(R.mf, &gl, R.tok);
    CHECK(fabs(ppl_gl - ppl_g) < 1e-4 * ppl_g, "gptq_lora with B = 0 computes the gptq model", "%.6f vs %.6f", ppl_gl, ppl_g);
    method_prep_free(rec);
    real_free(&R);
}

// ---- l4q with method.init: gptq -------------------------------------------------------------------
// At step 0 (B = 0) L4Q started from GPTQ's grid is the `gptq` model: per projection the same
// codes and s, b (copied, so equal; "within fp32 rounding" is the documented bound), the
// same dequantized weights, and the training-time fake-quant forward gives gptq's perplexity.
static void check_l4q_init_gptq(void) {
    Real R = real_load();
    for (int bits = 4; bits >= 3; bits--) {
        MethodCfg g = cfg("gptq", bits, 32), l = cfg("l4q", bits, 32);
        g.calib_windows = l.calib_windows = LIGHT ? 4 : 16;
        snprintf(l.init, sizeof l.init, "gptq");
        ModelFile *mg = model_file_load(data_file("models/stories260K/stories260K.bin"));
        ModelFile *ml = model_file_load(data_file("models/stories260K/stories260K.bin"));
        MethodPrep *rg = method_prepare(mg, &g, R.tok, 128), *rl = method_prepare(ml, &l, R.tok, 128);
        int dg = rg != NULL, dl = rl != NULL;
        g.prep = rg; l.prep = rl;
        Model *Mg = model_build(mg, &g, 1, 8, 0), *Ml = model_build(ml, &l, 1, 8, 0);
        int codes = 1, nproj = mg->c.n_layers * N_LAYER_PROJ;
        float ds = 0, db = 0;
        for (int i = 0; i < nproj; i++) {
            Deploy a, b;
            Mg->lin[i]->ops->deploy(Mg->lin[i], &a);
            Ml->lin[i]->ops->deploy(Ml->lin[i], &b);
            size_t np = (size_t)a.out * ((a.in + a.group_size - 1) / a.group_size);
            codes &= b.kind == DEP_UNIFORM && a.codes_bytes == b.codes_bytes && !memcmp(a.codes, b.codes, a.codes_bytes);
            for (size_t k = 0; k < np; k++) {
                ds = fmaxf(ds, fabsf(a.scale[k] - b.scale[k]) / fabsf(a.scale[k]));
                db = fmaxf(db, fabsf(a.offset[k] - b.offset[k]) / fmaxf(fabsf(a.scale[k]), 1e-30f));
            }
            deploy_free(&a); deploy_free(&b);
        }
        char nm[160];
        snprintf(nm, sizeof nm, "l4q init gptq %d-bit at step 0: the gptq model's codes in every projection, s and b "
                 "within fp32 rounding", bits);
        CHECK(dg == 1 && dl == 1 && codes && ds <= FLT_EPSILON && db <= FLT_EPSILON, nm,
              "prepared %d/%d codes %d max rel ds %g db/s %g", dg, dl, codes, ds, db);
        model_free(Mg); model_free(Ml);
        double pg = val_ppl(mg, &g, R.tok), pl = val_ppl(ml, &l, R.tok);
        snprintf(nm, sizeof nm, "l4q init gptq %d-bit at step 0: perplexity (training-time forward) = gptq's", bits);
        CHECK(fabs(pl - pg) <= 1e-6 * pg, nm, "%.8f vs %.8f", pl, pg);
        MethodCfg own = cfg("l4q", bits, 32);
        double po = val_ppl(mg, &own, R.tok); // L4Q's own init on W0 = GPTQ's weights: a different grid
        snprintf(nm, sizeof nm, "l4q init gptq %d-bit: the grid matters (L4Q's own init on the same W0 differs)", bits);
        CHECK(fabs(po - pg) > 1e-4 * pg, nm, "%.6f vs %.6f", po, pg);
        method_prep_free(rg); method_prep_free(rl);
        model_file_free(mg); model_file_free(ml);
    }
    real_free(&R);
}

// ---- LoftQ ----------------------------------------------------------------------------------------

static void check_loftq(void) {
    ModelFile *mf = model_file_load(data_file("models/stories260K/stories260K.bin"));
    struct { const char *base; int bits, p; } cases[] = {{"rtn", 3, P_GATE}, {"rtn", 2, P_Q}, {"nf4", 4, P_DOWN}};
    for (int ci = 0; ci < 3; ci++) {
        int out, in, r = 4, T = 5;
        proj_dims(&mf->c, cases[ci].p, &out, &in);
        const float *W = mf->w[N_LAYER_PROJ + cases[ci].p];
        float *A = xmalloc((size_t)r * in * 4), *B = xmalloc((size_t)out * r * 4), *Q = xmalloc((size_t)out * in * 4);
        double err[5], e0 = 0;
        Deploy d;
        loftq_init(W, out, in, cases[ci].base, cases[ci].bits, 32, r, 2.0f, 0, &d, NULL, NULL, NULL);
        if (d.kind == DEP_NF4) nf4_dequant_rows(&d, 0, out, Q);
        else quant_dequant_rows(d.codes, d.scale, d.offset, d.bits, d.group_size, in, 0, out, Q);
        for (size_t e = 0; e < (size_t)out * in; e++) e0 += (double)(W[e] - Q[e]) * (W[e] - Q[e]);
        e0 = sqrt(e0);
        deploy_free(&d);
        loftq_init(W, out, in, cases[ci].base, cases[ci].bits, 32, r, 2.0f, T, &d, A, B, err);
        // Monotone descent is what LoftQ shows at 3-4 bits; at 2 bits the coarse grid can
        // bounce (the alternation is not a descent method), so there only the end point counts.
        int mono = 1;
        for (int t = 1; t < T; t++) mono &= err[t] <= err[t - 1] * (1 + 1e-6);
        if (cases[ci].bits == 2) mono = 1;
        printf("  LoftQ layers.1.%s %s %d-bit r4: ||W-Q|| %.5f, ||W-Q-AB|| per step %.5f %.5f %.5f %.5f %.5f\n",
               PROJ_NAMES[cases[ci].p], cases[ci].base, cases[ci].bits, e0, err[0], err[1], err[2], err[3], err[4]);
        char nm[128];
        snprintf(nm, sizeof nm, "loftq %s %d-bit: ||W - Q - AB|| decreases over the alternating steps%s", cases[ci].base,
                 cases[ci].bits, cases[ci].bits == 2 ? " (last < first)" : " (monotone)");
        CHECK(err[0] < e0 && err[T - 1] < err[0] && mono, nm, "e0 %g err %g .. %g mono %d", e0, err[0], err[T - 1], mono);
        deploy_free(&d);
        free(A); free(B); free(Q);
    }
    model_file_free(mf);
}

// ---- export → l4qz → load → same logits, for every method ------------------------------------------

static void logits_of(Model *M, const int *tok, int B, int T, float *out) {
    model_forward(M, tok, B, T, 0);
    for (int r = 0; r < B * T; r++) model_logits_row(M, r, out + (size_t)r * M->c.vocab_size);
}

static void check_export_roundtrip(void) {
    struct { const char *name, *base; int bits; float tol; const char *form; } cases[] = {
        {"rtn", "", 4, 0, "4"}, {"rtn_lora", "", 3, 0, "3&fp"}, {"qlora_uniform", "rtn", 4, 0, "4&fp"},
        {"gptq_lora", "", 4, 0, "4&fp"}, {"qlora", "", 4, 0, "nf4&fp"}, {"qa_lora", "rtn", 4, 1e-5f, "4"},
        {"qa_lora", "gptq", 3, 1e-5f, "3"}, {"peqa", "", 3, 0, "3"}, {"loftq", "rtn", 3, 0, "3&fp"},
        {"loftq", "nf4", 4, 0, "nf4&fp"}};
    Real R = real_load();
    int B = 2, T = 64;
    int *tok = xmalloc((size_t)B * T * sizeof(int));
    for (int i = 0; i < B * T; i++) tok[i] = R.stream[1000 + i];
    char path[256];
    snprintf(path, sizeof path, "/tmp/test_baselines_%d.l4qz", (int)getpid());
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        ModelFile *mf = model_file_load(data_file("models/stories260K/stories260K.bin"));
        MethodCfg m = cfg(cases[ci].name, cases[ci].bits, 32);
        if (*cases[ci].base) snprintf(m.base, sizeof m.base, "%s", cases[ci].base);
        m.calib_windows = 4;
        MethodPrep *rec = baselines_prepare(mf, &m, R.tok, NULL, 128);
        m.prep = rec;
        Model *M = model_build(mf, &m, B, T, 5);
        // Train-like perturbation so the side branch / scales are not at their init.
        Param *ps[512];
        int np = model_params(M, ps, 512);
        Rng rng;
        rng_seed(&rng, 9);
        for (int i = 0; i < np; i++)
            for (size_t k = 0; k < ps[i]->n; k++)
                ps[i]->data[k] += strstr(ps[i]->name, "qscale") ? 0.05f * ps[i]->data[k] * rng_normal(&rng) : 0.02f * rng_normal(&rng);
        size_t V = M->c.vocab_size;
        float *L1 = xmalloc((size_t)B * T * V * 4), *L2 = xmalloc((size_t)B * T * V * 4);
        logits_of(M, tok, B, T, L1);
        const char *form = M->lin[0]->form;
        int form_ok = !strcmp(form, cases[ci].form);
        { ModelFile *dm = model_deployed(M); l4qz_write(path, dm, M->mf->tok, NULL, NULL); model_file_free(dm); }
        model_free(M);
        ModelFile *mf2 = model_file_load(path);
        Model *M2 = model_build(mf2, NULL, B, T, 0);
        logits_of(M2, tok, B, T, L2);
        int kind_ok = mf2->dep && mf2->dep[0] &&
                      (strstr(cases[ci].form, "nf4") ? mf2->dep[0]->kind == DEP_NF4 : mf2->dep[0]->kind == DEP_UNIFORM) &&
                      !strcmp(M2->lin[0]->form, form);
        float md = t_maxdiff(L1, L2, (size_t)B * T * V), mx = 0;
        for (size_t k = 0; k < (size_t)B * T * V; k++) mx = fmaxf(mx, fabsf(L1[k]));
        char nm[160];
        snprintf(nm, sizeof nm, "%s%s%s %d-bit: export -> l4qz -> load gives the same logits (form %s)", cases[ci].name,
                 *cases[ci].base ? " base " : "", cases[ci].base, cases[ci].bits, form);
        // Exact forms reload bit-for-bit (tol 0). QA-LoRA's fold changes the arithmetic
        // (b + ΔW instead of a side branch): allowed 1e-5 relative to the logit scale, i.e.
        // float32 rounding through five layers (its per-layer error is checked absolutely).
        CHECK(form_ok && kind_ok && md <= cases[ci].tol * fmaxf(1.0f, mx), nm, "form %s kind_ok %d max |dlogit| %g (max |logit| %g, tol %g)",
              form, kind_ok, md, mx, cases[ci].tol);
        if (cases[ci].tol > 0) printf("  %s: merged vs unmerged max |dlogit| %.3g (max |logit| %.3g)\n", cases[ci].name, md, mx);
        model_free(M2);
        model_file_free(mf2);
        free(L1); free(L2);
        method_prep_free(rec);
        model_file_free(mf);
    }
    real_free(&R);
    unlink(path);
    free(tok);
}

static void check_merge_and_memory(void) {
    ModelFile *mf = model_file_load(data_file("models/stories260K/stories260K.bin"));
    int out, in;
    proj_dims(&mf->c, P_GATE, &out, &in);
    Param W;
    param_init(&W, "w", mf->w[P_GATE], out, in, 1);
    Rng rng;
    rng_seed(&rng, 4);
    MethodCfg m = cfg("qlora", 4, 32);
    Linear *L = linear_build(&m, &W, "layers.0.gate", &rng);
    L->training = 1;
    for (size_t k = 0; k < L->params[1]->n; k++) L->params[1]->data[k] = 0.01f * rng_normal(&rng);
    int N = 512;
    float *X = randv(&rng, (size_t)N * in, 1), *Y = xmalloc((size_t)N * out * 4), *dX = xcalloc((size_t)N * in, 4);
    L->ops->forward(L, X, Y, N);
    L->ops->backward(L, X, Y, dX, N);
    size_t fp = (size_t)out * in * 4, tile = (size_t)(16 * 1024 / in < out ? 16 * 1024 / in : out) * in * 4;
    printf("  qlora %dx%d: weight %zu B (fp32 %zu), saved %zu B, transient peak %zu B (one tile %zu)\n", out, in,
           L->mem.weight_bytes, fp, L->mem.saved_bytes, L->mem.transient_peak, tile);
    CHECK(L->mem.weight_bytes * 32 < fp * 4.14 && L->mem.weight_bytes * 32 > fp * 4.12, "qlora holds ~4.13 bits/weight", "%zu", L->mem.weight_bytes);
    // rank 4: the branch's U and dU (N x r each) are recomputed scratch, not saved.
    CHECK(L->mem.saved_bytes == 0 && L->mem.transient_peak <= tile + (size_t)2 * N * 4 * 4,
          "qlora saves nothing; scratch is one dequantized tile and U, dU (N x r)", "saved %zu peak %zu",
          L->mem.saved_bytes, L->mem.transient_peak);
    // --merge: folds B·A into NF4; the merged layer approximates the unmerged one.
    Deploy d;
    L->ops->deploy(L, &d);
    deploy_merge_lora(&d);
    Linear *Lm = linear_from_deploy(&d, "merged");
    float *Ym = xmalloc((size_t)N * out * 4);
    Lm->ops->forward(Lm, X, Ym, N);
    double num = 0, den = 0;
    for (size_t k = 0; k < (size_t)N * out; k++) { num += (Ym[k] - Y[k]) * (Ym[k] - Y[k]); den += Y[k] * Y[k]; }
    printf("  qlora --merge (re-quantized to NF4): relative output error %.4f\n", sqrt(num / den));
    CHECK(d.kind == DEP_NF4 && d.rank == 0 && !strcmp(Lm->form, "nf4") && sqrt(num / den) < 0.1,
          "qlora merge: NF4 without side branch, close to the unmerged output", "rel %g", sqrt(num / den));
    linear_free(Lm);
    deploy_free(&d);
    linear_free(L);
    // QA-LoRA's fold into the offsets, one real layer: merged == unmerged within 1e-5.
    float worst = 0, ymax = 0;
    for (int p = 0; p < N_LAYER_PROJ; p++) {
        int o2, i2;
        proj_dims(&mf->c, p, &o2, &i2);
        Param Wp;
        param_init(&Wp, "w", mf->w[2 * N_LAYER_PROJ + p], o2, i2, 1);
        MethodCfg qm = cfg("qa_lora", 3, 32);
        snprintf(qm.base, sizeof qm.base, "rtn");
        Linear *Lq = linear_build(&qm, &Wp, "layers.2.x", &rng);
        for (size_t k = 0; k < Lq->params[1]->n; k++) Lq->params[1]->data[k] = 0.05f * rng_normal(&rng);
        float *Xq = randv(&rng, 64 * (size_t)i2, 1), *Y1 = xmalloc(64 * (size_t)o2 * 4), *Y2 = xmalloc(64 * (size_t)o2 * 4);
        Lq->ops->forward(Lq, Xq, Y1, 64);
        Deploy dq;
        Lq->ops->deploy(Lq, &dq);
        Linear *Ld = linear_from_deploy(&dq, "merged");
        Ld->ops->forward(Ld, Xq, Y2, 64);
        worst = fmaxf(worst, t_maxdiff(Y1, Y2, 64 * (size_t)o2));
        for (size_t k = 0; k < 64 * (size_t)o2; k++) ymax = fmaxf(ymax, fabsf(Y1[k]));
        linear_free(Ld); deploy_free(&dq); linear_free(Lq);
        free(Xq); free(Y1); free(Y2);
    }
    printf("  qa_lora fold, layers.2.*: max |merged - unmerged| %.3g (max |Y| %.3g)\n", worst, ymax);
    CHECK(worst <= 1e-5f, "qa_lora: BA folded into the offsets == the unmerged layer (<= 1e-5, all 7 projections)", "%g", worst);
    free(X); free(Y); free(dX); free(Ym);
    model_file_free(mf);
}

// ---- bad input ------------------------------------------------------------------------------------

// Runs fn in a child; returns its exit status and its stderr in err.
static void call_void(void *fn) { ((void (*)(void))fn)(); }
static int child_status(void (*fn)(void), char *err, size_t errsz) {
    int st = t_in_child(call_void, (void *)fn, err, errsz);
    // LeakSanitizer's notes in a child forked from a threaded parent ("==N==Running thread
    // ... was not suspended") are not the program's output: drop "==" lines.
    for (char *l = err; *l;) {
        char *e = strchr(l, '\n');
        if (l[0] == '=' && l[1] == '=') memmove(l, e ? e + 1 : l + strlen(l), strlen(e ? e + 1 : l + strlen(l)) + 1);
        else l = e ? e + 1 : l + strlen(l);
    }
    return st;
}
static void bad_unknown(void) { MethodCfg m; method_defaults(&m, "qlora4"); }
static void build_one(const char *name, int bits, const char *base) {
    MethodCfg m = cfg(name, bits, 32);
    if (base) snprintf(m.base, sizeof m.base, "%s", base);
    float w[64 * 64] = {0};
    Param P;
    param_init(&P, "w", w, 64, 64, 1);
    Rng rng;
    rng_seed(&rng, 1);
    linear_build(&m, &P, "layers.0.q", &rng);
}
static void bad_nf4_bits(void) { build_one("qlora", 3, NULL); }
static void bad_loftq_nf4_bits(void) { build_one("loftq", 2, "nf4"); }
static void bad_loftq_gptq(void) { build_one("loftq", 4, "gptq"); }
static void bad_qlora_uniform_nf4(void) { build_one("qlora_uniform", 4, "nf4"); }
static void bad_gptq_no_prepare(void) { build_one("gptq", 4, NULL); }

static void check_bad_input(void) {
    char err[2048];
    int st = child_status(bad_unknown, err, sizeof err);
    CHECK(st == 2 && strstr(err, "qlora4") && strstr(err, "qa_lora") && strstr(err, "peqa") && strstr(err, "loftq") &&
          strstr(err, "gptq_lora") && strstr(err, "qlora_uniform"),
          "unknown method name: exit 2, lists the valid ones incl. the baselines", "status %d: %s", st, err);
    struct { void (*fn)(void); const char *want; const char *what; } cases[] = {
        {bad_nf4_bits, "method.bits", "qlora with bits 3"}, {bad_loftq_nf4_bits, "method.bits", "loftq nf4 with bits 2"},
        {bad_loftq_gptq, "method.base", "loftq with base gptq"}, {bad_qlora_uniform_nf4, "method.base", "qlora_uniform with base nf4"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        st = child_status(cases[i].fn, err, sizeof err);
        char nm[128];
        snprintf(nm, sizeof nm, "%s: exit 2 naming %s", cases[i].what, cases[i].want);
        CHECK(st == 2 && strstr(err, cases[i].want) && !strchr(strchr(err, '\n') ? strchr(err, '\n') + 1 : "", '\n'), nm, "status %d: %s", st, err);
    }
    st = child_status(bad_gptq_no_prepare, err, sizeof err);
    CHECK(st == 1 && strstr(err, "baselines_prepare"), "gptq layer without the GPTQ pass: internal error naming baselines_prepare",
          "status %d: %s", st, err);
    struct { const char *name; unsigned key; const char *want; } keys[] = {
        {"qlora", MK_GROUP, "group_size"}, {"qa_lora", MK_DROPOUT, "dropout"}, {"rtn", MK_RANK, "rank"},
        {"peqa", MK_BASE, "base"}, {"gptq_lora", MK_BASE, "base"}, {"rtn", MK_DAMP, "damp"}, {"qlora", MK_LOFTQ_ITERS, "loftq_iters"}};
    int ok = 1;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        MethodCfg m = cfg(keys[i].name, 4, 32);
        m.set = keys[i].key;
        const char *b = method_bad_key(&m);
        ok &= b && !strcmp(b, keys[i].want);
    }
    struct { const char *name; unsigned key; } good[] = {
        {"gptq", MK_ACT_ORDER | MK_DAMP | MK_CALIB}, {"qa_lora", MK_BASE | MK_RANK | MK_GROUP}, {"loftq", MK_LOFTQ_ITERS | MK_BASE},
        {"qlora", MK_BITS | MK_DROPOUT}, {"peqa", MK_BITS | MK_GROUP}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        MethodCfg m = cfg(good[i].name, 4, 32);
        m.set = good[i].key;
        ok &= method_bad_key(&m) == NULL;
    }
    CHECK(ok, "method keys: each baseline accepts its own keys and rejects the others", "mismatch");
    MethodCfg qa = cfg("qa_lora", 4, 32);
    CHECK(qa.rank == 8 && qa.alpha == 16 && !strcmp(qa.base, "gptq"), "qa_lora defaults: rank 8 (twice L4Q's), alpha 16, base gptq",
          "rank %d alpha %g base %s", qa.rank, qa.alpha, qa.base);
}

int main(int argc, char **argv) {
    baselines_register();
    threads_init(0);
    if (argc >= 4 && !strcmp(argv[1], "grad")) return mode_grad(argv[2], argv[3]);
    if (argc >= 4 && !strcmp(argv[1], "gptq")) return mode_gptq(argv[2], atoi(argv[3]));
    if (argc >= 3 && !strcmp(argv[1], "nf4")) return mode_nf4(argv[2]);
    if (argc > 1) die_input("usage: test_baselines [grad METHOD DIR | gptq DIR ACT_ORDER | nf4 DIR]");
    void (*const checks[])(void) = {check_nf4_basics, check_uniform_roundtrip, check_bad_input, check_merge_and_memory,
                                    check_loftq, check_gptq_real, check_gptq_model, check_l4q_init_gptq,
                                    check_export_roundtrip};
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
        double t0 = now_sec();
        checks[i]();
        if (getenv("T_TIMING")) printf("  (check %zu: %.2fs)\n", i, now_sec() - t0);
    }
    T_EXIT();
}
