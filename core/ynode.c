// ynode.c — see ynode.h. libyaml's event parser feeds our own YNode tree (libyaml keeps
// neither "was this key consumed" nor a convenient way to build/replace nodes: --set,
// resolved configs), and its marks are 0-based.
#include "ynode.h"
#include "util.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h> // libyaml

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
// Built straight from libyaml's event stream, so limits apply while parsing: a document
// nested deeper than MAX_DEPTH is rejected at the first too-deep event (libyaml's document
// API would first build the whole tree, quadratic in the depth), and alias expansion (by
// copying) stops at MAX_NODES copied nodes (nested aliases grow exponentially; everything
// else is bounded by the input's length).
enum { MAX_DEPTH = 64, MAX_NODES = 250000 };

typedef struct { YNode *node; char *anchor; char *key; int kl, kc; } Frame;
typedef struct { char *name; YNode *node; long size; } Anchor;
typedef struct {
    const char *file;
    yaml_parser_t p;
    yaml_event_t ev;
    int have_ev;     // ev holds an event not yet deleted
    Frame stack[MAX_DEPTH + 1];
    int depth;
    Anchor *anchors;
    int nanchors;
    long nodes;      // copied by alias expansion
    YNode *root;
    YNode *pending;  // a finished node not yet in the tree
} Builder;

// Everything a builder holds (util.h "hold"): on an error, the partial tree too.
static void builder_release(void *bp) {
    Builder *b = bp;
    if (b->have_ev) yaml_event_delete(&b->ev);
    yaml_parser_delete(&b->p);
    for (int i = 0; i < b->depth; i++) { y_free(b->stack[i].node); free(b->stack[i].anchor); free(b->stack[i].key); }
    for (int i = 0; i < b->nanchors; i++) free(b->anchors[i].name);
    free(b->anchors);
    y_free(b->pending);
    y_free(b->root);
}

static long node_count(const YNode *n) {
    long c = 1;
    for (int i = 0; i < n->n; i++) c += node_count(n->items[i]);
    return c;
}

// Duplicate keys, checked once per finished mapping by sorting key indices (a pairwise
// scan is quadratic in the key count). Reports the later occurrence, as a reader would.
static const YNode *dup_map;
static int key_cmp(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b, c = strcmp(dup_map->keys[i], dup_map->keys[j]);
    return c ? c : i - j;
}
static void check_dup_keys(const YNode *m) {
    if (m->n < 2) return;
    int *ix = xmalloc((size_t)m->n * sizeof *ix), bad = -1;
    for (int i = 0; i < m->n; i++) ix[i] = i;
    dup_map = m;
    qsort(ix, (size_t)m->n, sizeof *ix, key_cmp);
    for (int i = 1; i < m->n; i++)
        if (!strcmp(m->keys[ix[i]], m->keys[ix[i - 1]]) && (bad < 0 || ix[i] < bad)) bad = ix[i];
    free(ix);
    if (bad >= 0) die_at(m->file, m->key_line[bad], m->key_col[bad], "duplicate key '%s'", m->keys[bad]);
}

static void map_append(YNode *m, char *key, int kl, int kc, YNode *v) {
    int i = m->n++;
    // Capacity doubles at powers of two, so appends stay amortized O(1).
    if ((i & (i - 1)) == 0) {
        size_t cap = i ? 2 * (size_t)i : 1;
        m->items = xrealloc(m->items, cap * sizeof *m->items);
        m->keys = xrealloc(m->keys, cap * sizeof *m->keys);
        m->key_line = xrealloc(m->key_line, cap * sizeof *m->key_line);
        m->key_col = xrealloc(m->key_col, cap * sizeof *m->key_col);
        m->used = xrealloc(m->used, cap);
    }
    m->items[i] = v; m->keys[i] = key; m->key_line[i] = kl; m->key_col[i] = kc; m->used[i] = 0;
}

static void add_anchor(Builder *b, const char *name, YNode *n) {
    if (!name) return;
    b->anchors = xrealloc(b->anchors, (size_t)(b->nanchors + 1) * sizeof *b->anchors);
    b->anchors[b->nanchors++] = (Anchor){xstrdup(name), n, node_count(n)};
}

