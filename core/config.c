// config.c — see config.h. Reading is one pass over the tree with typed getters that know
// the key path (so messages say "train.lr: ..."), followed by y_check_unused on every
// section, then a fresh canonical tree is built from the parsed values: that tree is the
// resolved config (defaults visible, paths absolute) stored in the run log.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // realpath, mkdtemp (the Makefile defines it too)
#endif
#include "config.h"
#include "methods.h"
#include "optim.h"
#include "quant.h"
#include "traindocs.h"
#include "util.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>


// ---- typed getters -------------------------------------------------------------------
typedef struct { YNode *map; const char *sec; } Sec; // a section and its dotted name

static void key_path(char *buf, size_t n, const Sec *s, const char *key) {
    if (s->sec && *s->sec) snprintf(buf, n, "%s.%s", s->sec, key);
    else snprintf(buf, n, "%s", key);
}
// A key present but empty (`model:`), `~` or `null` is a missing value, not a string.
static int is_null(const YNode *v) {
    return v->kind == Y_SCALAR && !v->quoted &&
           (!v->str[0] || !strcmp(v->str, "~") || !strcmp(v->str, "null") || !strcmp(v->str, "Null") || !strcmp(v->str, "NULL"));
}
static YNode *get(const Sec *s, const char *key, int required) {
    char kp[128];
    key_path(kp, sizeof kp, s, key);
    YNode *v = s->map ? y_get(s->map, key) : NULL;
    if (!v) {
        if (required) y_die(s->map, "missing required key '%s'", kp);
        return NULL;
    }
    if (is_null(v)) {
        if (required) y_die(v, "%s: missing value", kp);
        y_die(v, "%s: missing value (omit the key to use the default)", kp);
    }
    return v;
}
static const char *kind_name(YKind k) { return k == Y_MAP ? "a mapping" : k == Y_SEQ ? "a list" : "a scalar"; }
static const char *get_str(const Sec *s, const char *key, const char *def, int required) {
    YNode *v = get(s, key, required);
    if (!v) return def;
    if (v->kind != Y_SCALAR) { char kp[128]; key_path(kp, sizeof kp, s, key); y_die(v, "%s: expected a string, got %s", kp, kind_name(v->kind)); }
    return v->str;
}
static long get_int(const Sec *s, const char *key, long def, long lo, long hi) {
    YNode *v = get(s, key, 0);
    if (!v) return def;
    char kp[128];
    key_path(kp, sizeof kp, s, key);
    if (v->kind != Y_SCALAR) y_die(v, "%s: expected an integer, got %s", kp, kind_name(v->kind));
    char *end;
    errno = 0;
    long x = strtol(v->str, &end, 10);
    if (v->quoted || !v->str[0] || *end || errno) y_die(v, "%s: expected an integer, got '%s'", kp, v->str);
    if (x < lo || x > hi) {
        if (hi == LONG_MAX) y_die(v, "%s: must be >= %ld, got %ld", kp, lo, x);
        y_die(v, "%s: must be in [%ld, %ld], got %ld", kp, lo, hi, x);
    }
    return x;
}
// lo_open/hi_open: exclusive bounds. NAN bounds mean unbounded.
static double get_num(const Sec *s, const char *key, double def, double lo, int lo_open, double hi, int hi_open) {
    YNode *v = get(s, key, 0);
    if (!v) return def;
    char kp[128];
    key_path(kp, sizeof kp, s, key);
    if (v->kind != Y_SCALAR) y_die(v, "%s: expected a number, got %s", kp, kind_name(v->kind));
    char *end;
    double x = strtod(v->str, &end);
    if (v->quoted || !v->str[0] || *end || !isfinite(x) || strpbrk(v->str, "xXnN"))
        y_die(v, "%s: expected a number, got '%s'", kp, v->str);
    int bad = (!isnan(lo) && (lo_open ? x <= lo : x < lo)) || (!isnan(hi) && (hi_open ? x >= hi : x > hi));
    if (bad) {
        char range[96];
        if (isnan(hi)) snprintf(range, sizeof range, "%s %g", lo_open ? ">" : ">=", lo);
        else snprintf(range, sizeof range, "in %c%g, %g%c", lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
        y_die(v, "%s: must be %s, got %s", kp, range, v->str);
    }
    return x;
}
static int get_bool(const Sec *s, const char *key, int def) {
    YNode *v = get(s, key, 0);
    if (!v) return def;
    if (v->kind == Y_SCALAR && !v->quoted) {
        const char *t = v->str;
        if (!strcmp(t, "true") || !strcmp(t, "True") || !strcmp(t, "yes")) return 1;
        if (!strcmp(t, "false") || !strcmp(t, "False") || !strcmp(t, "no")) return 0;
    }
    char kp[128];
    key_path(kp, sizeof kp, s, key);
    if (v->kind != Y_SCALAR) y_die(v, "%s: expected true or false, got %s", kp, kind_name(v->kind));
    y_die(v, "%s: expected true or false, got '%s'", kp, v->str);
}
static const char *get_choice(const Sec *s, const char *key, const char *def, const char *const *choices) {
    const char *x = get_str(s, key, def, 0);
    char list[256] = "";
    size_t o = 0;
    for (int i = 0; choices[i]; i++) {
        if (!strcmp(x, choices[i])) return choices[i];
        o += snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", choices[i]);
    }
    char kp[128];
    key_path(kp, sizeof kp, s, key);
    y_die(y_get(s->map, key), "%s: unknown value '%s' (valid: %s)", kp, x, list);
}
// A section: absent → empty (all defaults), present → must be a mapping.
static Sec section(YNode *root, const char *name, int required) {
    Sec top = {root, ""};
    YNode *v = get(&top, name, required);
    if (v && v->kind != Y_MAP) y_die(v, "%s: expected a mapping, got %s", name, kind_name(v->kind));
    return (Sec){v, name};
}
static void check_unused(const Sec *s) { if (s->map) y_check_unused(s->map, s->sec); }

// Data path: resolved, must exist, stored absolute.
static void get_path(const Sec *s, const char *key, const char *dir, char *out, size_t outsz, int required) {
    YNode *v = s->map ? y_get(s->map, key) : NULL;
    const char *rel = get_str(s, key, NULL, required);
    if (!rel) { out[0] = 0; return; }
    char buf[4096];
    resolve_path(rel, dir, buf, sizeof buf);
    if (!file_exists(buf)) {
        char kp[128];
        key_path(kp, sizeof kp, s, key);
        y_die(v, "%s: file not found: %s (looked in %s and %s)", kp, rel, dir && *dir ? dir : ".", data_root());
    }
    char *abs = realpath(buf, NULL);
    snprintf(out, outsz, "%s", abs ? abs : buf);
    free(abs);
}

// data.train: one path (read as before), or a list of entries — a path, or {path, format,
// text_key} — of text / jsonl / json files (core/traindocs.h); data.text_key is the default key.
static void read_train_files(RunConfig *c, const Sec *d) {
    YNode *tn = get(d, "train", 1);
    YNode *kn = get(d, "text_key", 0);
    const char *key = get_str(d, "text_key", "text", 0);
    if (kn && (!key[0] || strlen(key) >= sizeof c->data.text_key)) y_die(kn, "data.text_key: expected a non-empty key (< 64 bytes)");
    if (kn && c->data.format != DATA_TEXT) y_die(kn, "data.text_key: only used with data.format text (jsonl / json training files)");
    snprintf(c->data.text_key, sizeof c->data.text_key, "%s", key);
    if (tn->kind == Y_SCALAR) {
        get_path(d, "train", c->dir, c->data.train, sizeof c->data.train, 1);
        int fmt = doc_format_of_path(c->data.train);
        if (c->data.format != DATA_TEXT || fmt == DOC_TEXT) return; // as it always was
        c->data.ntrain = 1;
        c->data.train_files = xcalloc(1, sizeof *c->data.train_files);
        snprintf(c->data.train_files[0].path, sizeof c->data.train_files[0].path, "%s", c->data.train);
        c->data.train_files[0].format = fmt;
        snprintf(c->data.train_files[0].text_key, sizeof c->data.train_files[0].text_key, "%s", key);
        return;
    }
    if (tn->kind != Y_SEQ) y_die(tn, "data.train: expected a file or a list of files, got a mapping");
    if (c->data.format != DATA_TEXT) y_die(tn, "data.train: a list of files needs data.format text (alpaca data is one file)");
    if (!tn->n) y_die(tn, "data.train: empty list");
    c->data.ntrain = tn->n;
    c->data.train_listed = 1;
    c->data.train_files = xcalloc((size_t)tn->n, sizeof *c->data.train_files);
    for (int i = 0; i < tn->n; i++) {
        YNode *it = tn->items[i];
        struct DataFile *f = &c->data.train_files[i];
        char sec[48];
        snprintf(sec, sizeof sec, "data.train[%d]", i);
        YNode wrap = {0}; // a bare path is {path: it}
        char *wk[1] = {"path"};
        YNode *wi[1] = {it};
        int wl[1] = {it->line}, wc[1] = {it->col};
        unsigned char wu[1] = {0};
        if (it->kind == Y_SCALAR) {
            wrap = *it;
            wrap.kind = Y_MAP; wrap.n = 1; wrap.keys = wk; wrap.items = wi; wrap.key_line = wl; wrap.key_col = wc;
            wrap.used = wu;
        } else if (it->kind != Y_MAP) {
            y_die(it, "%s: expected a path or {path: ..., format: text|jsonl|json, text_key: ...}", sec);
        }
        Sec e = {it->kind == Y_SCALAR ? &wrap : it, sec};
        get_path(&e, "path", c->dir, f->path, sizeof f->path, 1);
        YNode *fn = get(&e, "format", 0);
        if (fn && fn->kind == Y_SCALAR && !strcmp(fn->str, "alpaca"))
            y_die(fn, "%s.format: alpaca data is one file under data.format: alpaca, not an entry of a list", sec);
        const char *fmt = get_choice(&e, "format", DOC_FORMAT_NAMES[doc_format_of_path(f->path)], DOC_FORMAT_NAMES);
        for (int k = 0; DOC_FORMAT_NAMES[k]; k++) if (!strcmp(fmt, DOC_FORMAT_NAMES[k])) f->format = k;
        YNode *ek = get(&e, "text_key", 0);
        const char *fk = get_str(&e, "text_key", key, 0);
        if (ek && (!fk[0] || strlen(fk) >= sizeof f->text_key)) y_die(ek, "%s.text_key: expected a non-empty key (< 64 bytes)", sec);
        if (ek && f->format == DOC_TEXT) y_die(ek, "%s.text_key: only used with format jsonl or json", sec);
        snprintf(f->text_key, sizeof f->text_key, "%s", fk);
        f->key_given = ek != NULL;
        if (it->kind == Y_MAP) check_unused(&e);
    }
    snprintf(c->data.train, sizeof c->data.train, "%s", c->data.train_files[0].path);
}

// ---- method --------------------------------------------------------------------------
static const char *const BASES[] = {"rtn", "gptq", "nf4", NULL};
#define MKN(id) METHOD_KEY_NAMES[MKI_##id] // a method key's name (core/linear.h lists them)

static void read_method(RunConfig *c, YNode *root) {
    Sec s = section(root, "method", 1);
    YNode *name_node = get(&s, "name", 1);
    const char *name = get_str(&s, "name", NULL, 1);
    // Check the name here so the error has a position (method_defaults only has the name).
    const char *const *names = method_names();
    int known = 0;
    char list[512] = "";
    size_t o = 0;
    for (int i = 0; names[i]; i++) {
        if (!strcmp(names[i], name)) known = 1;
        o += snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", names[i]);
    }
    if (!known) y_die(name_node, "method.name: unknown method '%s' (valid: %s)", name, list);
    MethodCfg *m = &c->method;
    method_defaults(m, name);
    unsigned set = 0;
    for (int k = 0; k < MK_COUNT; k++) if (s.map && y_get(s.map, METHOD_KEY_NAMES[k])) set |= 1u << k;
    if (set & MK_RANK) m->rank = (int)get_int(&s, MKN(RANK), m->rank, 1, 1 << 16);
    if (set & MK_ALPHA) m->alpha = (float)get_num(&s, MKN(ALPHA), m->alpha, 0, 1, NAN, 0);
    if (set & MK_DROPOUT) m->dropout = (float)get_num(&s, MKN(DROPOUT), m->dropout, 0, 0, 1, 1);
    if (set & MK_TARGETS) {
        YNode *t = get(&s, MKN(TARGETS), 0);
        if (t->kind != Y_SEQ) y_die(t, "method.targets: expected a list of projections, e.g. [q, k, v]");
        if (!t->n) y_die(t, "method.targets: empty list");
        m->targets = 0;
        for (int i = 0; i < t->n; i++) {
            YNode *it = t->items[i];
            int p = -1;
            if (it->kind == Y_SCALAR) for (int q = 0; q < N_PROJ; q++) if (!strcmp(it->str, PROJ_NAMES[q])) p = q;
            if (p < 0) y_die(it, "method.targets: unknown projection '%s' (valid: q, k, v, o, gate, up, down, head)",
                             it->kind == Y_SCALAR ? it->str : "?");
            if (m->targets & (1u << p)) y_die(it, "method.targets: '%s' listed twice", it->str);
            m->targets |= 1u << p;
        }
    }
    if (set & MK_BITS) {
        m->bits = (int)get_int(&s, MKN(BITS), m->bits, 2, 8);
        if (m->bits != 2 && m->bits != 3 && m->bits != 4 && m->bits != 8)
            y_die(y_get(s.map, MKN(BITS)), "method.bits: must be 2, 3, 4 or 8, got %d", m->bits);
    }
    if (set & MK_GROUP) {
        m->group_size = (int)get_int(&s, MKN(GROUP), m->group_size, -1, 1 << 20);
        if (m->group_size == 0) y_die(y_get(s.map, MKN(GROUP)), "method.group_size: must be -1 (whole row) or >= 1, got 0");
    }
    if (set & MK_INIT) snprintf(m->init, sizeof m->init, "%s", get_choice(&s, MKN(INIT), m->init, QUANT_INIT_NAMES));
    if (set & MK_LSQ_SCALE) m->lsq_grad_scale = get_bool(&s, MKN(LSQ_SCALE), m->lsq_grad_scale);
    if (set & MK_TILE) m->tile_rows = (int)get_int(&s, MKN(TILE), m->tile_rows, 1, INT_MAX);
    if (set & MK_BASE) snprintf(m->base, sizeof m->base, "%s", get_choice(&s, MKN(BASE), m->base, BASES));
    if (set & MK_LOFTQ_ITERS) m->loftq_iters = (int)get_int(&s, MKN(LOFTQ_ITERS), m->loftq_iters, 0, 1000);
    if (set & MK_ACT_ORDER) m->act_order = get_bool(&s, MKN(ACT_ORDER), m->act_order);
    if (set & MK_DAMP) m->damp = (float)get_num(&s, MKN(DAMP), m->damp, 0, 0, NAN, 0);
    if (set & MK_CALIB) m->calib_windows = (int)get_int(&s, MKN(CALIB), m->calib_windows, 1, INT_MAX);
    if (set & MK_QUANT_LR) m->quant_lr = get_num(&s, MKN(QUANT_LR), 0, 0, 1, NAN, 0);
    m->set = set;
    // method.init: gptq is a model-level pass (l4q only); its calibration keys mean nothing
    // to the formula inits of a method that also takes them.
    if (!strcmp(m->init, "gptq") && (set & MK_INIT) && strcmp(m->name, "l4q"))
        y_die(y_get(s.map, MKN(INIT)), "method.init: gptq is only for method l4q (valid for %s: l4q, minmax, absmax, lsq+)", m->name);
    if (!strcmp(m->init, "gptq") && !quant_init_pass_find("gptq"))
        y_die(y_get(s.map, MKN(INIT)), "method.init: gptq needs the GPTQ pass, which this program does not register");
    unsigned mkeys = method_find(m->name)->keys;
    if ((mkeys & MK_INIT) && (mkeys & MK_DAMP) && strcmp(m->init, "gptq"))
        for (int k = 0; k < MK_COUNT; k++)
            if ((set & (1u << k) & (MK_ACT_ORDER | MK_DAMP | MK_CALIB)))
                y_die(y_get(s.map, METHOD_KEY_NAMES[k]), "method.%s: only used with method.init: gptq", METHOD_KEY_NAMES[k]);
    // Keys a method does not use are errors (README "Training"): report the first at its position.
    const char *bad = method_bad_key(m);
    if (bad) {
        for (int i = 0; i < s.map->n; i++)
            if (!strcmp(s.map->keys[i], bad)) {
                YNode tmp = *s.map;
                tmp.line = s.map->key_line[i] > 0 ? s.map->key_line[i] : s.map->items[i]->line;
                tmp.col = s.map->key_line[i] > 0 ? s.map->key_col[i] : s.map->items[i]->col;
                if (s.map->key_line[i] <= 0) tmp.file = s.map->items[i]->file;
                y_die(&tmp, "method.%s: not used by method '%s'", bad, m->name);
            }
        y_die(s.map, "method.%s: not used by method '%s'", bad, m->name);
    }
    check_unused(&s);
}

// ---- the whole config ----------------------------------------------------------------
static const char *const FORMATS[] = {"text", "alpaca", NULL};
static const char *const SCHEDULES[] = {"constant", "cosine", NULL};
static const char *const OPTIM_STATES[] = {"fp32", "bf16", NULL};
static const char *const DEVICES[] = {"cpu", "cuda", NULL};
static const char *const PRECISIONS[] = {"fp32", "bf16", NULL};

// Shortest decimal that reads back to the same double, so the dump is exact and tidy.
static void fmt_num(char *buf, size_t n, double x) {
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, x);
        if (strtod(buf, NULL) == x) break;
    }
    // "1e-04" → "1e-4" would still be read back; but a bare "1" must stay a number that a
    // float reader accepts, which it does. Make sure YAML sees a number, not "inf".
}
static void fmt_float(char *buf, size_t n, float x) {
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, n, "%.*g", p, (double)x);
        if ((float)strtod(buf, NULL) == x) break;
    }
}
static void put_str(YNode *m, const char *k, const char *v) { y_map_put(m, k, y_new_scalar(v)); }
static void put_qstr(YNode *m, const char *k, const char *v) { YNode *s = y_new_scalar(v); s->quoted = 1; y_map_put(m, k, s); }
static void put_int(YNode *m, const char *k, long v) { char b[32]; snprintf(b, sizeof b, "%ld", v); put_str(m, k, b); }
static void put_num(YNode *m, const char *k, double v) { char b[40]; fmt_num(b, sizeof b, v); put_str(m, k, b); }
static void put_flt(YNode *m, const char *k, float v) { char b[40]; fmt_float(b, sizeof b, v); put_str(m, k, b); }
static void put_bool(YNode *m, const char *k, int v) { put_str(m, k, v ? "true" : "false"); }

