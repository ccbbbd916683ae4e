// traindocs.c — see traindocs.h.
#include "traindocs.h"
#include "util.h"
#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const DOC_FORMAT_NAMES[] = {"text", "jsonl", "json", NULL};

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}
int doc_format_of_path(const char *path) {
    if (ends_with(path, ".jsonl")) return DOC_JSONL;
    if (ends_with(path, ".json")) return DOC_JSON;
    return DOC_TEXT;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

// ---- parsing ---------------------------------------------------------------------------
// A text line that separates documents: blank, or <|endoftext|> alone (spaces around allowed).
static int is_separator(const char *l, size_t n) {
    while (n && is_space(*l)) { l++; n--; }
    while (n && is_space(l[n - 1])) n--;
    return n == 0 || (n == 13 && !memcmp(l, "<|endoftext|>", 13));
}

static void parse_text(const char *name, const char *buf, size_t len, DocEmit emit, void *ctx) {
    size_t bad;
    if (!utf8_valid(buf, len, &bad)) die_input("%s: invalid UTF-8 at byte %zu", name, bad);
    size_t doc = 0, i = 0; // doc: start of the current document
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len, next = nl ? end + 1 : len;
        if (is_separator(buf + i, end - i)) {
            if (i > doc) emit(ctx, buf + doc, i - doc);
            doc = next;
        }
        i = next;
    }
    if (len > doc) emit(ctx, buf + doc, len - doc);
}

static const char *doc_string(const char *name, const char *where, const cJSON *v, const char *key) {
    if (!cJSON_IsString(v) || !v->valuestring) die_input("%s: %s: \"%s\" is not a string", name, where, key);
    size_t bad;
    if (!utf8_valid(v->valuestring, strlen(v->valuestring), &bad))
        die_input("%s: %s: \"%s\" is not valid UTF-8 (byte %zu of the string)", name, where, key, bad);
    return v->valuestring;
}

static void parse_jsonl(const char *name, const char *buf, size_t len, const char *key, DocEmit emit, void *ctx) {
    long line = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len, n = end - i;
        line++;
        const char *l = buf + i;
        i = nl ? end + 1 : len;
        size_t k = 0;
        while (k < n && is_space(l[k])) k++;
        if (k == n) continue; // a blank line
        char where[48];
        snprintf(where, sizeof where, "line %ld", line);
        const char *stop = NULL;
        cJSON *o = hold(cJSON_ParseWithLengthOpts(l, n, &stop, 0), json_release);
        if (!o) die_input("%s: %s: invalid JSON", name, where);
        for (const char *p = stop; p && p < l + n; p++)
            if (!is_space(*p)) die_input("%s: %s: more after the JSON value", name, where);
        if (!cJSON_IsObject(o)) die_input("%s: %s: expected a JSON object with a \"%s\" string", name, where, key);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!v) die_input("%s: %s: no \"%s\" key (data.text_key)", name, where, key);
        const char *s = doc_string(name, where, v, key);
        emit(ctx, s, strlen(s));
        hold_unwind(hold_mark() - 1); // o
    }
}

static void parse_json(const char *name, const char *buf, size_t len, const char *key, DocEmit emit, void *ctx) {
    const char *stop = NULL;
    size_t mark = hold_mark();
    cJSON *root = hold(cJSON_ParseWithLengthOpts(buf, len, &stop, 0), json_release);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= buf && at <= buf + len ? (long)(at - buf) : -1;
        die_input("%s: invalid JSON near byte %ld", name, off);
    }
    for (const char *p = stop; p && p < buf + len; p++)
        if (!is_space(*p)) die_input("%s: more after the JSON value (byte %ld)", name, (long)(p - buf));
    const cJSON *list = root;
    if (cJSON_IsObject(root)) {
        list = cJSON_GetObjectItemCaseSensitive(root, key);
        if (!list) die_input("%s: the JSON object has no \"%s\" key (data.text_key)", name, key);
    }
    if (!cJSON_IsArray(list))
        die_input("%s: expected a JSON list of strings, or an object holding one under \"%s\"", name, key);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        char where[48];
        snprintf(where, sizeof where, "element %d", i++);
        if (!cJSON_IsString(e)) die_input("%s: %s: not a string", name, where);
        const char *s = doc_string(name, where, e, key);
        emit(ctx, s, strlen(s));
    }
    hold_unwind(mark);
}

void docs_parse(const char *name, const char *buf, size_t len, int fmt, const char *text_key, DocEmit emit, void *ctx) {
    const char *key = text_key && *text_key ? text_key : "text";
    switch (fmt) {
    case DOC_TEXT: parse_text(name, buf, len, emit, ctx); break;
    case DOC_JSONL: parse_jsonl(name, buf, len, key, emit, ctx); break;
    case DOC_JSON: parse_json(name, buf, len, key, emit, ctx); break;
    default: die_internal("docs_parse: format %d", fmt);
    }
}

