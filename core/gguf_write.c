// gguf_write.c — the generic GGUF v3 writer (see gguf_write.h): metadata key/values, the
// llama vocabulary, tensors of any ggml type at 32-byte alignment, temp file + rename.
#include "gguf_write.h"
#include "ggml_quants.h"
#include "util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { GT_U32 = 4, GT_I32 = 5, GT_F32 = 6, GT_STRING = 8, GT_ARRAY = 9 };
#define ALIGN 32

typedef struct { char *key; int type; uint32_t u; float f; char *s; } Kv;
typedef struct { char name[64]; uint32_t type; int rows, cols; const void *data; size_t bytes; } Tn;
struct GgufOut {
    Kv *kv; int nkv, capkv;
    Tn *t; int nt, capt;
    const Tokenizer *tok;
};

GgufOut *gguf_out_new(void) { return xcalloc(1, sizeof(GgufOut)); }
static Kv *kv_add(GgufOut *g, const char *key, int type) {
    if (g->nkv == g->capkv) g->kv = xrealloc(g->kv, (size_t)(g->capkv = g->capkv ? 2 * g->capkv : 32) * sizeof *g->kv);
    Kv *k = &g->kv[g->nkv++];
    memset(k, 0, sizeof *k);
    k->key = xstrdup(key);
    k->type = type;
    return k;
}
void gguf_out_u32(GgufOut *g, const char *key, uint32_t v) { kv_add(g, key, GT_U32)->u = v; }
void gguf_out_f32(GgufOut *g, const char *key, float v) { kv_add(g, key, GT_F32)->f = v; }
void gguf_out_str(GgufOut *g, const char *key, const char *v) { kv_add(g, key, GT_STRING)->s = xstrdup(v); }
void gguf_out_vocab(GgufOut *g, const Tokenizer *tok) { g->tok = tok; }

