// l4qz.c — writer and reader of the L4QZ export format (layout in l4qz.h).
#include "l4qz.h"
#include "modelfile.h"
#include "quant.h"
#include "tokenizer.h"
#include "util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#define L4QZ_HDR 16 // magic, version, file_bytes: outside the checksum (file_bytes is patched last)
#define L4QZ_FLAG_TOKENIZER 1u
#define L4QZ_FLAG_ROPE_LLAMA3 2u // followed by f32 factor, low, high, original_max_pos

// ---- writer ---------------------------------------------------------------------------

typedef struct {
    FILE *f;
    const char *path;   // the .tmp path, for messages
    uint64_t hash, n;   // hash of everything after the 16-byte prefix; bytes written
} Wr;

static void wr(Wr *w, const void *p, size_t n) {
    if (n == 0) return;
    if (fwrite(p, 1, n, w->f) != n) die_input("%s: write failed (disk full?)", w->path);
    if (w->n >= L4QZ_HDR) w->hash = hash64(p, n, w->hash);
    w->n += n;
}
static void wr_u32(Wr *w, uint32_t v) { wr(w, &v, 4); }
static void wr_i32(Wr *w, int32_t v) { wr(w, &v, 4); }
static void wr_u64(Wr *w, uint64_t v) { wr(w, &v, 8); }
static void wr_f32(Wr *w, float v) { wr(w, &v, 4); }
static void wr_floats(Wr *w, const float *p, size_t n) { wr(w, p, n * sizeof(float)); }
static void wr_name(Wr *w, const char *s) {
    char buf[32] = {0};
    snprintf(buf, sizeof buf, "%s", s ? s : "");
    wr(w, buf, sizeof buf);
}

static void wr_deploy(Wr *w, const Deploy *d, const char *name) {
    wr_u32(w, (uint32_t)d->kind);
    wr_i32(w, d->out);
    wr_i32(w, d->in);
    size_t n = (size_t)d->out * d->in;
    switch (d->kind) {
    case DEP_FP32:
        wr_floats(w, d->w, n);
        break;
    case DEP_UNIFORM: {
        QuantSpec q;
        quant_spec(&q, d->bits, d->group_size, d->out, d->in);
        if (d->codes_bytes != quant_codes_bytes(&q)) die_internal("%s: deploy codes size mismatch", name);
        wr_i32(w, d->bits);
        wr_i32(w, d->group_size);
        wr_u64(w, d->codes_bytes);
        wr(w, d->codes, d->codes_bytes);
        wr_floats(w, d->scale, quant_nparams(&q));
        wr_floats(w, d->offset, quant_nparams(&q));
        break;
    }
    case DEP_NF4: {
        uint64_t blocks = nf4_blocks(n), scales = nf4_scales(n);
        wr_u64(w, d->codes_bytes);
        wr(w, d->codes, d->codes_bytes);
        wr_u64(w, blocks);
        wr(w, d->absmax_q, blocks);
        wr_u64(w, scales);
        wr_floats(w, d->absmax_scale, scales);
        wr_f32(w, d->absmax_mean);
        break;
    }
    case DEP_F16:
    case DEP_BF16:
        if (!d->h) die_internal("%s: 16-bit deploy without data", name);
        wr(w, d->h, n * sizeof(uint16_t));
        break;
    default:
        die_internal("%s: unknown deploy kind %d", name, (int)d->kind);
    }
    int rank = (d->rank > 0 && d->lora_A && d->lora_B) ? d->rank : 0;
    wr_i32(w, rank);
    wr_f32(w, rank ? d->lora_scale : 0.0f);
    if (rank) {
        wr_floats(w, d->lora_A, (size_t)rank * d->in);
        wr_floats(w, d->lora_B, (size_t)d->out * rank);
    }
}