// ---- contamination ---------------------------------------------------------------------
// Hash of a line with whitespace runs collapsed to one space and the ends trimmed; *nlen gets
// the normalized length.
static uint64_t line_hash(const char *s, size_t n, size_t *nlen) {
    uint64_t h = 1469598103934665603ULL; // FNV-1a
    size_t out = 0;
    int pending = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_space(s[i])) { pending = out > 0; continue; }
        if (pending) { h = (h ^ (uint8_t)' ') * 1099511628211ULL; out++; pending = 0; }
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
        out++;
    }
    *nlen = out;
    uint64_t z = mix64(h);
    return z ? z : 1; // 0 marks an empty slot
}

typedef struct { uint64_t *slot; size_t cap, n; } HashSet;
static void set_add(HashSet *s, uint64_t h) {
    if (2 * (s->n + 1) > s->cap) {
        HashSet t = {xcalloc(s->cap ? 2 * s->cap : 1024, sizeof(uint64_t)), s->cap ? 2 * s->cap : 1024, 0};
        for (size_t i = 0; i < s->cap; i++) if (s->slot[i]) set_add(&t, s->slot[i]);
        free(s->slot);
        *s = t;
    }
    size_t i = h & (s->cap - 1);
    while (s->slot[i] && s->slot[i] != h) i = (i + 1) & (s->cap - 1);
    if (!s->slot[i]) { s->slot[i] = h; s->n++; }
}
static int set_has(const HashSet *s, uint64_t h) {
    if (!s->cap) return 0;
    size_t i = h & (s->cap - 1);
    while (s->slot[i]) {
        if (s->slot[i] == h) return 1;
        i = (i + 1) & (s->cap - 1);
    }
    return 0;
}

// Calls fn(arg, line, len) for each line of s[0, n).
static int any_line(const char *s, size_t n, int (*fn)(void *, const char *, size_t), void *arg) {
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) : n;
        if (fn(arg, s + i, end - i)) return 1;
        i = nl ? end + 1 : n;
    }
    return 0;
}
static int add_line(void *set, const char *l, size_t n) {
    size_t m;
    uint64_t h = line_hash(l, n, &m);
    if (m >= DOC_MATCH_MIN) set_add(set, h);
    return 0;
}
static int has_line(void *set, const char *l, size_t n) {
    size_t m;
    uint64_t h = line_hash(l, n, &m);
    return m >= DOC_MATCH_MIN && set_has(set, h);
}

typedef struct { HashSet val; TrainText *out; size_t cap; } Assembler;
static void keep_doc(void *ctx, const char *doc, size_t len) {
    Assembler *a = ctx;
    TrainText *o = a->out;
    size_t k = 0;
    while (k < len && is_space(doc[k])) k++;
    if (k == len) return; // an empty document (a JSON "" or blank text) is no document
    o->docs++;
    if (any_line(doc, len, has_line, &a->val)) { o->removed++; return; }
    size_t need = o->len + len + 3;
    if (need > a->cap) {
        a->cap = need > 2 * a->cap ? need : 2 * a->cap;
        o->text = xrealloc(o->text, a->cap);
    }
    if (o->len) { memcpy(o->text + o->len, "\n\n", 2); o->len += 2; } // paragraphs stay paragraphs
    memcpy(o->text + o->len, doc, len);
    o->len += len;
    o->text[o->len] = 0;
}

static void assembler_release(void *a) { Assembler *x = a; free(x->val.slot); free(x->out->text); x->out->text = NULL; }

void traindocs_assemble(const TrainFile *files, int n, const char *val_path, TrainText *out) {
    memset(out, 0, sizeof *out);
    size_t mark = hold_mark();
    Assembler a = {{0}, out, 0};
    hold(&a, assembler_release); // a die_input below frees what was gathered
    if (val_path && *val_path) {
        size_t vl;
        char *v = read_file(val_path, &vl);
        any_line(v, vl, add_line, &a.val);
        free(v);
    }
    for (int i = 0; i < n; i++) {
        size_t len;
        char *buf = hold(read_file(files[i].path, &len), free);
        docs_parse(files[i].path, buf, len, files[i].format, files[i].text_key, keep_doc, &a);
        hold_unwind(hold_mark() - 1); // buf
    }
    free(a.val.slot);
    a.val.slot = NULL;
    hold_drop(&a);
    hold_unwind(mark);
    if (!out->text) out->text = xcalloc(1, 1);
}
