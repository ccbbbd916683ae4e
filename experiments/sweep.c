// sweep.c — see sweep.h. Expansion is pure (spec → list of resolved run configs); the
// run states and the plan come from the run directories themselves. The process
// scheduler that runs them: sweep_run.c.
#include "sweep.h"
#include "methods.h"
#include "runlog_read.h"
#include "util.h"
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_POINTS 100000
#define MAX_AXIS_VALUES 10000

// ---------------------------------------------------------------- tree helpers

// Set dotted `path` in tree to a clone of val. Intermediate maps are created with val's
// position so a later "unknown key" error points into the spec.
static void set_path(YNode *tree, const char *path, const YNode *val) {
    char *parts = hold(xstrdup(path), free);
    YNode *cur = tree;
    for (char *tok = parts;;) {
        char *dot = strchr(tok, '.');
        if (dot) *dot = 0;
        if (!*tok) y_die(val, "'%s': empty key component", path);
        if (!dot) { y_map_put(cur, tok, y_clone(val)); break; }
        YNode *next = y_peek(cur, tok);
        if (!next) {
            next = y_new_map();
            y_set_pos(next, val);
            y_map_put(cur, tok, next);
        } else if (next->kind != Y_MAP) {
            y_die(val, "'%s': '%s' is not a mapping in the base config", path, tok);
        }
        cur = next;
        tok = dot + 1;
    }
    hold_drop(parts);
    free(parts);
}

// Apply a config fragment: keys may be dotted paths or nested sections; nested maps
// merge into existing maps, anything else replaces. `skip` names a reserved key.
static void apply_fragment(YNode *tree, const YNode *frag, const char *prefix, const char *skip) {
    for (int i = 0; i < frag->n; i++) {
        if (!*prefix && skip && !strcmp(frag->keys[i], skip)) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", frag->keys[i]);
        const YNode *v = frag->items[i];
        if (v->kind == Y_MAP && v->n > 0) apply_fragment(tree, v, path, NULL);
        else set_path(tree, path, v);
    }
}

static int is_number(const char *s, double *out) {
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || *end || !isfinite(d)) return 0;
    if (out) *out = d;
    return 1;
}

// A scalar as text for labels, directory names and JSON; lists as "[a,b]".
static void node_text(const YNode *n, char *buf, size_t sz) {
    if (n->kind == Y_SCALAR) { snprintf(buf, sz, "%s", n->str); return; }
    size_t o = 0;
    o += snprintf(buf + o, sz - o, n->kind == Y_SEQ ? "[" : "{");
    for (int i = 0; i < n->n && o < sz; i++) {
        char item[256];
        node_text(n->items[i], item, sizeof item);
        if (n->kind == Y_MAP) o += snprintf(buf + o, sz - o, "%s%s: %s", i ? "," : "", n->keys[i], item);
        else o += snprintf(buf + o, sz - o, "%s%s", i ? "," : "", item);
    }
    if (o < sz) snprintf(buf + o, sz - o, n->kind == Y_SEQ ? "]" : "}");
}

static cJSON *node_json(const YNode *n) {
    if (n->kind == Y_SCALAR) {
        double d;
        if (!n->quoted && is_number(n->str, &d)) return cJSON_CreateNumber(d);
        if (!n->quoted && (!strcmp(n->str, "true") || !strcmp(n->str, "false"))) return cJSON_CreateBool(n->str[0] == 't');
        return cJSON_CreateString(n->str);
    }
    cJSON *o = n->kind == Y_SEQ ? cJSON_CreateArray() : cJSON_CreateObject();
    for (int i = 0; i < n->n; i++) {
        if (n->kind == Y_SEQ) cJSON_AddItemToArray(o, node_json(n->items[i]));
        else cJSON_AddItemToObject(o, n->keys[i], node_json(n->items[i]));
    }
    return o;
}

// ---------------------------------------------------------------- axes

typedef struct {
    char key[256];
    const YNode *key_node;   // for errors
    YNode **vals;            // owned
    int n;
} Axis;

