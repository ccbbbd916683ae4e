// table.c — see table.h.
#include "table.h"
#include "stats.h"
#include "config.h"
#include "util.h"
#include "ynode.h"
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

// ---------------------------------------------------------------- one run

static void add_metric(RunRec *r, const char *name, double v) {
    r->mnames = xrealloc(r->mnames, (size_t)(r->nm + 1) * sizeof *r->mnames);
    r->mvals = xrealloc(r->mvals, (size_t)(r->nm + 1) * sizeof *r->mvals);
    r->mnames[r->nm] = xstrdup(name);
    r->mvals[r->nm++] = v;
}

static void flatten(RunRec *r, const YNode *n, const char *prefix) {
    if (n->kind == Y_MAP) {
        for (int i = 0; i < n->n; i++) {
            char p[512];
            snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", n->keys[i]);
            flatten(r, n->items[i], p);
        }
        return;
    }
    char v[1024] = "";
    if (n->kind == Y_SCALAR) snprintf(v, sizeof v, "%s", n->str);
    else {
        size_t o = snprintf(v, sizeof v, "[");
        for (int i = 0; i < n->n && o < sizeof v; i++)
            o += snprintf(v + o, sizeof v - o, "%s%s", i ? ", " : "", n->items[i]->kind == Y_SCALAR ? n->items[i]->str : "…");
        if (o < sizeof v) snprintf(v + o, sizeof v - o, "]");
    }
    r->keys = xrealloc(r->keys, (size_t)(r->nkv + 1) * sizeof *r->keys);
    r->vals = xrealloc(r->vals, (size_t)(r->nkv + 1) * sizeof *r->vals);
    r->keys[r->nkv] = xstrdup(prefix);
    r->vals[r->nkv++] = xstrdup(v);
}

const char *setting_shown(const char *key, const char *v) {
    if (v) return v;
    const char *d = run_config_omitted_default(key);
    return d ? d : "-";
}

const char *table_cfg(const RunRec *r, const char *key) {
    for (int i = 0; i < r->nkv; i++) if (!strcmp(r->keys[i], key)) return r->vals[i];
    return NULL;
}

static double iso_time(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || !*s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) return NAN;
    return (double)timegm(&tm);
}

// One run.h5 → RunRec. Unreadable files become status "corrupt".

// One run.h5 → RunRec. The final value of every eval/<metric> and eval/<task>/<metric>
// (the last row is the final evaluation); unreadable files keep status "unreadable".
static void read_run(RunRec *r, const char *path, const char *rel) {
    memset(r, 0, sizeof *r);
    snprintf(r->rel, sizeof r->rel, "%s", rel);
    r->seconds = r->tokens_per_s = NAN;
    runfile_read(path, RUNFILE_ALL, &r->file);
    const RunFile *f = &r->file;
    for (int i = 0; i < RUNLOG_NMEM; i++) r->mem[i] = f->mem[i];
    snprintf(r->status, sizeof r->status, "%s", f->status);
    const char *m = runfile_attr(f, "method"), *form = runfile_attr(f, "form"), *cfg = runfile_attr(f, "config");
    snprintf(r->method, sizeof r->method, "%s", m ? m : "?");
    snprintf(r->form, sizeof r->form, "%s", form ? form : "");
    if (cfg && *cfg) {
        // The reader's child has parsed this text already, so a damaged one never gets here.
        YNode *root = y_load_string(cfg, path);
        flatten(r, root, "");
        YNode *ev = root->kind == Y_MAP ? y_get(root, "eval") : NULL;
        YNode *tasks = ev && ev->kind == Y_MAP ? y_get(ev, "tasks") : NULL;
        for (int i = 0; tasks && tasks->kind == Y_SEQ && i < tasks->n; i++) {
            if (tasks->items[i]->kind != Y_SCALAR) continue;
            r->tasks = xrealloc(r->tasks, (size_t)(r->ntasks + 1) * sizeof *r->tasks);
            r->tasks[r->ntasks++] = xstrdup(tasks->items[i]->str);
        }
        y_free(root);
    }
    const char *b = table_cfg(r, "method.bits");
    if (b) r->bits = atoi(b);
    else {
        const char *p = r->form;
        if (!strncmp(p, "nf", 2)) p += 2;
        r->bits = (*p >= '0' && *p <= '9') ? atoi(p) : 0;
    }
    const char *sd = table_cfg(r, "train.seed");
    r->seed = sd ? atol(sd) : 0;
    for (int i = 0; i < f->nseries; i++) {
        const RunSeries *s = &f->series[i];
        if (strncmp(s->name, "eval/", 5) || !s->n) continue;
        const char *base = strrchr(s->name, '/') + 1;
        if (!strcmp(base, "step")) continue;
        add_metric(r, s->name + 5, s->v[s->n - 1]);
    }
    const RunSeries *ts = runfile_series(f, "train/step"), *tl = runfile_series(f, "train/loss"),
                    *tp = runfile_series(f, "train/tokens_per_s");
    if (ts && tl) {
        r->tstep = ts->v; r->tloss = tl->v;
        r->ntrain = ts->n < tl->n ? ts->n : tl->n;
    }
    r->steps = r->ntrain ? (long)r->tstep[r->ntrain - 1] : 0;
    if (tp && tp->n) { double s = 0; for (size_t i = 0; i < tp->n; i++) s += tp->v[i]; r->tokens_per_s = s / (double)tp->n; }
    r->seconds = iso_time(runfile_attr(f, "end_time")) - iso_time(runfile_attr(f, "start_time"));
}