static YNode *build_resolved(const RunConfig *c) {
    YNode *r = y_new_map();
    put_str(r, "model", c->model);
    if (c->tokenizer[0]) put_str(r, "tokenizer", c->tokenizer); // absent: the model's own
    YNode *d = y_new_map();
    put_str(d, "format", FORMATS[c->data.format]);
    if (!c->data.train_listed) put_str(d, "train", c->data.train); // one file: as it always was
    else {
        YNode *list = y_new_seq();
        for (int i = 0; i < c->data.ntrain; i++) {
            const struct DataFile *f = &c->data.train_files[i];
            YNode *e = y_new_map();
            put_str(e, "path", f->path);
            put_str(e, "format", DOC_FORMAT_NAMES[f->format]);
            if (f->key_given) put_str(e, "text_key", f->text_key);
            y_seq_push(list, e);
        }
        y_map_put(d, "train", list);
    }
    if (strcmp(c->data.text_key, "text")) put_str(d, "text_key", c->data.text_key); // given only: run ids stay
    if (c->data.val[0]) put_str(d, "val", c->data.val);
    if (c->data.format == DATA_ALPACA) {
        put_bool(d, "mask_inputs", c->data.mask_inputs);
        put_int(d, "val_examples", c->data.val_examples);
        put_int(d, "max_examples", c->data.max_examples);
    }
    y_map_put(r, "data", d);

    // Method: every key the method takes, so the defaults are visible and the dump
    // reloads without "not used" errors.
    const MethodCfg *m = &c->method;
    YNode *mm = y_new_map();
    put_str(mm, "name", m->name);
    unsigned keys = method_find(m->name)->keys;
    // A quantizer init other than gptq has no calibration: its keys are left out (and the
    // run ids of those configs stay what they were).
    if ((keys & MK_INIT) && strcmp(m->init, "gptq")) keys &= ~(unsigned)(MK_ACT_ORDER | MK_DAMP | MK_CALIB);
    for (int k = 0; k < MK_COUNT; k++) {
        if (!(keys & (1u << k))) continue;
        const char *key = METHOD_KEY_NAMES[k];
        switch (1u << k) {
        case MK_RANK: put_int(mm, key, m->rank); break;
        case MK_ALPHA: put_flt(mm, key, m->alpha); break;
        case MK_DROPOUT: put_flt(mm, key, m->dropout); break;
        case MK_TARGETS: {
            YNode *t = y_new_seq();
            for (int p = 0; p < N_PROJ; p++) if (m->targets & (1u << p)) y_seq_push(t, y_new_scalar(PROJ_NAMES[p]));
            y_map_put(mm, key, t);
            break;
        }
        case MK_BITS: put_int(mm, key, m->bits); break;
        case MK_GROUP: put_int(mm, key, m->group_size); break;
        case MK_INIT: put_str(mm, key, m->init); break;
        case MK_LSQ_SCALE: put_bool(mm, key, m->lsq_grad_scale); break;
        case MK_TILE: put_int(mm, key, m->tile_rows); break;
        case MK_BASE: put_str(mm, key, m->base); break;
        case MK_LOFTQ_ITERS: put_int(mm, key, m->loftq_iters); break;
        case MK_ACT_ORDER: put_bool(mm, key, m->act_order); break;
        case MK_DAMP: put_flt(mm, key, m->damp); break;
        case MK_CALIB: put_int(mm, key, m->calib_windows); break;
        case MK_QUANT_LR: if (m->quant_lr > 0) put_num(mm, key, m->quant_lr); break; // given only: run ids stay
        }
    }
    y_map_put(r, "method", mm);

    YNode *t = y_new_map();
    put_int(t, "steps", c->train.steps);
    put_int(t, "micro_batch", c->train.micro_batch);
    put_int(t, "accum", c->train.accum);
    put_int(t, "seq_len", c->train.seq_len);
    put_num(t, "lr", c->train.lr);
    put_str(t, "schedule", c->train.schedule_name);
    put_num(t, "warmup", c->train.warmup);
    put_num(t, "weight_decay", c->train.weight_decay);
    put_num(t, "clip", c->train.clip);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->train.seed);
    put_str(t, "seed", seed);
    put_int(t, "threads", c->train.threads);
    put_num(t, "beta1", c->train.beta1);
    put_num(t, "beta2", c->train.beta2);
    put_num(t, "eps", c->train.eps);
    if (c->train.optim_state != DT_F32) put_str(t, "optim_state", dtype_name(c->train.optim_state)); // run ids of fp32 runs stay
    put_int(t, "checkpoint_every", c->train.checkpoint_every);
    if (c->train.device != DEV_CPU) put_str(t, "device", DEVICES[c->train.device]);           // run ids of cpu runs stay
    if (c->train.precision != PREC_FP32) put_str(t, "precision", PRECISIONS[c->train.precision]); // and of fp32 runs
    y_map_put(r, "train", t);

    YNode *e = y_new_map();
    put_int(e, "every", c->eval.every);
    YNode *tasks = y_new_seq();
    for (int i = 0; i < c->eval.ntasks; i++) y_seq_push(tasks, y_new_scalar(c->eval.tasks[i]));
    y_map_put(e, "tasks", tasks);
    put_int(e, "val_batches", c->eval.val_batches);
    put_int(e, "limit", c->eval.limit);
    if (c->eval.nlimits > 0) { // only when given: run ids of configs without it stay as they were
        YNode *lm = y_new_map();
        for (int i = 0; i < c->eval.nlimits; i++) put_int(lm, c->eval.limit_names[i], c->eval.limit_values[i]);
        y_map_put(e, "limits", lm);
    }
    y_map_put(r, "eval", e);
    put_qstr(r, "out", c->out);
    return r;
}