static YNode *scalar_at(const YNode *pos, const char *text) {
    YNode *s = y_new_scalar(text);
    y_set_pos(s, pos);
    return s;
}

// A range {from, to, step} or {from, to, mul}, inclusive of `to` (up to rounding).
static void axis_range(Axis *a, YNode *m) {
    YNode *from = y_req(m, "from"), *to = y_req(m, "to"), *step = y_get(m, "step"), *mul = y_get(m, "mul");
    y_check_unused(m, a->key);
    if (!!step == !!mul) y_die(m, "%s: a range needs exactly one of step (arithmetic) or mul (geometric)", a->key);
    double f = y_float(from), t = y_float(to), s = y_float(step ? step : mul);
    int integral = f == floor(f) && s == floor(s) && !strpbrk(from->str, ".eE") && !strpbrk((step ? step : mul)->str, ".eE");
    if (step && (s <= 0 || t < f)) y_die(step, "%s: step must be > 0 and to >= from", a->key);
    if (mul && (s <= 1 || f <= 0 || t < f)) y_die(mul, "%s: mul must be > 1, from > 0 and to >= from", a->key);
    // A relative tolerance keeps 0.1-step ranges from losing their last value to rounding.
    double tol = 1e-9 * fmax(fabs(t), fabs(f));
    for (int k = 0;; k++) {
        double v = step ? f + k * s : f * pow(s, k);
        if (v > t + tol) break;
        if (a->n >= MAX_AXIS_VALUES) y_die(m, "%s: more than %d values", a->key, MAX_AXIS_VALUES);
        char buf[64];
        if (integral) snprintf(buf, sizeof buf, "%.0f", v);
        else snprintf(buf, sizeof buf, "%.10g", v);
        a->vals = xrealloc(a->vals, (size_t)(a->n + 1) * sizeof *a->vals);
        a->vals[a->n++] = scalar_at(m, buf);
    }
}

static void axis_parse(Axis *a, const char *key, YNode *v) {
    memset(a, 0, sizeof *a);
    snprintf(a->key, sizeof a->key, "%s", key);
    a->key_node = v;
    if (v->kind == Y_MAP) axis_range(a, v);
    else if (v->kind == Y_SEQ) {
        if (v->n == 0) y_die(v, "%s: empty list of values", key);
        a->vals = xmalloc((size_t)v->n * sizeof *a->vals);
        for (int i = 0; i < v->n; i++) a->vals[a->n++] = y_clone(v->items[i]);
    } else {
        a->vals = xmalloc(sizeof *a->vals);
        a->vals[a->n++] = y_clone(v);
    }
    if (!strncmp(key, "method.", 7) && !strcmp(key + 7, "name"))
        for (int i = 0; i < a->n; i++)
            if (a->vals[i]->kind != Y_SCALAR || !method_find(a->vals[i]->str))
                y_die(a->vals[i], "%s: unknown method '%s'", key, a->vals[i]->kind == Y_SCALAR ? a->vals[i]->str : "?");
}

// ---------------------------------------------------------------- ids

static void strip_prefix(YNode *map, const char *key, const char *root) {
    YNode *v = y_peek(map, key);
    size_t n = strlen(root);
    if (v && v->kind == Y_SCALAR && n && !strncmp(v->str, root, n) && v->str[n] == '/') {
        y_set_str(v, v->str + n + 1);
    }
}

static uint64_t config_hash(const YNode *resolved) {
    YNode *t = y_clone(resolved);
    y_map_del(t, "out");
    char roots[2][PATH_MAX];
    snprintf(roots[0], sizeof roots[0], "%s", data_root());
    if (!realpath(data_root(), roots[1])) roots[1][0] = 0;
    for (int r = 0; r < 2; r++) {
        strip_prefix(t, "model", roots[r]);
        strip_prefix(t, "tokenizer", roots[r]);
        YNode *d = y_peek(t, "data");
        if (d) { strip_prefix(d, "train", roots[r]); strip_prefix(d, "val", roots[r]); }
    }
    char *y = y_dump(t);
    uint64_t h = hash64(y, strlen(y), HASH64_INIT);
    free(y);
    y_free(t);
    return h;
}

