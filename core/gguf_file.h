// gguf_file.h — the GGUF container (format: docs/design.md "Model and tokenizer"): header,
// typed metadata (all value types, arrays included), tensor infos and the aligned data
// section, located in the caller's buffer and converted on demand. Shared by the model
// reader (core/gguf.c) and the tokenizer reader (core/tok_gguf.c); knows no model.
#pragma once
#include <stddef.h>
#include <stdint.h>

enum { GT_U8, GT_I8, GT_U16, GT_I16, GT_U32, GT_I32, GT_F32, GT_BOOL, GT_STRING, GT_ARRAY,
       GT_U64, GT_I64, GT_F64, GT_NTYPES };

typedef struct { const char *s; size_t n; } GgufStr;
int gguf_str_eq(GgufStr a, const char *b);

// A metadata value: scalars are read on demand from `at`; arrays keep element type/count.
typedef struct {
    GgufStr key;
    uint32_t type, elem_type;
    uint64_t count;
    size_t at; // offset of the value (for arrays: of the first element)
} GgufKv;

// The metadata: n key/value entries located in the file buffer p.
typedef struct GgufMeta {
    const char *path;
    const unsigned char *p;
    GgufKv *kv; uint64_t nkv;
} GgufMeta;

// A tensor info: ne innermost first, offset from the data section's start.
typedef struct {
    GgufStr name;
    uint32_t ndim, type;
    uint64_t ne[4];
    uint64_t offset, nel;
    int used;
} GgufTensor;

// A parsed GGUF file: its metadata and tensor infos, pointing into the caller's buffer.
typedef struct {
    const char *path;
    const void *buf;
    size_t len;
    uint32_t version;
    GgufMeta m;
    GgufTensor *ti;
    uint64_t nt;
    uint64_t align;
    size_t data_off; // start of the tensor data section
} GgufFile;

// Parses g->buf (g->path, g->buf, g->len set by the caller; starts with the "GGUF" magic):
// header and metadata, and with tensors also the tensor infos and the data section's bounds
// (every tensor inside the file, nothing after the padded data). Bad input → die_input
// naming the file. The tables are held (util.h): the caller unwinds them.
void gguf_parse(GgufFile *g, int tensors);

// Metadata lookups (m->path in messages). NULL / def when absent.
const GgufKv *gguf_kv(const GgufMeta *m, const char *key);
// Any integer type that fits an int32; absent → def, or die_input when required.
int64_t gguf_kv_int(const GgufMeta *m, const char *key, int64_t def, int required);
double gguf_kv_float(const GgufMeta *m, const char *key, double def); // F32 or F64
GgufStr gguf_kv_str(const GgufMeta *m, const char *key);              // {NULL, 0} when absent
// An array of n (0: any number of) elements of type et under `key`, or NULL when absent.
const GgufKv *gguf_kv_array(const GgufMeta *m, const char *key, uint32_t et, uint64_t n);
// A string array's elements, copied: a NULL-terminated array held (util.h) until the caller
// unwinds (strv_free); lens (if non-NULL) gets their lengths, held likewise.
char **gguf_kv_strings(const GgufMeta *m, const GgufKv *k, int **lens);