void l4qz_write(const char *path, const ModelFile *mf, const Tokenizer *tok, const char *method, const char *form) {
    const Config *c = &mf->c;
    int L = c->n_layers, D = c->dim, V = c->vocab_size;
    if (!mf->tok_emb || mf->wcls16) // model_deployed and `export` (mf_widen) hand over fp32
        die_internal("%s: l4qz_write needs fp32 embeddings", path);
    if (!tok_embeddable(tok, V)) tok = NULL; // then --tokenizer is needed with the export
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    Wr w = {fopen(tmp, "wb"), tmp, HASH64_INIT, 0};
    if (!w.f) die_input("%s: cannot create file: %s", tmp, strerror(errno));
    temp_track(tmp);

    // Version 1 unless a 16-bit kind needs 2 (l4qz.h).
    uint32_t version = 1;
    for (int i = 0; mf->dep && i < L * N_LAYER_PROJ; i++) if (mf->dep[i] && deploy_is_half(mf->dep[i])) version = 2;
    wr(&w, "L4QZ", 4);
    wr_u32(&w, version);
    wr_u64(&w, 0); // file_bytes, patched below
    int32_t cfg[8] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size,
                      c->seq_len, mf->wcls ? 0 : 1};
    for (int k = 0; k < 8; k++) wr_i32(&w, cfg[k]);
    wr_f32(&w, c->norm_eps);
    wr_f32(&w, c->rope_theta);
    wr_name(&w, method ? method : mf->method);
    wr_name(&w, form ? form : (mf->form[0] ? mf->form : "fp32"));
    wr_u32(&w, (tok ? L4QZ_FLAG_TOKENIZER : 0) | (c->rope_factor > 0 ? L4QZ_FLAG_ROPE_LLAMA3 : 0));
    if (c->rope_factor > 0) {
        wr_f32(&w, c->rope_factor); wr_f32(&w, c->rope_low_freq_factor);
        wr_f32(&w, c->rope_high_freq_factor); wr_f32(&w, c->rope_original_max_pos);
    }
    wr_floats(&w, mf->tok_emb, (size_t)V * D);
    wr_floats(&w, mf->rms_att, (size_t)L * D);
    wr_floats(&w, mf->rms_ffn, (size_t)L * D);
    wr_floats(&w, mf->rms_final, D);
    if (mf->wcls) wr_floats(&w, mf->wcls, (size_t)V * D);
    for (int i = 0; i < L * N_LAYER_PROJ; i++) {
        char name[48];
        snprintf(name, sizeof name, "layers.%d.%s", i / N_LAYER_PROJ, PROJ_NAMES[i % N_LAYER_PROJ]);
        if (mf->dep && mf->dep[i]) {
            wr_deploy(&w, mf->dep[i], name);
        } else {
            if (!mf->w[i]) die_internal("%s: %s is not fp32 (mf_widen first)", path, name);
            Deploy d = {.kind = DEP_FP32, .w = mf->w[i]};
            proj_dims(c, i % N_LAYER_PROJ, &d.out, &d.in);
            wr_deploy(&w, &d, name);
        }
    }
    if (tok) {
        wr_i32(&w, tok->vocab_size);
        for (int i = 0; i < tok->vocab_size; i++) {
            wr_f32(&w, tok->scores[i]);
            wr_i32(&w, tok->lens[i]);
            wr(&w, tok->vocab[i], (size_t)tok->lens[i]);
        }
    }
    uint64_t total = w.n + 8, h = w.hash;
    wr_u64(&w, h);
    if (fseek(w.f, 8, SEEK_SET) != 0 || fwrite(&total, 8, 1, w.f) != 1 || fflush(w.f) != 0 || ferror(w.f))
        die_input("%s: write failed: %s", tmp, strerror(errno));
    if (fclose(w.f) != 0) die_input("%s: write failed: %s", tmp, strerror(errno));
    if (rename(tmp, path) != 0) die_input("%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
    temp_done(tmp);
}

// ---- reader ---------------------------------------------------------------------------

typedef struct {
    const unsigned char *p;
    size_t len, off;
    const char *path;
} Rd;