static void slug_append(char *slug, size_t sz, const char *text) {
    size_t o = strlen(slug);
    for (const char *p = text; *p && o + 1 < sz; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+';
        slug[o++] = ok ? c : '_';
    }
    slug[o] = 0;
}

// ---------------------------------------------------------------- expansion

typedef struct {
    YNode *spec, *base, *per_method, *budget_set;
    const char *budget_name;
    YNode *extra;            // `extra` points or NULL
    Axis *axes;
    int naxes, has_seeds;    // has_seeds: the last axis is `seeds`
    char dir[4096];
} Expander;

static const YNode *method_fragment(const YNode *set, const char *name) {
    return set ? y_peek(set, name) : NULL;
}

static int axis_skipped(const Expander *e, const char *method, const char *key) {
    if (!strncmp(key, "method.", 7) && !method_takes(method, key + 7)) return 1;
    const YNode *pm = method_fragment(e->per_method, method);
    const YNode *skip = pm ? y_peek(pm, "skip_axes") : NULL;
    if (skip)
        for (int i = 0; i < skip->n; i++)
            if (!strcmp(skip->items[i]->str, key)) return 1;
    return 0;
}


static void add_run(Sweep *s, RunConfig *c, YNode *settings, const char *out) {
    char id[13];
    snprintf(id, sizeof id, "%012llx", (unsigned long long)(config_hash(c->root) & 0xffffffffffffULL));
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->runs[i].id, id)) { hold_drop(settings); hold_drop(c); y_free(settings); run_config_free(c); return; }
    s->runs = xrealloc(s->runs, (size_t)(s->n + 1) * sizeof *s->runs);
    SweepRun *r = &s->runs[s->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->method, sizeof r->method, "%s", c->method.name);
    r->settings = settings; // s's now
    hold_drop(settings);
    char label[1024], slug[160] = "";
    snprintf(label, sizeof label, "%s", c->method.name);
    slug_append(slug, 100, c->method.name);
    for (int i = 0; i < settings->n; i++) {
        if (!strcmp(settings->keys[i], "method.name")) continue;
        const char *k = strrchr(settings->keys[i], '.');
        k = k ? k + 1 : settings->keys[i];
        char v[256];
        node_text(settings->items[i], v, sizeof v);
        size_t o = strlen(label);
        snprintf(label + o, sizeof label - o, " %s=%s", k, v);
        slug_append(slug, 100, "_");
        slug_append(slug, 100, k);
        slug_append(slug, 100, v);
    }
    r->label = xstrdup(label);
    r->config = y_clone(c->root);
    y_map_del(r->config, "out");
    r->config_yaml = y_dump(r->config);
    if (snprintf(r->dir, sizeof r->dir, "%s/%s-%s", out, slug, id) >= (int)sizeof r->dir) die_input("%s: path too long", out);
    hold_drop(c);
    run_config_free(c);
}

