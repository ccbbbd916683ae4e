// test_half.c — 16-bit frozen weights (core/half.c, Param.half, w0_forward/w0_backward_dx).
//
// No arguments: C checks —
//   * the vector conversion paths (F16C/AVX-512) equal the scalar fallback on every f16/bf16
//     bit pattern and on rounding cases in the other direction;
//   * a layer of every W0-frozen method built on a 16-bit weight reports half the fp32
//     weight bytes, and the model's memory account (embeddings included) follows;
//   * a projection too big for one widening tile (several tiles) gives the fp32 result:
//     bit for bit for l4q (its tiles do not depend on the storage), within sgemm rounding for
//     none and lora, and the transient is one tile, not the out×in weight.
// `conv IN OUT` (oracle side for tests/test_half.py): IN = float32 values; OUT = the widened
// values of all 65536 f16 patterns, then of all 65536 bf16 patterns (float32 each), then IN
// narrowed to f16 and to bf16 (uint16 each).
#include "checkpoint.h"
#include "methods.h"
#include "model.h"
#include "testlib.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

static void check_paths(void) {
    uint16_t *all = xmalloc(65536 * 2), *back = xmalloc(65536 * 2);
    float *bulk = xmalloc(65536 * 4);
    for (int i = 0; i < 65536; i++) all[i] = (uint16_t)i;
    for (int dt = DT_F16; dt <= DT_BF16; dt++) {
        half_to_f32(dt, all, bulk, 65536);
        int bad = 0;
        for (int i = 0; i < 65536; i++) {
            float one;
            half_to_f32(dt, all + i, &one, 1); // n = 1 takes the scalar path
            if (memcmp(&one, bulk + i, 4)) bad++;
        }
        char name[96];
        snprintf(name, sizeof name, "%s -> f32: vector path = scalar path on all 65536 patterns", dtype_name(dt));
        CHECK(!bad, name, "%d patterns differ", bad);
        // Narrowing: every widened value (exact round trip), and values between neighbours
        // (the halfway points test round-to-nearest-even).
        f32_to_half(dt, bulk, back, 65536);
        int rt = 0;
        for (int i = 0; i < 65536; i++) {
            int nan = dt == DT_F16 ? (i & 0x7c00) == 0x7c00 && (i & 0x3ff) : (i & 0x7f80) == 0x7f80 && (i & 0x7f);
            if (!nan && back[i] != i) rt++;
        }
        snprintf(name, sizeof name, "%s: f32 -> %s round trip of every non-NaN pattern", dtype_name(dt), dtype_name(dt));
        CHECK(!rt, name, "%d patterns differ", rt);
        float *mid = xmalloc(65535 * 4);
        for (int i = 0; i < 65535; i++) mid[i] = bulk[i] * 0.5f + bulk[i + 1] * 0.5f;
        uint16_t *v = xmalloc(65535 * 2);
        f32_to_half(dt, mid, v, 65535);
        int sbad = 0;
        for (int i = 0; i < 65535; i++) {
            uint16_t s;
            f32_to_half(dt, mid + i, &s, 1);
            if (s != v[i] && mid[i] == mid[i]) sbad++;
        }
        snprintf(name, sizeof name, "f32 -> %s: vector path = scalar path on 65535 midpoints", dtype_name(dt));
        CHECK(!sbad, name, "%d differ", sbad);
        free(mid); free(v);
    }
    free(all); free(back); free(bulk);
}

