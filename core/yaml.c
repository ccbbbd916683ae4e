// yaml.c — see yaml.h. libyaml's document API parses; we copy the result into our own
// YNode tree because libyaml keeps neither "was this key consumed" nor a convenient way to
// build/replace nodes (--set, resolved configs), and its marks are 0-based.
#include "yaml.h"
#include "util.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
// libyaml's header is also called yaml.h and -Icore would find ours first; Debian
// installs it at this fixed path (the Makefile already assumes Debian layouts).
#include "/usr/include/yaml.h"

// File names are interned for the life of the process: nodes share them, subtrees are
// cloned and moved between trees (--set, sweeps), so no single node can own the string.
static char **interned;
static int n_interned;
static const char *intern(const char *s) {
    for (int i = 0; i < n_interned; i++) if (!strcmp(interned[i], s)) return interned[i];
    interned = xrealloc(interned, (size_t)(n_interned + 1) * sizeof *interned);
    return interned[n_interned++] = xstrdup(s);
}

static YNode *node_new(YKind k, const char *file, int line, int col) {
    YNode *n = xcalloc(1, sizeof *n);
    n->kind = k; n->file = file; n->line = line; n->col = col;
    return n;
}

void y_die(const YNode *n, const char *fmt, ...) {
    char msg[1024];
    va_list ap; va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n && n->file && n->line > 0) die_input("%s:%d:%d: %s", n->file, n->line, n->col, msg);
    if (n && n->file) die_input("%s: %s", n->file, msg);
    die_input("%s", msg);
}