static const void *rd(Rd *r, size_t n, const char *what) {
    if (n > r->len - r->off)
        die_input("%s: truncated or corrupt: %s needs %zu bytes at offset %zu, file has %zu", r->path, what, n, r->off, r->len);
    const void *q = r->p + r->off;
    r->off += n;
    return q;
}
static uint32_t rd_u32(Rd *r, const char *what) { uint32_t v; memcpy(&v, rd(r, 4, what), 4); return v; }
static int32_t rd_i32(Rd *r, const char *what) { int32_t v; memcpy(&v, rd(r, 4, what), 4); return v; }
static uint64_t rd_u64(Rd *r, const char *what) { uint64_t v; memcpy(&v, rd(r, 8, what), 8); return v; }
static float rd_f32(Rd *r, const char *what) { float v; memcpy(&v, rd(r, 4, what), 4); return v; }
// n floats copied into dst (the file buffer is not ours to keep).
static void rd_floats(Rd *r, float *dst, size_t n, const char *what) {
    if (n > (r->len - r->off) / sizeof(float))
        die_input("%s: truncated or corrupt: %s needs %zu floats at offset %zu, file has %zu bytes", r->path, what, n, r->off, r->len);
    memcpy(dst, rd(r, n * sizeof(float), what), n * sizeof(float));
}
static float *rd_floats_new(Rd *r, size_t n, const char *what) {
    float *dst = xmalloc(n ? n * sizeof(float) : 1);
    rd_floats(r, dst, n, what);
    return dst;
}
static void check_finite(const char *path, const char *what, const float *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i])) die_input("%s: %s holds a non-finite value at element %zu", path, what, i);
}

// Part `part` of projection `name` (n floats, all finite / n bytes), copied out of the file.
static float *rd_part_floats(Rd *r, size_t n, const char *name, const char *part) {
    char what[96];
    snprintf(what, sizeof what, "%s %s", name, part);
    float *p = rd_floats_new(r, n, what);
    check_finite(r->path, what, p, n);
    return p;
}
static uint8_t *rd_part_bytes(Rd *r, size_t n, const char *name, const char *part) {
    char what[96];
    snprintf(what, sizeof what, "%s %s", name, part);
    return memcpy(xmalloc(n ? n : 1), rd(r, n, what), n);
}

static void deploy_release(void *d) { deploy_free(d); free(d); }
static Deploy *rd_deploy(Rd *r, uint32_t version, const Config *c, int p, const char *name) {
    Deploy *d = hold(xcalloc(1, sizeof *d), deploy_release);
    uint32_t kind = rd_u32(r, name);
    d->out = rd_i32(r, name);
    d->in = rd_i32(r, name);
    int eo, ei;
    proj_dims(c, p, &eo, &ei);
    if (d->out != eo || d->in != ei)
        die_input("%s: %s: shape %d x %d, expected %d x %d from the header", r->path, name, d->out, d->in, eo, ei);
    size_t n = (size_t)d->out * d->in;
    switch (kind) {
    case DEP_FP32:
        d->kind = DEP_FP32;
        d->w = rd_part_floats(r, n, name, "weight");
        break;
    case DEP_UNIFORM: {
        d->kind = DEP_UNIFORM;
        d->bits = rd_i32(r, name);
        d->group_size = rd_i32(r, name);
        if (d->bits != 2 && d->bits != 3 && d->bits != 4 && d->bits != 8)
            die_input("%s: %s: %d-bit codes are not supported (2, 3, 4, 8)", r->path, name, d->bits);
        if (d->group_size == 0 || d->group_size < -1 || d->group_size > d->in)
            die_input("%s: %s: group size %d is invalid for rows of %d", r->path, name, d->group_size, d->in);
        QuantSpec q;
        quant_spec(&q, d->bits, d->group_size, d->out, d->in);
        d->codes_bytes = rd_u64(r, name);
        if (d->codes_bytes != quant_codes_bytes(&q))
            die_input("%s: %s: %zu code bytes, expected %zu for %d-bit %d x %d", r->path, name,
                      d->codes_bytes, quant_codes_bytes(&q), d->bits, d->out, d->in);
        d->codes = rd_part_bytes(r, d->codes_bytes, name, "codes");
        size_t np = quant_nparams(&q);
        d->scale = rd_part_floats(r, np, name, "scales");
        d->offset = rd_part_floats(r, np, name, "offsets");
        break;
    }
    case DEP_NF4: {
        d->kind = DEP_NF4;
        uint64_t blocks = nf4_blocks(n), scales = nf4_scales(n);
        d->codes_bytes = rd_u64(r, name);
        if (d->codes_bytes != nf4_codes_bytes(n))
            die_input("%s: %s: %zu NF4 code bytes, expected %zu", r->path, name, d->codes_bytes, nf4_codes_bytes(n));
        d->codes = rd_part_bytes(r, d->codes_bytes, name, "codes");
        if (rd_u64(r, name) != blocks) die_input("%s: %s: NF4 absmax count differs from %llu blocks of %d", r->path, name, (unsigned long long)blocks, NF4_BLOCK);
        d->absmax_q = rd_part_bytes(r, blocks, name, "absmax");
        if (rd_u64(r, name) != scales) die_input("%s: %s: NF4 absmax-scale count differs from %llu", r->path, name, (unsigned long long)scales);
        d->absmax_scale = rd_part_floats(r, scales, name, "absmax scales");
        d->absmax_mean = rd_f32(r, name);
        if (!isfinite(d->absmax_mean)) die_input("%s: %s: non-finite NF4 absmax mean", r->path, name);
        break;
    }
    case DEP_F16:
    case DEP_BF16: {
        if (version < 2) die_input("%s: %s: weight kind %u (16-bit) in a version-1 file", r->path, name, kind);
        d->kind = (DeployKind)kind;
        if (n > (r->len - r->off) / sizeof(uint16_t))
            die_input("%s: truncated or corrupt: %s needs %zu 16-bit values at offset %zu, file has %zu bytes", r->path,
                      name, n, r->off, r->len);
        // Borrowed from the file buffer (kept as mf->hold by l4qz_load): a 7B base is 13 GB.
        // Copied when misaligned (a preceding record of odd length), so h is a valid uint16_t *.
        const void *src = rd(r, n * sizeof(uint16_t), name);
        if ((uintptr_t)src % sizeof(uint16_t) == 0) d->h = src;
        else d->h = d->h_own = memcpy(xmalloc(n * sizeof(uint16_t)), src, n * sizeof(uint16_t));
        size_t bad = half_first_nonfinite(deploy_half_dtype(d), d->h, n);
        if (bad < n) die_input("%s: %s weight holds a non-finite value at element %zu", r->path, name, bad);
        break;
    }
    default:
        die_input("%s: %s: unknown weight kind %u (0 fp32, 1 uniform, 2 nf4, 3 f16, 4 bf16)", r->path, name, kind);
    }
    d->rank = rd_i32(r, name);
    d->lora_scale = rd_f32(r, name);
    if (d->rank < 0 || d->rank > d->in || d->rank > d->out)
        die_input("%s: %s: LoRA rank %d is invalid for %d x %d", r->path, name, d->rank, d->out, d->in);
    if (d->rank > 0) {
        d->lora_A = rd_part_floats(r, (size_t)d->rank * d->in, name, "lora_A");
        d->lora_B = rd_part_floats(r, (size_t)d->out * d->rank, name, "lora_B");
    }
    hold_drop(d);
    return d;
}

