// checkpoint.c — model_file_load: reads a whole checkpoint, detects its format by content
// and fills a ModelFile (SPEC §2). llama2.c v0/v1 weights are used in place (the file
// buffer becomes mf->blob); v2 Q8_0 is dequantized; GGUF and L4QZ have their own readers.
#include "checkpoint.h"
#include "l4qz.h"
#include "tokenizer.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

// l4qz.c is written separately and may not be linked into every binary (tests that only
// need the reference formats); a weak reference lets this file work either way and gives
// a clear message instead of a link error.
extern __typeof__(l4qz_load) l4qz_load __attribute__((weak));

int proj_dims(const Config *c, int p, int *out, int *in) {
    int kv_dim = c->dim / c->n_heads * c->n_kv_heads;
    int o, i;
    switch (p) {
    case P_Q: case P_O: o = c->dim; i = c->dim; break;
    case P_K: case P_V: o = kv_dim; i = c->dim; break;
    case P_GATE: case P_UP: o = c->hidden_dim; i = c->dim; break;
    case P_DOWN: o = c->dim; i = c->hidden_dim; break;
    case P_HEAD: o = c->vocab_size; i = c->dim; break;
    default: *out = *in = 0; return -1;
    }
    *out = o; *in = i;
    return 0;
}

// Bounds are generous (well past LLaMA-70B) but keep every size product far from
// overflowing size_t, so the size arithmetic below needs no overflow checks.
void config_validate(const char *path, const char *what, const Config *c) {
    const struct { const char *name; int v, max; } f[] = {
        {"dim", c->dim, 1 << 16}, {"hidden_dim", c->hidden_dim, 1 << 20},
        {"n_layers", c->n_layers, 4096}, {"n_heads", c->n_heads, 1024},
        {"n_kv_heads", c->n_kv_heads, 1024}, {"vocab_size", c->vocab_size, 1 << 24},
        {"seq_len", c->seq_len, 1 << 24},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v <= 0 || f[i].v > f[i].max)
            die_input("%s: %s: %s = %d is out of range (1..%d)", path, what, f[i].name, f[i].v, f[i].max);
    if (c->dim % c->n_heads)
        die_input("%s: %s: dim %d is not a multiple of n_heads %d", path, what, c->dim, c->n_heads);
    if (c->n_heads % c->n_kv_heads)
        die_input("%s: %s: n_heads %d is not a multiple of n_kv_heads %d", path, what, c->n_heads, c->n_kv_heads);
    if ((c->dim / c->n_heads) % 2) // RoPE rotates pairs of the head dimension
        die_input("%s: %s: head size %d is odd", path, what, c->dim / c->n_heads);
    if (!(c->norm_eps > 0 && c->norm_eps < 1))
        die_input("%s: %s: norm_eps %g is out of range (0, 1)", path, what, c->norm_eps);
    if (!(c->rope_theta > 1 && isfinite(c->rope_theta)))
        die_input("%s: %s: rope_theta %g is out of range (> 1)", path, what, c->rope_theta);
}

ModelFile *mf_alloc(const char *path, const Config *c) {
    ModelFile *mf = xcalloc(1, sizeof *mf);
    mf->c = *c;
    snprintf(mf->path, sizeof mf->path, "%s", path);
    mf->w = xcalloc((size_t)c->n_layers * 7, sizeof *mf->w);
    return mf;
}

ModelFile *model_file_random(const Config *c, float std, uint64_t seed) {
    ModelFile *mf = mf_alloc("random", c);
    snprintf(mf->format, sizeof mf->format, "random");
    int L = c->n_layers, D = c->dim;
    size_t n = (size_t)c->vocab_size * D * (c->shared_classifier ? 1 : 2) + (size_t)(2 * L + 1) * D;
    for (int p = 0; p < 7; p++) { int o, i; proj_dims(c, p, &o, &i); n += (size_t)L * o * i; }
    float *blob = xmalloc(n * sizeof(float)), *cur = blob;
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) blob[i] = std * rng_normal(&r);
    mf->tok_emb = cur; cur += (size_t)c->vocab_size * D;
    mf->rms_att = cur; cur += (size_t)L * D;
    mf->rms_ffn = cur; cur += (size_t)L * D;
    mf->rms_final = cur; cur += D;
    for (float *p = mf->rms_att; p < cur; p++) *p = 1.0f + 0.5f * *p;
    for (int l = 0; l < L; l++)
        for (int p = 0; p < 7; p++) {
            int o, i;
            proj_dims(c, p, &o, &i);
            mf->w[l * 7 + p] = cur; cur += (size_t)o * i;
        }
    if (!c->shared_classifier) mf->wcls = cur;
    mf->blob = blob;
    mf->file_bytes = n * sizeof(float);
    return mf;
}

