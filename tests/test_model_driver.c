// test_model_driver.c — the model's gradients, two ways.
//
// No arguments: a C finite-difference check. A tiny random LLaMA (GQA 4 heads / 2 kv heads,
// shared and unshared classifier) is built in memory; for `full` and `lora` (B random so
// dA is non-zero) the analytic gradient of a few random coordinates of every trainable
// tensor, and of the embedding output, is compared with central differences of the mean
// loss. Prints PASS:/FAIL: lines.
//
// `dump MODEL METHOD TOKENS OUT [randB]`: the oracle side for tests/test_model.py. TOKENS is
// int32 B, T, then B×(T+1) ids (inputs = [:, :T], targets = [:, 1:]). Runs forward, every
// row's logits, model_head(backward, 1/targets) and model_backward, and writes OUT:
//   int32 B, T, V, dim; float32 logits[B·T·V]; float64 mean loss; int32 n_params;
//   per param: int32 name_len, name bytes, int32 rows, cols, float32 data[n], grad[n];
//   float32 input_grad[B·T·dim].
// METHOD is none | full | lora. randB: set every lora_B to N(0, 0.1²) first (seed 7), so
// the LoRA A gradients are not trivially zero.
#include "baselines/baselines.h"
#include "checkpoint.h"
#include "model.h"
#include "methods.h"
#include "testlib.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

static void set_method(MethodCfg *m, const char *name) {
    method_defaults(m, name);
}

static void randomize_lora_B(Model *M, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    Param *ps[512];
    int n = model_params(M, ps, 512);
    for (int i = 0; i < n && i < 512; i++) {
        size_t L = strlen(ps[i]->name);
        if (L >= 6 && !strcmp(ps[i]->name + L - 6, "lora_B"))
            for (size_t j = 0; j < ps[i]->n; j++) ps[i]->data[j] = 0.1f * rng_normal(&r);
    }
}

// Mean NLL of targets[:, 1:] given inputs; optionally the backward pass too.
static double run_loss(Model *M, const int *seq, int B, int T, int *in, int *tg, int backward) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            in[b * T + t] = seq[b * (T + 1) + t];
            tg[b * T + t] = seq[b * (T + 1) + t + 1];
        }
    model_forward(M, in, B, T, 0);
    int R = B * T;
    if (backward) model_zero_grad(M);
    double nll = model_head(M, tg, NULL, 0, R, NULL, NULL, backward, 1.0f / R);
    if (backward) model_backward(M, in, B, T);
    return nll / R;
}

