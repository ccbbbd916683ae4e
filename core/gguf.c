// gguf.c — GGUF reader for llama-architecture models (format: docs/design.md
// "Model and tokenizer"): header, typed metadata (all value types, arrays included),
// tensor infos, aligned data. Tensors of any type core/ggml_quants.c dequantizes (F32,
// F16, BF16 and llama.cpp's Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K/Q5_K/Q6_K blocks) are converted,
// exactly as ggml does, into one fp32 blob in ModelFile's layout; the embedded vocabulary
// becomes mf->tok.
//
// q/k layout: llama.cpp stores llama q/k rows in Meta's interleaved-pair RoPE layout (its
// HF converter permutes rotate-half checkpoints back into it), which is also llama2.c's,
// so the rows are used as stored. Checked: stories260K.gguf's attn_q/attn_k equal the v0
// file's wq/wk exactly (tests/test_checkpoint.c).
#include "checkpoint.h"
#include "ggml_quants.h"
#include "tokenizer.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { GT_U8, GT_I8, GT_U16, GT_I16, GT_U32, GT_I32, GT_F32, GT_BOOL, GT_STRING, GT_ARRAY,
       GT_U64, GT_I64, GT_F64, GT_NTYPES };

const char *const GGUF_PROJ_NAMES[N_LAYER_PROJ] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

typedef struct {
    const char *path;
    const unsigned char *p;
    size_t len, off;
} Rd;

static void need(Rd *r, size_t n, const char *what) {
    if (n > r->len - r->off)
        die_input("%s: truncated: %s at byte %zu needs %zu bytes, file has %zu", r->path, what, r->off, n, r->len);
}
static uint32_t u32(Rd *r, const char *what) { need(r, 4, what); uint32_t v; memcpy(&v, r->p + r->off, 4); r->off += 4; return v; }
static uint64_t u64(Rd *r, const char *what) { need(r, 8, what); uint64_t v; memcpy(&v, r->p + r->off, 8); r->off += 8; return v; }

typedef struct { const char *s; size_t n; } Str;
static Str str(Rd *r, const char *what) {
    uint64_t n = u64(r, what);
    if (n > r->len - r->off) need(r, n > SIZE_MAX ? SIZE_MAX : (size_t)n, what);
    Str s = {(const char *)r->p + r->off, (size_t)n};
    r->off += n;
    return s;
}
static int str_eq(Str a, const char *b) { return a.n == strlen(b) && !memcmp(a.s, b, a.n); }