void gguf_out_llama(GgufOut *g, const Config *c) {
    gguf_out_str(g, "general.architecture", "llama");
    gguf_out_u32(g, "general.alignment", ALIGN);
    gguf_out_u32(g, "llama.context_length", (uint32_t)c->seq_len);
    gguf_out_u32(g, "llama.embedding_length", (uint32_t)c->dim);
    gguf_out_u32(g, "llama.block_count", (uint32_t)c->n_layers);
    gguf_out_u32(g, "llama.feed_forward_length", (uint32_t)c->hidden_dim);
    gguf_out_u32(g, "llama.attention.head_count", (uint32_t)c->n_heads);
    gguf_out_u32(g, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    gguf_out_u32(g, "llama.rope.dimension_count", (uint32_t)(c->dim / c->n_heads));
    gguf_out_f32(g, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
    gguf_out_f32(g, "llama.rope.freq_base", c->rope_theta);
}

void gguf_out_tensor(GgufOut *g, const char *name, uint32_t type, int rows, int cols, const void *data, size_t bytes) {
    if (g->nt == g->capt) g->t = xrealloc(g->t, (size_t)(g->capt = g->capt ? 2 * g->capt : 64) * sizeof *g->t);
    Tn *t = &g->t[g->nt++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type; t->rows = rows; t->cols = cols; t->data = data; t->bytes = bytes;
}

typedef struct { FILE *f; const char *path; size_t n; } W;
static void wr(W *w, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, w->f) != n) die_input("%s: write failed: %s", w->path, strerror(errno));
    w->n += n;
}
static void w_u32(W *w, uint32_t v) { wr(w, &v, 4); }
static void w_u64(W *w, uint64_t v) { wr(w, &v, 8); }
static void w_str(W *w, const char *s, size_t n) { w_u64(w, n); wr(w, s, n); }

// GGUF stores sentencepiece's "▁" where tokenizer.bin has a space.
static char *to_spm(const char *p, int len, size_t *outn) {
    char *o = xmalloc((size_t)len * 3 + 1);
    size_t n = 0;
    for (int i = 0; i < len; i++) {
        if (p[i] == ' ') { memcpy(o + n, "\xe2\x96\x81", 3); n += 3; }
        else o[n++] = p[i];
    }
    *outn = n;
    return o;
}

static void write_vocab(W *o, const Tokenizer *tok) {
    w_str(o, "tokenizer.ggml.model", 20); w_u32(o, GT_STRING); w_str(o, "llama", 5);
    w_str(o, "tokenizer.ggml.tokens", 21); w_u32(o, GT_ARRAY); w_u32(o, GT_STRING); w_u64(o, tok->vocab_size);
    for (int i = 0; i < tok->vocab_size; i++) {
        size_t n;
        char *s = to_spm(tok->vocab[i], tok->lens[i], &n);
        w_str(o, s, n);
        free(s);
    }
    w_str(o, "tokenizer.ggml.scores", 21); w_u32(o, GT_ARRAY); w_u32(o, GT_F32); w_u64(o, tok->vocab_size);
    wr(o, tok->scores, (size_t)tok->vocab_size * 4);
    // token types: 2 unknown (0), 3 control (BOS/EOS), 6 byte (<0xXX>), 1 normal.
    w_str(o, "tokenizer.ggml.token_type", 25); w_u32(o, GT_ARRAY); w_u32(o, GT_I32); w_u64(o, tok->vocab_size);
    for (int i = 0; i < tok->vocab_size; i++) {
        int32_t ty = i == 0 ? 2 : i <= 2 ? 3 : (tok->lens[i] == 6 && !strncmp(tok->vocab[i], "<0x", 3)) ? 6 : 1;
        wr(o, &ty, 4);
    }
}

size_t gguf_out_write(GgufOut *g, const char *path) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    W wt = {fopen(tmp, "wb"), tmp, 0}, *o = &wt;
    if (!wt.f) die_input("%s: cannot write: %s", tmp, strerror(errno));
    temp_track(tmp);
    wr(o, "GGUF", 4);
    w_u32(o, 3);
    w_u64(o, (uint64_t)g->nt);
    w_u64(o, (uint64_t)g->nkv + (g->tok ? 4 : 0));
    for (int i = 0; i < g->nkv; i++) {
        Kv *k = &g->kv[i];
        w_str(o, k->key, strlen(k->key));
        w_u32(o, (uint32_t)k->type);
        if (k->type == GT_U32) w_u32(o, k->u);
        else if (k->type == GT_F32) wr(o, &k->f, 4);
        else w_str(o, k->s, strlen(k->s));
    }
    if (g->tok) write_vocab(o, g->tok);
    uint64_t off = 0;
    for (int i = 0; i < g->nt; i++) {
        Tn *t = &g->t[i];
        if (gq_nbytes(t->type, (uint64_t)(t->rows ? t->rows : 1) * t->cols) != t->bytes)
            die_internal("gguf_out_write: tensor %s: %zu bytes do not match its type and shape", t->name, t->bytes);
        w_str(o, t->name, strlen(t->name));
        w_u32(o, t->rows ? 2 : 1);
        w_u64(o, (uint64_t)t->cols); // ne innermost first: columns, then rows
        if (t->rows) w_u64(o, (uint64_t)t->rows);
        w_u32(o, t->type);
        w_u64(o, off);
        off += (t->bytes + ALIGN - 1) / ALIGN * ALIGN;
    }
    static const char zeros[ALIGN];
    wr(o, zeros, (ALIGN - o->n % ALIGN) % ALIGN);
    for (int i = 0; i < g->nt; i++) {
        wr(o, g->t[i].data, g->t[i].bytes);
        wr(o, zeros, (ALIGN - g->t[i].bytes % ALIGN) % ALIGN);
    }
    if (fclose(o->f) != 0) die_input("%s: write failed: %s", tmp, strerror(errno));
    if (rename(tmp, path) != 0) die_input("%s: cannot rename: %s", path, strerror(errno));
    temp_done(tmp);
    size_t n = o->n;
    for (int i = 0; i < g->nkv; i++) { free(g->kv[i].key); free(g->kv[i].s); }
    free(g->kv); free(g->t); free(g);
    return n;
}