// ---- in-memory tiny model -----------------------------------------------------------
static ModelFile *tiny_model(int shared, uint64_t seed) {
    Config c = {.dim = 16, .hidden_dim = 24, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                .vocab_size = 11, .seq_len = 8, .shared_classifier = shared,
                .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    ModelFile *mf = xcalloc(1, sizeof *mf);
    mf->c = c;
    snprintf(mf->path, sizeof mf->path, "tiny%s", shared ? "-shared" : "-unshared");
    snprintf(mf->format, sizeof mf->format, "memory");
    size_t n = (size_t)c.vocab_size * c.dim * (shared ? 1 : 2) + (size_t)(2 * c.n_layers + 1) * c.dim;
    for (int p = 0; p < N_LAYER_PROJ; p++) { int o, i; proj_dims(&c, p, &o, &i); n += (size_t)c.n_layers * o * i; }
    float *blob = xmalloc(n * sizeof(float)), *cur = blob;
    Rng r;
    rng_seed(&r, seed);
    // Weights ~ N(0, 0.3²) keep activations O(1) in so small a model; norms near 1.
    for (size_t i = 0; i < n; i++) blob[i] = 0.3f * rng_normal(&r);
    mf->tok_emb = cur; cur += (size_t)c.vocab_size * c.dim;
    mf->rms_att = cur; cur += (size_t)c.n_layers * c.dim;
    mf->rms_ffn = cur; cur += (size_t)c.n_layers * c.dim;
    mf->rms_final = cur; cur += c.dim;
    for (float *p = mf->rms_att; p < cur; p++) *p = 1.0f + 0.5f * *p;
    mf->w = xcalloc((size_t)c.n_layers * N_LAYER_PROJ, sizeof(float *));
    for (int l = 0; l < c.n_layers; l++)
        for (int p = 0; p < N_LAYER_PROJ; p++) {
            int o, i;
            proj_dims(&c, p, &o, &i);
            mf->w[l * N_LAYER_PROJ + p] = cur; cur += (size_t)o * i;
        }
    if (!shared) { mf->wcls = cur; cur += (size_t)c.vocab_size * c.dim; }
    mf->blob = blob;
    return mf;
}

// Central differences in fp32 need an eps large enough to beat rounding of the loss
// (~1e-7 relative) yet small against curvature; 1e-2 relative agreement is what fp32 allows.
static int fd_close(double an, double fd) {
    double err = fabs(an - fd), mag = fabs(an) > fabs(fd) ? fabs(an) : fabs(fd);
    return err <= 2e-2 * mag + 2e-4;
}

static void fd_check(int shared, const char *method, int randB) {
    ModelFile *mf = tiny_model(shared, 1234 + shared);
    MethodCfg m;
    set_method(&m, method);
    int B = 2, T = 8, V = mf->c.vocab_size, D = mf->c.dim;
    Model *M = model_build(mf, &m, B, T, 99);
    if (randB) randomize_lora_B(M, 7);
    int seq[2 * 9], in[16], tg[16];
    Rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < B * (T + 1); i++) seq[i] = (int)(rng_u64(&r) % V);
    run_loss(M, seq, B, T, in, tg, 1);
    Param *ps[256];
    int np = model_params(M, ps, 256);
    // Snapshot analytic grads: later forwards would not touch them, but be explicit.
    char label[256];
    const float eps = 1e-2f;
    int bad = 0, checked = 0;
    double worst = 0, worst_rel = 0; // worst_rel: over coordinates with |grad| > 1e-3
    char worst_name[160] = "";
    for (int k = 0; k < np; k++) {
        Param *p = ps[k];
        for (int j = 0; j < 3; j++) {
            size_t idx = rng_u64(&r) % p->n;
            double an = p->grad[idx];
            float keep = p->data[idx];
            p->data[idx] = keep + eps;
            double lp = run_loss(M, seq, B, T, in, tg, 0);
            p->data[idx] = keep - eps;
            double lm = run_loss(M, seq, B, T, in, tg, 0);
            p->data[idx] = keep;
            double fd = (lp - lm) / (2 * eps);
            checked++;
            double mag = fabs(an) > fabs(fd) ? fabs(an) : fabs(fd);
            if (mag > 1e-3 && fabs(an - fd) / mag > worst_rel) worst_rel = fabs(an - fd) / mag;
            if (!fd_close(an, fd)) {
                bad++;
                double e = fabs(an - fd);
                if (e > worst) { worst = e; snprintf(worst_name, sizeof worst_name, "%s[%zu] an %.6g fd %.6g", p->name, idx, an, fd); }
            }
        }
    }
    snprintf(label, sizeof label, "fd %s %s classifier%s: %d coordinates of %d tensors (worst rel %.1e)", method,
             shared ? "shared" : "unshared", randB ? " (B random)" : "", checked, np, worst_rel);
    CHECK(bad == 0, label, "%d bad; worst %s", bad, worst_name);

    // Embedding-output gradient: perturbing tok_emb[v][i] moves every row whose input is
    // v (and, when tied, the head). Only the untied case isolates the input gradient.
    if (!shared) {
        run_loss(M, seq, B, T, in, tg, 1);
        const float *dx = model_input_grad(M);
        float *dxc = xmalloc((size_t)B * T * D * sizeof(float));
        memcpy(dxc, dx, (size_t)B * T * D * sizeof(float));
        int ibad = 0;
        char msg[160] = "";
        for (int j = 0; j < 6; j++) {
            int v = in[rng_u64(&r) % (B * T)], i = (int)(rng_u64(&r) % D);
            double an = 0;
            for (int row = 0; row < B * T; row++) if (in[row] == v) an += dxc[(size_t)row * D + i];
            float *e = mf->tok_emb + (size_t)v * D + i, keep = *e;
            *e = keep + eps; double lp = run_loss(M, seq, B, T, in, tg, 0);
            *e = keep - eps; double lm = run_loss(M, seq, B, T, in, tg, 0);
            *e = keep;
            double fd = (lp - lm) / (2 * eps);
            if (!fd_close(an, fd)) { ibad++; snprintf(msg, sizeof msg, "tok %d dim %d: an %.6g fd %.6g", v, i, an, fd); }
        }
        snprintf(label, sizeof label, "fd %s input gradient (unshared classifier%s)", method, randB ? ", B random" : "");
        CHECK(ibad == 0, label, "%s", msg);
        free(dxc);
    }
    model_free(M);
    model_file_free(mf);
}