// One point of the sweep: the settings keys[i] = vals[i] over base → per_method →
// budgets. `strict` (an `extra` point): a key the method does not take is an error
// rather than left out, since the point names it for this method alone.
static void expand_point(Expander *e, Sweep *s, const char *const *keys, YNode *const *vals, int n, int strict) {
    // The method decides which per-method layers and method keys apply.
    const YNode *name_node = NULL;
    YNode *bm = y_peek(e->base, "method");
    if (bm) name_node = y_peek(bm, "name");
    for (int a = 0; a < n; a++)
        if (!strcmp(keys[a], "method.name")) name_node = vals[a];
    if (!name_node) y_die(e->base, "base.method.name: missing (give it in base or as an axis method.name)");
    if (name_node->kind != Y_SCALAR || !method_find(name_node->str)) {
        const char *const *names = method_names();
        char list[512] = "";
        size_t o = 0;
        for (int i = 0; names[i]; i++) o += snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", names[i]);
        y_die(name_node, "method.name: unknown method '%s' (valid: %s)", name_node->kind == Y_SCALAR ? name_node->str : "?", list);
    }
    const char *method = name_node->str;
    YNode *tree = hold(y_clone(e->base), y_release);
    method_keys_strip(tree, method, NULL, 0, NULL, 0); // base keys the method does not take (sweep.h)
    const YNode *pm = method_fragment(e->per_method, method);
    if (pm) apply_fragment(tree, pm, "", "skip_axes");
    const YNode *bf = method_fragment(e->budget_set, method);
    if (bf) apply_fragment(tree, bf, "", NULL);
    YNode *settings = hold(y_new_map(), y_release);
    for (int a = 0; a < n; a++) {
        if (axis_skipped(e, method, keys[a])) {
            if (strict && strcmp(keys[a], "train.seed"))
                y_die(vals[a], "extra: method '%s' does not take '%s'", method, keys[a]);
            continue;
        }
        set_path(tree, keys[a], vals[a]);
        y_map_put(settings, keys[a], y_clone(vals[a]));
    }
    hold_drop(tree); // run_config_from_tree takes it
    RunConfig *c = hold(run_config_from_tree(tree, e->dir, "sweep"), run_config_release);
    add_run(s, c, settings, s->out); // takes c and settings
}

static void expand(Expander *e, Sweep *s) {
    long total = 1;
    for (int a = 0; a < e->naxes; a++) {
        total *= e->axes[a].n;
        if (total > MAX_POINTS) y_die(e->axes[a].key_node, "the sweep has more than %d points", MAX_POINTS);
    }
    int na = e->naxes;
    int *idx = hold(xcalloc((size_t)na + 1, sizeof *idx), free);
    const char **keys = hold(xcalloc((size_t)na + 1, sizeof *keys), free);
    YNode **vals = hold(xcalloc((size_t)na + 1, sizeof *vals), free);
    for (long p = 0; p < total; p++) {
        long rem = p;
        for (int a = na - 1; a >= 0; a--) { idx[a] = (int)(rem % e->axes[a].n); rem /= e->axes[a].n; }
        for (int a = 0; a < na; a++) { keys[a] = e->axes[a].key; vals[a] = e->axes[a].vals[idx[a]]; }
        expand_point(e, s, keys, vals, na, 0);
    }
    // `extra` points, each crossed with `seeds` (the last axis when given).
    const Axis *seeds = e->has_seeds ? &e->axes[na - 1] : NULL;
    for (int x = 0; e->extra && x < e->extra->n; x++) {
        const YNode *pt = e->extra->items[x];
        const char **pk = hold(xcalloc((size_t)pt->n + 1, sizeof *pk), free);
        YNode **pv = hold(xcalloc((size_t)pt->n + 1, sizeof *pv), free);
        for (int i = 0; i < pt->n; i++) { pk[i] = pt->keys[i]; pv[i] = pt->items[i]; }
        for (int j = 0; j < (seeds ? seeds->n : 1); j++) {
            int m = pt->n;
            if (seeds) { pk[m] = seeds->key; pv[m] = seeds->vals[j]; m++; }
            expand_point(e, s, pk, pv, m, 1);
        }
        hold_drop(pv); free(pv);
        hold_drop(pk); free(pk);
    }
    hold_drop(vals); free(vals);
    hold_drop(keys); free(keys);
    hold_drop(idx);
    free(idx);
}

// `extra`: a list of points, each a mapping of dotted config keys → one value.
static void check_extra(YNode *x, int has_seeds) {
    if (x->kind != Y_SEQ) y_die(x, "extra: expected a list of points (mappings of config key → value)");
    for (int i = 0; i < x->n; i++) {
        YNode *pt = x->items[i];
        if (pt->kind != Y_MAP || pt->n == 0) y_die(pt, "extra[%d]: expected a mapping of config key → value", i);
        for (int k = 0; k < pt->n; k++) {
            y_use(pt, k);
            if (pt->items[k]->kind == Y_MAP)
                y_die(pt->items[k], "extra[%d].%s: expected one value (write nested keys dotted)", i, pt->keys[k]);
            if (has_seeds && !strcmp(pt->keys[k], "train.seed"))
                y_die(pt->items[k], "extra[%d]: train.seed is given by `seeds`", i);
        }
    }
}