// A random ModelFile and a copy of it whose projections and embeddings are 16-bit (dt);
// the fp32 one holds the widened values, so both describe the same model exactly.
static void model_pair(const Config *c, int dt, ModelFile **f32, ModelFile **f16, uint16_t **store) {
    *f32 = model_file_random(c, 0.3f, 11);
    ModelFile *h = model_file_random(c, 0.3f, 11);
    int nt = mf_tensor_count(c);
    MfTensor *t = xmalloc(sizeof *t * nt);
    mf_tensors(*f32, t, nt);
    size_t total = 0;
    for (int k = 0; k < nt; k++) total += (size_t)t[k].rows * t[k].cols;
    uint16_t *s = *store = xmalloc(total * 2);
    for (int k = 0, i = 0; k < nt; k++) {
        size_t n = (size_t)t[k].rows * t[k].cols;
        int proj = !strncmp(t[k].name, "layers.", 7), emb = !strcmp(t[k].name, "tok_emb") || !strcmp(t[k].name, "head");
        if (proj || emb) {
            float *w = (float *)t[k].data;
            f32_to_half(dt, w, s, n);
            half_to_f32(dt, s, w, n); // the fp32 model gets exactly the 16-bit values
            if (proj) mf_set_w16(h, i, dt, s);
            else if (!strcmp(t[k].name, "tok_emb")) h->tok_emb16 = s, h->tok_emb_dt = dt, h->tok_emb = NULL;
            else h->wcls16 = s, h->wcls_dt = dt, h->wcls = NULL;
            s += n;
        }
        i += proj;
    }
    free(t);
    *f16 = h;
}