void run_config_release(void *c) { run_config_free(c); }

RunConfig *run_config_from_tree(YNode *root, const char *base_dir, const char *name_hint) {
    size_t mark = hold_mark();
    hold(root, y_release);
    RunConfig *c = hold(xcalloc(1, sizeof *c), run_config_release);
    snprintf(c->dir, sizeof c->dir, "%s", base_dir && *base_dir ? base_dir : ".");
    if (root->kind != Y_MAP) y_die(root, "the config must be a mapping of sections (model, data, method, train, ...)");
    Sec top = {root, ""};

    get_path(&top, "model", c->dir, c->model, sizeof c->model, 1);
    // Optional: without it the model's own tokenizer is used (GGUF embedded, an HF directory's).
    get_path(&top, "tokenizer", c->dir, c->tokenizer, sizeof c->tokenizer, 0);

    Sec d = section(root, "data", 1);
    c->data.format = !strcmp(get_choice(&d, "format", "text", FORMATS), "alpaca") ? DATA_ALPACA : DATA_TEXT;
    read_train_files(c, &d);
    get_path(&d, "val", c->dir, c->data.val, sizeof c->data.val, 0);
    if (c->data.format == DATA_ALPACA) {
        c->data.mask_inputs = get_bool(&d, "mask_inputs", 1);
        c->data.val_examples = (int)get_int(&d, "val_examples", 100, 0, INT_MAX);
        c->data.max_examples = (int)get_int(&d, "max_examples", 0, 0, INT_MAX);
        if (!c->data.val[0] && c->data.val_examples == 0)
            y_die(y_get(d.map, "val_examples"), "data.val_examples: must be >= 1 when data.val is absent (the hold-out is the validation set)");
    } else {
        static const char *const ALPACA_ONLY[] = {"mask_inputs", "val_examples", "max_examples"};
        for (int i = 0; i < 3; i++) {
            YNode *v = y_get(d.map, ALPACA_ONLY[i]);
            if (v) y_die(v, "data.%s: only used with data.format alpaca", ALPACA_ONLY[i]);
        }
    }
    check_unused(&d);

    read_method(c, root);

    Sec t = section(root, "train", 0);
    c->train.steps = get_int(&t, "steps", 200, 0, LONG_MAX); // 0: no fine-tuning (PTQ or fp rows)
    c->train.micro_batch = (int)get_int(&t, "micro_batch", 8, 1, 1 << 20);
    c->train.accum = (int)get_int(&t, "accum", 1, 1, 1 << 20);
    c->train.seq_len = (int)get_int(&t, "seq_len", 0, 0, 1 << 20);
    c->train.lr = get_num(&t, "lr", 1e-4, 0, 1, NAN, 0);
    snprintf(c->train.schedule_name, sizeof c->train.schedule_name, "%s", get_choice(&t, "schedule", "cosine", SCHEDULES));
    c->train.schedule = !strcmp(c->train.schedule_name, "cosine") ? SCHED_COSINE : SCHED_CONSTANT;
    c->train.warmup = get_num(&t, "warmup", 0.1, 0, 0, NAN, 0);
    if (c->train.warmup >= 1 && c->train.warmup != floor(c->train.warmup))
        y_die(y_get(t.map, "warmup"), "train.warmup: a value >= 1 is a step count and must be an integer, got %g", c->train.warmup);
    c->train.weight_decay = get_num(&t, "weight_decay", 0.01, 0, 0, NAN, 0);
    c->train.clip = get_num(&t, "clip", 1.0, 0, 0, NAN, 0);
    c->train.seed = (uint64_t)get_int(&t, "seed", 0, 0, LONG_MAX);
    c->train.threads = (int)get_int(&t, "threads", 0, 0, 4096);
    c->train.beta1 = get_num(&t, "beta1", 0.9, 0, 0, 1, 1);
    c->train.beta2 = get_num(&t, "beta2", 0.999, 0, 0, 1, 1);
    c->train.eps = get_num(&t, "eps", 1e-8, 0, 1, NAN, 0);
    c->train.optim_state = !strcmp(get_choice(&t, "optim_state", run_config_omitted_default("train.optim_state"), OPTIM_STATES), "bf16") ? DT_BF16 : DT_F32;
    c->train.checkpoint_every = get_int(&t, "checkpoint_every", 0, 0, LONG_MAX);
    c->train.device = !strcmp(get_choice(&t, "device", run_config_omitted_default("train.device"), DEVICES), "cuda") ? DEV_CUDA : DEV_CPU;
    c->train.precision = !strcmp(get_choice(&t, "precision", run_config_omitted_default("train.precision"), PRECISIONS), "bf16") ? PREC_BF16 : PREC_FP32;
    check_unused(&t);

    Sec e = section(root, "eval", 0);
    c->eval.every = get_int(&e, "every", 50, 0, LONG_MAX);
    YNode *tasks = get(&e, "tasks", 0);
    if (tasks) {
        if (tasks->kind != Y_SEQ) y_die(tasks, "eval.tasks: expected a list of task names, e.g. [tinystories]");
        c->eval.tasks = xcalloc((size_t)tasks->n + 1, sizeof *c->eval.tasks);
        for (int i = 0; i < tasks->n; i++) {
            YNode *it = tasks->items[i];
            if (it->kind != Y_SCALAR || !it->str[0]) y_die(it, "eval.tasks: expected a task name");
            if (strchr(it->str, ',')) y_die(it, "eval.tasks: '%s' holds a comma: list each task as its own item, e.g. [a, b]", it->str);
            for (int j = 0; j < i; j++)
                if (!strcmp(c->eval.tasks[j], it->str)) y_die(it, "eval.tasks: '%s' listed twice", it->str);
            c->eval.tasks[c->eval.ntasks++] = xstrdup(it->str);
        }
    }
    c->eval.val_batches = get_int(&e, "val_batches", 0, 0, LONG_MAX);
    c->eval.limit = get_int(&e, "limit", 0, 0, LONG_MAX);
    Sec lm = section(e.map, "limits", 0);
    if (lm.map) {
        lm.sec = "eval.limits";
        c->eval.limit_names = xcalloc((size_t)lm.map->n + 1, sizeof *c->eval.limit_names);
        c->eval.limit_values = xcalloc((size_t)lm.map->n + 1, sizeof *c->eval.limit_values);
        for (int i = 0; i < lm.map->n; i++) {
            c->eval.limit_names[c->eval.nlimits++] = xstrdup(lm.map->keys[i]);
            c->eval.limit_values[i] = get_int(&lm, lm.map->keys[i], 0, 0, INT_MAX);
        }
    }
    check_unused(&e);

    const char *out = get_str(&top, "out", NULL, 0);
    if (out) snprintf(c->out, sizeof c->out, "%s", out);
    else snprintf(c->out, sizeof c->out, "runs/%s", name_hint && *name_hint ? name_hint : "run");
    check_unused(&top);

    c->root = build_resolved(c);
    hold_drop(c);
    hold_unwind(mark); // root
    return c;
}

