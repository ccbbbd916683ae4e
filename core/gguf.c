// gguf.c — GGUF reader for llama-architecture models, on the container parser
// (core/gguf_file.h): the llama metadata, then the tensors. Tensors of any type
// core/ggml_quants.c dequantizes (F32, F16, BF16 and llama.cpp's Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/
// Q4_K/Q5_K/Q6_K blocks) are converted, exactly as ggml does, into one fp32 blob in
// ModelFile's layout (F16/BF16 stay 16-bit); the embedded vocabulary becomes mf->tok
// (core/tok_gguf.c).
//
// q/k layout: llama.cpp stores llama q/k rows in Meta's interleaved-pair RoPE layout (its
// HF converter permutes rotate-half checkpoints back into it), which is also llama2.c's,
// so the rows are used as stored. Checked: stories260K.gguf's attn_q/attn_k equal the v0
// file's wq/wk exactly (tests/test_checkpoint.c).
#include "checkpoint.h"
#include "ggml_quants.h"
#include "gguf_file.h"
#include "tokenizer.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const GGUF_PROJ_NAMES[N_LAYER_PROJ] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

typedef struct {
    const char *path;
    const unsigned char *data; // start of the tensor data section
    GgufTensor *t; uint64_t nt;
    unsigned types_seen[GQ_NTYPES]; // tensors placed, per ggml type
} Tensors;

static GgufTensor *tensor_find(Tensors *T, const char *name) {
    for (uint64_t i = 0; i < T->nt; i++) if (gguf_str_eq(T->t[i].name, name)) return &T->t[i];
    return NULL;
}

// A tensor stored as F16/BF16 (or NULL): kept 16-bit in the file buffer (half.h), whose
// type goes to *dt; tensor_fetch still checks its shape.
static const uint16_t *tensor_half(Tensors *T, const char *name, int *dt) {
    GgufTensor *ti = tensor_find(T, name);
    if (!ti || (ti->type != GQ_F16 && ti->type != GQ_BF16)) return NULL;
    *dt = ti->type == GQ_F16 ? DT_F16 : DT_BF16;
    return (const uint16_t *)(T->data + ti->offset);
}

// Finds `name`, checks its shape (ne innermost first: cols, rows) and converts it to fp32
// (dst NULL: checks only, for a tensor kept 16-bit); returns its ggml type (−1: absent
// and optional).
static int tensor_fetch(Tensors *T, const char *name, int rows, int cols, float *dst, int optional) {
    GgufTensor *ti = tensor_find(T, name);
    if (!ti) { if (optional) return -1; die_input("%s: GGUF tensor '%s' is missing", T->path, name); }
    uint64_t want0 = (uint64_t)cols, want1 = (uint64_t)rows;
    int ok = ti->ne[0] == want0 && (ti->ndim == 1 ? rows == 1 : ti->ne[1] == want1);
    for (uint32_t d = 2; d < ti->ndim; d++) ok &= ti->ne[d] == 1;
    if (!ok) {
        char shape[96] = ""; size_t o = 0;
        for (uint32_t d = 0; d < ti->ndim; d++) o += snprintf(shape + o, sizeof shape - o, "%s%llu", d ? "," : "", (unsigned long long)ti->ne[d]);
        die_input("%s: GGUF tensor '%s' has shape [%s] (innermost first), expected [%d,%d]", T->path, name, shape, cols, rows);
    }
    ti->used = 1;
    if (!gq_can_dequantize(ti->type)) {
        const char *tn = gq_type_name(ti->type);
        die_input("%s: GGUF tensor '%s' has type %s (%u), which this reader does not dequantize (supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q5_K Q6_K)",
                  T->path, name, tn ? tn : "unknown", ti->type);
    }
    T->types_seen[ti->type]++;
    if (dst) gq_dequantize(ti->type, T->data + ti->offset, dst, (size_t)rows * cols);
    return (int)ti->type;
}