void mf_set_w16(ModelFile *mf, int i, int dtype, const uint16_t *p) {
    int n = mf->c.n_layers * 7;
    if (!mf->w16) { mf->w16 = xcalloc(n, sizeof *mf->w16); mf->w16_dt = xcalloc(n, 1); }
    mf->w[i] = NULL;
    mf->w16[i] = p;
    mf->w16_dt[i] = (uint8_t)dtype;
}

void mf_widen(ModelFile *mf) {
    int nt = mf_tensor_count(&mf->c);
    MfTensor *t = xmalloc(sizeof *t * nt);
    mf_tensors(mf, t, nt);
    size_t total = 0;
    for (int k = 0; k < nt; k++) if (t[k].half) total += (size_t)t[k].rows * t[k].cols;
    if (total) {
        if (mf->wide_blob) die_internal("%s: mf_widen called twice with 16-bit tensors left", mf->path);
        float *cur = mf->wide_blob = xmalloc_aligned(total * sizeof(float));
        for (int k = 0, i = 0; k < nt; k++) {
            size_t n = (size_t)t[k].rows * t[k].cols;
            if (t[k].half) half_to_f32(t[k].dtype, t[k].half, cur, n);
            if (!strcmp(t[k].name, "tok_emb")) { if (t[k].half) mf->tok_emb = cur, mf->tok_emb16 = NULL; }
            else if (!strcmp(t[k].name, "head")) { if (t[k].half) mf->wcls = cur, mf->wcls16 = NULL; }
            else if (!strncmp(t[k].name, "layers.", 7)) { if (t[k].half) mf->w[i] = cur, mf->w16[i] = NULL; i++; }
            if (t[k].half) cur += n;
        }
    }
    free(t);
}

void model_file_free(ModelFile *mf) {
    if (!mf) return;
    free(mf->w16); free(mf->w16_dt); free(mf->blob16); free(mf->wide_blob);
    if (mf->hold_free) mf->hold_free(mf->hold);
    if (mf->dep) {
        for (int i = 0; i < mf->c.n_layers * 7; i++)
            if (mf->dep[i]) { deploy_free(mf->dep[i]); free(mf->dep[i]); }
        free(mf->dep);
    }
    if (mf->tok) tok_free(mf->tok);
    free(mf->w);
    free(mf->blob);
    free(mf);
}

int mf_tensor_count(const Config *c) { return 4 + c->n_layers * 7 + (c->shared_classifier ? 0 : 1); }

int mf_tensors(const ModelFile *mf, MfTensor *t, int max) {
    const Config *c = &mf->c;
    int n = 0;
#define ADD(nm, ptr, dp, r, cl) do { if (n < max) { memset(&t[n], 0, sizeof t[n]); snprintf(t[n].name, sizeof t[n].name, "%s", nm); \
    t[n].data = (ptr); t[n].dep = (dp); t[n].rows = (r); t[n].cols = (cl); } n++; } while (0)
#define HALF(h, dt) do { if (n - 1 < max && (h)) { t[n - 1].half = (h); t[n - 1].dtype = (dt); } } while (0)
    ADD("tok_emb", mf->tok_emb, NULL, c->vocab_size, c->dim);
    HALF(mf->tok_emb16, mf->tok_emb_dt);
    ADD("rms_att", mf->rms_att, NULL, c->n_layers, c->dim);
    ADD("rms_ffn", mf->rms_ffn, NULL, c->n_layers, c->dim);
    ADD("rms_final", mf->rms_final, NULL, 1, c->dim);
    char nm[48];
    for (int l = 0; l < c->n_layers; l++)
        for (int p = 0; p < 7; p++) {
            int o, i;
            proj_dims(c, p, &o, &i);
            snprintf(nm, sizeof nm, "layers.%d.%s", l, PROJ_NAMES[p]);
            const Deploy *d = mf->dep ? mf->dep[l * 7 + p] : NULL;
            ADD(nm, d ? NULL : mf->w[l * 7 + p], d, o, i);
            if (mf->w16) HALF(mf->w16[l * 7 + p], mf->w16_dt[l * 7 + p]);
        }
    if (!c->shared_classifier) { ADD("head", mf->wcls, NULL, c->vocab_size, c->dim); HALF(mf->wcls16, mf->wcls_dt); }
