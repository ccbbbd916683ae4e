// test_l4q_layer.c — quantizer, l4q / qat_lora / lsq layers, deployed layers, l4qz files.
//
// Without arguments (as the suite runs it): self-checks — code packing round trips at every
// width, encode+dequant = fake quantization, l4q's memory account (nothing out×in kept
// between forward and backward) vs qat_lora's, tile-size invariance of l4q's gradients,
// deployed layers reproducing the trained forward, and an l4qz export/load round trip
// through model_build.
// With arguments it is the C side of tests/test_l4q.py (which holds the torch oracle):
//   grad IN OUT      one layer's forward/backward on the inputs in IN (see read_grad)
//   init IN OUT      quant_init_params on a weight
//   build METHOD BITS GS [INIT]   build one 8×40 layer (bad config → exit 2)
//   l4qz-write PATH METHOD        export a small random model
//   l4qz-load PATH                load an l4qz file and run one forward
#include "checkpoint.h"
#include "l4qz.h"
#include "snapshot.h"
#include "linear.h"
#include "methods.h"
#include "model.h"
#include "quant.h"
#include "testlib.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static float *randv(Rng *r, size_t n, float sc) {
    float *p = xmalloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) p[i] = rng_normal(r) * sc;
    return p;
}
static void zero_grads(Linear *L) {
    for (int i = 0; i < L->n_params; i++) memset(L->params[i]->grad, 0, L->params[i]->n * sizeof(float));
}
static MethodCfg cfg_of(const char *method, int bits, int gs, int tile) {
    MethodCfg m;
    method_defaults(&m, method);
    m.bits = bits; m.group_size = gs; m.tile_rows = tile; m.rank = 4; m.alpha = 8;
    return m;
}

// ---- grad mode ------------------------------------------------------------------------
static void *read_all(const char *path, size_t *len) { return read_file(path, len); }

static int mode_grad(const char *in_path, const char *out_path) {
    static const char *const METHODS3[] = {"l4q", "qat_lora", "lsq"};
    size_t len;
    char *buf = read_all(in_path, &len);
    int32_t h[10];
    memcpy(h, buf, sizeof h);
    float alpha;
    memcpy(&alpha, buf + 40, 4);
    int meth = h[0], bits = h[1], gs = h[2], out = h[3], in = h[4], r = h[5], N = h[6];
    QuantSpec q;
    quant_spec(&q, bits, gs, out, in);
    size_t ng = (size_t)out * q.ng;
    const float *f = (const float *)(buf + 44);
    const float *W0 = f, *A = W0 + (size_t)out * in, *B = A + (size_t)r * in, *s = B + (size_t)out * r,
                *b = s + ng, *X = b + ng, *dY = X + (size_t)N * in;
    if ((size_t)((const char *)(dY + (size_t)N * out) - buf) != len) die_input("%s: size mismatch", in_path);
    MethodCfg m = cfg_of(METHODS3[meth], bits, gs, h[8]);
    m.rank = r; m.alpha = alpha * r; m.lsq_grad_scale = h[7];
    Param Wp;
    float *Wd = xmalloc((size_t)out * in * sizeof(float));
    memcpy(Wd, W0, (size_t)out * in * sizeof(float));
    param_init(&Wp, "t.w", Wd, out, in, 1);
    Rng rng;
    rng_seed(&rng, 1);
    Linear *L = linear_build(&m, &Wp, "t", &rng);
    L->training = 1;
    Param *ps, *pb, *pA = NULL, *pB = NULL;
    if (meth == 2) { ps = L->params[1]; pb = L->params[2]; }
    else { pA = L->params[0]; pB = L->params[1]; ps = L->params[2]; pb = L->params[3]; }
    if (pA) { memcpy(pA->data, A, pA->n * 4); memcpy(pB->data, B, pB->n * 4); }
    memcpy(ps->data, s, ng * 4); memcpy(pb->data, b, ng * 4);
    zero_grads(L);
    float *Y = xcalloc((size_t)N * out, 4), *dX = xcalloc((size_t)N * in, 4);
    L->ops->forward(L, X, Y, N);
    L->ops->backward(L, X, dY, dX, N);
    FILE *fo = fopen(out_path, "wb");
    if (!fo) die_input("%s: cannot write", out_path);
    int64_t mem[2] = {(int64_t)L->mem.saved_bytes, (int64_t)L->mem.transient_peak};
    fwrite(mem, 8, 2, fo);
    fwrite(Y, 4, (size_t)N * out, fo);
    fwrite(dX, 4, (size_t)N * in, fo);
    float *zA = xcalloc((size_t)r * in + (size_t)out * r + 1, 4);
    fwrite(pA ? pA->grad : zA, 4, (size_t)r * in, fo);
    fwrite(pB ? pB->grad : zA, 4, (size_t)out * r, fo);
    fwrite(ps->grad, 4, ng, fo);
    fwrite(pb->grad, 4, ng, fo);
    float *zW = xcalloc((size_t)out * in, 4);
    fwrite(meth == 2 ? Wp.grad : zW, 4, (size_t)out * in, fo);
    fclose(fo);
    linear_free(L);
    param_free(&Wp);
    free(Wd); free(Y); free(dX); free(zA); free(zW); free(buf);
    return 0;
}