static void free_run(RunRec *r) {
    for (int i = 0; i < r->nkv; i++) { free(r->keys[i]); free(r->vals[i]); }
    for (int i = 0; i < r->ntasks; i++) free(r->tasks[i]);
    for (int i = 0; i < r->nm; i++) free(r->mnames[i]);
    free(r->keys); free(r->vals); free(r->tasks); free(r->mnames); free(r->mvals);
    runfile_free(&r->file);
}

// Every run.h5 below dir (sorted walk, so the report is deterministic).
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static void find_runs(Report *rep, const char *dir, const char *rel, int depth) {
    if (depth > 8) return;
    DIR *d = opendir(dir);
    if (!d) return;
    char **names = NULL;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        names = xrealloc(names, (size_t)(n + 1) * sizeof *names);
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        char p[4096], r[1024];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        struct stat st;
        if (stat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) { if (strcmp(names[i], "plots")) find_runs(rep, p, r, depth + 1); }
        else if (!strcmp(names[i], "run.h5")) {
            RunRec rec;
            read_run(&rec, p, *rel ? rel : ".");
            if (!strcmp(rec.status, "complete")) {
                rep->runs = xrealloc(rep->runs, (size_t)(rep->nruns + 1) * sizeof *rep->runs);
                rep->runs[rep->nruns++] = rec;
            } else {
                rep->bad = xrealloc(rep->bad, (size_t)(rep->nbad + 1) * sizeof *rep->bad);
                rep->bad[rep->nbad++] = rec;
            }
        }
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

// ---------------------------------------------------------------- naming and ordering

static const struct { const char *method, *name; } DISPLAY[] = {
    {"none", "Pre-trained"}, {"full", "Full FT"}, {"lora", "LoRA"}, {"rtn", "RTN"}, {"gptq", "GPTQ"},
    {"rtn_lora", "RTN+LoRA"}, {"gptq_lora", "QLoRA*"}, {"qlora_uniform", "QLoRA*"}, {"qlora", "QLoRA (NF4)"},
    {"loftq", "LoftQ*"}, {"qa_lora", "QA-LoRA"}, {"peqa", "PEQA"}, {"qat_lora", "QAT-LoRA"}, {"lsq", "LSQ"},
    {"l4q", "L4Q"},
};
#define NDISPLAY (int)(sizeof DISPLAY / sizeof DISPLAY[0])

const char *table_display_name(const char *m) {
    for (int i = 0; i < NDISPLAY; i++) if (!strcmp(DISPLAY[i].method, m)) return DISPLAY[i].name;
    return m;
}
static int method_rank(const char *m) {
    for (int i = 0; i < NDISPLAY; i++) if (!strcmp(DISPLAY[i].method, m)) return i;
    return NDISPLAY;
}

static const struct { const char *task, *name; } TASKNAMES[] = {
    {"tinystories", "TinyStories"}, {"blimp", "BLiMP"}, {"csqa", "CSQA"}, {"hellaswag", "Hella"}, {"piqa", "PIQA"},
    {"arc_challenge", "ARC-c"}, {"arc_easy", "ARC-e"}, {"winogrande", "Wino"}, {"boolq", "BoolQ"},
    {"openbookqa", "OBQA"}, {"mmlu", "MMLU"}, {"lambada", "LAMBADA"},
};
const char *table_task_title(const char *t) {
    for (size_t i = 0; i < sizeof TASKNAMES / sizeof TASKNAMES[0]; i++) if (!strcmp(TASKNAMES[i].task, t)) return TASKNAMES[i].name;
    return t;
}

const char *table_bits_label(int bits) {
    static char buf[8][16];
    static int k;
    char *b = buf[k++ % 8];
    if (bits <= 0) snprintf(b, 16, "fp");
    else snprintf(b, 16, "%d", bits);
    return b;
}

// ---------------------------------------------------------------- values

static const double *metric(const RunRec *r, const char *key) {
    for (int i = 0; i < r->nm; i++) if (!strcmp(r->mnames[i], key)) return &r->mvals[i];
    return NULL;
}

double table_value(const Report *rep, const RunRec *r, const Column *c) {
    if (!strcmp(c->key, "avg")) {
        double s = 0;
        int n = 0;
        for (int i = 0; i < rep->ncols; i++) {
            if (!rep->cols[i].is_acc || rep->cols[i].at_chance) continue; // Avg leaves out tasks at chance
            const double *v = metric(r, rep->cols[i].key);
            if (!v || !isfinite(*v)) return NAN; // an average over fewer tasks would not compare
            s += *v * rep->cols[i].scale;
            n++;
        }
        return n ? s / n : NAN;
    }
    const double *v = metric(r, c->key);
    return v ? *v * c->scale : NAN;
}

void table_cell(const Report *rep, const RowGroup *g, const Column *c, double *mean, double *sd, int *n) {
    double *v = xmalloc(((size_t)g->n + 1) * sizeof *v);
    for (int i = 0; i < g->n; i++) v[i] = table_value(rep, &rep->runs[g->runs[i]], c);
    stats_mean_sd(v, g->n, mean, sd, n);
    free(v);
}

// ---------------------------------------------------------------- grouping

static int ignored_key(const char *k) {
    return !strcmp(k, "train.seed") || !strcmp(k, "out") || !strcmp(k, "method.name") || !strcmp(k, "method.bits") ||
           !strcmp(k, "train.threads");
}

// Keys whose value differs between two runs of the same (method, bits) become row settings.
static void find_rowkeys(Report *rep) {
    for (int a = 0; a < rep->nruns; a++) {
        const RunRec *ra = &rep->runs[a];
        for (int i = 0; i < ra->nkv; i++) {
            const char *k = ra->keys[i];
            if (ignored_key(k)) continue;
            int have = 0;
            for (int j = 0; j < rep->nrowkeys; j++) have |= !strcmp(rep->rowkeys[j], k);
            if (have) continue;
            for (int b = a + 1; b < rep->nruns; b++) {
                const RunRec *rb = &rep->runs[b];
                if (strcmp(ra->method, rb->method) || ra->bits != rb->bits) continue;
                const char *vb = table_cfg(rb, k);
                if (!vb || strcmp(vb, ra->vals[i])) {
                    rep->rowkeys = xrealloc(rep->rowkeys, (size_t)(rep->nrowkeys + 1) * sizeof *rep->rowkeys);
                    rep->rowkeys[rep->nrowkeys++] = xstrdup(k);
                    break;
                }
            }
        }
    }
}

// Whether key k takes two values among the runs of r's (method, bits): a row label names
// only what varies for its own method ("QA-LoRA", not "QA-LoRA (rank=-)" beside an L4Q
// rank ablation).
static int varies_for(const Report *rep, const RunRec *r, const char *k) {
    const char *first = NULL;
    int seen = 0;
    for (int b = 0; b < rep->nruns; b++) {
        const RunRec *rb = &rep->runs[b];
        if (strcmp(r->method, rb->method) || r->bits != rb->bits) continue;
        const char *v = table_cfg(rb, k);
        if (!seen++) first = v;
        else if (!v != !first || (v && strcmp(v, first))) return 1;
    }
    return 0;
}

// Whether key k only follows another row key of r's (method, bits): it takes one value where
// it is given, and whether it is given is decided by that key's value (l4q's GPTQ calibration
// keys exist only with init=gptq). The label then names the other key only — "init=gptq",
// not "init=gptq, act_order=false, damp=0.01" beside "init=l4q, act_order=-, damp=-".
static int implied_by_other(const Report *rep, const RunRec *r, const char *k) {
    const char *one = NULL;
    for (int b = 0; b < rep->nruns; b++) {
        const RunRec *rb = &rep->runs[b];
        if (strcmp(r->method, rb->method) || r->bits != rb->bits) continue;
        const char *v = table_cfg(rb, k);
        if (v && one && strcmp(v, one)) return 0; // two values: it varies on its own
        if (v) one = v;
    }
    for (int j = 0; j < rep->nrowkeys; j++) {
        const char *kj = rep->rowkeys[j];
        if (!strcmp(kj, k) || !varies_for(rep, r, kj)) continue;
        int decides = 1;
        for (int a = 0; a < rep->nruns && decides; a++) {
            const RunRec *ra = &rep->runs[a];
            if (strcmp(r->method, ra->method) || r->bits != ra->bits) continue;
            for (int b = a + 1; b < rep->nruns && decides; b++) {
                const RunRec *rb = &rep->runs[b];
                if (strcmp(r->method, rb->method) || r->bits != rb->bits) continue;
                const char *va = table_cfg(ra, kj), *vb = table_cfg(rb, kj);
                int same_j = (!va && !vb) || (va && vb && !strcmp(va, vb));
                if (same_j && !table_cfg(ra, k) != !table_cfg(rb, k)) decides = 0;
            }
        }
        if (decides) return 1;
    }
    return 0;
}

static void settings_of(const Report *rep, const RunRec *r, char *buf, size_t n) {
    size_t o = 0;
    buf[0] = 0;
    for (int j = 0; j < rep->nrowkeys && o < n; j++) {
        if (!varies_for(rep, r, rep->rowkeys[j]) || implied_by_other(rep, r, rep->rowkeys[j])) continue;
        const char *v = table_cfg(r, rep->rowkeys[j]);
        const char *k = strrchr(rep->rowkeys[j], '.');
        o += snprintf(buf + o, n - o, "%s%s=%s", o ? ", " : "", k ? k + 1 : rep->rowkeys[j], setting_shown(rep->rowkeys[j], v));
    }
}

static int cmp_setting_vals(const char *a, const char *b) {
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (ea != a && eb != b && !*ea && !*eb) return x < y ? -1 : x > y;
    return strcmp(a, b);
}

static const Report *g_sort_rep;
static int cmp_rows(const void *pa, const void *pb) {
    const RowGroup *a = pa, *b = pb;
    // fp first, then bits descending (the paper's tables read 16 → 4 → 3).
    int ka = a->bits <= 0 ? 1000 : a->bits, kb = b->bits <= 0 ? 1000 : b->bits;
    if (ka != kb) return kb - ka;
    int ma = method_rank(a->method), mb = method_rank(b->method);
    if (ma != mb) return ma - mb;
    int c = strcmp(a->method, b->method);
    if (c) return c;
    const RunRec *ra = &g_sort_rep->runs[a->runs[0]], *rb = &g_sort_rep->runs[b->runs[0]];
    for (int j = 0; j < g_sort_rep->nrowkeys; j++) {
        const char *va = table_cfg(ra, g_sort_rep->rowkeys[j]), *vb = table_cfg(rb, g_sort_rep->rowkeys[j]);
        c = cmp_setting_vals(va ? va : "", vb ? vb : "");
        if (c) return c;
    }
    return strcmp(a->form, b->form);
}

static void group_rows(Report *rep) {
    find_rowkeys(rep);
    for (int i = 0; i < rep->nruns; i++) {
        const RunRec *r = &rep->runs[i];
        char set[400];
        settings_of(rep, r, set, sizeof set);
        RowGroup *g = NULL;
        for (int j = 0; j < rep->nrows && !g; j++)
            if (!strcmp(rep->rows[j].method, r->method) && rep->rows[j].bits == r->bits && !strcmp(rep->rows[j].form, r->form) &&
                !strcmp(rep->rows[j].settings, set))
                g = &rep->rows[j];
        if (!g) {
            rep->rows = xrealloc(rep->rows, (size_t)(rep->nrows + 1) * sizeof *rep->rows);
            g = &rep->rows[rep->nrows++];
            memset(g, 0, sizeof *g);
            snprintf(g->method, sizeof g->method, "%s", r->method);
            snprintf(g->form, sizeof g->form, "%s", r->form);
            snprintf(g->settings, sizeof g->settings, "%s", set);
            g->bits = r->bits;
            if (*set) snprintf(g->label, sizeof g->label, "%s (%s)", table_display_name(r->method), set);
            else snprintf(g->label, sizeof g->label, "%s", table_display_name(r->method));
        }
        g->runs = xrealloc(g->runs, (size_t)(g->n + 1) * sizeof *g->runs);
        g->runs[g->n++] = i;
    }
    g_sort_rep = rep;
    if (rep->nrows > 1) qsort(rep->rows, (size_t)rep->nrows, sizeof *rep->rows, cmp_rows); // qsort(NULL, 0) is UB
}

int table_any_metric(const Report *rep, const char *key) {
    for (int i = 0; i < rep->nruns; i++) if (metric(&rep->runs[i], key)) return 1;
    return 0;
}

void table_add_col(Report *rep, const char *title, const char *key, int higher, int is_acc, int dec, double scale) {
    rep->cols = xrealloc(rep->cols, (size_t)(rep->ncols + 1) * sizeof *rep->cols);
    Column *c = &rep->cols[rep->ncols++];
    memset(c, 0, sizeof *c);
    snprintf(c->title, sizeof c->title, "%s", title);
    snprintf(c->key, sizeof c->key, "%s", key);
    c->higher_better = higher; c->is_acc = is_acc; c->decimals = dec; c->scale = scale;
}

// A task's column: ppl for perplexity tasks, else acc (percent), else its first metric.
static void add_task_col(Report *rep, const char *task) {
    char key[200], title[160];
    snprintf(key, sizeof key, "%s/ppl", task);
    if (table_any_metric(rep, key)) { snprintf(title, sizeof title, "%s PPL", table_task_title(task)); table_add_col(rep, title, key, 0, 0, 2, 1); return; }
    snprintf(key, sizeof key, "%s/acc", task);
    if (table_any_metric(rep, key)) { table_add_col(rep, table_task_title(task), key, 1, 1, 1, 100); return; }
    snprintf(key, sizeof key, "%s/loss", task);
    if (table_any_metric(rep, key)) { snprintf(title, sizeof title, "%s loss", table_task_title(task)); table_add_col(rep, title, key, 0, 0, 3, 1); }
}

static void build_columns(Report *rep) {
    char **seen = NULL;
    int ns = 0;
    for (int i = 0; i < rep->nruns; i++)
        for (int t = 0; t < rep->runs[i].ntasks; t++) {
            int have = 0;
            for (int k = 0; k < ns; k++) have |= !strcmp(seen[k], rep->runs[i].tasks[t]);
            if (have) continue;
            seen = xrealloc(seen, (size_t)(ns + 1) * sizeof *seen);
            seen[ns++] = rep->runs[i].tasks[t];
        }
    for (int k = 0; k < ns; k++) add_task_col(rep, seen[k]);
    free(seen);
    int has_ppl = 0, nacc = 0;
    for (int i = 0; i < rep->ncols; i++) { has_ppl |= !rep->cols[i].is_acc; nacc += rep->cols[i].is_acc; }
    // Without a perplexity task the validation perplexity is the language-modelling column.
    if (!has_ppl && table_any_metric(rep, "val_ppl")) table_add_col(rep, "Val PPL", "val_ppl", 0, 0, 2, 1);
    if (nacc >= 2) table_add_col(rep, "Avg", "avg", 1, 0, 1, 1);
}

void table_load(Report *rep, const char *dir) {
    memset(rep, 0, sizeof *rep);
    snprintf(rep->dir, sizeof rep->dir, "%s", dir);
    find_runs(rep, dir, "", 0);
    group_rows(rep);
    build_columns(rep);
}

void table_free(Report *rep) {
    for (int i = 0; i < rep->nruns; i++) free_run(&rep->runs[i]);
    for (int i = 0; i < rep->nbad; i++) free_run(&rep->bad[i]);
    for (int i = 0; i < rep->nrows; i++) free(rep->rows[i].runs);
    for (int i = 0; i < rep->nrowkeys; i++) free(rep->rowkeys[i]);
    free(rep->runs); free(rep->bad); free(rep->rows); free(rep->rowkeys); free(rep->cols);
}

void table_mem_cell(const Report *rep, const RowGroup *g, int which, double *mean, double *sd, int *n) {
    double *v = xmalloc(((size_t)g->n + 1) * sizeof *v);
    for (int i = 0; i < g->n; i++) {
        const RunRec *r = &rep->runs[g->runs[i]];
        v[i] = which < RUNLOG_NMEM ? (r->mem[which] >= 0 ? r->mem[which] / 1e6 : NAN)
             : which == 6 ? (double)r->steps : which == 7 ? r->seconds : r->tokens_per_s;
    }
    stats_mean_sd(v, g->n, mean, sd, n);
    free(v);
}