// The llama Config from the metadata; *has_output: the file has its own head.
static Config read_config(const GgufFile *g, int *has_output) {
    const char *path = g->path;
    const GgufMeta *m = &g->m;
    GgufStr arch = gguf_kv_str(m, "general.architecture");
    if (!arch.s) die_input("%s: GGUF metadata key 'general.architecture' is missing", path);
    if (!gguf_str_eq(arch, "llama")) die_input("%s: GGUF architecture '%.*s' is not supported (expected llama)", path, (int)(arch.n > 64 ? 64 : arch.n), arch.s);
    Config c = {0};
    c.dim = (int)gguf_kv_int(m, "llama.embedding_length", 0, 1);
    c.n_layers = (int)gguf_kv_int(m, "llama.block_count", 0, 1);
    c.hidden_dim = (int)gguf_kv_int(m, "llama.feed_forward_length", 0, 1);
    c.n_heads = (int)gguf_kv_int(m, "llama.attention.head_count", 0, 1);
    c.n_kv_heads = (int)gguf_kv_int(m, "llama.attention.head_count_kv", c.n_heads, 0);
    c.seq_len = (int)gguf_kv_int(m, "llama.context_length", 0, 1);
    c.norm_eps = (float)gguf_kv_float(m, "llama.attention.layer_norm_rms_epsilon", 1e-5);
    c.rope_theta = (float)gguf_kv_float(m, "llama.rope.freq_base", 10000.0);
    const GgufKv *toks = gguf_kv(m, "tokenizer.ggml.tokens");
    if (toks) {
        if (toks->type != GT_ARRAY || toks->elem_type != GT_STRING)
            die_input("%s: GGUF tokenizer.ggml.tokens is not an array of strings", path);
        c.vocab_size = toks->count > INT32_MAX ? -1 : (int)toks->count;
    } else { // no embedded vocabulary: the embedding's row count is the vocab size
        for (uint64_t i = 0; i < g->nt; i++)
            if (gguf_str_eq(g->ti[i].name, "token_embd.weight") && g->ti[i].ndim >= 2)
                c.vocab_size = g->ti[i].ne[1] > INT32_MAX ? -1 : (int)g->ti[i].ne[1];
    }
    *has_output = 0;
    for (uint64_t i = 0; i < g->nt; i++) *has_output |= gguf_str_eq(g->ti[i].name, "output.weight");
    c.shared_classifier = !*has_output;
    config_validate(path, "GGUF llama metadata", &c);
    int64_t rope_dims = gguf_kv_int(m, "llama.rope.dimension_count", c.dim / c.n_heads, 0);
    if (rope_dims != c.dim / c.n_heads)
        die_input("%s: GGUF llama.rope.dimension_count = %lld: partial rotary embeddings are not supported (head size %d)", path, (long long)rope_dims, c.dim / c.n_heads);
    return c;
}