static int mode_init(const char *in_path, const char *out_path) {
    size_t len;
    char *buf = read_all(in_path, &len);
    int32_t h[5];
    memcpy(h, buf, sizeof h);
    QuantSpec q;
    quant_spec(&q, h[0], h[1], h[3], h[4]);
    const float *W = (const float *)(buf + 20);
    size_t np = quant_nparams(&q);
    float *s = xmalloc(np * 4), *b = xmalloc(np * 4);
    quant_init_params(&q, W, (QuantInit)h[2], s, b);
    FILE *fo = fopen(out_path, "wb");
    if (!fo) die_input("%s: cannot write", out_path);
    fwrite(s, 4, np, fo);
    fwrite(b, 4, np, fo);
    fclose(fo);
    free(s); free(b); free(buf);
    return 0;
}

static int mode_build(int argc, char **argv) {
    MethodCfg m = cfg_of(argv[2], atoi(argv[3]), atoi(argv[4]), 64);
    if (argc > 5) snprintf(m.init, sizeof m.init, "%s", argv[5]);
    Rng rng;
    rng_seed(&rng, 3);
    float *W = randv(&rng, 8 * 40, 0.1f);
    Param Wp;
    param_init(&Wp, "t.w", W, 8, 40, 1);
    Linear *L = linear_build(&m, &Wp, "t", &rng);
    printf("built %s form %s\n", L->ops->name, L->form);
    linear_free(L);
    param_free(&Wp);
    free(W);
    return 0;
}