static void check_memory(void) {
    Config c = {.dim = 64, .hidden_dim = 96, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 50,
                .seq_len = 16, .shared_classifier = 0, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    ModelFile *a, *b;
    uint16_t *store;
    model_pair(&c, DT_BF16, &a, &b, &store);
    const char *methods[] = {"none", "lora", "l4q", "qat_lora"};
    for (int k = 0; k < 4; k++) {
        MethodCfg m;
        method_defaults(&m, methods[k]);
        Model *Ma = model_build(a, &m, 1, 8, 1), *Mb = model_build(b, &m, 1, 8, 1);
        int bad = 0;
        for (int i = 0; i < c.n_layers * 7; i++)
            if (2 * Mb->lin[i]->mem.weight_bytes != Ma->lin[i]->mem.weight_bytes) bad++;
        MemAccount xa, xb;
        model_memory(Ma, &xa);
        model_memory(Mb, &xb);
        size_t sixteen = 0; // bytes that are 16-bit in b: projections and both embeddings
        for (int i = 0; i < c.n_layers * 7; i++) sixteen += Ma->lin[i]->mem.weight_bytes;
        sixteen += 2 * (size_t)c.vocab_size * c.dim * 4;
        char name[128];
        snprintf(name, sizeof name, "%s: every bf16 frozen layer reports half the fp32 weight bytes", methods[k]);
        CHECK(!bad, name, "%d of %d layers differ", bad, c.n_layers * 7);
        snprintf(name, sizeof name, "%s: model weight_bytes drop by half of the 16-bit tensors' fp32 bytes", methods[k]);
        CHECK(xa.weight_bytes - xb.weight_bytes == sixteen / 2, name, "fp32 %zu, bf16 %zu, expected drop %zu",
              xa.weight_bytes, xb.weight_bytes, sixteen / 2);
        model_free(Ma); model_free(Mb);
    }
    model_file_free(a); model_file_free(b);
    free(store);
}

// One projection bigger than a widening tile: out×in = 3000×2048 floats (3 tiles).
static void check_tiles(void) {
    int out = 3000, in = 2048, N = 24;
    size_t n = (size_t)out * in;
    float *W = xmalloc(n * 4), *X = xmalloc((size_t)N * in * 4), *dY = xmalloc((size_t)N * out * 4);
    uint16_t *H = xmalloc(n * 2);
    Rng r;
    rng_seed(&r, 3);
    for (size_t i = 0; i < n; i++) W[i] = 0.05f * rng_normal(&r);
    for (size_t i = 0; i < (size_t)N * in; i++) X[i] = rng_normal(&r);
    for (size_t i = 0; i < (size_t)N * out; i++) dY[i] = rng_normal(&r);
    f32_to_half(DT_F16, W, H, n);
    half_to_f32(DT_F16, H, W, n);
    CHECK(w0_tile_rows(out, in) < out, "test projection spans several widening tiles", "tile %d rows", w0_tile_rows(out, in));
    const char *methods[] = {"none", "lora", "l4q"};
    for (int k = 0; k < 3; k++) {
        MethodCfg m;
        method_defaults(&m, methods[k]);
        m.tile_rows = 200; // l4q: 6 tiles
        Param pa, pb;
        param_init(&pa, "w", W, out, in, 1);
        param_init16(&pb, "w", DT_F16, H, out, in, 1);
        Rng ra, rb;
        rng_seed(&ra, 9); rng_seed(&rb, 9);
        Linear *La = linear_build(&m, &pa, "a", &ra), *Lb = linear_build(&m, &pb, "b", &rb);
        La->training = Lb->training = 1;
        for (int j = 0; j < La->n_params; j++) // non-zero LoRA B so the branch matters
            for (size_t e = 0; e < La->params[j]->n; e++)
                if (strstr(La->params[j]->name, "lora_B")) La->params[j]->data[e] = Lb->params[j]->data[e] = 0.01f * (float)(e % 7);
        float *Ya = xmalloc((size_t)N * out * 4), *Yb = xmalloc((size_t)N * out * 4);
        float *dXa = xcalloc((size_t)N * in, 4), *dXb = xcalloc((size_t)N * in, 4);
        La->ops->forward(La, X, Ya, N); Lb->ops->forward(Lb, X, Yb, N);
        La->ops->backward(La, X, dY, dXa, N); Lb->ops->backward(Lb, X, dY, dXb, N);
        float ey = t_maxdiff(Ya, Yb, (size_t)N * out), ex = t_maxdiff(dXa, dXb, (size_t)N * in), eg = 0;
        for (int j = 0; j < La->n_params; j++) {
            float e = t_maxdiff(La->params[j]->grad, Lb->params[j]->grad, La->params[j]->n);
            if (e > eg) eg = e;
        }
        int exact = !strcmp(methods[k], "l4q");
        float tol = exact ? 0.0f : 2e-5f; // values O(1): sgemm on tiles vs whole may round differently
        char name[160];
        snprintf(name, sizeof name, "%s on an f16 weight of %d tiles = fp32 weight (%s: Y %.1e dX %.1e grads %.1e)",
                 methods[k], (out + w0_tile_rows(out, in) - 1) / w0_tile_rows(out, in), exact ? "bit for bit" : "max abs",
                 ey, ex, eg);
        CHECK(ey <= tol && ex <= tol && eg <= tol, name, "Y %g dX %g grads %g", ey, ex, eg);
        if (!exact) {
            size_t tile = (size_t)w0_tile_rows(out, in) * in * 4;
            snprintf(name, sizeof name, "%s: f16 transient is one widening tile (%zu bytes), not the weight (%zu)",
                     methods[k], tile, n * 4);
            CHECK(Lb->mem.transient_peak >= tile && Lb->mem.transient_peak < n * 4, name, "transient %zu",
                  Lb->mem.transient_peak);
        }
        linear_free(La); linear_free(Lb);
        free(Ya); free(Yb); free(dXa); free(dXb);
    }
    free(W); free(X); free(dY); free(H);
}

static int conv(const char *in, const char *outp) {
    size_t len;
    char *buf = read_file(in, &len);
    size_t n = len / 4;
    FILE *f = fopen(outp, "wb");
    if (!f) die_input("%s: cannot write", outp);
    uint16_t *all = xmalloc(65536 * 2), *h = xmalloc((n ? n : 1) * 2);
    float *w = xmalloc(65536 * 4);
    for (int i = 0; i < 65536; i++) all[i] = (uint16_t)i;
    for (int dt = DT_F16; dt <= DT_BF16; dt++) {
        half_to_f32(dt, all, w, 65536);
        fwrite(w, 4, 65536, f);
    }
    for (int dt = DT_F16; dt <= DT_BF16; dt++) {
        f32_to_half(dt, (const float *)buf, h, n);
        fwrite(h, 2, n, f);
    }
    if (fclose(f)) die_input("%s: write failed", outp);
    free(all); free(h); free(w); free(buf);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "conv")) return conv(argv[2], argv[3]);
    check_paths();
    check_memory();
    check_tiles();
    T_EXIT();
}
