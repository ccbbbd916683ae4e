// report.c — see report.h. Reads run.h5 files with the plain HDF5 API (both fixed and
// variable-length string attributes, so files written by h5py read too), groups runs
// into rows, and writes Markdown / LaTeX / CSV.
#include "report.h"
#include "evals/task.h"
#include "util.h"
#include "yaml.h"
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

// ---------------------------------------------------------------- HDF5 reading

static char *h5_attr_str(hid_t obj, const char *name) {
    if (H5Aexists(obj, name) <= 0) return NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t t = H5Aget_type(a);
    char *out = NULL;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t)); // h5py writes UTF-8; HDF5 will not convert csets
            char *v = NULL;
            if (H5Aread(a, mt, &v) >= 0 && v) out = xstrdup(v);
            if (v) H5free_memory(v);
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(t);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, n + 1);
            H5Tset_strpad(mt, H5T_STR_NULLTERM);
            H5Tset_cset(mt, H5Tget_cset(t));
            out = xcalloc(n + 2, 1);
            if (H5Aread(a, mt, out) < 0) { free(out); out = NULL; }
            H5Tclose(mt);
        }
    }
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return out;
}

static int h5_attr_ll(hid_t obj, const char *name, long long *v) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    int rc = H5Aread(a, H5T_NATIVE_LLONG, v) >= 0 ? 0 : -1;
    H5Aclose(a);
    return rc;
}

static double *h5_dataset(hid_t loc, const char *name, size_t *n) {
    *n = 0;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return NULL;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return NULL;
    hid_t sp = H5Dget_space(d);
    hssize_t len = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    double *out = NULL;
    if (len >= 0) {
        out = xmalloc(((size_t)len + 1) * sizeof *out);
        if (len && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) { free(out); out = NULL; }
        else *n = (size_t)len;
    }
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return out;
}