// ---- a small random model (for l4qz) ------------------------------------------------
static Config small_config(int shared) {
    Config c = {.dim = 16, .hidden_dim = 40, .n_layers = 2, .n_heads = 2, .n_kv_heads = 1,
                .vocab_size = 32, .seq_len = 8, .shared_classifier = shared,
                .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    return c;
}
static ModelFile *small_model_file(const Config *c, uint64_t seed) {
    ModelFile *mf = mf_alloc("small-random", c);
    size_t n = (size_t)c->vocab_size * c->dim * (c->shared_classifier ? 1 : 2) + (size_t)c->n_layers * c->dim * 2 + c->dim;
    for (int p = 0; p < N_LAYER_PROJ; p++) { int o, i; proj_dims(c, p, &o, &i); n += (size_t)c->n_layers * o * i; }
    Rng r;
    rng_seed(&r, seed);
    float *blob = xmalloc(n * sizeof(float)), *cur = blob;
    for (size_t k = 0; k < n; k++) blob[k] = rng_normal(&r) * 0.3f;
    mf->blob = blob;
    mf->tok_emb = cur; cur += (size_t)c->vocab_size * c->dim;
    mf->rms_att = cur; cur += (size_t)c->n_layers * c->dim;
    mf->rms_ffn = cur; cur += (size_t)c->n_layers * c->dim;
    mf->rms_final = cur; cur += c->dim;
    for (size_t k = 0; k < (size_t)c->n_layers * c->dim * 2 + c->dim; k++) mf->rms_att[k] = 1.0f + 0.1f * mf->rms_att[k];
    for (int l = 0; l < c->n_layers; l++)
        for (int p = 0; p < N_LAYER_PROJ; p++) { int o, i; proj_dims(c, p, &o, &i); mf->w[l * N_LAYER_PROJ + p] = cur; cur += (size_t)o * i; }
    if (!c->shared_classifier) mf->wcls = cur;
    return mf;
}
// Builds the model with `method`, perturbs every trainable tensor (so B ≠ 0 and s, b move
// off their init) and returns it.
static Model *small_trained_model(ModelFile *mf, const char *method, int gs) {
    MethodCfg m = cfg_of(method, 4, gs, 5);
    Model *M = model_build(mf, &m, 1, mf->c.seq_len, 11);
    Rng r;
    rng_seed(&r, 99);
    Param *ps[512];
    int np = model_params(M, ps, 512);
    for (int i = 0; i < np; i++) {
        int is_scale = strstr(ps[i]->name, "qscale") != NULL;
        for (size_t k = 0; k < ps[i]->n; k++)
            ps[i]->data[k] = is_scale ? ps[i]->data[k] * (0.9f + 0.1f * rng_uniform(&r)) : ps[i]->data[k] + 0.02f * rng_normal(&r);
    }
    return M;
}
static void model_logits(Model *M, const int *tok, int T, float *logits) {
    model_forward(M, tok, 1, T, 0);
    for (int t = 0; t < T; t++) model_logits_row(M, t, logits + (size_t)t * M->c.vocab_size);
}

static int mode_l4qz_write(const char *path, const char *method) {
    Config c = small_config(0);
    ModelFile *mf = small_model_file(&c, 5);
    Model *M = small_trained_model(mf, method, 16);
    { ModelFile *dm = model_deployed(M); l4qz_write(path, dm, M->mf->tok, NULL, NULL); model_file_free(dm); }
    model_free(M);
    model_file_free(mf);
    printf("wrote %s\n", path);
    return 0;
}
static int mode_l4qz_load(const char *path) {
    ModelFile *mf = model_file_load(path);
    Model *M = model_build(mf, NULL, 1, mf->c.seq_len, 0);
    int tok[4] = {1, 5, 9, 3};
    float *lg = xmalloc(4 * (size_t)mf->c.vocab_size * sizeof(float));
    model_logits(M, tok, 4, lg);
    printf("loaded %s method %s form %s logit0 %g\n", mf->format, mf->method, mf->form, lg[0]);
    free(lg);
    model_free(M);
    model_file_free(mf);
    return 0;
}

// ---- self-checks ----------------------------------------------------------------------
static void check_packing(void) {
    Rng r;
    rng_seed(&r, 7);
    int widths[4] = {2, 3, 4, 8}, ins[5] = {1, 3, 7, 40, 172};
    for (int wi = 0; wi < 4; wi++) {
        int bits = widths[wi], ok = 1, pad_ok = 1;
        for (int ii = 0; ii < 5; ii++) {
            int in = ins[ii], rows = 5;
            uint8_t *u = xmalloc((size_t)rows * in), *u2 = xmalloc((size_t)rows * in);
            size_t rb = deploy_row_bytes(bits, in);
            uint8_t *pk = xmalloc(rows * rb);
            for (int k = 0; k < rows * in; k++) u[k] = (uint8_t)(rng_u64(&r) & ((1u << bits) - 1));
            quant_pack(u, rows, in, bits, pk);
            quant_unpack(pk, rows, in, bits, u2);
            if (memcmp(u, u2, (size_t)rows * in)) ok = 0;
            int used = (in * bits) % 8; // pad bits of each row's last byte must be zero
            if (used)
                for (int row = 0; row < rows; row++) if (pk[row * rb + rb - 1] >> used) pad_ok = 0;
            free(u); free(u2); free(pk);
        }
        char nm[64];
        snprintf(nm, sizeof nm, "pack/unpack round trip %d-bit", bits);
        CHECK(ok && pad_ok, nm, "ok=%d pad_ok=%d", ok, pad_ok);
    }
    // The documented layout: 3-bit codes 5, 3, 7 → bits 101 | 011 | 111 LSB-first.
    uint8_t u[3] = {5, 3, 7}, pk[2];
    quant_pack(u, 1, 3, 3, pk);
    CHECK(pk[0] == (5 | 3 << 3 | (7 & 3) << 6) && pk[1] == 1, "3-bit LSB-first layout", "%02x %02x", pk[0], pk[1]);
    uint8_t u4[3] = {0x3, 0xA, 0xF}, pk4[2];
    quant_pack(u4, 1, 3, 4, pk4);
    CHECK(pk4[0] == 0xA3 && pk4[1] == 0x0F, "4-bit LSB-first layout", "%02x %02x", pk4[0], pk4[1]);
}

static void check_encode_dequant(void) {
    Rng r;
    rng_seed(&r, 8);
    int widths[4] = {2, 3, 4, 8};
    for (int wi = 0; wi < 4; wi++) {
        int out = 6, in = 40;
        QuantSpec q;
        quant_spec(&q, widths[wi], 16, out, in);
        float *W = randv(&r, (size_t)out * in, 0.5f), *Wq = xmalloc((size_t)out * in * 4), *Wd = xmalloc((size_t)out * in * 4);
        float *s = xmalloc(quant_nparams(&q) * 4), *b = xmalloc(quant_nparams(&q) * 4);
        quant_init_params(&q, W, QINIT_MINMAX, s, b);
        for (size_t k = 0; k < quant_nparams(&q); k++) { s[k] *= 0.8f; b[k] += 0.01f; } // some clipping
        uint8_t *codes = xmalloc(quant_codes_bytes(&q));
        quant_encode(&q, W, s, b, codes);
        quant_fake_rows(&q, W, s, b, 0, out, Wq);
        quant_dequant_rows(codes, s, b, q.bits, q.gs, in, 0, out, Wd);
        char nm[64];
        snprintf(nm, sizeof nm, "encode+dequant = fake quant %d-bit", widths[wi]);
        float d = t_maxdiff(Wq, Wd, (size_t)out * in);
        CHECK(d == 0.0f, nm, "max diff %g", d);
        free(W); free(Wq); free(Wd); free(s); free(b); free(codes);
    }
}

// One layer on random data: out×in with gs, returns the built layer after fwd+bwd.
// W is heap-allocated: lsq keeps a pointer to it, and Run is returned by value.
typedef struct { Linear *L; Param *W; float *Wd, *Y, *dX; } Run;
static Run run_layer(const char *method, int bits, int tile, int out, int in, int N, uint64_t seed, int perturb) {
    Run R;
    Rng r;
    rng_seed(&r, seed);
    R.Wd = randv(&r, (size_t)out * in, 0.2f);
    R.W = xmalloc(sizeof *R.W);
    param_init(R.W, "t.w", R.Wd, out, in, 1);
    MethodCfg m = cfg_of(method, bits, 16, tile);
    Rng br;
    rng_seed(&br, 42);
    R.L = linear_build(&m, R.W, "t", &br);
    R.L->training = 1;
    if (perturb) // B ≠ 0 and a tighter scale so the mask and dA matter
        for (int i = 0; i < R.L->n_params; i++) {
            Param *p = R.L->params[i];
            int sc = strstr(p->name, "qscale") != NULL;
            if (p == R.W) continue;
            for (size_t k = 0; k < p->n; k++) p->data[k] = sc ? p->data[k] * 0.85f : p->data[k] + 0.05f * rng_normal(&r);
        }
    float *X = randv(&r, (size_t)N * in, 1.0f), *dY = randv(&r, (size_t)N * out, 0.1f);
    R.Y = xcalloc((size_t)N * out, 4);
    R.dX = xcalloc((size_t)N * in, 4);
    zero_grads(R.L);
    R.L->ops->forward(R.L, X, R.Y, N);
    R.L->ops->backward(R.L, X, dY, R.dX, N);
    free(X); free(dY);
    return R;
}
static void run_free(Run *R) {
    linear_free(R->L);
    param_free(R->W);
    free(R->W);
    free(R->Wd); free(R->Y); free(R->dX);
}

static void check_memory(void) {
    int out = 100, in = 40, N = 12, tile = 16;
    Run a = run_layer("l4q", 4, tile, out, in, N, 1, 1);
    // One tile (tile rows of the longer side) plus each thread's L4Q_MR = 8 merged rows.
    size_t bound = ((size_t)tile * (in > out ? in : out) + (size_t)threads_count() * 8 * in) * sizeof(float);
    CHECK(a.L->mem.saved_bytes == 0, "l4q saves nothing between forward and backward", "saved %zu", a.L->mem.saved_bytes);
    CHECK(a.L->mem.transient_peak > 0 && a.L->mem.transient_peak <= bound, "l4q transient is one tile + per-thread rows",
          "peak %zu > %zu", a.L->mem.transient_peak, bound);
    // A last tile under a quarter of a tile is spread over the others: tile_rows 19 gives
    // 47-row tiles of 100 rows (a 6-row rest), so two tiles of 50 rows, 1.06× the bytes.
    Run s = run_layer("l4q", 4, 19, out, in, N, 1, 1);
    size_t want = ((size_t)50 * in + (size_t)threads_count() * 8 * in) * sizeof(float);
    CHECK(s.L->mem.transient_peak == want, "l4q: a thin last tile is spread over the others (two tiles of 50 rows)",
          "peak %zu, want %zu", s.L->mem.transient_peak, want);
    run_free(&s);
    // Bounded by the tile, not by out×in: twice the rows, same transient.
    Run c1 = run_layer("l4q", 4, tile, 40, 100, N, 1, 1), c2 = run_layer("l4q", 4, tile, 80, 100, N, 1, 1);
    CHECK(c1.L->mem.transient_peak == c2.L->mem.transient_peak, "l4q transient does not grow with out",
          "out 40: %zu, out 80: %zu", c1.L->mem.transient_peak, c2.L->mem.transient_peak);
    run_free(&c1);
    run_free(&c2);
    Run b = run_layer("qat_lora", 4, tile, out, in, N, 1, 1);
    CHECK(b.L->mem.saved_bytes >= (size_t)out * in * 4, "qat_lora keeps out x in for backward",
          "saved %zu < %zu", b.L->mem.saved_bytes, (size_t)out * in * 4);
    CHECK(b.L->mem.transient_peak >= (size_t)out * in * 4, "qat_lora transient holds the full weight gradient",
          "peak %zu", b.L->mem.transient_peak);
    run_free(&a);
    run_free(&b);
}

static void check_tile_invariance(void) {
    Run a = run_layer("l4q", 3, 7, 100, 40, 9, 2, 1), b = run_layer("l4q", 3, 100, 100, 40, 9, 2, 1);
    float d = t_maxdiff(a.Y, b.Y, 9 * 100);
    float e = t_maxdiff(a.dX, b.dX, 9 * 40);
    for (int i = 0; i < a.L->n_params; i++) {
        float g = t_maxdiff(a.L->params[i]->grad, b.L->params[i]->grad, a.L->params[i]->n);
        if (g > e) e = g;
    }
    CHECK(d <= 1e-5f && e <= 1e-5f, "l4q tile size does not change Y or any gradient", "Y %g grads %g", d, e);
    // tile_rows 19: 47-row tiles would leave a last tile of 6 rows, so two tiles of 50 (l4q_tile.h)
    Run c = run_layer("l4q", 3, 19, 100, 40, 9, 2, 1);
    d = t_maxdiff(c.Y, b.Y, 9 * 100);
    e = t_maxdiff(c.dX, b.dX, 9 * 40);
    for (int i = 0; i < c.L->n_params; i++) {
        float g = t_maxdiff(c.L->params[i]->grad, b.L->params[i]->grad, c.L->params[i]->n);
        if (g > e) e = g;
    }
    CHECK(d <= 1e-5f && e <= 1e-5f, "l4q with a thin last tile spread over the others: same Y and gradients as one tile",
          "Y %g grads %g", d, e);
    run_free(&a);
    run_free(&b);
    run_free(&c);
}

static void check_deployed(void) {
    const char *ms[3] = {"l4q", "qat_lora", "lsq"};
    int bitsv[2] = {4, 3};
    for (int mi = 0; mi < 3; mi++)
        for (int bi = 0; bi < 2; bi++) {
            int out = 30, in = 40, N = 5;
            Run a = run_layer(ms[mi], bitsv[bi], 8, out, in, N, 3, 1);
            // A fresh input through the trained layer and through its deployed form.
            Rng r;
            rng_seed(&r, 17);
            float *X = randv(&r, (size_t)N * in, 1.0f), *Y1 = xmalloc((size_t)N * out * 4), *Y2 = xmalloc((size_t)N * out * 4);
            a.L->ops->forward(a.L, X, Y1, N);
            Deploy d;
            a.L->ops->deploy(a.L, &d);
            Linear *D = linear_from_deploy(&d, "dep");
            D->ops->forward(D, X, Y2, N);
            float diff = t_maxdiff(Y1, Y2, (size_t)N * out);
            char nm[96];
            snprintf(nm, sizeof nm, "%s %d-bit deployed form %s reproduces training forward", ms[mi], bitsv[bi], D->form);
            CHECK(diff <= 1e-5f && !strcmp(D->form, a.L->form), nm, "max diff %g, forms %s vs %s", diff, D->form, a.L->form);
            size_t fp = (size_t)out * in * 4;
            snprintf(nm, sizeof nm, "%s %d-bit deployed weight bytes < fp32", ms[mi], bitsv[bi]);
            CHECK(D->mem.weight_bytes < fp, nm, "%zu >= %zu", D->mem.weight_bytes, fp);
            linear_free(D);
            deploy_free(&d);
            free(X); free(Y1); free(Y2);
            run_free(&a);
        }
}

static void check_l4qz_roundtrip(void) {
    const char *ms[3] = {"l4q", "qat_lora", "lsq"};
    for (int mi = 0; mi < 3; mi++)
        for (int shared = 0; shared < 2; shared++) {
            Config c = small_config(shared);
            ModelFile *mf = small_model_file(&c, 21 + mi);
            Model *M = small_trained_model(mf, ms[mi], 16);
            char path[256];
            snprintf(path, sizeof path, "/tmp/test_l4q_layer_%d_%s_%d.l4qz", (int)getpid(), ms[mi], shared);
            { ModelFile *dm = model_deployed(M); l4qz_write(path, dm, M->mf->tok, NULL, NULL); model_file_free(dm); }
            char tmp[300];
            snprintf(tmp, sizeof tmp, "%s.tmp", path);
            ModelFile *mf2 = model_file_load(path);
            Model *M2 = model_build(mf2, NULL, 1, c.seq_len, 0);
            int tok[6] = {1, 7, 3, 30, 2, 11};
            size_t nl = 6 * (size_t)c.vocab_size;
            float *l1 = xmalloc(nl * 4), *l2 = xmalloc(nl * 4);
            model_logits(M, tok, 6, l1);
            model_logits(M2, tok, 6, l2);
            float d = t_maxdiff(l1, l2, nl);
            char nm[128];
            snprintf(nm, sizeof nm, "l4qz round trip (%s, %s head): deployed logits match", ms[mi], shared ? "shared" : "own");
            CHECK(d <= 1e-4f && !file_exists(tmp) && !strcmp(mf2->method, ms[mi]), nm,
                  "max diff %g, tmp left %d, method '%s'", d, file_exists(tmp), mf2->method);
            free(l1); free(l2);
            model_free(M2); model_file_free(mf2);
            model_free(M); model_file_free(mf);
            unlink(path);
        }
}

int main(int argc, char **argv) {
    threads_init(0);
    if (argc >= 4 && !strcmp(argv[1], "grad")) return mode_grad(argv[2], argv[3]);
    if (argc >= 4 && !strcmp(argv[1], "init")) return mode_init(argv[2], argv[3]);
    if (argc >= 5 && !strcmp(argv[1], "build")) return mode_build(argc, argv);
    if (argc >= 4 && !strcmp(argv[1], "l4qz-write")) return mode_l4qz_write(argv[2], argv[3]);
    if (argc >= 3 && !strcmp(argv[1], "l4qz-load")) return mode_l4qz_load(argv[2]);
    if (argc > 1) die_input("usage: test_l4q_layer [grad IN OUT | init IN OUT | build METHOD BITS GS [INIT] | l4qz-write PATH METHOD | l4qz-load PATH]");
    check_packing();
    check_encode_dequant();
    check_memory();
    check_tile_invariance();
    check_deployed();
    check_l4qz_roundtrip();
    T_EXIT();
}
