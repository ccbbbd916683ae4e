// llama2c.c — llama2.c checkpoints (Karpathy's run.c / export.py formats): v0 (legacy,
// no magic), v1 (fp32, "ak42" header) and v2 (Q8_0). v0/v1 weights are used in place (the
// file buffer becomes mf->blob); v2 is dequantized into a blob of its own.
#include "checkpoint.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    for (int l = 0; l < mf->c.n_layers; l++) { mf->w[l * N_LAYER_PROJ + p] = *cur; *cur += (size_t)o * i; }
}
static float *take(float **cur, size_t n) { float *r = *cur; *cur += n; return r; }

static size_t weights_elems(const Config *c) {
    size_t n = (size_t)c->vocab_size * c->dim * (c->shared_classifier ? 1 : 2)
             + (size_t)c->n_layers * c->dim * 2 + c->dim;
    for (int p = 0; p < N_LAYER_PROJ; p++) n += proj_elems(c, p);
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
    ModelFile *mf = hold(mf_alloc(path, &c), model_file_release);
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
    ModelFile *mf = hold(mf_alloc(path, &c), model_file_release);
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
    ModelFile *mf = hold(mf_alloc(path, &c), model_file_release);
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
    snprintf(mf->format, sizeof mf->format, "llama2c-v2 q8_0 g%d (dequantized)", gs);
    return mf;
}

// The magic is the int32 0x616b3432 ("ak42" read as a little-endian number).
int llama2c_magic(const void *buf, size_t len) { return len >= 4 && (uint32_t)rd_i32(buf) == 0x616b3432u; }

ModelFile *llama2c_load(const char *path, void *buf, size_t len) {
    size_t mark = hold_mark();
    ModelFile *mf;
    int version = 0;
    if (llama2c_magic(buf, len)) {
        if (len < 8) die_input("%s: truncated: expected at least 256 bytes (llama2.c v1/v2 header), got %zu", path, len);
        version = rd_i32((unsigned char *)buf + 4);
        if (version != 1 && version != 2)
            die_input("%s: llama2.c checkpoint version %d is not supported (expected 1 or 2)", path, version);
    }
    mf = version == 0 ? load_v0(path, buf, len) : version == 1 ? load_v1(path, buf, len) : load_v2(path, buf, len);
    hold_end(mark);
    return mf;
}