// Die at an explicit position (keys have a position but no node of their own).
static _Noreturn void die_at(const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void die_at(const char *file, int line, int col, const char *fmt, ...) {
    char msg[1024];
    va_list ap; va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    die_input("%s:%d:%d: %s", file ? file : "<yaml>", line, col, msg);
}

// ---- loading -------------------------------------------------------------------------
static YNode *convert(yaml_document_t *doc, yaml_node_t *yn, const char *file, int depth) {
    // Aliases are expanded by copying, so a self-referencing alias would recurse forever.
    if (depth > 64) die_at(file, (int)yn->start_mark.line + 1, (int)yn->start_mark.column + 1, "nesting too deep (recursive alias?)");
    int line = (int)yn->start_mark.line + 1, col = (int)yn->start_mark.column + 1;
    switch (yn->type) {
    case YAML_SCALAR_NODE: {
        YNode *n = node_new(Y_SCALAR, file, line, col);
        n->str = xmalloc(yn->data.scalar.length + 1);
        memcpy(n->str, yn->data.scalar.value, yn->data.scalar.length);
        n->str[yn->data.scalar.length] = 0;
        n->quoted = yn->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        return n;
    }
    case YAML_SEQUENCE_NODE: {
        YNode *n = node_new(Y_SEQ, file, line, col);
        for (yaml_node_item_t *it = yn->data.sequence.items.start; it < yn->data.sequence.items.top; it++)
            y_seq_push(n, convert(doc, yaml_document_get_node(doc, *it), file, depth + 1));
        return n;
    }
    case YAML_MAPPING_NODE: {
        YNode *n = node_new(Y_MAP, file, line, col);
        for (yaml_node_pair_t *p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            int kl = (int)k->start_mark.line + 1, kc = (int)k->start_mark.column + 1;
            if (k->type != YAML_SCALAR_NODE) die_at(file, kl, kc, "mapping keys must be plain scalars");
            char *key = xmalloc(k->data.scalar.length + 1);
            memcpy(key, k->data.scalar.value, k->data.scalar.length);
            key[k->data.scalar.length] = 0;
            // libyaml silently keeps both pairs of a duplicated key; a config where the
            // second silently wins (or loses) is exactly the mistake we want reported.
            for (int i = 0; i < n->n; i++)
                if (!strcmp(n->keys[i], key)) die_at(file, kl, kc, "duplicate key '%s'", key);
            YNode *v = convert(doc, yaml_document_get_node(doc, p->value), file, depth + 1);
            int i = n->n;
            n->n++;
            n->items = xrealloc(n->items, (size_t)n->n * sizeof *n->items);
            n->keys = xrealloc(n->keys, (size_t)n->n * sizeof *n->keys);
            n->key_line = xrealloc(n->key_line, (size_t)n->n * sizeof *n->key_line);
            n->key_col = xrealloc(n->key_col, (size_t)n->n * sizeof *n->key_col);
            n->used = xrealloc(n->used, (size_t)n->n);
            n->items[i] = v; n->keys[i] = key; n->key_line[i] = kl; n->key_col[i] = kc; n->used[i] = 0;
        }
        return n;
    }
    default:
        die_at(file, line, col, "unsupported YAML node");
    }
}

static _Noreturn void parser_die(yaml_parser_t *p, const char *file) {
    const char *prob = p->problem ? p->problem : "YAML syntax error";
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    if (p->error == YAML_READER_ERROR) die_input("%s: %s at byte %zu", file, prob, p->problem_offset);
    if (p->context)
        die_at(file, line, col, "%s (%s started at line %d)", prob, p->context, (int)p->context_mark.line + 1);
    die_at(file, line, col, "%s", prob);
}

static YNode *load(const char *text, size_t len, const char *name) {
    const char *file = intern(name);
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) die_internal("libyaml: cannot initialize parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) parser_die(&p, file);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    YNode *n;
    // An empty file is an empty mapping: the reader then reports the missing keys.
    if (!root) n = node_new(Y_MAP, file, 1, 1);
    else n = convert(&doc, root, file, 0);
    yaml_document_delete(&doc);
    // A second document would be silently ignored otherwise.
    if (root) {
        yaml_document_t doc2;
        if (!yaml_parser_load(&p, &doc2)) parser_die(&p, file);
        yaml_node_t *r2 = yaml_document_get_root_node(&doc2);
        int l2 = r2 ? (int)r2->start_mark.line + 1 : 0, c2 = r2 ? (int)r2->start_mark.column + 1 : 0;
        yaml_document_delete(&doc2);
        if (r2) { yaml_parser_delete(&p); die_at(file, l2, c2, "only one YAML document is allowed"); }
    }
    yaml_parser_delete(&p);
    return n;
}

YNode *yaml_load_string(const char *text, const char *name) { return load(text, strlen(text), name ? name : "<string>"); }
YNode *yaml_load_file(const char *path) {
    size_t len;
    char *text = read_file(path, &len);
    YNode *n = load(text, len, path);
    free(text);
    return n;
}

void yaml_free(YNode *n) {
    if (!n) return;
    free(n->str);
    for (int i = 0; i < n->n; i++) { yaml_free(n->items[i]); if (n->keys) free(n->keys[i]); }
    free(n->items); free(n->keys); free(n->key_line); free(n->key_col); free(n->used);
    free(n);
}

YNode *yaml_clone(const YNode *n) {
    if (!n) return NULL;
    YNode *c = node_new(n->kind, n->file, n->line, n->col);
    c->quoted = n->quoted;
    if (n->str) c->str = xstrdup(n->str);
    c->n = n->n;
    if (n->n) {
        c->items = xmalloc((size_t)n->n * sizeof *c->items);
        for (int i = 0; i < n->n; i++) c->items[i] = yaml_clone(n->items[i]);
        if (n->kind == Y_MAP) {
            c->keys = xmalloc((size_t)n->n * sizeof *c->keys);
            c->key_line = xmalloc((size_t)n->n * sizeof *c->key_line);
            c->key_col = xmalloc((size_t)n->n * sizeof *c->key_col);
            c->used = xmalloc((size_t)n->n);
            for (int i = 0; i < n->n; i++) {
                c->keys[i] = xstrdup(n->keys[i]);
                c->key_line[i] = n->key_line[i]; c->key_col[i] = n->key_col[i]; c->used[i] = n->used[i];
            }
        }
    }
    return c;
}

// ---- dumping (libyaml emitter, so quoting of odd strings is always right) ------------
typedef struct { char *buf; size_t len, cap; } Buf;
static int buf_write(void *ctx, unsigned char *data, size_t size) {
    Buf *b = ctx;
    if (b->len + size + 1 > b->cap) {
        b->cap = (b->len + size + 1) * 2;
        b->buf = xrealloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->len, data, size);
    b->len += size;
    b->buf[b->len] = 0;
    return 1;
}
static void emit(yaml_emitter_t *e, yaml_event_t *ev) {
    if (!yaml_emitter_emit(e, ev)) die_internal("libyaml emitter: %s", e->problem ? e->problem : "error");
}
static int all_scalars(const YNode *n) {
    for (int i = 0; i < n->n; i++) if (n->items[i]->kind != Y_SCALAR) return 0;
    return 1;
}
static void emit_scalar(yaml_emitter_t *e, const char *s, int quoted) {
    yaml_event_t ev;
    // Quoted scalars stay quoted so "1" reloads as a string, not a number.
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), !quoted, 1,
                                 quoted ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    emit(e, &ev);
}
static void emit_node(yaml_emitter_t *e, const YNode *n) {
    yaml_event_t ev;
    if (n->kind == Y_SCALAR) { emit_scalar(e, n->str ? n->str : "", n->quoted); return; }
    if (n->kind == Y_SEQ) {
        // Short scalar lists read best inline: targets: [q, k, v].
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, all_scalars(n) ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
        emit(e, &ev);
        for (int i = 0; i < n->n; i++) emit_node(e, n->items[i]);
        yaml_sequence_end_event_initialize(&ev);
        emit(e, &ev);
        return;
    }
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, n->n ? YAML_BLOCK_MAPPING_STYLE : YAML_FLOW_MAPPING_STYLE);
    emit(e, &ev);
    for (int i = 0; i < n->n; i++) { emit_scalar(e, n->keys[i], 0); emit_node(e, n->items[i]); }
    yaml_mapping_end_event_initialize(&ev);
    emit(e, &ev);
}
char *yaml_dump(const YNode *n) {
    Buf b = {0};
    yaml_emitter_t e;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e)) die_internal("libyaml: cannot initialize emitter");
    yaml_emitter_set_output(&e, buf_write, &b);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, 100);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING); emit(&e, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1); emit(&e, &ev);
    emit_node(&e, n);
    yaml_document_end_event_initialize(&ev, 1); emit(&e, &ev);
    yaml_stream_end_event_initialize(&ev); emit(&e, &ev);
    yaml_emitter_delete(&e);
    if (!b.buf) b.buf = xstrdup("");
    return b.buf;
}