#undef HALF
#undef ADD
    return n < max ? n : max;
}

void mf_check_finite(const ModelFile *mf) {
    int nt = mf_tensor_count(&mf->c);
    MfTensor *t = xmalloc(sizeof *t * nt);
    mf_tensors(mf, t, nt);
    for (int k = 0; k < nt; k++) {
        size_t n = (size_t)t[k].rows * t[k].cols;
        if (t[k].half) {
            size_t j = half_first_nonfinite(t[k].dtype, t[k].half, n);
            if (j < n)
                die_input("%s: tensor %s (%s) holds a non-finite value at element %zu (row %zu)", mf->path,
                          t[k].name, dtype_name(t[k].dtype), j, j / (size_t)t[k].cols);
            continue;
        }
        if (!t[k].data) {
            if (t[k].dep) continue; // deployed forms are validated by their reader
            die_input("%s: tensor %s is missing", mf->path, t[k].name);
        }
        for (size_t j = 0; j < n; j++)
            if (!isfinite(t[k].data[j]))
                die_input("%s: tensor %s holds a non-finite value (%g) at element %zu (row %zu)",
                          mf->path, t[k].name, (double)t[k].data[j], j, j / (size_t)t[k].cols);
    }
    free(t);
}

// ---- llama2.c .bin ------------------------------------------------------------------

static int32_t rd_i32(const unsigned char *p) { int32_t v; memcpy(&v, p, 4); return v; }

static void check_size(const char *path, size_t expected, size_t got) {
    if (got < expected) die_input("%s: truncated: expected %zu bytes, got %zu", path, expected, got);
    if (got > expected) die_input("%s: %zu unexpected extra bytes: expected %zu bytes, got %zu", path, got - expected, expected, got);
}

static void header_config(Config *c, const unsigned char *p) {
    c->dim = rd_i32(p); c->hidden_dim = rd_i32(p + 4); c->n_layers = rd_i32(p + 8);
    c->n_heads = rd_i32(p + 12); c->n_kv_heads = rd_i32(p + 16);
    c->vocab_size = rd_i32(p + 20); c->seq_len = rd_i32(p + 24);
    c->norm_eps = 1e-5f;     // llama2.c hard-codes both; its files do not store them
    c->rope_theta = 10000.0f;
}

// Elements of all stacked projection tensors of one kind, e.g. wq: L×dim×dim.
static size_t proj_elems(const Config *c, int p) { int o, i; proj_dims(c, p, &o, &i); return (size_t)c->n_layers * o * i; }

// Points the per-layer projection slots at L consecutive out×in matrices starting at *cur.
static void take_proj(ModelFile *mf, int p, float **cur) {
    int o, i;
    proj_dims(&mf->c, p, &o, &i);
    for (int l = 0; l < mf->c.n_layers; l++) { mf->w[l * 7 + p] = *cur; *cur += (size_t)o * i; }
}
static float *take(float **cur, size_t n) { float *r = *cur; *cur += n; return r; }

static size_t weights_elems(const Config *c) {
    size_t n = (size_t)c->vocab_size * c->dim * (c->shared_classifier ? 1 : 2)
             + (size_t)c->n_layers * c->dim * 2 + c->dim;
    for (int p = 0; p < 7; p++) n += proj_elems(c, p);
    return n;
}