static size_t scalar_size(uint32_t t) {
    static const size_t sz[GT_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < GT_NTYPES ? sz[t] : 0;
}

// A metadata value: scalars are read on demand from `at`; arrays keep element type/count.
typedef struct {
    Str key;
    uint32_t type, elem_type;
    uint64_t count;
    size_t at; // offset of the value (for arrays: of the first element)
} Kv;

// Skips one value of type t (arrays may nest; depth bounds malicious nesting).
static void skip_value(Rd *r, uint32_t t, int depth, const char *key) {
    if (t == GT_STRING) { str(r, key); return; }
    if (t == GT_ARRAY) {
        if (depth > 4) die_input("%s: metadata '%s': arrays nested too deeply", r->path, key);
        uint32_t et = u32(r, key);
        uint64_t n = u64(r, key);
        size_t es = scalar_size(et);
        if (es) { if (n > (r->len - r->off) / es) need(r, r->len, key); r->off += n * es; return; }
        if (et != GT_STRING && et != GT_ARRAY) die_input("%s: metadata '%s': unknown array element type %u", r->path, key, et);
        for (uint64_t i = 0; i < n; i++) skip_value(r, et, depth + 1, key);
        return;
    }
    size_t s = scalar_size(t);
    if (!s) die_input("%s: metadata '%s': unknown value type %u", r->path, key, t);
    need(r, s, key);
    r->off += s;
}

typedef struct {
    const char *path;
    const unsigned char *p;
    Kv *kv; uint64_t nkv;
} Meta;

static const Kv *kv_find(const Meta *m, const char *key) {
    for (uint64_t i = 0; i < m->nkv; i++) if (str_eq(m->kv[i].key, key)) return &m->kv[i];
    return NULL;
}
static void key_name(char *out, size_t n, const Kv *k) { snprintf(out, n, "%.*s", (int)(k->key.n > 200 ? 200 : k->key.n), k->key.s); }

// Any integer type that fits an int; absent → def (or die when def < 0 means required).
static int64_t kv_int(const Meta *m, const char *key, int64_t def, int required) {
    const Kv *k = kv_find(m, key);
    if (!k) { if (required) die_input("%s: GGUF metadata key '%s' is missing", m->path, key); return def; }
    const unsigned char *v = m->p + k->at;
    int64_t x;
    switch (k->type) {
    case GT_U8: x = *v; break;
    case GT_I8: x = (int8_t)*v; break;
    case GT_U16: { uint16_t t; memcpy(&t, v, 2); x = t; break; }
    case GT_I16: { int16_t t; memcpy(&t, v, 2); x = t; break; }
    case GT_U32: { uint32_t t; memcpy(&t, v, 4); x = t; break; }
    case GT_I32: { int32_t t; memcpy(&t, v, 4); x = t; break; }
    case GT_U64: { uint64_t t; memcpy(&t, v, 8); x = t > INT64_MAX ? INT64_MAX : (int64_t)t; break; }
    case GT_I64: { int64_t t; memcpy(&t, v, 8); x = t; break; }
    default: die_input("%s: GGUF metadata '%s' has type %u, expected an integer", m->path, key, k->type);
    }
    if (x < INT32_MIN || x > INT32_MAX) die_input("%s: GGUF metadata '%s' = %lld is out of range", m->path, key, (long long)x);
    return x;
}
static double kv_float(const Meta *m, const char *key, double def) {
    const Kv *k = kv_find(m, key);
    if (!k) return def;
    const unsigned char *v = m->p + k->at;
    if (k->type == GT_F32) { float f; memcpy(&f, v, 4); return f; }
    if (k->type == GT_F64) { double d; memcpy(&d, v, 8); return d; }
    die_input("%s: GGUF metadata '%s' has type %u, expected a float", m->path, key, k->type);
}
static Str kv_str(const Meta *m, const char *key) {
    const Kv *k = kv_find(m, key);
    Str none = {NULL, 0};
    if (!k) return none;
    if (k->type != GT_STRING) die_input("%s: GGUF metadata '%s' is not a string", m->path, key);
    Rd r = {m->path, m->p, SIZE_MAX, k->at}; // bounds were checked when the header was parsed
    return str(&r, key);
}

typedef struct {
    Str name;
    uint32_t ndim, type;
    uint64_t ne[4];
    uint64_t offset, nel;
    int used;
} TInfo;

typedef struct {
    const char *path;
    const unsigned char *data; // start of the tensor data section
    TInfo *t; uint64_t nt;
    unsigned types_seen[GQ_NTYPES]; // tensors placed, per ggml type
} Tensors;

static TInfo *tensor_find(Tensors *T, const char *name) {
    for (uint64_t i = 0; i < T->nt; i++) if (str_eq(T->t[i].name, name)) return &T->t[i];
    return NULL;
}

// A tensor stored as F16/BF16 (or NULL): kept 16-bit in the file buffer (half.h), whose
// type goes to *dt; tensor_fetch still checks its shape.
static const uint16_t *tensor_half(Tensors *T, const char *name, int *dt) {
    TInfo *ti = tensor_find(T, name);
    if (!ti || (ti->type != GQ_F16 && ti->type != GQ_BF16)) return NULL;
    *dt = ti->type == GQ_F16 ? DT_F16 : DT_BF16;
    return (const uint16_t *)(T->data + ti->offset);
}

// Finds `name`, checks its shape (ne innermost first: cols, rows) and converts it to fp32
// (dst NULL: checks only, for a tensor kept 16-bit); returns its ggml type (−1: absent
// and optional).
static int tensor_fetch(Tensors *T, const char *name, int rows, int cols, float *dst, int optional) {
    TInfo *ti = tensor_find(T, name);
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

// An array of n elements of type et under `key`, or NULL when absent.
static const Kv *kv_array(const Meta *m, const char *key, uint32_t et, uint64_t n) {
    const Kv *k = kv_find(m, key);
    if (k && (k->type != GT_ARRAY || k->elem_type != et || (n && k->count != n)))
        die_input("%s: GGUF %s must be an array of %llu %s", m->path, key, (unsigned long long)n,
                  et == GT_STRING ? "strings" : et == GT_F32 ? "f32" : "i32");
    return k;
}
// Held (util.h) until the caller unwinds: a NULL-terminated array (strv_free).
static char **kv_strings(const Meta *m, const Kv *k, int **lens) {
    char **out = hold(xcalloc((size_t)k->count + 1, sizeof *out), strv_free);
    if (lens) *lens = hold(xmalloc((size_t)k->count * sizeof **lens), free);
    Rd r = {m->path, m->p, SIZE_MAX, k->at}; // bounds were checked when the header was parsed
    for (uint64_t i = 0; i < k->count; i++) {
        Str s = str(&r, "tokenizer");
        if (s.n > (1u << 20)) die_input("%s: GGUF tokenizer string %llu is implausibly long", m->path, (unsigned long long)i);
        out[i] = xmalloc(s.n + 1);
        memcpy(out[i], s.s, s.n);
        out[i][s.n] = 0;
        if (lens) (*lens)[i] = (int)s.n;
    }
    return out;
}

// tokenizer.ggml.* → a tokenizer (core/tok_bpe.c): model "llama" is SentencePiece BPE by
// scores with byte fallback, "gpt2" byte-level BPE by merges with the pre-tokenizer regex
// named by tokenizer.ggml.pre. Specials are not parsed in text (llama.cpp's parse_special
// off, its tokenizer tests' setting). NULL when the file has no vocabulary, or (strict 0,
// loading a model) one of a kind not implemented here: then --tokenizer is needed.
static Tokenizer *vocab_tokenizer(const Meta *m, int strict) {
    const Kv *toks = kv_find(m, "tokenizer.ggml.tokens");
    if (!toks) return NULL;
    if (toks->type != GT_ARRAY || toks->elem_type != GT_STRING || toks->count == 0 || toks->count > (1u << 24))
        die_input("%s: GGUF tokenizer.ggml.tokens is not a non-empty array of strings", m->path);
    int n = (int)toks->count;
    size_t mark = hold_mark(); // everything below is scratch: tok_build copies it
    Str model = kv_str(m, "tokenizer.ggml.model"), pre = kv_str(m, "tokenizer.ggml.pre");
    TokSpec s = {0};
    s.n = n;
    if (!model.s || str_eq(model, "llama")) s.kind = TOKK_SPM;
    else if (str_eq(model, "gpt2")) s.kind = TOKK_BYTE_BPE;
    else {
        (strict ? die_input : warnf)("%s: GGUF tokenizer.ggml.model '%.*s' is not supported (llama, gpt2)%s", m->path,
                                     (int)(model.n > 40 ? 40 : model.n), model.s, strict ? "" : "; pass --tokenizer");
        return NULL;
    }
    int *lens;
    s.pieces = kv_strings(m, toks, &lens);
    s.lens = lens;
    const Kv *sk = kv_array(m, "tokenizer.ggml.scores", GT_F32, toks->count);
    float *scores = NULL;
    if (sk) {
        scores = hold(xmalloc((size_t)n * sizeof *scores), free);
        memcpy(scores, m->p + sk->at, (size_t)n * 4);
        for (int i = 0; i < n; i++)
            if (!isfinite(scores[i])) die_input("%s: GGUF tokenizer.ggml.scores[%d] is not finite", m->path, i);
    }
    s.scores = scores;
    const Kv *tk = kv_array(m, "tokenizer.ggml.token_type", GT_I32, toks->count);
    int *types = NULL;
    if (tk) { types = hold(xmalloc((size_t)n * sizeof *types), free); memcpy(types, m->p + tk->at, (size_t)n * 4); }
    s.types = types;
    s.bos = (int)kv_int(m, "tokenizer.ggml.bos_token_id", s.kind == TOKK_SPM ? 1 : -1, 0);
    s.eos = (int)kv_int(m, "tokenizer.ggml.eos_token_id", s.kind == TOKK_SPM ? 2 : -1, 0);
    s.unk = (int)kv_int(m, "tokenizer.ggml.unknown_token_id", s.kind == TOKK_SPM ? 0 : -1, 0);
    if (s.bos >= n || s.eos >= n || s.unk >= n) die_input("%s: GGUF tokenizer bos/eos/unknown id is outside the %d-token vocabulary", m->path, n);
    const Kv *sp = kv_find(m, "tokenizer.ggml.add_space_prefix");
    s.add_dummy_prefix = sp ? m->p[sp->at] != 0 : s.kind == TOKK_SPM;
    s.byte_fallback = 1;
    const Kv *mk = NULL;
    int llama3 = pre.s && (str_eq(pre, "llama-bpe") || str_eq(pre, "llama3") || str_eq(pre, "llama-v3"));
    if (s.kind == TOKK_BYTE_BPE && !llama3 && !(pre.s && str_eq(pre, "gpt-2"))) {
        (strict ? die_input : warnf)("%s: GGUF tokenizer.ggml.pre '%.*s' is not supported (llama-bpe, llama3, gpt-2)%s", m->path,
                                     pre.s ? (int)(pre.n > 40 ? 40 : pre.n) : 6, pre.s ? pre.s : "absent", strict ? "" : "; pass --tokenizer");
        hold_unwind(mark);
        return NULL;
    }
    if (s.kind == TOKK_BYTE_BPE) {
        mk = kv_array(m, "tokenizer.ggml.merges", GT_STRING, 0);
        if (!mk) die_input("%s: GGUF gpt2 tokenizer without tokenizer.ggml.merges", m->path);
        s.merges = kv_strings(m, mk, NULL);
        s.n_merges = (int)mk->count;
        // llama.cpp's pre-tokenizer names: Llama-3's regex (merges ignored for whole-vocab
        // pieces, as llama.cpp does for it), or GPT-2's.
        s.pattern = llama3 ? TOK_PATTERN_LLAMA3 : TOK_PATTERN_GPT2;
        s.ignore_merges = llama3;
    }
    Tokenizer *t = tok_build(m->path, &s);
    hold_unwind(mark);
    return t;
}

// A parsed GGUF file: its metadata and tensor infos, pointing into the caller's buffer.
typedef struct {
    const char *path;
    const void *buf;
    size_t len;
    uint32_t version;
    Meta m;
    TInfo *ti;
    uint64_t nt;
    uint64_t align;
    size_t data_off; // start of the tensor data section
} Gguf;

// Phase 1: header and metadata (values are located, not converted).
static void read_header(Gguf *g, Rd *r) {
    const char *path = g->path;
    g->version = u32(r, "GGUF version");
    if (g->version != 2 && g->version != 3) // v1 used 32-bit counts; v2 and v3 share this layout
        die_input("%s: GGUF version %u is not supported (expected 3)", path, g->version);
    uint64_t nt = u64(r, "GGUF tensor count"), nkv = u64(r, "GGUF metadata count");
    // Each KV takes ≥ 13 bytes and each tensor info ≥ 24: bounds the allocations below.
    if (nkv > g->len / 13 || nt > g->len / 24)
        die_input("%s: truncated or corrupt GGUF header: it claims %llu tensors and %llu metadata entries, more than a %zu-byte file can hold",
                  path, (unsigned long long)nt, (unsigned long long)nkv, g->len);
    g->nt = nt;
    g->m = (Meta){path, g->buf, hold(xcalloc(nkv ? nkv : 1, sizeof(Kv)), free), nkv};
    for (uint64_t i = 0; i < nkv; i++) {
        Kv *k = &g->m.kv[i];
        k->key = str(r, "GGUF metadata key");
        char kn[256]; key_name(kn, sizeof kn, k);
        k->type = u32(r, kn);
        if (k->type == GT_ARRAY) {
            size_t at = r->off;
            k->elem_type = u32(r, kn);
            k->count = u64(r, kn);
            k->at = r->off;
            r->off = at;
        } else k->at = r->off;
        skip_value(r, k->type, 0, kn);
    }
    g->align = 32;
    if (kv_find(&g->m, "general.alignment")) {
        int64_t a = kv_int(&g->m, "general.alignment", 32, 1);
        if (a <= 0 || a % 8) die_input("%s: GGUF general.alignment = %lld must be a positive multiple of 8", path, (long long)a);
        g->align = (uint64_t)a;
    }
}

// Phase 2: tensor infos (names unique, shapes bounded, offsets aligned).
static void read_tensor_infos(Gguf *g, Rd *r) {
    const char *path = g->path;
    TInfo *ti = g->ti = hold(xcalloc(g->nt ? g->nt : 1, sizeof *ti), free);
    for (uint64_t i = 0; i < g->nt; i++) {
        TInfo *t = &ti[i];
        t->name = str(r, "GGUF tensor name");
        char tn[128]; snprintf(tn, sizeof tn, "%.*s", (int)(t->name.n > 100 ? 100 : t->name.n), t->name.s);
        for (uint64_t j = 0; j < i; j++)
            if (ti[j].name.n == t->name.n && !memcmp(ti[j].name.s, t->name.s, t->name.n))
                die_input("%s: GGUF tensor '%s' appears twice", path, tn);
        t->ndim = u32(r, tn);
        if (t->ndim < 1 || t->ndim > 4) die_input("%s: GGUF tensor '%s' has %u dimensions (1..4 allowed)", path, tn, t->ndim);
        t->nel = 1;
        for (uint32_t d = 0; d < t->ndim; d++) {
            t->ne[d] = u64(r, tn);
            if (t->ne[d] == 0 || t->ne[d] > ((uint64_t)1 << 40) / t->nel)
                die_input("%s: GGUF tensor '%s' dimension %u = %llu is out of range", path, tn, d, (unsigned long long)t->ne[d]);
            t->nel *= t->ne[d];
        }
        t->type = u32(r, tn);
        t->offset = u64(r, tn);
        if (t->offset % g->align) die_input("%s: GGUF tensor '%s' offset %llu is not a multiple of the alignment %llu", path, tn, (unsigned long long)t->offset, (unsigned long long)g->align);
    }
    g->data_off = (size_t)((r->off + g->align - 1) / g->align * g->align);
}

// Phase 3: every tensor lies inside the file, and nothing follows the padded data.
static void check_data_section(const Gguf *g) {
    const char *path = g->path;
    size_t len = g->len, data_off = g->data_off;
    uint64_t align = g->align;
    if (data_off > len) die_input("%s: truncated: GGUF tensor data would start at byte %zu, file has %zu", path, data_off, len);
    uint64_t end = 0;
    for (uint64_t i = 0; i < g->nt; i++) {
        const TInfo *t = &g->ti[i];
        // Every ggml type's block size is known, so extents are checked even for types the
        // reader cannot dequantize (those are reported by name where the model needs them).
        int blk; size_t bsz;
        gq_type_size(t->type, &blk, &bsz);
        if (!blk) die_input("%s: GGUF tensor '%.*s' has unknown ggml type id %u", path, (int)(t->name.n > 100 ? 100 : t->name.n), t->name.s, t->type);
        if (t->ne[0] % (uint64_t)blk)
            die_input("%s: GGUF tensor '%.*s': its rows of %llu elements are not whole %s blocks of %d", path,
                      (int)(t->name.n > 100 ? 100 : t->name.n), t->name.s, (unsigned long long)t->ne[0], gq_type_name(t->type), blk);
        uint64_t e = t->offset + gq_nbytes(t->type, t->nel);
        if (e > end) end = e;
        if (t->offset > len || e > len - data_off)
            die_input("%s: truncated: expected %llu bytes (tensor '%.*s' ends there), got %zu", path,
                      (unsigned long long)(data_off + e), (int)(t->name.n > 100 ? 100 : t->name.n), t->name.s, len);
    }
    // The writer pads the last tensor to the alignment; anything beyond is not GGUF.
    uint64_t padded = (end + align - 1) / align * align;
    if (len - data_off > padded && g->nt)
        die_input("%s: %llu unexpected extra bytes after the GGUF tensor data: expected at most %llu bytes, got %zu", path,
                  (unsigned long long)(len - data_off - padded), (unsigned long long)(data_off + padded), len);
}

// Phase 4: the llama Config from the metadata; *has_output: the file has its own head.
static Config read_config(const Gguf *g, int *has_output) {
    const char *path = g->path;
    const Meta *m = &g->m;
    Str arch = kv_str(m, "general.architecture");
    if (!arch.s) die_input("%s: GGUF metadata key 'general.architecture' is missing", path);
    if (!str_eq(arch, "llama")) die_input("%s: GGUF architecture '%.*s' is not supported (expected llama)", path, (int)(arch.n > 64 ? 64 : arch.n), arch.s);
    Config c = {0};
    c.dim = (int)kv_int(m, "llama.embedding_length", 0, 1);
    c.n_layers = (int)kv_int(m, "llama.block_count", 0, 1);
    c.hidden_dim = (int)kv_int(m, "llama.feed_forward_length", 0, 1);
    c.n_heads = (int)kv_int(m, "llama.attention.head_count", 0, 1);
    c.n_kv_heads = (int)kv_int(m, "llama.attention.head_count_kv", c.n_heads, 0);
    c.seq_len = (int)kv_int(m, "llama.context_length", 0, 1);
    c.norm_eps = (float)kv_float(m, "llama.attention.layer_norm_rms_epsilon", 1e-5);
    c.rope_theta = (float)kv_float(m, "llama.rope.freq_base", 10000.0);
    const Kv *toks = kv_find(m, "tokenizer.ggml.tokens");
    if (toks) {
        if (toks->type != GT_ARRAY || toks->elem_type != GT_STRING)
            die_input("%s: GGUF tokenizer.ggml.tokens is not an array of strings", path);
        c.vocab_size = toks->count > INT32_MAX ? -1 : (int)toks->count;
    } else { // no embedded vocabulary: the embedding's row count is the vocab size
        for (uint64_t i = 0; i < g->nt; i++)
            if (str_eq(g->ti[i].name, "token_embd.weight") && g->ti[i].ndim >= 2)
                c.vocab_size = g->ti[i].ne[1] > INT32_MAX ? -1 : (int)g->ti[i].ne[1];
    }
    *has_output = 0;
    for (uint64_t i = 0; i < g->nt; i++) *has_output |= str_eq(g->ti[i].name, "output.weight");
    c.shared_classifier = !*has_output;
    config_validate(path, "GGUF llama metadata", &c);
    int64_t rope_dims = kv_int(m, "llama.rope.dimension_count", c.dim / c.n_heads, 0);
    if (rope_dims != c.dim / c.n_heads)
        die_input("%s: GGUF llama.rope.dimension_count = %lld: partial rotary embeddings are not supported (head size %d)", path, (long long)rope_dims, c.dim / c.n_heads);
    return c;
}

// Phase 5: every tensor of the llama layout converted into one fp32 blob in ModelFile's
// layout; any tensor left over is an error.
static ModelFile *read_weights(const Gguf *g, const Config *cp, int has_output, Tensors *T) {
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
    Gguf g = {.path = path, .buf = buf, .len = len};
    Rd r = {path, buf, len, 4};
    read_header(&g, &r);
    read_tensor_infos(&g, &r);
    check_data_section(&g);
    int has_output;
    Config c = read_config(&g, &has_output);
    Tensors T = {path, (const unsigned char *)buf + g.data_off, g.ti, g.nt, {0}};
    ModelFile *mf = read_weights(&g, &c, has_output, &T);
    // Phase 6: the format label and the embedded vocabulary.
    // "gguf-v3 f32/q4_1": the weight types, in ggml's id order.
    int o = snprintf(mf->format, sizeof mf->format, "gguf-v%u ", g.version);
    for (uint32_t t = 0, first = 1; t < GQ_NTYPES; t++)
        if (T.types_seen[t] && o < (int)sizeof mf->format - 1) {
            o += snprintf(mf->format + o, sizeof mf->format - o, "%s", first ? "" : "/");
            for (const char *q = gq_type_name(t); *q && o < (int)sizeof mf->format - 1; q++) mf->format[o++] = (char)(*q >= 'A' && *q <= 'Z' ? *q - 'A' + 'a' : *q);
            mf->format[o] = 0;
            first = 0;
        }
    mf->tok = vocab_tokenizer(&g.m, 0);
    // Last, after every check: the ModelFile keeps the file buffer (model_file_load's
    // until now) when 16-bit tensors point into it.
    if (mf->w16 || mf->tok_emb16 || mf->wcls16) mf->hold = (void *)g.buf, mf->hold_free = free;
    hold_drop(mf);
    hold_unwind(mark);
    return mf;
}

Tokenizer *gguf_load_tokenizer(const char *path, const void *buf, size_t len) {
    size_t mark = hold_mark();
    Gguf g = {.path = path, .buf = buf, .len = len};
    Rd r = {path, buf, len, 4};
    read_header(&g, &r); // metadata only: a vocabulary file may hold no tensors
    Tokenizer *t = vocab_tokenizer(&g.m, 1);
    hold_unwind(mark);
    return t;
}