int method_keys_strip(YNode *root, const char *method, const char *const *keep, int nkeep, char *dropped, size_t n) {
    YNode *m = root && root->kind == Y_MAP ? y_get(root, "method") : NULL;
    if (dropped && n) dropped[0] = 0;
    if (!m || m->kind != Y_MAP) return 0;
    int k = 0;
    for (int i = m->n - 1; i >= 0; i--) {
        const char *key = m->keys[i];
        int kept = !strcmp(key, "name") || method_takes(method, key);
        for (int j = 0; j < nkeep && !kept; j++) kept = !strcmp(keep[j], key);
        if (kept) continue;
        if (dropped && n) {
            size_t l = strlen(dropped);
            snprintf(dropped + l, n - l, "%smethod.%s", l ? ", " : "", key);
        }
        y_map_del(m, key);
        k++;
    }
    // y_get above marked "method" used; the loader checks the tree afresh.
    for (int i = 0; i < root->n; i++) if (!strcmp(root->keys[i], "method")) root->used[i] = 0;
    return k;
}

RunConfig *run_config_load(const char *path, char **sets, int nsets) {
    YNode *root = hold(y_load_file(path), y_release);
    if (root->kind != Y_MAP) y_die(root, "the config must be a mapping of sections (model, data, method, train, ...)");
    for (int i = 0; i < nsets; i++) y_set_path(root, sets[i]);
    // --set method.name=X on a config written for another method: drop what X does not take.
    const char *newname = NULL, *keep[64];
    int nkeep = 0;
    for (int i = 0; i < nsets; i++) {
        if (!strncmp(sets[i], "method.name=", 12)) newname = sets[i] + 12;
        else if (!strncmp(sets[i], "method.", 7) && nkeep < 64) {
            static char keys[64][64];
            const char *eq = strchr(sets[i], '=');
            size_t l = eq ? (size_t)(eq - sets[i] - 7) : strlen(sets[i] + 7);
            snprintf(keys[nkeep], sizeof keys[nkeep], "%.*s", (int)(l < 63 ? l : 63), sets[i] + 7);
            keep[nkeep] = keys[nkeep];
            nkeep++;
        }
    }
    if (newname) {
        char dropped[1024];
        if (method_keys_strip(root, newname, keep, nkeep, dropped, sizeof dropped))
            warnf("--set method.name=%s: dropped %s from %s (not taken by '%s')", newname, dropped, path, newname);
    }
    hold_drop(root); // run_config_from_tree takes it
    // Base dir = the config's directory; default out dir = its name without extension.
    char dir[4096], stem[256];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
    RunConfig *c = run_config_from_tree(root, dir, stem);
    snprintf(c->path, sizeof c->path, "%s", path);
    return c;
}

// Also the parser's defaults for these keys (run_config_load), so the two cannot disagree.
const char *run_config_omitted_default(const char *key) {
    static const char *const K[][2] = {{"train.optim_state", "fp32"}, {"train.device", "cpu"}, {"train.precision", "fp32"}};
    for (size_t i = 0; i < sizeof K / sizeof *K; i++)
        if (!strcmp(key, K[i][0])) return K[i][1];
    return NULL;
}

char *run_config_dump(const RunConfig *c) { return y_dump(c->root); }

void run_config_free(RunConfig *c) {
    if (!c) return;
    y_free(c->root);
    for (int i = 0; i < c->eval.ntasks; i++) free(c->eval.tasks[i]);
    free(c->eval.tasks);
    free(c->data.train_files);
    for (int i = 0; i < c->eval.nlimits; i++) free(c->eval.limit_names[i]);
    free(c->eval.limit_names); free(c->eval.limit_values);
    free(c);
}

// One definition of the warmup rule: the schedule's (core/optim.c).
long run_config_warmup_steps(const RunConfig *c) { return warmup_steps(c->train.steps, c->train.warmup); }