// v0: 7 int32 header, then tok_emb, rms_att, wq, wk, wv, wo, rms_ffn, w1(gate), w2(down),
// w3(up), rms_final, freq_cis real+imag (seq_len × head_size/2 each), wcls if unshared.
static ModelFile *load_v0(const char *path, char *buf, size_t len) {
    if (len < 28) die_input("%s: truncated: expected at least 28 bytes (llama2.c v0 header), got %zu", path, len);
    Config c = {0};
    header_config(&c, (unsigned char *)buf);
    c.shared_classifier = c.vocab_size > 0; // llama2.c's convention: negative = own head
    if (c.vocab_size < 0 && c.vocab_size != INT32_MIN) c.vocab_size = -c.vocab_size;
    config_validate(path, "not a recognised checkpoint (no ak42/GGUF/L4QZ magic); as a llama2.c v0 header", &c);
    size_t head = (size_t)c.dim / c.n_heads;
    size_t freq = (size_t)c.seq_len * head; // real and imag halves, head/2 each
    check_size(path, 28 + 4 * (weights_elems(&c) + freq), len);
    ModelFile *mf = mf_alloc(path, &c);
    float *cur = (float *)(buf + 28);
    mf->tok_emb = take(&cur, (size_t)c.vocab_size * c.dim);
    mf->rms_att = take(&cur, (size_t)c.n_layers * c.dim);
    take_proj(mf, P_Q, &cur); take_proj(mf, P_K, &cur); take_proj(mf, P_V, &cur); take_proj(mf, P_O, &cur);
    mf->rms_ffn = take(&cur, (size_t)c.n_layers * c.dim);
    take_proj(mf, P_GATE, &cur); take_proj(mf, P_DOWN, &cur); take_proj(mf, P_UP, &cur);
    mf->rms_final = take(&cur, c.dim);
    // RoPE is computed on the fly from rope_theta (like run.c), so the tables are skipped.
    cur += freq;
    if (!c.shared_classifier) mf->wcls = take(&cur, (size_t)c.vocab_size * c.dim);
    snprintf(mf->format, sizeof mf->format, "llama2c-v0");
    mf->blob = buf;
    return mf;
}

// v1/v2: 256-byte header: "ak42" magic, int32 version, the 7 int32, uint8 shared flag,
// (v2: int32 group_size at byte 37, unaligned), zero padding.
static Config header_v12(const char *path, const unsigned char *p, size_t len, int version) {
    if (len < 256) die_input("%s: truncated: expected at least 256 bytes (llama2.c v%d header), got %zu", path, version, len);
    Config c = {0};
    header_config(&c, p + 8);
    if (p[36] > 1) die_input("%s: llama2.c v%d header: shared_classifier flag is %d (expected 0 or 1)", path, version, p[36]);
    c.shared_classifier = p[36];
    char what[32];
    snprintf(what, sizeof what, "llama2.c v%d header", version);
    config_validate(path, what, &c);
    return c;
}

// v1: norms first (rms_att, rms_ffn, rms_final), then tok_emb, wq, wk, wv, wo, w1, w2, w3,
// wcls if unshared; no freq_cis.
static ModelFile *load_v1(const char *path, char *buf, size_t len) {
    Config c = header_v12(path, (unsigned char *)buf, len, 1);
    check_size(path, 256 + 4 * weights_elems(&c), len);
    ModelFile *mf = mf_alloc(path, &c);
    float *cur = (float *)(buf + 256);
    mf->rms_att = take(&cur, (size_t)c.n_layers * c.dim);
    mf->rms_ffn = take(&cur, (size_t)c.n_layers * c.dim);
    mf->rms_final = take(&cur, c.dim);
    mf->tok_emb = take(&cur, (size_t)c.vocab_size * c.dim);
    take_proj(mf, P_Q, &cur); take_proj(mf, P_K, &cur); take_proj(mf, P_V, &cur); take_proj(mf, P_O, &cur);
    take_proj(mf, P_GATE, &cur); take_proj(mf, P_DOWN, &cur); take_proj(mf, P_UP, &cur);
    if (!c.shared_classifier) mf->wcls = take(&cur, (size_t)c.vocab_size * c.dim);
    snprintf(mf->format, sizeof mf->format, "llama2c-v1");
    mf->blob = buf;
    return mf;
}