static void check_method_map(YNode *m, const char *what, int fragments_have_skip) {
    if (m->kind != Y_MAP) y_die(m, "%s: expected a mapping of method name → config fragment", what);
    for (int i = 0; i < m->n; i++) {
        y_use(m, i);
        YNode *v = m->items[i];
        if (!method_find(m->keys[i])) {
            if (m->key_line[i] > 0) {
                YNode pos = *v;
                pos.line = m->key_line[i]; pos.col = m->key_col[i];
                y_die(&pos, "%s: unknown method '%s'", what, m->keys[i]);
            }
            y_die(v, "%s: unknown method '%s'", what, m->keys[i]);
        }
        if (v->kind != Y_MAP) y_die(v, "%s.%s: expected a mapping of config keys", what, m->keys[i]);
        YNode *skip = y_peek(v, "skip_axes");
        if (skip && !fragments_have_skip) y_die(skip, "%s.%s.skip_axes: only allowed in per_method", what, m->keys[i]);
        if (skip) {
            if (skip->kind != Y_SEQ) y_die(skip, "skip_axes: expected a list of axis keys");
            for (int j = 0; j < skip->n; j++)
                if (skip->items[j]->kind != Y_SCALAR) y_die(skip->items[j], "skip_axes: expected an axis key");
        }
    }
}

static void sweep_release(void *s) { sweep_free(s); }
static void expander_release(void *ep) {
    Expander *e = ep;
    for (int i = 0; i < e->naxes; i++) {
        for (int j = 0; j < e->axes[i].n; j++) y_free(e->axes[i].vals[j]);
        free(e->axes[i].vals);
    }
    free(e->axes);
}

Sweep *sweep_load(const char *path, char **sets, int nsets, const char *out_override) {
    size_t mark = hold_mark();
    YNode *spec = hold(y_load_file(path), y_release);
    if (spec->kind != Y_MAP) y_die(spec, "a sweep spec must be a mapping (base, axes, seeds, per_method, ...)");
    for (int i = 0; i < nsets; i++) y_set_path(spec, sets[i]);
    Sweep *s = hold(xcalloc(1, sizeof *s), sweep_release);
    snprintf(s->spec, sizeof s->spec, "%s", path);
    Expander e = {0};
    hold(&e, expander_release);
    e.spec = spec;
    snprintf(e.dir, sizeof e.dir, "%s", path);
    char *slash = strrchr(e.dir, '/');
    if (slash) *slash = 0; else snprintf(e.dir, sizeof e.dir, ".");

    YNode *desc = y_get(spec, "description");
    if (desc) y_str(desc);
    YNode *out = y_get(spec, "out");
    if (out_override) snprintf(s->out, sizeof s->out, "%s", out_override);
    else if (out) snprintf(s->out, sizeof s->out, "%s", y_str(out));
    else {
        const char *b = strrchr(path, '/');
        char stem[256];
        snprintf(stem, sizeof stem, "%s", b ? b + 1 : path);
        char *dot = strrchr(stem, '.');
        if (dot && dot != stem) *dot = 0;
        snprintf(s->out, sizeof s->out, "results/%s", stem);
    }
    e.base = y_req(spec, "base");
    if (e.base->kind != Y_MAP) y_die(e.base, "base: expected a run config mapping (model, tokenizer, data, method, train, eval)");

    YNode *axes = y_get(spec, "axes");
    YNode *seeds = y_get(spec, "seeds");
    int na = (axes ? (axes->kind == Y_MAP ? axes->n : 0) : 0) + (seeds ? 1 : 0);
    if (axes && axes->kind != Y_MAP) y_die(axes, "axes: expected a mapping of config key → values");
    e.axes = xcalloc((size_t)na + 1, sizeof *e.axes);
    for (int i = 0; axes && i < axes->n; i++) {
        y_use(axes, i);
        axis_parse(&e.axes[e.naxes++], axes->keys[i], axes->items[i]);
    }
    if (seeds) {
        for (int i = 0; i < e.naxes; i++)
            if (!strcmp(e.axes[i].key, "train.seed")) y_die(seeds, "seeds: train.seed is already an axis");
        axis_parse(&e.axes[e.naxes++], "train.seed", seeds);
        e.has_seeds = 1;
    }
    e.extra = y_get(spec, "extra");
    if (e.extra) check_extra(e.extra, e.has_seeds);
    e.per_method = y_get(spec, "per_method");
    if (e.per_method) {
        check_method_map(e.per_method, "per_method", 1);
        for (int i = 0; i < e.per_method->n; i++) {
            YNode *skip = y_peek(e.per_method->items[i], "skip_axes");
            for (int j = 0; skip && j < skip->n; j++) {
                int found = 0;
                for (int a = 0; a < e.naxes; a++) found |= !strcmp(e.axes[a].key, skip->items[j]->str);
                if (!found) y_die(skip->items[j], "skip_axes: '%s' is not an axis of this sweep", skip->items[j]->str);
            }
        }
    }
    YNode *budget = y_get(spec, "budget"), *budgets = y_get(spec, "budgets");
    e.budget_name = budget ? y_str(budget) : "equal";
    if (budgets) {
        if (budgets->kind != Y_MAP) y_die(budgets, "budgets: expected a mapping of budget name → per-method overrides");
        for (int i = 0; i < budgets->n; i++) {
            y_use(budgets, i);
            char what[300];
            snprintf(what, sizeof what, "budgets.%s", budgets->keys[i]);
            check_method_map(budgets->items[i], what, 0);
        }
        e.budget_set = y_peek(budgets, e.budget_name);
    }
    if (!e.budget_set && strcmp(e.budget_name, "equal")) {
        char list[512] = "equal";
        size_t o = strlen(list);
        for (int i = 0; budgets && i < budgets->n; i++) o += snprintf(list + o, sizeof list - o, ", %s", budgets->keys[i]);
        y_die(budget, "budget: no budgets entry '%s' (valid: %s)", e.budget_name, list);
    }
    y_check_unused(spec, "the sweep spec");

    expand(&e, s);
    hold_drop(s);
    hold_unwind(mark); // the axes and the spec
    return s;
}