ModelFile *l4qz_load(const char *path, const void *buf, size_t len) {
    size_t mark = hold_mark();
    const unsigned char *p = buf;
    if (len < L4QZ_HDR + 8)
        die_input("%s: truncated: %zu bytes is shorter than an L4QZ header and trailer (%d)", path, len, L4QZ_HDR + 8);
    if (memcmp(p, "L4QZ", 4)) die_input("%s: not an L4QZ file (bad magic)", path);
    uint32_t version;
    uint64_t total, h;
    memcpy(&version, p + 4, 4);
    memcpy(&total, p + 8, 8);
    if (version < 1 || version > L4QZ_VERSION)
        die_input("%s: L4QZ version %u is not supported (expected 1 to %d)", path, version, L4QZ_VERSION);
    if (total > len) die_input("%s: truncated: header says %llu bytes, file has %zu", path, (unsigned long long)total, len);
    if (total < len) die_input("%s: %zu unexpected extra bytes after the L4QZ data (%llu bytes)", path, len - (size_t)total, (unsigned long long)total);
    memcpy(&h, p + len - 8, 8);
    if (hash64(p + L4QZ_HDR, len - 8 - L4QZ_HDR, HASH64_INIT) != h)
        die_input("%s: checksum mismatch: the L4QZ file is damaged", path);

    Rd r = {p, len - 8, L4QZ_HDR, path};
    Config c = {0};
    c.dim = rd_i32(&r, "header"); c.hidden_dim = rd_i32(&r, "header"); c.n_layers = rd_i32(&r, "header");
    c.n_heads = rd_i32(&r, "header"); c.n_kv_heads = rd_i32(&r, "header"); c.vocab_size = rd_i32(&r, "header");
    c.seq_len = rd_i32(&r, "header");
    int shared = rd_i32(&r, "header");
    if (shared != 0 && shared != 1) die_input("%s: l4qz header: shared_classifier is %d (expected 0 or 1)", path, shared);
    c.shared_classifier = shared;
    c.norm_eps = rd_f32(&r, "header");
    c.rope_theta = rd_f32(&r, "header");
    config_validate(path, "l4qz header", &c);
    char method[32], form[32];
    memcpy(method, rd(&r, 32, "header"), 32);
    memcpy(form, rd(&r, 32, "header"), 32);
    method[31] = form[31] = 0;
    uint32_t flags = rd_u32(&r, "header");
    if (flags & ~(L4QZ_FLAG_TOKENIZER | L4QZ_FLAG_ROPE_LLAMA3)) die_input("%s: l4qz header: unknown flags 0x%x", path, flags);
    if (flags & L4QZ_FLAG_ROPE_LLAMA3) {
        c.rope_factor = rd_f32(&r, "header"); c.rope_low_freq_factor = rd_f32(&r, "header");
        c.rope_high_freq_factor = rd_f32(&r, "header"); c.rope_original_max_pos = rd_f32(&r, "header");
        if (!(c.rope_factor >= 1 && c.rope_low_freq_factor > 0 && c.rope_high_freq_factor > c.rope_low_freq_factor && c.rope_original_max_pos >= 1))
            die_input("%s: l4qz header: invalid llama3 RoPE scaling", path);
    }

    ModelFile *mf = hold(mf_alloc(path, &c), model_file_release);
    snprintf(mf->format, sizeof mf->format, "l4qz v%u", version);
    snprintf(mf->method, sizeof mf->method, "%s", method);
    snprintf(mf->form, sizeof mf->form, "%s", form);
    int L = c.n_layers, D = c.dim, V = c.vocab_size;
    size_t ne = (size_t)V * D * (shared ? 1 : 2) + (size_t)L * D * 2 + D;
    float *blob = xmalloc_aligned(ne * sizeof(float));
    mf->blob = blob;
    mf->tok_emb = blob; blob += (size_t)V * D;
    mf->rms_att = blob; blob += (size_t)L * D;
    mf->rms_ffn = blob; blob += (size_t)L * D;
    mf->rms_final = blob; blob += D;
    if (!shared) mf->wcls = blob;
    // fp32 tensors are contiguous in the file in exactly the blob's order.
    rd_floats(&r, mf->blob, ne, "embeddings/norms/head");
    mf->dep = xcalloc((size_t)L * N_LAYER_PROJ, sizeof *mf->dep);
    for (int l = 0; l < L; l++)
        for (int q = 0; q < N_LAYER_PROJ; q++) {
            char name[48];
            snprintf(name, sizeof name, "layers.%d.%s", l, PROJ_NAMES[q]);
            mf->dep[l * N_LAYER_PROJ + q] = rd_deploy(&r, version, &c, q, name);
        }
    if (flags & L4QZ_FLAG_TOKENIZER) {
        int n = rd_i32(&r, "tokenizer");
        if (n != V) die_input("%s: embedded tokenizer has %d pieces, the model's vocabulary %d", path, n, V);
        size_t scratch = hold_mark();
        char **pieces = hold(xmalloc((size_t)n * sizeof *pieces), free);
        int *lens = hold(xmalloc((size_t)n * sizeof *lens), free);
        float *scores = hold(xmalloc((size_t)n * sizeof *scores), free);
        for (int i = 0; i < n; i++) {
            scores[i] = rd_f32(&r, "tokenizer");
            lens[i] = rd_i32(&r, "tokenizer");
            if (lens[i] < 0) die_input("%s: embedded tokenizer: piece %d has length %d", path, i, lens[i]);
            pieces[i] = (char *)rd(&r, (size_t)lens[i], "tokenizer piece"); // copied by tok_from_pieces
        }
        mf->tok = tok_from_pieces(n, pieces, lens, scores);
        tok_set_source(mf->tok, path);
        hold_unwind(scratch);
    }
    if (r.off != r.len) die_input("%s: %zu unparsed bytes before the L4QZ trailer", path, r.len - r.off);
    for (int i = 0; i < L * N_LAYER_PROJ; i++) // 16-bit weights borrowed from buf: keep it (checkpoint.c)
        if (deploy_is_half(mf->dep[i]) && !mf->dep[i]->h_own) mf->hold = (void *)buf, mf->hold_free = free;
    hold_end(mark);
    return mf;
}