// A finished node goes to its parent (or becomes the root).
static void attach(Builder *b, YNode *n, int line, int col) {
    b->pending = n;
    Frame *f = b->depth ? &b->stack[b->depth - 1] : NULL;
    if (!f) {
        // A second document would be silently ignored otherwise.
        if (b->root) die_at(b->file, line, col, "only one YAML document is allowed");
        b->root = n;
    } else if (f->node->kind == Y_SEQ) {
        int i = f->node->n;
        if ((i & (i - 1)) == 0) f->node->items = xrealloc(f->node->items, (i ? 2 * (size_t)i : 1) * sizeof *f->node->items);
        f->node->items[f->node->n++] = n;
    } else if (!f->key) {
        if (n->kind != Y_SCALAR) die_at(b->file, line, col, "mapping keys must be plain scalars");
        // The key becomes a string and its node goes away: an alias could not refer to it.
        if (b->nanchors && b->anchors[b->nanchors - 1].node == n)
            die_at(b->file, line, col, "an anchor on a mapping key is not supported ('&%s')", b->anchors[b->nanchors - 1].name);
        f->key = n->str; n->str = NULL; f->kl = line; f->kc = col;
        y_free(n);
    } else {
        map_append(f->node, f->key, f->kl, f->kc, n);
        f->key = NULL;
    }
    b->pending = NULL;
}

static void count_nodes(Builder *b, long k, int line, int col) {
    b->nodes += k;
    if (b->nodes > MAX_NODES) die_at(b->file, line, col, "aliases expand to more than %d nodes", MAX_NODES);
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
    Builder b = {.file = intern(name)};
    if (!yaml_parser_initialize(&b.p)) die_internal("libyaml: cannot initialize parser");
    hold(&b, builder_release);
    yaml_parser_set_input_string(&b.p, (const unsigned char *)text, len);
    yaml_event_t ev;
    int done = 0;
    while (!done) {
        if (!yaml_parser_parse(&b.p, &b.ev)) parser_die(&b.p, b.file);
        b.have_ev = 1;
        ev = b.ev;
        int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_SCALAR_EVENT: {
            YNode *n = node_new(Y_SCALAR, b.file, line, col);
            n->str = xmalloc(ev.data.scalar.length + 1);
            memcpy(n->str, ev.data.scalar.value, ev.data.scalar.length);
            n->str[ev.data.scalar.length] = 0;
            n->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
            add_anchor(&b, (const char *)ev.data.scalar.anchor, n);
            attach(&b, n, line, col);
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            if (b.depth >= MAX_DEPTH) die_at(b.file, line, col, "nesting too deep (more than %d levels)", MAX_DEPTH);
            int seq = ev.type == YAML_SEQUENCE_START_EVENT;
            const yaml_char_t *anchor = seq ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor;
            b.stack[b.depth++] = (Frame){node_new(seq ? Y_SEQ : Y_MAP, b.file, line, col),
                                         anchor ? xstrdup((const char *)anchor) : NULL, NULL, 0, 0};
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            Frame f = b.stack[b.depth - 1];
            if (f.node->kind == Y_MAP) check_dup_keys(f.node);
            b.depth--;
            b.pending = f.node;
            add_anchor(&b, f.anchor, f.node);
            free(f.anchor);
            attach(&b, f.node, f.node->line, f.node->col);
            break;
        }
        case YAML_ALIAS_EVENT: {
            const char *a = (const char *)ev.data.alias.anchor;
            int k = b.nanchors - 1; // the latest definition of a repeated anchor wins
            while (k >= 0 && strcmp(b.anchors[k].name, a)) k--;
            if (k < 0) die_at(b.file, line, col, "undefined alias '*%s'", a);
            count_nodes(&b, b.anchors[k].size, line, col);
            attach(&b, y_clone(b.anchors[k].node), line, col);
            break;
        }
        default: break;
        }
        yaml_event_delete(&b.ev);
        b.have_ev = 0;
    }
    // An empty file is an empty mapping: the reader then reports the missing keys.
    YNode *root = b.root ? b.root : node_new(Y_MAP, b.file, 1, 1);
    b.root = NULL;
    hold_drop(&b);
    builder_release(&b); // the parser and the anchor names
    return root;
}

YNode *y_load_string(const char *text, const char *name) { return load(text, strlen(text), name ? name : "<string>"); }
YNode *y_load_file(const char *path) {
    size_t len, mark = hold_mark();
    char *text = hold(read_file(path, &len), free);
    YNode *n = load(text, len, path);
    hold_unwind(mark);
    return n;
}

void y_free(YNode *n) {
    if (!n) return;
    free(n->str);
    for (int i = 0; i < n->n; i++) { y_free(n->items[i]); if (n->keys) free(n->keys[i]); }
    free(n->items); free(n->keys); free(n->key_line); free(n->key_col); free(n->used);
    free(n);
}

void y_release(void *n) { y_free(n); }

