// gguf_write.c — export a model as GGUF v3 with f32 tensors (llama architecture keys and
// the llama tokenizer vocabulary), readable by core/gguf.c and by llama.cpp-style tools.
// Quantized layers are written dequantized (LoRA folded in): GGUF's block formats cannot
// carry our per-group real scale + offset exactly, so fp32 is the honest form.
#include "gguf_write.h"
#include "checkpoint.h"
#include "util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { GT_U32 = 4, GT_I32 = 5, GT_F32 = 6, GT_STRING = 8, GT_ARRAY = 9 };
#define ALIGN 32

typedef struct { FILE *f; const char *path; } W;
static void wr(W *w, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, w->f) != n) die_input("%s: write failed: %s", w->path, strerror(errno));
}
static void w_u32(W *w, uint32_t v) { wr(w, &v, 4); }
static void w_u64(W *w, uint64_t v) { wr(w, &v, 8); }
static void w_str(W *w, const char *s, size_t n) { w_u64(w, n); wr(w, s, n); }
static void kv_u32(W *w, const char *k, uint32_t v) { w_str(w, k, strlen(k)); w_u32(w, GT_U32); w_u32(w, v); }
static void kv_f32(W *w, const char *k, float v) { w_str(w, k, strlen(k)); w_u32(w, GT_F32); wr(w, &v, 4); }
static void kv_s(W *w, const char *k, const char *v) { w_str(w, k, strlen(k)); w_u32(w, GT_STRING); w_str(w, v, strlen(v)); }

typedef struct { char name[64]; const float *data; uint64_t d0, d1; int nd; } Tensor;

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

void gguf_write(const char *path, const ModelFile *mf, float *const *w, const Tokenizer *tok, const char *name) {
    if (!tok_embeddable(tok, mf->c.vocab_size)) tok = NULL; // then --tokenizer is needed with the export
    const Config *c = &mf->c;
    int L = c->n_layers, nt = 0;
    Tensor *ts = xcalloc((size_t)L * 9 + 4, sizeof *ts);
#define T2(nm, p, rows, cols) do { snprintf(ts[nt].name, 64, "%s", nm); ts[nt].data = p; ts[nt].d0 = cols; ts[nt].d1 = rows; ts[nt].nd = 2; nt++; } while (0)
#define T1(nm, p, n) do { snprintf(ts[nt].name, 64, "%s", nm); ts[nt].data = p; ts[nt].d0 = n; ts[nt].nd = 1; nt++; } while (0)
    T2("token_embd.weight", mf->tok_emb, c->vocab_size, c->dim);
    for (int l = 0; l < L; l++) {
        char nm[64];
        snprintf(nm, 64, "blk.%d.attn_norm.weight", l); T1(nm, mf->rms_att + (size_t)l * c->dim, c->dim);
        snprintf(nm, 64, "blk.%d.ffn_norm.weight", l); T1(nm, mf->rms_ffn + (size_t)l * c->dim, c->dim);
        for (int p = 0; p < N_LAYER_PROJ; p++) {
            int out, in;
            proj_dims(c, p, &out, &in);
            snprintf(nm, 64, "blk.%d.%s.weight", l, GGUF_PROJ_NAMES[p]);
            T2(nm, w[l * N_LAYER_PROJ + p], out, in);
        }
    }
    T1("output_norm.weight", mf->rms_final, c->dim);
    if (!c->shared_classifier) T2("output.weight", mf->wcls, c->vocab_size, c->dim);

    if (c->rope_factor > 0) // llama.cpp keeps it as a rope_freqs tensor, which core/gguf.c does not read
        die_input("%s: GGUF export of a model with llama3 RoPE scaling is not supported (export l4qz)", path);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    W wt = {fopen(tmp, "wb"), tmp};
    if (!wt.f) die_input("%s: cannot write: %s", tmp, strerror(errno));
    temp_track(tmp);
    W *o = &wt;
    wr(o, "GGUF", 4);
    w_u32(o, 3);
    w_u64(o, (uint64_t)nt);
    w_u64(o, tok ? 16 : 12);
    kv_s(o, "general.architecture", "llama");
    kv_s(o, "general.name", name ? name : "l4q-export");
    kv_u32(o, "general.alignment", ALIGN);
    kv_u32(o, "llama.context_length", (uint32_t)c->seq_len);
    kv_u32(o, "llama.embedding_length", (uint32_t)c->dim);
    kv_u32(o, "llama.block_count", (uint32_t)L);
    kv_u32(o, "llama.feed_forward_length", (uint32_t)c->hidden_dim);
    kv_u32(o, "llama.attention.head_count", (uint32_t)c->n_heads);
    kv_u32(o, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    kv_u32(o, "llama.rope.dimension_count", (uint32_t)(c->dim / c->n_heads));
    kv_f32(o, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
    kv_f32(o, "llama.rope.freq_base", c->rope_theta);
    if (tok) {
        kv_s(o, "tokenizer.ggml.model", "llama");
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
    uint64_t off = 0;
    for (int i = 0; i < nt; i++) {
        w_str(o, ts[i].name, strlen(ts[i].name));
        w_u32(o, (uint32_t)ts[i].nd);
        w_u64(o, ts[i].d0);
        if (ts[i].nd == 2) w_u64(o, ts[i].d1);
        w_u32(o, 0); // GGML_TYPE_F32
        w_u64(o, off);
        off += (ts[i].d0 * (ts[i].nd == 2 ? ts[i].d1 : 1) * 4 + ALIGN - 1) / ALIGN * ALIGN;
    }
    static const char zeros[ALIGN];
    long pos = ftell(o->f);
    wr(o, zeros, (size_t)((ALIGN - pos % ALIGN) % ALIGN));
    for (int i = 0; i < nt; i++) {
        size_t n = ts[i].d0 * (ts[i].nd == 2 ? ts[i].d1 : 1) * 4;
        wr(o, ts[i].data, n);
        wr(o, zeros, (ALIGN - n % ALIGN) % ALIGN);
    }
    if (fclose(o->f) != 0) die_input("%s: write failed: %s", tmp, strerror(errno));
    if (rename(tmp, path) != 0) die_input("%s: cannot rename: %s", path, strerror(errno));
    temp_done(tmp);
    free(ts);
#undef T1
#undef T2
}