static int h5_is_group(hid_t loc, const char *name) {
    H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
    if (H5Oget_info_by_name3(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
#else
    if (H5Oget_info_by_name(loc, name, &info, H5P_DEFAULT) < 0) return -1;
#endif
    return info.type == H5O_TYPE_GROUP;
}

static void add_metric(RunRec *r, const char *name, double v) {
    r->mnames = xrealloc(r->mnames, (size_t)(r->nm + 1) * sizeof *r->mnames);
    r->mvals = xrealloc(r->mvals, (size_t)(r->nm + 1) * sizeof *r->mvals);
    r->mnames[r->nm] = xstrdup(name);
    r->mvals[r->nm++] = v;
}

// Final value of every dataset under `group` except step columns: eval/<metric> and
// eval/<task>/<metric>. The last row is the final evaluation.
static void read_evals(RunRec *r, hid_t f) {
    if (H5Lexists(f, "eval", H5P_DEFAULT) <= 0) return;
    hid_t g = H5Gopen2(f, "eval", H5P_DEFAULT);
    if (g < 0) return;
    H5G_info_t gi;
    if (H5Gget_info(g, &gi) >= 0) {
        for (hsize_t i = 0; i < gi.nlinks; i++) {
            char name[256];
            if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) < 0) continue;
            int isg = h5_is_group(g, name);
            size_t n;
            if (isg == 0) {
                if (!strcmp(name, "step")) continue;
                double *v = h5_dataset(g, name, &n);
                if (v && n) add_metric(r, name, v[n - 1]);
                free(v);
            } else if (isg == 1) {
                hid_t tg = H5Gopen2(g, name, H5P_DEFAULT);
                H5G_info_t ti;
                if (tg >= 0 && H5Gget_info(tg, &ti) >= 0) {
                    for (hsize_t j = 0; j < ti.nlinks; j++) {
                        char m[128];
                        if (H5Lget_name_by_idx(tg, ".", H5_INDEX_NAME, H5_ITER_INC, j, m, sizeof m, H5P_DEFAULT) < 0) continue;
                        if (!strcmp(m, "step")) continue;
                        double *v = h5_dataset(tg, m, &n);
                        char key[400];
                        snprintf(key, sizeof key, "%s/%s", name, m);
                        if (v && n) add_metric(r, key, v[n - 1]);
                        free(v);
                    }
                }
                if (tg >= 0) H5Gclose(tg);
            }
        }
    }
    H5Gclose(g);
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

static const char *cfg_get(const RunRec *r, const char *key) {
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
static void read_run(RunRec *r, const char *path, const char *rel) {
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    snprintf(r->rel, sizeof r->rel, "%s", rel);
    for (int i = 0; i < 6; i++) r->mem[i] = -1;
    r->seconds = r->tokens_per_s = NAN;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) { snprintf(r->status, sizeof r->status, "corrupt"); return; }
    char *st = h5_attr_str(f, "status");
    snprintf(r->status, sizeof r->status, "%s", st ? st : "corrupt");
    free(st);
    char *m = h5_attr_str(f, "method"), *form = h5_attr_str(f, "form"), *cfg = h5_attr_str(f, "config");
    snprintf(r->method, sizeof r->method, "%s", m ? m : "?");
    snprintf(r->form, sizeof r->form, "%s", form ? form : "");
    if (cfg && *cfg) {
        YNode *root = yaml_load_string(cfg, path);
        flatten(r, root, "");
        YNode *ev = root->kind == Y_MAP ? y_get(root, "eval") : NULL;
        YNode *tasks = ev && ev->kind == Y_MAP ? y_get(ev, "tasks") : NULL;
        for (int i = 0; tasks && tasks->kind == Y_SEQ && i < tasks->n; i++) {
            if (tasks->items[i]->kind != Y_SCALAR) continue;
            r->tasks = xrealloc(r->tasks, (size_t)(r->ntasks + 1) * sizeof *r->tasks);
            r->tasks[r->ntasks++] = xstrdup(tasks->items[i]->str);
        }
        yaml_free(root);
    }
    free(m); free(form); free(cfg);
    const char *b = cfg_get(r, "method.bits");
    if (b) r->bits = atoi(b);
    else {
        const char *p = r->form;
        if (!strncmp(p, "nf", 2)) p += 2;
        r->bits = (*p >= '0' && *p <= '9') ? atoi(p) : 0;
    }
    read_evals(r, f);
    size_t n = 0, nl = 0, nt = 0;
    r->tstep = h5_dataset(f, "train/step", &n);
    r->tloss = h5_dataset(f, "train/loss", &nl);
    r->ntrain = n < nl ? n : nl;
    r->steps = r->ntrain ? (long)r->tstep[r->ntrain - 1] : 0;
    double *tps = h5_dataset(f, "train/tokens_per_s", &nt);
    if (nt) { double s = 0; for (size_t i = 0; i < nt; i++) s += tps[i]; r->tokens_per_s = s / (double)nt; }
    free(tps);
    if (H5Lexists(f, "memory", H5P_DEFAULT) > 0) {
        hid_t g = H5Oopen(f, "memory", H5P_DEFAULT);
        static const char *MEM[6] = {"weight_bytes", "trainable_bytes", "grad_optimizer_bytes",
                                     "saved_for_backward_bytes", "peak_transient_bytes", "peak_rss_bytes"};
        if (g >= 0) {
            for (int i = 0; i < 6; i++) if (h5_attr_ll(g, MEM[i], &r->mem[i]) != 0) r->mem[i] = -1;
            H5Oclose(g);
        }
    }
    char *t0 = h5_attr_str(f, "start_time"), *t1 = h5_attr_str(f, "end_time");
    r->seconds = iso_time(t1) - iso_time(t0);
    free(t0); free(t1);
    H5Fclose(f);
}

static void free_run(RunRec *r) {
    for (int i = 0; i < r->nkv; i++) { free(r->keys[i]); free(r->vals[i]); }
    for (int i = 0; i < r->ntasks; i++) free(r->tasks[i]);
    for (int i = 0; i < r->nm; i++) free(r->mnames[i]);
    free(r->keys); free(r->vals); free(r->tasks); free(r->mnames); free(r->mvals); free(r->tstep); free(r->tloss);
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
    qsort(names, (size_t)n, sizeof *names, cmp_str);
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

static const char *display_name(const char *m) {
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
static const char *task_title(const char *t) {
    for (size_t i = 0; i < sizeof TASKNAMES / sizeof TASKNAMES[0]; i++) if (!strcmp(TASKNAMES[i].task, t)) return TASKNAMES[i].name;
    return t;
}

static const char *bits_label(int bits) {
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

double report_value(const Report *rep, const RunRec *r, const Column *c) {
    if (!strcmp(c->key, "avg")) {
        double s = 0;
        int n = 0;
        for (int i = 0; i < rep->ncols; i++) {
            if (!rep->cols[i].is_acc) continue;
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

void report_cell(const Report *rep, const RowGroup *g, const Column *c, double *mean, double *sd, int *n) {
    double s = 0, s2 = 0;
    int k = 0;
    for (int i = 0; i < g->n; i++) {
        double v = report_value(rep, &rep->runs[g->runs[i]], c);
        if (!isfinite(v)) continue;
        s += v; k++;
    }
    *n = k;
    *mean = k ? s / k : NAN;
    for (int i = 0; i < g->n && k > 1; i++) {
        double v = report_value(rep, &rep->runs[g->runs[i]], c);
        if (isfinite(v)) s2 += (v - *mean) * (v - *mean);
    }
    *sd = k > 1 ? sqrt(s2 / (k - 1)) : NAN;
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
                const char *vb = cfg_get(rb, k);
                if (!vb || strcmp(vb, ra->vals[i])) {
                    rep->rowkeys = xrealloc(rep->rowkeys, (size_t)(rep->nrowkeys + 1) * sizeof *rep->rowkeys);
                    rep->rowkeys[rep->nrowkeys++] = xstrdup(k);
                    break;
                }
            }
        }
    }
}

static void settings_of(const Report *rep, const RunRec *r, char *buf, size_t n) {
    size_t o = 0;
    buf[0] = 0;
    for (int j = 0; j < rep->nrowkeys && o < n; j++) {
        const char *v = cfg_get(r, rep->rowkeys[j]);
        const char *k = strrchr(rep->rowkeys[j], '.');
        o += snprintf(buf + o, n - o, "%s%s=%s", o ? ", " : "", k ? k + 1 : rep->rowkeys[j], v ? v : "-");
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
        const char *va = cfg_get(ra, g_sort_rep->rowkeys[j]), *vb = cfg_get(rb, g_sort_rep->rowkeys[j]);
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
            if (*set) snprintf(g->label, sizeof g->label, "%s (%s)", display_name(r->method), set);
            else snprintf(g->label, sizeof g->label, "%s", display_name(r->method));
        }
        g->runs = xrealloc(g->runs, (size_t)(g->n + 1) * sizeof *g->runs);
        g->runs[g->n++] = i;
    }
    g_sort_rep = rep;
    qsort(rep->rows, (size_t)rep->nrows, sizeof *rep->rows, cmp_rows);
}

static int any_metric(const Report *rep, const char *key) {
    for (int i = 0; i < rep->nruns; i++) if (metric(&rep->runs[i], key)) return 1;
    return 0;
}

static void add_col(Report *rep, const char *title, const char *key, int higher, int is_acc, int dec, double scale) {
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
    if (any_metric(rep, key)) { snprintf(title, sizeof title, "%s PPL", task_title(task)); add_col(rep, title, key, 0, 0, 2, 1); return; }
    snprintf(key, sizeof key, "%s/acc", task);
    if (any_metric(rep, key)) { add_col(rep, task_title(task), key, 1, 1, 1, 100); return; }
    snprintf(key, sizeof key, "%s/loss", task);
    if (any_metric(rep, key)) { snprintf(title, sizeof title, "%s loss", task_title(task)); add_col(rep, title, key, 0, 0, 3, 1); }
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
    if (!has_ppl && any_metric(rep, "val_ppl")) add_col(rep, "Val PPL", "val_ppl", 0, 0, 2, 1);
    if (nacc >= 2) add_col(rep, "Avg", "avg", 1, 0, 1, 1);
}

// ---------------------------------------------------------------- writing

typedef enum { FMT_MD, FMT_TEX } Fmt;

static void fmt_cell(char *buf, size_t n, double mean, double sd, int k, int dec, int bold, Fmt f) {
    if (k == 0) { snprintf(buf, n, f == FMT_TEX ? "--" : "–"); return; }
    char v[64];
    if (k > 1 && isfinite(sd)) snprintf(v, sizeof v, f == FMT_TEX ? "%.*f $\\pm$ %.*f" : "%.*f ± %.*f", dec, mean, dec, sd);
    else snprintf(v, sizeof v, "%.*f", dec, mean);
    if (!bold) snprintf(buf, n, "%s", v);
    else if (f == FMT_TEX) snprintf(buf, n, "\\textbf{%s}", v);
    else snprintf(buf, n, "**%s**", v);
}

static double round_to(double x, int dec) { double p = pow(10, dec); return round(x * p) / p; }

// Best mean of column c among rows with this bit-width (rounded to display precision).
static int is_best(const Report *rep, int row, const Column *c) {
    double m, sd, best = NAN;
    int n, peers = 0;
    report_cell(rep, &rep->rows[row], c, &m, &sd, &n);
    if (!n) return 0;
    for (int j = 0; j < rep->nrows; j++) {
        if (rep->rows[j].bits != rep->rows[row].bits) continue;
        double mj, sj;
        int nj;
        report_cell(rep, &rep->rows[j], c, &mj, &sj, &nj);
        if (!nj) continue;
        peers++;
        double r = round_to(mj, c->decimals);
        if (isnan(best) || (c->higher_better ? r > best : r < best)) best = r;
    }
    return peers >= 2 && round_to(m, c->decimals) == best;
}

static void tex_escape(char *out, size_t n, const char *s) {
    size_t o = 0;
    for (; *s && o + 3 < n; s++) {
        if (strchr("&%$#_{}", *s)) out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = 0;
}

static void write_main_md(const Report *rep, FILE *f) {
    fprintf(f, "| Method | Bits | Form | n |");
    for (int c = 0; c < rep->ncols; c++) fprintf(f, " %s |", rep->cols[c].title);
    fprintf(f, "\n|---|---|---|---|");
    for (int c = 0; c < rep->ncols; c++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int i = 0; i < rep->nrows; i++) {
        const RowGroup *g = &rep->rows[i];
        fprintf(f, "| %s | %s | %s | %d |", g->label, bits_label(g->bits), g->form[0] ? g->form : "–", g->n);
        for (int c = 0; c < rep->ncols; c++) {
            double m, sd;
            int n;
            report_cell(rep, g, &rep->cols[c], &m, &sd, &n);
            char cell[128];
            fmt_cell(cell, sizeof cell, m, sd, n, rep->cols[c].decimals, is_best(rep, i, &rep->cols[c]), FMT_MD);
            fprintf(f, " %s |", cell);
        }
        fprintf(f, "\n");
    }
}

// Group detail tables (Table 13 analogue): members of a task group, e.g. csqa's seven.
static void write_group_tables(const Report *rep, FILE *f) {
    const char *dir = tasks_default_dir();
    if (!file_exists(dir)) return;
    const char *dirs[1] = {dir};
    TaskRegistry *reg = tasks_registry(dirs, 1);
    for (int c = 0; c < rep->ncols; c++) {
        char task[200];
        snprintf(task, sizeof task, "%s", rep->cols[c].key);
        char *sl = strchr(task, '/');
        if (!sl || strcmp(sl, "/acc")) continue;
        *sl = 0;
        const GroupDef *gd = NULL;
        for (int i = 0; i < reg->ngroups; i++) if (!strcmp(reg->groups[i].name, task)) gd = &reg->groups[i];
        if (!gd || gd->n < 2 || gd->n > 16) continue;
        Report sub = *rep;
        sub.cols = NULL; sub.ncols = 0;
        for (int m = 0; m < gd->n; m++) {
            char key[200];
            snprintf(key, sizeof key, "%s/acc", gd->members[m]);
            if (any_metric(rep, key)) add_col(&sub, task_title(gd->members[m]), key, 1, 1, 1, 100);
        }
        if (sub.ncols == 0) { free(sub.cols); continue; }
        add_col(&sub, "Avg", rep->cols[c].key, 1, 0, 1, 100);
        fprintf(f, "\n## %s per task (acc %%, the paper's Tables 13a/13b)\n\n", task_title(task));
        write_main_md(&sub, f);
        free(sub.cols);
    }
    tasks_registry_free(reg);
}

static const char *MEM_TITLES[6] = {"Weights MB", "Trainable MB", "Grad+Adam MB", "Saved for bwd MB", "Transient MB", "Peak RSS MB"};

static void mem_cell(const Report *rep, const RowGroup *g, int which, double *mean, double *sd, int *n) {
    double s = 0, s2 = 0;
    int k = 0;
    double vals[256];
    for (int i = 0; i < g->n && k < 256; i++) {
        const RunRec *r = &rep->runs[g->runs[i]];
        double v = which < 6 ? (r->mem[which] >= 0 ? r->mem[which] / 1e6 : NAN)
                 : which == 6 ? (double)r->steps : which == 7 ? r->seconds : r->tokens_per_s;
        if (!isfinite(v)) continue;
        vals[k++] = v;
        s += v;
    }
    *n = k;
    *mean = k ? s / k : NAN;
    for (int i = 0; i < k; i++) s2 += (vals[i] - *mean) * (vals[i] - *mean);
    *sd = k > 1 ? sqrt(s2 / (k - 1)) : NAN;
}

static void write_memory_md(const Report *rep, FILE *f) {
    fprintf(f, "| Method | Bits | Form |");
    for (int i = 0; i < 6; i++) fprintf(f, " %s |", MEM_TITLES[i]);
    fprintf(f, " Steps | Wall s | Tokens/s |\n|---|---|---|");
    for (int i = 0; i < 9; i++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int r = 0; r < rep->nrows; r++) {
        const RowGroup *g = &rep->rows[r];
        fprintf(f, "| %s | %s | %s |", g->label, bits_label(g->bits), g->form[0] ? g->form : "–");
        for (int w = 0; w < 9; w++) {
            double m, sd;
            int n;
            mem_cell(rep, g, w, &m, &sd, &n);
            char cell[128];
            // Memory is deterministic per config, so only time and throughput get ± std.
            fmt_cell(cell, sizeof cell, m, w >= 7 ? sd : NAN, n, w == 6 ? 0 : w < 6 ? 2 : w == 7 ? 1 : 0, 0, FMT_MD);
            fprintf(f, " %s |", cell);
        }
        fprintf(f, "\n");
    }
}

static void write_tex(const Report *rep, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) die_input("%s: cannot write", path);
    fprintf(f, "%% Generated by `l4q report %s`; needs \\usepackage{booktabs}.\n", rep->dir);
    fprintf(f, "\\begin{table}[t]\n\\centering\n\\small\n\\begin{tabular}{lll");
    for (int c = 0; c < rep->ncols; c++) fprintf(f, "r");
    fprintf(f, "}\n\\toprule\nMethod & Bits & Form");
    for (int c = 0; c < rep->ncols; c++) { char t[256]; tex_escape(t, sizeof t, rep->cols[c].title); fprintf(f, " & %s", t); }
    fprintf(f, " \\\\\n\\midrule\n");
    for (int i = 0; i < rep->nrows; i++) {
        const RowGroup *g = &rep->rows[i];
        if (i > 0 && rep->rows[i - 1].bits != g->bits) fprintf(f, "\\midrule\n");
        char lab[1024], form[64];
        tex_escape(lab, sizeof lab, g->label);
        tex_escape(form, sizeof form, g->form[0] ? g->form : "--");
        fprintf(f, "%s & %s & %s", lab, bits_label(g->bits), form);
        for (int c = 0; c < rep->ncols; c++) {
            double m, sd;
            int n;
            report_cell(rep, g, &rep->cols[c], &m, &sd, &n);
            char cell[128];
            fmt_cell(cell, sizeof cell, m, sd, n, rep->cols[c].decimals, is_best(rep, i, &rep->cols[c]), FMT_TEX);
            fprintf(f, " & %s", cell);
        }
        fprintf(f, " \\\\\n");
    }
    fprintf(f, "\\bottomrule\n\\end{tabular}\n\\caption{Accuracy (\\%%) and perplexity; mean $\\pm$ std over seeds; best per bit-width in bold.}\n\\end{table}\n\n");
    fprintf(f, "\\begin{table}[t]\n\\centering\n\\small\n\\begin{tabular}{lllrrrrrrrrr}\n\\toprule\nMethod & Bits & Form");
    for (int i = 0; i < 6; i++) fprintf(f, " & %s", MEM_TITLES[i]);
    fprintf(f, " & Steps & Wall s & Tokens/s \\\\\n\\midrule\n");
    for (int r = 0; r < rep->nrows; r++) {
        const RowGroup *g = &rep->rows[r];
        char lab[1024], form[64];
        tex_escape(lab, sizeof lab, g->label);
        tex_escape(form, sizeof form, g->form[0] ? g->form : "--");
        fprintf(f, "%s & %s & %s", lab, bits_label(g->bits), form);
        for (int w = 0; w < 9; w++) {
            double m, sd;
            int n;
            mem_cell(rep, g, w, &m, &sd, &n);
            char cell[128];
            fmt_cell(cell, sizeof cell, m, w >= 7 ? sd : NAN, n, w == 6 ? 0 : w < 6 ? 2 : w == 7 ? 1 : 0, 0, FMT_TEX);
            fprintf(f, " & %s", cell);
        }
        fprintf(f, " \\\\\n");
    }
    fprintf(f, "\\bottomrule\n\\end{tabular}\n\\caption{Fine-tuning memory (MB) and time.}\n\\end{table}\n");
    fclose(f);
}

static void csv_field(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) { if (*s == '"') fputc('"', f); fputc(*s, f); }
    fputc('"', f);
}

// Long format: one line per (row, column), full precision; units as in the tables.
static void write_csv(const Report *rep, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) die_input("%s: cannot write", path);
    fprintf(f, "table,label,method,bits,form,settings,column,mean,std,n\n");
    for (int i = 0; i < rep->nrows; i++) {
        const RowGroup *g = &rep->rows[i];
        for (int c = 0; c < rep->ncols + 9; c++) {
            double m, sd;
            int n;
            const char *title, *table;
            if (c < rep->ncols) { report_cell(rep, g, &rep->cols[c], &m, &sd, &n); title = rep->cols[c].title; table = "main"; }
            else {
                int w = c - rep->ncols;
                mem_cell(rep, g, w, &m, &sd, &n);
                static const char *T[3] = {"Steps", "Wall s", "Tokens/s"};
                title = w < 6 ? MEM_TITLES[w] : T[w - 6];
                table = "memory_time";
            }
            if (!n) continue;
            fprintf(f, "%s,", table);
            csv_field(f, g->label);
            fprintf(f, ",%s,%s,", g->method, bits_label(g->bits));
            csv_field(f, g->form);
            fputc(',', f);
            csv_field(f, g->settings);
            fputc(',', f);
            csv_field(f, title);
            fprintf(f, ",%.10g,", m);
            if (isfinite(sd)) fprintf(f, "%.10g", sd);
            fprintf(f, ",%d\n", n);
        }
    }
    fclose(f);
}

int report_write(const char *dir, const ReportOptions *o) {
    const char *fmt = o->format ? o->format : "md";
    if (strcmp(fmt, "md") && strcmp(fmt, "tex") && strcmp(fmt, "csv")) die_input("--format: expected md, tex or csv, got '%s'", fmt);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) die_input("%s: not a directory", dir);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    Report rep;
    memset(&rep, 0, sizeof rep);
    snprintf(rep.dir, sizeof rep.dir, "%s", dir);
    find_runs(&rep, dir, "", 0);
    if (rep.nruns + rep.nbad == 0) die_input("%s: no run.h5 files found", dir);
    group_rows(&rep);
    build_columns(&rep);

    char path[4200];
    snprintf(path, sizeof path, "%s/report.md", dir);
    FILE *f = fopen(path, "w");
    if (!f) die_input("%s: cannot write", path);
    fprintf(f, "# Results: %s\n\n", dir);
    fprintf(f, "%d complete runs in %d rows; %d not complete (listed at the end, not averaged). "
               "Every number below is read from the runs' run.h5 logs. Cells: mean ± sample std over the "
               "seeds (n) that have the value; accuracy in %%, PPL lower is better; **bold** = best per bit-width.\n\n",
            rep.nruns, rep.nrows, rep.nbad);
    if (rep.nrowkeys) {
        fprintf(f, "Row settings (config keys that vary within a method and bit-width):");
        for (int i = 0; i < rep.nrowkeys; i++) fprintf(f, " `%s`", rep.rowkeys[i]);
        fprintf(f, ".\n\n");
    }
    fprintf(f, "## Main results (the paper's Tables 2/3 shape)\n\n");
    if (rep.nrows) write_main_md(&rep, f);
    else fprintf(f, "No complete runs.\n");
    if (rep.nrows) write_group_tables(&rep, f);
    fprintf(f, "\n## Fine-tuning memory and time (the paper's Tables 1/10/11 shape)\n\n");
    if (rep.nrows) write_memory_md(&rep, f);
    fprintf(f, "\nMemory is the harness's own account (run.h5 `memory` group), in MB (10^6 bytes); "
               "wall time covers quantization, fine-tuning and evaluation.\n");
    if (o->plots && rep.nrows) report_plots(&rep, f);
    if (rep.nbad) {
        fprintf(f, "\n## Incomplete runs (not averaged)\n\n| Run | Status | Method | Steps logged |\n|---|---|---|---|\n");
        for (int i = 0; i < rep.nbad; i++)
            fprintf(f, "| %s | %s | %s | %ld |\n", rep.bad[i].rel, rep.bad[i].status, rep.bad[i].method[0] ? rep.bad[i].method : "?",
                    rep.bad[i].steps);
    }
    fclose(f);
    if (!strcmp(fmt, "tex")) { snprintf(path, sizeof path, "%s/report.tex", dir); write_tex(&rep, path); }
    if (!strcmp(fmt, "csv")) { snprintf(path, sizeof path, "%s/report.csv", dir); write_csv(&rep, path); }

    // The main table on stdout, so `make reproduce` ends with it.
    printf("Main results (%s/report.md):\n\n", dir);
    if (rep.nrows) write_main_md(&rep, stdout);
    if (rep.nbad) printf("\n%d incomplete run(s), listed in report.md\n", rep.nbad);

    for (int i = 0; i < rep.nruns; i++) free_run(&rep.runs[i]);
    for (int i = 0; i < rep.nbad; i++) free_run(&rep.bad[i]);
    for (int i = 0; i < rep.nrows; i++) free(rep.rows[i].runs);
    for (int i = 0; i < rep.nrowkeys; i++) free(rep.rowkeys[i]);
    free(rep.runs); free(rep.bad); free(rep.rows); free(rep.rowkeys); free(rep.cols);
    return 0;
}