void sweep_free(Sweep *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        free(s->runs[i].label); free(s->runs[i].config_yaml);
        y_free(s->runs[i].settings); y_free(s->runs[i].config);
    }
    free(s->runs);
    free(s);
}

// ---------------------------------------------------------------- run directories

// Reuse an existing directory whose name ends in -<id> (labels may have changed).
static void locate_existing(Sweep *s) {
    DIR *d = opendir(s->out);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 14 || de->d_name[n - 13] != '-') continue;
        for (int i = 0; i < s->n; i++)
            if (!strcmp(de->d_name + n - 12, s->runs[i].id))
                if (snprintf(s->runs[i].dir, sizeof s->runs[i].dir, "%s/%s", s->out, de->d_name) >= (int)sizeof s->runs[i].dir)
                    die_input("%s/%s: path too long", s->out, de->d_name);
    }
    closedir(d);
}

// sha256 of each input path, computed once per sweep process (a 7B model takes a while).
static const char *input_sha256(const char *path) {
    static struct { char *path; char hex[65]; } memo[64];
    static int n;
    for (int i = 0; i < n; i++) if (!strcmp(memo[i].path, path)) return memo[i].hex;
    if (n == 64) return NULL;
    memo[n].path = xstrdup(path);
    sha256_path(path, memo[n].hex);
    return memo[n++].hex;
}

// A list data.train as run.h5 records it: its files' hashes joined (sha256_paths_joined);
// NULL when an entry is missing (the run's own check reports that).
static char *list_sha256(const YNode *list) {
    int n = list->n;
    const char **ps = xcalloc((size_t)n + 1, sizeof *ps);
    for (int i = 0; i < n; i++) {
        const YNode *it = list->items[i], *p = it->kind == Y_MAP ? y_peek(it, "path") : it;
        ps[i] = p && p->kind == Y_SCALAR ? p->str : NULL;
        if (!ps[i] || !file_exists(ps[i])) { free(ps); return NULL; }
    }
    char *all = sha256_paths_joined(ps, n, input_sha256);
    free(ps);
    return all;
}