// Every tensor of the llama layout converted into one fp32 blob in ModelFile's
// layout; any tensor left over is an error.
static ModelFile *read_weights(const GgufFile *g, const Config *cp, int has_output, Tensors *T) {
    const Config c = *cp;
    ModelFile *mf = hold(mf_alloc(g->path, &c), model_file_release);
    size_t V = c.vocab_size, D = c.dim, L = c.n_layers;
    const char *const *gname = GGUF_PROJ_NAMES;
    char nm[96];
    // F16/BF16 embeddings and projections stay 16-bit, in place in the file buffer (which
    // the ModelFile then keeps); only the rest is converted into the fp32 blob.
    int dt;
    const uint16_t *h;
    size_t total = L * D * 2 + D;
    if ((h = tensor_half(T, "token_embd.weight", &dt))) mf->tok_emb16 = h, mf->tok_emb_dt = dt;
    else total += V * D;
    if (has_output && (h = tensor_half(T, "output.weight", &dt))) mf->wcls16 = h, mf->wcls_dt = dt;
    else if (has_output) total += V * D;
    for (int l = 0; l < c.n_layers; l++)
        for (int p = 0; p < N_LAYER_PROJ; p++) {
            snprintf(nm, sizeof nm, "blk.%d.%s.weight", l, gname[p]);
            if ((h = tensor_half(T, nm, &dt))) { mf_set_w16(mf, l * N_LAYER_PROJ + p, dt, h); continue; }
            int o, i; proj_dims(&c, p, &o, &i); total += (size_t)o * i;
        }
    float *blob = xmalloc_aligned(total * sizeof(float)), *cur = blob;
    mf->blob = blob;
    if (!mf->tok_emb16) { mf->tok_emb = cur; cur += V * D; }
    // The stored type of each tensor in mf_tensors order, for `info` (the norms of all
    // layers count as one tensor there: the first layer's type is shown).
    uint8_t *st = mf->src_type = xcalloc((size_t)mf_tensor_count(&c), 1);
    st[0] = (uint8_t)tensor_fetch(T, "token_embd.weight", c.vocab_size, c.dim, mf->tok_emb, 0);
    mf->rms_att = cur; cur += L * D;
    mf->rms_ffn = cur; cur += L * D;
    mf->rms_final = cur; cur += D;
    st[3] = (uint8_t)tensor_fetch(T, "output_norm.weight", 1, c.dim, mf->rms_final, 0);
    for (int l = 0; l < c.n_layers; l++) {
        snprintf(nm, sizeof nm, "blk.%d.attn_norm.weight", l);
        int ta = tensor_fetch(T, nm, 1, c.dim, mf->rms_att + l * D, 0);
        snprintf(nm, sizeof nm, "blk.%d.ffn_norm.weight", l);
        int tf = tensor_fetch(T, nm, 1, c.dim, mf->rms_ffn + l * D, 0);
        if (!l) st[1] = (uint8_t)ta, st[2] = (uint8_t)tf;
        for (int p = 0; p < N_LAYER_PROJ; p++) {
            int o, i; proj_dims(&c, p, &o, &i);
            snprintf(nm, sizeof nm, "blk.%d.%s.weight", l, gname[p]);
            float *dst = mf->w16 && mf->w16[l * N_LAYER_PROJ + p] ? NULL : cur;
            if (dst) { mf->w[l * N_LAYER_PROJ + p] = cur; cur += (size_t)o * i; }
            st[4 + l * N_LAYER_PROJ + p] = (uint8_t)tensor_fetch(T, nm, o, i, dst, 0);
        }
    }
    if (has_output) {
        if (!mf->wcls16) mf->wcls = cur;
        st[4 + c.n_layers * N_LAYER_PROJ] = (uint8_t)tensor_fetch(T, "output.weight", c.vocab_size, c.dim, mf->wcls, 0);
        // llama.cpp's llama2.c converter writes a tied head out as a copy; a bit-identical
        // copy is treated as tied so training updates one matrix, as the original model did.
        int same = mf->wcls ? mf->tok_emb && !memcmp(mf->wcls, mf->tok_emb, V * D * sizeof(float))
                            : mf->tok_emb16 && mf->wcls_dt == mf->tok_emb_dt && !memcmp(mf->wcls16, mf->tok_emb16, V * D * 2);
        if (same) { mf->wcls = NULL; mf->wcls16 = NULL; mf->c.shared_classifier = 1; }
    }
    // A tensor this reader does not place (e.g. rope_freqs for scaled RoPE) would change
    // the model's meaning if silently ignored.
    for (uint64_t i = 0; i < g->nt; i++)
        if (!g->ti[i].used) die_input("%s: GGUF tensor '%.*s' is not part of the supported llama layout", g->path, (int)(g->ti[i].name.n > 100 ? 100 : g->ti[i].name.n), g->ti[i].name.s);
    return mf;
}

// The metadata and tensor tables are held (util.h) scratch, unwound on return.
ModelFile *gguf_load(const char *path, const void *buf, size_t len) {
    size_t mark = hold_mark();
    GgufFile g = {.path = path, .buf = buf, .len = len};
    gguf_parse(&g, 1);
    int has_output;
    Config c = read_config(&g, &has_output);
    Tensors T = {path, (const unsigned char *)buf + g.data_off, g.ti, g.nt, {0}};
    ModelFile *mf = read_weights(&g, &c, has_output, &T);
    // The format label and the embedded vocabulary.
    // "gguf-v3 f32/q4_1": the weight types, in ggml's id order.
    int o = snprintf(mf->format, sizeof mf->format, "gguf-v%u ", g.version);
    for (uint32_t t = 0, first = 1; t < GQ_NTYPES; t++)
        if (T.types_seen[t] && o < (int)sizeof mf->format - 1) {
            o += snprintf(mf->format + o, sizeof mf->format - o, "%s", first ? "" : "/");
            for (const char *q = gq_type_name(t); *q && o < (int)sizeof mf->format - 1; q++) mf->format[o++] = (char)(*q >= 'A' && *q <= 'Z' ? *q - 'A' + 'a' : *q);
            mf->format[o] = 0;
            first = 0;
        }
    mf->tok = tok_from_gguf(&g.m, 0);
    // Last, after every check: the ModelFile keeps the file buffer (model_file_load's
    // until now) when 16-bit tensors point into it.
    if (mf->w16 || mf->tok_emb16 || mf->wcls16) mf->hold = (void *)g.buf, mf->hold_free = free;
    hold_drop(mf);
    hold_unwind(mark);
    return mf;
}