// ---- reading -------------------------------------------------------------------------
static int map_find(const YNode *map, const char *key) {
    if (!map || map->kind != Y_MAP) return -1;
    for (int i = 0; i < map->n; i++) if (!strcmp(map->keys[i], key)) return i;
    return -1;
}
YNode *y_get(YNode *map, const char *key) {
    if (map && map->kind != Y_MAP) y_die(map, "expected a mapping");
    int i = map_find(map, key);
    if (i < 0) return NULL;
    map->used[i] = 1;
    return map->items[i];
}
YNode *y_req(YNode *map, const char *key) {
    YNode *v = y_get(map, key);
    if (!v) y_die(map, "missing required key '%s'", key);
    return v;
}
static const char *kind_name(YKind k) { return k == Y_MAP ? "a mapping" : k == Y_SEQ ? "a list" : "a scalar"; }
const char *y_str(const YNode *n) {
    if (n->kind != Y_SCALAR) y_die(n, "expected a string, got %s", kind_name(n->kind));
    return n->str;
}
long y_int(const YNode *n) {
    if (n->kind != Y_SCALAR) y_die(n, "expected an integer, got %s", kind_name(n->kind));
    char *end;
    errno = 0;
    long v = strtol(n->str, &end, 10);
    if (n->quoted || !n->str[0] || *end || errno) y_die(n, "expected an integer, got '%s'", n->str);
    return v;
}
double y_float(const YNode *n) {
    if (n->kind != Y_SCALAR) y_die(n, "expected a number, got %s", kind_name(n->kind));
    char *end;
    double v = strtod(n->str, &end);
    // strtod also takes "nan", "inf" and hex floats; a config never means those.
    int ok = !n->quoted && n->str[0] && !*end && isfinite(v) && !strpbrk(n->str, "xXnN");
    if (!ok) y_die(n, "expected a number, got '%s'", n->str);
    return v;
}
int y_bool(const YNode *n) {
    if (n->kind == Y_SCALAR && !n->quoted) {
        static const char *T[] = {"true", "yes", "on"}, *F[] = {"false", "no", "off"};
        for (int i = 0; i < 3; i++) {
            if (!strcasecmp(n->str, T[i])) return 1;
            if (!strcasecmp(n->str, F[i])) return 0;
        }
    }
    y_die(n, "expected true or false, got %s%s%s", n->kind == Y_SCALAR ? "'" : "",
          n->kind == Y_SCALAR ? n->str : kind_name(n->kind), n->kind == Y_SCALAR ? "'" : "");
}
void y_check_unused(const YNode *map, const char *section) {
    if (!map || map->kind != Y_MAP) return;
    for (int i = 0; i < map->n; i++) {
        if (map->used[i]) continue;
        char where[160] = "";
        if (section && *section) snprintf(where, sizeof where, " in '%s'", section);
        // Keys added by --set have no line in the map's file; report at the value,
        // whose file names the --set.
        if (map->key_line[i] <= 0) y_die(map->items[i], "unknown key '%s'%s", map->keys[i], where);
        die_at(map->file, map->key_line[i], map->key_col[i], "unknown key '%s'%s", map->keys[i], where);
    }
}