YNode *y_clone(const YNode *n) {
    if (!n) return NULL;
    YNode *c = node_new(n->kind, n->file, n->line, n->col);
    c->quoted = n->quoted;
    if (n->str) c->str = xstrdup(n->str);
    c->n = n->n;
    if (n->n) {
        c->items = xmalloc((size_t)n->n * sizeof *c->items);
        for (int i = 0; i < n->n; i++) c->items[i] = y_clone(n->items[i]);
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
char *y_dump(const YNode *n) {
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

// Levenshtein distance, capped at 99 (keys are short).
static int edit_distance(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    if (na > 64 || nb > 64) return 99;
    int d[65][65];
    for (size_t i = 0; i <= na; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]), del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[na][nb];
}

void y_check_keys(const YNode *map, const char *const *known, const char *section) {
    if (!map || map->kind != Y_MAP) return;
    for (int i = 0; i < map->n; i++) {
        int ok = 0, best = 99;
        const char *near = NULL;
        for (int k = 0; known[k] && !ok; k++) {
            ok = !strcmp(map->keys[i], known[k]);
            int e = edit_distance(map->keys[i], known[k]);
            if (e < best) { best = e; near = known[k]; }
        }
        if (ok) continue;
        char hint[128] = "";
        int len = (int)strlen(map->keys[i]);
        if (near && (best <= 2 || best <= len / 3)) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
        if (map->key_line[i] <= 0) y_die(map->items[i], "unknown key '%s' in '%s'%s", map->keys[i], section, hint);
        die_at(map->file, map->key_line[i], map->key_col[i], "unknown key '%s' in '%s'%s", map->keys[i], section, hint);
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
    if (i >= 0) { y_free(map->items[i]); map->items[i] = val; map->used[i] = 0; return; }
    i = map->n++;
    map->items = xrealloc(map->items, (size_t)map->n * sizeof *map->items);
    map->keys = xrealloc(map->keys, (size_t)map->n * sizeof *map->keys);
    map->key_line = xrealloc(map->key_line, (size_t)map->n * sizeof *map->key_line);
    map->key_col = xrealloc(map->key_col, (size_t)map->n * sizeof *map->key_col);
    map->used = xrealloc(map->used, (size_t)map->n);
    map->items[i] = val; map->keys[i] = xstrdup(key);
    map->key_line[i] = 0; map->key_col[i] = 0; map->used[i] = 0;
}
void y_map_del(YNode *map, const char *key) {
    if (!map || map->kind != Y_MAP) return;
    int i = map_find(map, key);
    if (i < 0) return;
    y_free(map->items[i]);
    free(map->keys[i]);
    for (int j = i + 1; j < map->n; j++) {
        map->items[j - 1] = map->items[j]; map->keys[j - 1] = map->keys[j];
        map->key_line[j - 1] = map->key_line[j]; map->key_col[j - 1] = map->key_col[j];
        map->used[j - 1] = map->used[j];
    }
    map->n--;
}
YNode *y_peek(const YNode *map, const char *key) {
    if (!map || map->kind != Y_MAP) return NULL;
    int i = map_find(map, key);
    return i < 0 ? NULL : map->items[i];
}
void y_use(YNode *map, int i) { map->used[i] = 1; }
void y_set_pos(YNode *n, const YNode *pos) { n->file = pos->file; n->line = pos->line; n->col = pos->col; }
void y_set_str(YNode *scalar, const char *s) {
    char *t = xstrdup(s); // s may point into scalar->str
    free(scalar->str);
    scalar->str = t;
}
void y_seq_push(YNode *seq, YNode *val) {
    seq->items = xrealloc(seq->items, (size_t)(seq->n + 1) * sizeof *seq->items);
    seq->items[seq->n++] = val;
}

void y_set_path(YNode *root, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) die_input("--set %s: expected key=value (e.g. train.lr=1e-4)", assignment);
    size_t klen = (size_t)(eq - assignment), mark = hold_mark();
    char *path = hold(xmalloc(klen + 1), free);
    memcpy(path, assignment, klen);
    path[klen] = 0;
    // The value is YAML, so lists ("[q,k]") and quoting work; its errors name the --set.
    char name[600];
    snprintf(name, sizeof name, "--set %s", path);
    YNode *val = y_load_string(eq + 1, name);
    // An empty value loads as an empty mapping (empty document); mean the empty scalar.
    if (!eq[1]) { y_free(val); val = node_new(Y_SCALAR, intern(name), 1, 1); val->str = xstrdup(""); }
    hold(val, y_release); // until it is in the tree
    if (root->kind != Y_MAP) die_input("--set %s: the config is not a mapping", path);
    YNode *cur = root;
    char *parts = hold(xstrdup(path), free);
    for (char *tok = parts;;) {
        char *dot = strchr(tok, '.');
        if (dot) *dot = 0;
        if (!*tok) die_input("--set %s: empty key component", path);
        if (!dot) { hold_drop(val); y_map_put(cur, tok, val); break; }
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
    hold_unwind(mark); // parts, path
}