// ---- dump mode ------------------------------------------------------------------------
static void wr(FILE *f, const void *p, size_t sz, size_t n) {
    if (fwrite(p, sz, n, f) != n) die_internal("dump: write failed");
}

static int dump(int argc, char **argv) {
    if (argc < 6) { fprintf(stderr, "usage: %s dump MODEL METHOD TOKENS OUT [randB]\n", argv[0]); return 2; }
    ModelFile *mf = model_file_load(argv[2]);
    const char *method = argv[3];
    int randB = argc > 6 && !strcmp(argv[6], "randB");
    size_t len;
    char *buf = read_file(argv[4], &len);
    int B = ((int *)buf)[0], T = ((int *)buf)[1];
    if (len != 8 + (size_t)B * (T + 1) * 4) die_input("%s: expected %zu bytes", argv[4], 8 + (size_t)B * (T + 1) * 4);
    const int *seq = (int *)buf + 2;
    MethodCfg m;
    int trains = strcmp(method, "none") != 0;
    if (trains) set_method(&m, method);
    else set_method(&m, "none");
    // `none` trains nothing: use full to get the input gradient path but dump no params.
    Model *M = model_build(mf, trains ? &m : NULL, B, T, 99);
    if (randB) randomize_lora_B(M, 7);
    int V = mf->c.vocab_size, D = mf->c.dim, R = B * T;
    int *in = xmalloc(R * sizeof(int)), *tg = xmalloc(R * sizeof(int));
    double loss;
    float *logits = xmalloc((size_t)R * V * sizeof(float));
    if (trains) {
        loss = run_loss(M, seq, B, T, in, tg, 1);
    } else {
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) { in[b * T + t] = seq[b * (T + 1) + t]; tg[b * T + t] = seq[b * (T + 1) + t + 1]; }
        model_forward(M, in, B, T, 0);
        loss = model_head(M, tg, NULL, 0, R, NULL, NULL, 0, 1.0f) / R;
    }
    // The head forward of each row again (xf is unchanged by backward).
    for (int r = 0; r < R; r++) model_logits_row(M, r, logits + (size_t)r * V);
    FILE *f = fopen(argv[5], "wb");
    if (!f) die_input("%s: cannot create", argv[5]);
    int hdr[4] = {B, T, V, D};
    wr(f, hdr, 4, 4);
    wr(f, logits, 4, (size_t)R * V);
    wr(f, &loss, 8, 1);
    Param *ps[MODEL_MAX_PARAMS];
    int np = trains ? model_params(M, ps, MODEL_MAX_PARAMS) : 0;
    wr(f, &np, 4, 1);
    for (int k = 0; k < np; k++) {
        int nl = (int)strlen(ps[k]->name);
        wr(f, &nl, 4, 1);
        wr(f, ps[k]->name, 1, nl);
        wr(f, ps[k]->shape, 4, 2);
        wr(f, ps[k]->data, 4, ps[k]->n);
        wr(f, ps[k]->grad, 4, ps[k]->n);
    }
    if (trains) wr(f, model_input_grad(M), 4, (size_t)R * D);
    if (fclose(f)) die_internal("%s: close failed", argv[5]);
    free(in); free(tg); free(logits); free(buf);
    model_free(M);
    model_file_free(mf);
    return 0;
}

int main(int argc, char **argv) {
    baselines_register();
    threads_init(0);
    if (argc > 1 && !strcmp(argv[1], "dump")) return dump(argc, argv);
    for (int shared = 1; shared >= 0; shared--) {
        fd_check(shared, "full", 0);
        fd_check(shared, "lora", 1);
    }
    T_EXIT();
}