// ---- building ------------------------------------------------------------------------
YNode *y_new_map(void) { return node_new(Y_MAP, NULL, 0, 0); }
YNode *y_new_seq(void) { return node_new(Y_SEQ, NULL, 0, 0); }
YNode *y_new_scalar(const char *s) {
    YNode *n = node_new(Y_SCALAR, NULL, 0, 0);
    n->str = xstrdup(s);
    return n;
}
void y_map_put(YNode *map, const char *key, YNode *val) {
    int i = map_find(map, key);
    if (i >= 0) { yaml_free(map->items[i]); map->items[i] = val; map->used[i] = 0; return; }
    i = map->n++;
    map->items = xrealloc(map->items, (size_t)map->n * sizeof *map->items);
    map->keys = xrealloc(map->keys, (size_t)map->n * sizeof *map->keys);
    map->key_line = xrealloc(map->key_line, (size_t)map->n * sizeof *map->key_line);
    map->key_col = xrealloc(map->key_col, (size_t)map->n * sizeof *map->key_col);
    map->used = xrealloc(map->used, (size_t)map->n);
    map->items[i] = val; map->keys[i] = xstrdup(key);
    map->key_line[i] = 0; map->key_col[i] = 0; map->used[i] = 0;
}
void y_seq_push(YNode *seq, YNode *val) {
    seq->items = xrealloc(seq->items, (size_t)(seq->n + 1) * sizeof *seq->items);
    seq->items[seq->n++] = val;
}

void y_set_path(YNode *root, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) die_input("--set %s: expected key=value (e.g. train.lr=1e-4)", assignment);
    size_t klen = (size_t)(eq - assignment);
    char *path = xmalloc(klen + 1);
    memcpy(path, assignment, klen);
    path[klen] = 0;
    // The value is YAML, so lists ("[q,k]") and quoting work; its errors name the --set.
    char name[600];
    snprintf(name, sizeof name, "--set %s", path);
    YNode *val = yaml_load_string(eq + 1, name);
    // An empty value loads as an empty mapping (empty document); mean the empty scalar.
    if (!eq[1]) { yaml_free(val); val = node_new(Y_SCALAR, intern(name), 1, 1); val->str = xstrdup(""); }
    if (root->kind != Y_MAP) die_input("--set %s: the config is not a mapping", path);
    YNode *cur = root;
    char *parts = xstrdup(path);
    for (char *tok = parts;;) {
        char *dot = strchr(tok, '.');
        if (dot) *dot = 0;
        if (!*tok) die_input("--set %s: empty key component", path);
        if (!dot) { y_map_put(cur, tok, val); break; }
        int i = map_find(cur, tok);
        if (i < 0) {
            YNode *m = y_new_map();
            m->file = intern(name); m->line = 1; m->col = 1;
            y_map_put(cur, tok, m);
            cur = m;
        } else {
            if (cur->items[i]->kind != Y_MAP) die_input("--set %s: '%s' is not a mapping", path, tok);
            cur = cur->items[i];
        }
        tok = dot + 1;
    }
    free(parts);
    free(path);
}