// v2 (Q8_0): fp32 norms as in v1, then each weight of v1's order as int8 codes followed by
// one fp32 scale per group_size codes. The harness computes in fp32, so the codes are
// dequantized (w = q·scale) into a fresh fp32 blob; the 8-bit rounding stays in the values.
static ModelFile *load_v2(const char *path, char *buf, size_t len) {
    const unsigned char *p = (const unsigned char *)buf;
    Config c = header_v12(path, p, len, 2);
    int gs = rd_i32(p + 37);
    if (gs <= 0 || c.dim % gs)
        die_input("%s: llama2.c v2 header: group_size %d must be positive and divide dim %d", path, gs, c.dim);
    size_t nw = weights_elems(&c);
    size_t norms = (size_t)c.n_layers * c.dim * 2 + c.dim;
    size_t q_elems = nw - norms; // every quantized tensor has dim as a factor, so gs divides it
    check_size(path, 256 + 4 * norms + q_elems + 4 * (q_elems / gs), len);
    ModelFile *mf = mf_alloc(path, &c);
    float *blob = xmalloc_aligned(nw * sizeof(float)), *cur = blob;
    mf->blob = blob;
    memcpy(blob, buf + 256, norms * 4);
    mf->rms_att = take(&cur, (size_t)c.n_layers * c.dim);
    mf->rms_ffn = take(&cur, (size_t)c.n_layers * c.dim);
    mf->rms_final = take(&cur, c.dim);
    float *qstart = cur;
    mf->tok_emb = take(&cur, (size_t)c.vocab_size * c.dim);
    take_proj(mf, P_Q, &cur); take_proj(mf, P_K, &cur); take_proj(mf, P_V, &cur); take_proj(mf, P_O, &cur);
    take_proj(mf, P_GATE, &cur); take_proj(mf, P_DOWN, &cur); take_proj(mf, P_UP, &cur);
    if (!c.shared_classifier) mf->wcls = take(&cur, (size_t)c.vocab_size * c.dim);
    // Dequantize tensor by tensor: each file tensor is its codes then its scales.
    const unsigned char *src = p + 256 + 4 * norms;
    float *dst = qstart;
    int order[9] = {-1, P_Q, P_K, P_V, P_O, P_GATE, P_DOWN, P_UP, P_HEAD}; // -1: tok_emb
    int nkinds = c.shared_classifier ? 8 : 9;
    for (int k = 0; k < nkinds; k++) {
        int o = c.vocab_size, i = c.dim, reps = 1;
        if (order[k] >= 0 && order[k] != P_HEAD) { proj_dims(&c, order[k], &o, &i); reps = c.n_layers; }
        size_t n = (size_t)o * i, ng = n / gs;
        for (int l = 0; l < reps; l++) {
            const int8_t *q = (const int8_t *)src;
            const unsigned char *sc = src + n;
            for (size_t g = 0; g < ng; g++) {
                float s;
                memcpy(&s, sc + 4 * g, 4); // unaligned: the codes before it have any length
                if (!isfinite(s))
                    die_input("%s: llama2.c v2: non-finite Q8_0 scale in %s (layer %d), group %zu", path,
                              order[k] < 0 ? "tok_emb" : PROJ_NAMES[order[k]], l, g);
                for (int j = 0; j < gs; j++) dst[g * gs + j] = q[g * gs + j] * s;
            }
            dst += n;
            src = sc + 4 * ng;
        }
    }
    free(buf);
    snprintf(mf->format, sizeof mf->format, "llama2c-v2 q8_0 g%d (dequantized)", gs);
    return mf;
}

ModelFile *model_file_load(const char *path) {
    if (hf_is_dir(path)) { ModelFile *hf = hf_load(path); mf_check_finite(hf); return hf; }
    size_t len;
    char *buf = read_file(path, &len);
    ModelFile *mf;
    if (len >= 4 && !memcmp(buf, "GGUF", 4)) {
        mf = gguf_load(path, buf, len);
        if (mf->hold != buf) free(buf); // kept when 16-bit tensors point into it
    } else if (len >= 4 && !memcmp(buf, "L4QZ", 4)) {
        if (!l4qz_load) die_input("%s: l4qz support not built into this binary", path);
        mf = l4qz_load(path, buf, len);
        free(buf);
    } else if (len >= 4 && (uint32_t)rd_i32((unsigned char *)buf) == 0x616b3432u) { // "ak42" LE
        if (len < 8) die_input("%s: truncated: expected at least 256 bytes (llama2.c v1/v2 header), got %zu", path, len);
        int version = rd_i32((unsigned char *)buf + 4);
        if (version == 1) mf = load_v1(path, buf, len);
        else if (version == 2) mf = load_v2(path, buf, len);
        else die_input("%s: llama2.c checkpoint version %d is not supported (expected 1 or 2)", path, version);
    } else {
        mf = load_v0(path, buf, len);
    }
    mf->file_bytes = len;
    if (!mf->rms_final || !(mf->tok_emb || mf->tok_emb16)) die_internal("%s: loader left tensors unset", path);
    mf_check_finite(mf);
    return mf;
}