// 1 when a recorded input hash differs from the file(s) now at that config path. Runs
// logged before provenance was recorded (no attribute) are taken as they are.
static int inputs_changed(const SweepRun *r, const RunFile *rf) {
    static const char *const KEYS[][2] = {{"model", "sha256_model"}, {"tokenizer", "sha256_tokenizer"},
                                          {"data.train", "sha256_train_data"}, {"data.val", "sha256_val_data"}};
    int changed = 0;
    for (int k = 0; k < 4 && !changed; k++) {
        const char *dot = strchr(KEYS[k][0], '.');
        YNode *v = dot ? y_get(y_get(r->config, "data"), dot + 1) : y_get(r->config, KEYS[k][0]);
        const char *rec = runfile_attr(rf, KEYS[k][1]);
        if (!v || !rec || !rec[0]) continue;
        if (v->kind == Y_SCALAR && v->str[0] && file_exists(v->str)) {
            const char *now = input_sha256(v->str);
            changed = now && strcmp(now, rec) != 0;
        } else if (v->kind == Y_SEQ && v->n > 0) {
            char *now = list_sha256(v);
            changed = now && strcmp(now, rec) != 0;
            free(now);
        }
    }
    return changed;
}

int sweep_run_state(const SweepRun *r) {
    char p[4200];
    snprintf(p, sizeof p, "%s/run.h5", r->dir);
    if (!file_exists(p)) return RUN_PENDING;
    RunFile rf;
    int rc = runfile_read(p, RUNFILE_STATUS, &rf);
    int st = rc != 0 ? RUN_CORRUPT : !strcmp(rf.status, "complete") ? (inputs_changed(r, &rf) ? RUN_STALE : RUN_COMPLETE)
           : !strcmp(rf.status, "failed") ? RUN_FAILED : RUN_INCOMPLETE;
    runfile_free(&rf);
    return st;
}

const char *sweep_state_name(int st) {
    static const char *N[] = {"pending", "complete", "incomplete", "failed", "corrupt", "stale"};
    return st >= 0 && st <= 5 ? N[st] : "?";
}

void sweep_print_plan(const Sweep *s, FILE *f) {
    locate_existing((Sweep *)s);
    int counts[5] = {0};
    fprintf(f, "%-12s  %-10s  %-12s  %s\n", "id", "status", "method", "settings");
    for (int i = 0; i < s->n; i++) {
        const SweepRun *r = &s->runs[i];
        int st = sweep_run_state(r);
        counts[st]++;
        const char *sp = strchr(r->label, ' ');
        fprintf(f, "%-12s  %-10s  %-12s  %s\n", r->id, sweep_state_name(st), r->method, sp ? sp + 1 : "");
    }
    fprintf(f, "%d runs (%d complete, %d to run) → %s\n", s->n, counts[RUN_COMPLETE], s->n - counts[RUN_COMPLETE], s->out);
}

char *sweep_plan_json(const Sweep *s) {
    locate_existing((Sweep *)s);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "spec", s->spec);
    cJSON_AddStringToObject(root, "out", s->out);
    cJSON_AddNumberToObject(root, "n", s->n);
    cJSON *runs = cJSON_AddArrayToObject(root, "runs");
    for (int i = 0; i < s->n; i++) {
        const SweepRun *r = &s->runs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", r->id);
        cJSON_AddStringToObject(o, "dir", r->dir);
        cJSON_AddStringToObject(o, "method", r->method);
        cJSON_AddStringToObject(o, "label", r->label);
        cJSON_AddStringToObject(o, "status", sweep_state_name(sweep_run_state(r)));
        cJSON_AddItemToObject(o, "settings", node_json(r->settings));
        cJSON_AddItemToObject(o, "config", node_json(r->config));
        cJSON_AddItemToArray(runs, o);
    }
    char *txt = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return txt;
}
