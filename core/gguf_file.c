// gguf_file.c — the GGUF container parser (core/gguf_file.h).
#include "gguf_file.h"
#include "ggml_quants.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

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

static GgufStr str(Rd *r, const char *what) {
    uint64_t n = u64(r, what);
    if (n > r->len - r->off) need(r, n > SIZE_MAX ? SIZE_MAX : (size_t)n, what);
    GgufStr s = {(const char *)r->p + r->off, (size_t)n};
    r->off += n;
    return s;
}
int gguf_str_eq(GgufStr a, const char *b) { return a.n == strlen(b) && !memcmp(a.s, b, a.n); }

static size_t scalar_size(uint32_t t) {
    static const size_t sz[GT_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < GT_NTYPES ? sz[t] : 0;
}

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

const GgufKv *gguf_kv(const GgufMeta *m, const char *key) {
    for (uint64_t i = 0; i < m->nkv; i++) if (gguf_str_eq(m->kv[i].key, key)) return &m->kv[i];
    return NULL;
}
static void key_name(char *out, size_t n, const GgufKv *k) { snprintf(out, n, "%.*s", (int)(k->key.n > 200 ? 200 : k->key.n), k->key.s); }

// Any integer type that fits an int (gguf_file.h).
int64_t gguf_kv_int(const GgufMeta *m, const char *key, int64_t def, int required) {
    const GgufKv *k = gguf_kv(m, key);
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
double gguf_kv_float(const GgufMeta *m, const char *key, double def) {
    const GgufKv *k = gguf_kv(m, key);
    if (!k) return def;
    const unsigned char *v = m->p + k->at;
    if (k->type == GT_F32) { float f; memcpy(&f, v, 4); return f; }
    if (k->type == GT_F64) { double d; memcpy(&d, v, 8); return d; }
    die_input("%s: GGUF metadata '%s' has type %u, expected a float", m->path, key, k->type);
}
GgufStr gguf_kv_str(const GgufMeta *m, const char *key) {
    const GgufKv *k = gguf_kv(m, key);
    GgufStr none = {NULL, 0};
    if (!k) return none;
    if (k->type != GT_STRING) die_input("%s: GGUF metadata '%s' is not a string", m->path, key);
    Rd r = {m->path, m->p, SIZE_MAX, k->at}; // bounds were checked when the header was parsed
    return str(&r, key);
}
// An array of n elements of type et under `key`, or NULL when absent.
const GgufKv *gguf_kv_array(const GgufMeta *m, const char *key, uint32_t et, uint64_t n) {
    const GgufKv *k = gguf_kv(m, key);
    if (k && (k->type != GT_ARRAY || k->elem_type != et || (n && k->count != n)))
        die_input("%s: GGUF %s must be an array of %llu %s", m->path, key, (unsigned long long)n,
                  et == GT_STRING ? "strings" : et == GT_F32 ? "f32" : "i32");
    return k;
}
// Held (util.h) until the caller unwinds: a NULL-terminated array (strv_free).
char **gguf_kv_strings(const GgufMeta *m, const GgufKv *k, int **lens) {
    char **out = hold(xcalloc((size_t)k->count + 1, sizeof *out), strv_free);
    if (lens) *lens = hold(xmalloc((size_t)k->count * sizeof **lens), free);
    Rd r = {m->path, m->p, SIZE_MAX, k->at}; // bounds were checked when the header was parsed
    for (uint64_t i = 0; i < k->count; i++) {
        GgufStr s = str(&r, "tokenizer");
        if (s.n > (1u << 20)) die_input("%s: GGUF tokenizer string %llu is implausibly long", m->path, (unsigned long long)i);
        out[i] = xmalloc(s.n + 1);
        memcpy(out[i], s.s, s.n);
        out[i][s.n] = 0;
        if (lens) (*lens)[i] = (int)s.n;
    }
    return out;
}

// Header and metadata (values are located, not converted).
static void read_header(GgufFile *g, Rd *r) {
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
    g->m = (GgufMeta){path, g->buf, hold(xcalloc(nkv ? nkv : 1, sizeof(GgufKv)), free), nkv};
    for (uint64_t i = 0; i < nkv; i++) {
        GgufKv *k = &g->m.kv[i];
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
    if (gguf_kv(&g->m, "general.alignment")) {
        int64_t a = gguf_kv_int(&g->m, "general.alignment", 32, 1);
        if (a <= 0 || a % 8) die_input("%s: GGUF general.alignment = %lld must be a positive multiple of 8", path, (long long)a);
        g->align = (uint64_t)a;
    }
}

// Tensor infos (names unique, shapes bounded, offsets aligned).
static void read_tensor_infos(GgufFile *g, Rd *r) {
    const char *path = g->path;
    GgufTensor *ti = g->ti = hold(xcalloc(g->nt ? g->nt : 1, sizeof *ti), free);
    for (uint64_t i = 0; i < g->nt; i++) {
        GgufTensor *t = &ti[i];
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

// Every tensor lies inside the file, and nothing follows the padded data.
static void check_data_section(const GgufFile *g) {
    const char *path = g->path;
    size_t len = g->len, data_off = g->data_off;
    uint64_t align = g->align;
    if (data_off > len) die_input("%s: truncated: GGUF tensor data would start at byte %zu, file has %zu", path, data_off, len);
    uint64_t end = 0;
    for (uint64_t i = 0; i < g->nt; i++) {
        const GgufTensor *t = &g->ti[i];
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

void gguf_parse(GgufFile *g, int tensors) {
    Rd r = {g->path, g->buf, g->len, 4};
    read_header(g, &r);
    if (!tensors) return; // metadata only: a vocabulary file may hold no tensors
    read_tensor_infos(g, &r);
    check_data_section(g);
}
