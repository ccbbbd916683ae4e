// task.c — see task.h.
#include "evals/task.h"
#include "evals/template.h"
#include "util.h"
#include "ynode.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---------------------------------------------------------------- small helpers

static char *dirname_of(const char *path) {
    char *d = xstrdup(path);
    char *sl = strrchr(d, '/');
    if (sl) *sl = 0; else strcpy(d, ".");
    return d;
}

static char *render_or_die(const char *tmpl, const cJSON *vars, const YNode *at) {
    char err[512];
    char *s = tmpl_render(tmpl, NULL, vars, err, sizeof err);
    if (!s) y_die(at, "%s", err);
    return s;
}

// ---------------------------------------------------------------- task YAML parsing

static void check_template(const YNode *n) {
    char err[512];
    if (!tmpl_check(y_str(n), err, sizeof err)) y_die(n, "%s", err);
}

static char *opt_template(YNode *m, const char *key, const char *def) {
    YNode *n = y_get(m, key);
    if (!n) return def ? xstrdup(def) : NULL;
    check_template(n);
    return xstrdup(y_str(n));
}

// The keys a task file, a group file and a data mapping take (docs/tasks.md): an unknown
// one is reported with the nearest of them before any missing-key error could hide it.
static const char *const TASK_KEYS[] = {"task", "subtasks", "aggregate", "output_type", "data", "fewshot_data",
                                        "doc_to_text", "doc_to_choice", "doc_to_target", "multiple_input", "description",
                                        "target_delimiter", "fewshot_delimiter", "num_fewshot", "fewshot", "metrics",
                                        "add_bos", NULL};
static const char *const GROUP_KEYS[] = {"group", "task", "aggregate", NULL};
static const char *const DATA_KEYS[] = {"path", "format", "preprocess", "labels", "columns", "header", NULL};

static void parse_data(YNode *n, const char *yaml_dir, const cJSON *vars, DataSpec *d) {
    if (n->kind != Y_MAP) y_die(n, "data: expected a mapping with path/format");
    y_check_keys(n, DATA_KEYS, "data");
    memset(d, 0, sizeof *d);
    size_t mark = hold_mark();
    YNode *p = y_req(n, "path");
    d->path_line = p->line;
    char buf[4096];
    d->path = xstrdup(resolve_path(hold(render_or_die(y_str(p), vars, p), free), yaml_dir, buf, sizeof buf));
    hold_unwind(mark); // the rendered path
    YNode *f = y_get(n, "format");
    const char *fmt = f ? y_str(f) : NULL;
    if (!fmt) { // infer from the extension
        const char *dot = strrchr(d->path, '.');
        fmt = !dot ? "" : !strcmp(dot, ".jsonl") ? "jsonl" : !strcmp(dot, ".json") ? "json" : !strcmp(dot, ".csv") ? "csv" : !strcmp(dot, ".txt") ? "text" : "";
        if (!*fmt) y_die(n, "data: cannot infer the format of '%s'; add format: jsonl|json|csv|hellaswag6|text", d->path);
    }
    static const char *FORMATS[] = {"jsonl", "json", "csv", "hellaswag6", "text"};
    int ok = !f; // inferred formats are known ones
    for (size_t i = 0; f && i < sizeof FORMATS / sizeof *FORMATS; i++) ok |= !strcmp(fmt, FORMATS[i]);
    if (!ok) y_die(f, "data.format: unknown format '%s' (jsonl, json, csv, hellaswag6, text)", fmt);
    d->format = xstrdup(fmt);
    YNode *pp = y_get(n, "preprocess");
    if (pp) {
        const char *s = y_str(pp);
        if (strcmp(s, "arc_llm_adapters") && strcmp(s, "hellaswag") && strcmp(s, "boolq_mosaic"))
            y_die(pp, "data.preprocess: unknown step '%s' (arc_llm_adapters, hellaswag, boolq_mosaic)", s);
        d->preprocess = xstrdup(s);
    }
    YNode *l = y_get(n, "labels");
    if (l) {
        d->labels = xstrdup(resolve_path(hold(render_or_die(y_str(l), vars, l), free), yaml_dir, buf, sizeof buf));
        hold_unwind(mark);
    }
    YNode *c = y_get(n, "columns");
    if (c) {
        if (c->kind != Y_SEQ || c->n == 0) y_die(c, "data.columns: expected a list of field names");
        d->columns = xcalloc(c->n, sizeof(char *));
        for (int i = 0; i < c->n; i++) d->columns[d->ncolumns++] = xstrdup(y_str(c->items[i]));
    }
    YNode *h = y_get(n, "header");
    d->header = h ? y_bool(h) : 1;
    y_check_unused(n, "data");
}

static void free_data(DataSpec *d) {
    free(d->path); free(d->format); free(d->preprocess); free(d->labels);
    for (int i = 0; i < d->ncolumns; i++) free(d->columns[i]);
    free(d->columns);
}

static TaskDef *push_task(TaskRegistry *r) {
    r->tasks = xrealloc(r->tasks, (r->ntasks + 1) * sizeof(TaskDef));
    TaskDef *t = &r->tasks[r->ntasks++];
    memset(t, 0, sizeof *t);
    return t;
}
static GroupDef *push_group(TaskRegistry *r) {
    r->groups = xrealloc(r->groups, (r->ngroups + 1) * sizeof(GroupDef));
    GroupDef *g = &r->groups[r->ngroups++];
    memset(g, 0, sizeof *g);
    return g;
}
static void group_add(GroupDef *g, const char *name) {
    g->members = xrealloc(g->members, (g->n + 1) * sizeof(char *));
    g->members[g->n++] = xstrdup(name);
}

static int name_taken(const TaskRegistry *r, const char *name) {
    for (int i = 0; i < r->ntasks; i++) if (!strcmp(r->tasks[i].name, name)) return 1;
    for (int i = 0; i < r->ngroups; i++) if (!strcmp(r->groups[i].name, name)) return 1;
    return 0;
}

static int valid_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++) if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.')) return 0;
    return 1;
}

// One task (or one member of a family) from the YAML mapping. The mapping's `used` marks
// are reset per member so every member reads the same keys.
static void parse_task_fields(YNode *root, const char *file, const char *name, const char *family,
                              cJSON *vars, TaskDef *t) {
    size_t mark = hold_mark();
    char *ydir = hold(dirname_of(file), free);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->family, sizeof t->family, "%s", family);
    snprintf(t->file, sizeof t->file, "%s", file);
    t->line = root->line;
    t->vars = vars;
    YNode *ot = y_get(root, "output_type");
    const char *ots = ot ? y_str(ot) : "multiple_choice";
    if (!strcmp(ots, "multiple_choice")) t->type = OT_MULTIPLE_CHOICE;
    else if (!strcmp(ots, "minimal_pair")) t->type = OT_MINIMAL_PAIR;
    else if (!strcmp(ots, "loglikelihood")) t->type = OT_LOGLIKELIHOOD;
    else if (!strcmp(ots, "perplexity")) t->type = OT_PERPLEXITY;
    else y_die(ot, "output_type: unknown '%s' (multiple_choice, minimal_pair, loglikelihood, perplexity)", ots);
    parse_data(y_req(root, "data"), ydir, vars, &t->data);
    YNode *fd = y_get(root, "fewshot_data");
    if (fd) { t->has_fewshot_data = 1; parse_data(fd, ydir, vars, &t->fewshot_data); }
    int text_data = !strcmp(t->data.format, "text");
    if ((t->type == OT_PERPLEXITY) != text_data)
        y_die(root, "task %s: output_type perplexity needs format text (and only it)", name);
    if (t->type != OT_PERPLEXITY) {
        YNode *dt = y_get(root, "doc_to_text");
        if (!dt && t->type != OT_MINIMAL_PAIR) y_die(root, "task %s: missing required key 'doc_to_text'", name);
        if (dt) check_template(dt);
        t->doc_to_text = xstrdup(dt ? y_str(dt) : "");
        YNode *dc = y_get(root, "doc_to_choice");
        if (t->type == OT_LOGLIKELIHOOD) {
            if (dc) y_die(dc, "doc_to_choice: not used by output_type loglikelihood");
        } else {
            if (!dc) y_die(root, "task %s: missing required key 'doc_to_choice'", name);
            if (dc->kind == Y_SEQ) {
                t->nchoice_list = dc->n;
                t->choice_list = xcalloc(dc->n, sizeof(char *));
                for (int i = 0; i < dc->n; i++) { check_template(dc->items[i]); t->choice_list[i] = xstrdup(y_str(dc->items[i])); }
                if (dc->n < 2) y_die(dc, "doc_to_choice: need at least two choices");
            } else {
                check_template(dc);
                t->doc_to_choice = xstrdup(y_str(dc));
            }
        }
        YNode *tg = y_get(root, "doc_to_target");
        if (!tg && t->type != OT_MINIMAL_PAIR) y_die(root, "task %s: missing required key 'doc_to_target'", name);
        if (tg) check_template(tg);
        // Minimal pairs list the good sentence first unless told otherwise.
        t->doc_to_target = xstrdup(tg ? y_str(tg) : "0");
        YNode *mi = y_get(root, "multiple_input");
        t->multiple_input = mi ? y_bool(mi) : 0;
        if (t->multiple_input && t->type != OT_MULTIPLE_CHOICE) y_die(mi, "multiple_input: only for multiple_choice tasks");
    }
    t->description = opt_template(root, "description", "");
    // Minimal pairs are scored from BOS as whole sentences: no delimiter by default.
    t->target_delimiter = opt_template(root, "target_delimiter", t->type == OT_MINIMAL_PAIR ? "" : " ");
    t->fewshot_delimiter = opt_template(root, "fewshot_delimiter", "\n\n");
    YNode *nf = y_get(root, "num_fewshot");
    t->num_fewshot = nf ? (int)y_int(nf) : 0;
    if (t->num_fewshot < 0) y_die(nf, "num_fewshot: must be >= 0");
    t->seed = 1234; // lm-eval's fewshot_random_seed default
    YNode *fs = y_get(root, "fewshot");
    if (fs) {
        if (fs->kind != Y_MAP) y_die(fs, "fewshot: expected {sampler, seed}");
        YNode *s = y_get(fs, "sampler");
        if (s) {
            if (!strcmp(y_str(s), "first_n")) t->sampler_first_n = 1;
            else if (strcmp(y_str(s), "random")) y_die(s, "fewshot.sampler: unknown '%s' (random, first_n)", y_str(s));
        }
        YNode *sd = y_get(fs, "seed");
        if (sd) { long v = y_int(sd); if (v < 0) y_die(sd, "fewshot.seed: must be >= 0"); t->seed = (uint64_t)v; }
        y_check_unused(fs, "fewshot");
    }
    YNode *ms = y_get(root, "metrics");
    unsigned allowed = t->type == OT_MULTIPLE_CHOICE ? (M_ACC | M_ACC_NORM)
                     : t->type == OT_MINIMAL_PAIR ? M_ACC
                     : t->type == OT_LOGLIKELIHOOD ? (M_ACC | M_PPL) : (M_LOSS | M_PPL);
    if (ms) {
        if (ms->kind != Y_SEQ || ms->n == 0) y_die(ms, "metrics: expected a list");
        for (int i = 0; i < ms->n; i++) {
            const char *m = y_str(ms->items[i]);
            unsigned bit = !strcmp(m, "acc") ? M_ACC : !strcmp(m, "acc_norm") ? M_ACC_NORM
                         : (!strcmp(m, "perplexity") || !strcmp(m, "ppl")) ? M_PPL : !strcmp(m, "loss") ? M_LOSS : 0;
            if (!(bit & allowed)) y_die(ms->items[i], "metrics: '%s' is not available for output_type %s", m, ots);
            t->metrics |= bit;
        }
    } else t->metrics = allowed;
    if (t->multiple_input) t->metrics &= ~(unsigned)M_ACC_NORM; // choices are contexts
    YNode *ab = y_get(root, "add_bos");
    t->add_bos = ab ? y_bool(ab) : 1;
    hold_unwind(mark); // ydir
}

static void reset_used(YNode *n) {
    if (n->kind == Y_MAP && n->used) memset(n->used, 0, n->n);
    if (n->kind != Y_SCALAR) for (int i = 0; i < n->n; i++) reset_used(n->items[i]);
}

static void group_release(void *g) {
    GroupDef *gd = g;
    for (int j = 0; j < gd->n; j++) free(gd->members[j]);
    free(gd->members);
}
typedef struct { char **names; GroupDef *g; int n; } Cats;
static void cats_release(void *c) {
    Cats *cs = c;
    for (int i = 0; i < cs->n; i++) { free(cs->names[i]); group_release(&cs->g[i]); }
    free(cs->names); free(cs->g);
}

// What the file defines goes straight into r (freed with it on an error); the YAML tree
// and the family's groups are held (util.h) until they are in r.
static void parse_yaml_file(TaskRegistry *r, const char *file) {
    size_t mark = hold_mark();
    YNode *root = hold(y_load_file(file), y_release);
    if (root->kind != Y_MAP) y_die(root, "task file: expected a mapping");
    YNode *g = y_get(root, "group");
    y_check_keys(root, g ? GROUP_KEYS : TASK_KEYS, g ? "group file" : "task file");
    if (g) {
        const char *name = y_str(g);
        if (!valid_name(name)) y_die(g, "group: invalid name '%s'", name);
        if (name_taken(r, name)) { hold_unwind(mark); return; } // an earlier directory wins
        GroupDef *gd = push_group(r);
        snprintf(gd->name, sizeof gd->name, "%s", name);
        snprintf(gd->file, sizeof gd->file, "%s", file);
        YNode *ts = y_req(root, "task");
        if (ts->kind != Y_SEQ || ts->n == 0) y_die(ts, "group %s: task: expected a list of task names", name);
        for (int i = 0; i < ts->n; i++) group_add(gd, y_str(ts->items[i]));
        gd->weight_by_size = 1;
        YNode *ag = y_get(root, "aggregate");
        if (ag) {
            YNode *w = y_get(ag, "weight_by_size");
            if (w) gd->weight_by_size = y_bool(w);
            y_check_unused(ag, "aggregate");
        }
        y_check_unused(root, "group file");
        hold_unwind(mark);
        return;
    }
    YNode *tn = y_req(root, "task");
    const char *name = y_str(tn);
    if (!valid_name(name)) y_die(tn, "task: invalid name '%s'", name);
    if (name_taken(r, name)) { hold_unwind(mark); return; }
    YNode *subs = y_get(root, "subtasks");
    YNode *ag = y_get(root, "aggregate");
    int wbs = 1;
    if (ag) {
        YNode *w = y_get(ag, "weight_by_size");
        if (w) wbs = y_bool(w);
        y_check_unused(ag, "aggregate");
    }
    if (!subs) {
        parse_task_fields(root, file, name, name, cJSON_CreateObject(), push_task(r));
        y_check_unused(root, "task file");
        hold_unwind(mark);
        return;
    }
    if ((subs->kind != Y_SEQ && subs->kind != Y_MAP) || subs->n == 0) y_die(subs, "subtasks: expected a list or a mapping name: category");
    int is_map = subs->kind == Y_MAP;
    GroupDef top; memset(&top, 0, sizeof top);
    hold(&top, group_release);
    snprintf(top.name, sizeof top.name, "%s", name);
    snprintf(top.file, sizeof top.file, "%s", file);
    top.weight_by_size = wbs;
    // Categories in first-seen order.
    Cats cs = {0};
    hold(&cs, cats_release);
    for (int i = 0; i < subs->n; i++) {
        const char *sub = is_map ? subs->keys[i] : y_str(subs->items[i]);
        const char *cat = is_map ? y_str(subs->items[i]) : "";
        char full[256];
        snprintf(full, sizeof full, "%s_%s", name, sub);
        if (!valid_name(sub) || strlen(full) >= sizeof(((TaskDef *)0)->name)) y_die(is_map ? root : subs->items[i], "subtasks: invalid name '%s'", sub);
        cJSON *vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "subtask", sub);
        cJSON_AddStringToObject(vars, "category", cat);
        reset_used(root);
        y_get(root, "task"); y_get(root, "subtasks"); y_get(root, "aggregate");
        if (ag) { reset_used(ag); y_get(ag, "weight_by_size"); }
        parse_task_fields(root, file, full, name, vars, push_task(r));
        y_check_unused(root, "task file");
        if (is_map) {
            int c = 0;
            while (c < cs.n && strcmp(cs.names[c], cat)) c++;
            if (c == cs.n) {
                cs.names = xrealloc(cs.names, (cs.n + 1) * sizeof(char *));
                cs.g = xrealloc(cs.g, (cs.n + 1) * sizeof(GroupDef));
                cs.names[cs.n] = xstrdup(cat);
                memset(&cs.g[cs.n], 0, sizeof(GroupDef));
                snprintf(cs.g[cs.n].name, sizeof cs.g[cs.n].name, "%s_%s", name, cat);
                snprintf(cs.g[cs.n].file, sizeof cs.g[cs.n].file, "%s", file);
                cs.g[cs.n].weight_by_size = wbs;
                cs.n++;
            }
            group_add(&cs.g[c], full);
        } else group_add(&top, full);
    }
    hold_drop(&cs);
    hold_drop(&top);
    for (int c = 0; c < cs.n; c++) {
        *push_group(r) = cs.g[c];
        group_add(&top, cs.g[c].name);
        free(cs.names[c]);
    }
    free(cs.names); free(cs.g);
    *push_group(r) = top;
    hold_unwind(mark); // root
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void tasks_registry_release(void *r) { tasks_registry_free(r); }

int task_item_is_path(const char *item) {
    size_t l = strlen(item);
    return strchr(item, '/') || (l > 5 && !strcmp(item + l - 5, ".yaml"));
}

TaskRegistry *tasks_registry(const char *const *dirs, int ndirs) { return tasks_registry_open(NULL, 0, dirs, ndirs); }

TaskRegistry *tasks_registry_open(const char *const *names, int nnames, const char *const *dirs, int ndirs) {
    size_t mark = hold_mark();
    TaskRegistry *r = hold(xcalloc(1, sizeof *r), tasks_registry_release);
    // Task files named by path come first, so they win over a directory's task of that name.
    for (int i = 0; i < nnames; i++) {
        if (!task_item_is_path(names[i])) continue;
        if (!file_exists(names[i])) die_input("--tasks: %s: no such task file", names[i]);
        parse_yaml_file(r, names[i]);
    }
    for (int d = 0; d < ndirs; d++) {
        DIR *dp = opendir(dirs[d]);
        if (!dp) die_input("%s: cannot open task directory: %s", dirs[d], strerror(errno));
        char **names = hold(xcalloc(1, sizeof(char *)), strv_free); // NULL-terminated
        int n = 0;
        struct dirent *e;
        while ((e = readdir(dp))) {
            size_t l = strlen(e->d_name);
            if (l > 5 && !strcmp(e->d_name + l - 5, ".yaml")) {
                names = hold_realloc(names, (n + 2) * sizeof(char *));
                names[n++] = xstrdup(e->d_name);
                names[n] = NULL;
            }
        }
        closedir(dp);
        qsort(names, n, sizeof(char *), cmp_str); // deterministic order
        for (int i = 0; i < n; i++) {
            char path[1024];
            if (snprintf(path, sizeof path, "%s/%s", dirs[d], names[i]) >= (int)sizeof path)
                die_input("%s/%s: path too long", dirs[d], names[i]);
            parse_yaml_file(r, path);
        }
        hold_drop(names);
        strv_free(names);
    }
    hold_end(mark);
    return r;
}

void tasks_registry_free(TaskRegistry *r) {
    if (!r) return;
    for (int i = 0; i < r->ntasks; i++) {
        TaskDef *t = &r->tasks[i];
        free_data(&t->data);
        if (t->has_fewshot_data) free_data(&t->fewshot_data);
        free(t->doc_to_text); free(t->doc_to_target); free(t->doc_to_choice);
        for (int j = 0; j < t->nchoice_list; j++) free(t->choice_list[j]);
        free(t->choice_list);
        free(t->description); free(t->target_delimiter); free(t->fewshot_delimiter);
        cJSON_Delete(t->vars);
    }
    for (int i = 0; i < r->ngroups; i++) {
        for (int j = 0; j < r->groups[i].n; j++) free(r->groups[i].members[j]);
        free(r->groups[i].members);
    }
    free(r->tasks); free(r->groups); free(r);
}

const char *tasks_default_dir(void) {
    static char buf[PATH_MAX + 32];
    const char *root = install_root();
    // Without one, a path that names where it was looked for (readers report it missing).
    snprintf(buf, sizeof buf, "%s/evals/tasks", root ? root : "(no evals/tasks beside the binary)");
    return buf;
}

static int find_task(const TaskRegistry *r, const char *name) {
    for (int i = 0; i < r->ntasks; i++) if (!strcmp(r->tasks[i].name, name)) return i;
    return -1;
}
static int find_group(const TaskRegistry *r, const char *name) {
    for (int i = 0; i < r->ngroups; i++) if (!strcmp(r->groups[i].name, name)) return i;
    return -1;
}

// Top-level names for error messages: plain tasks, groups, and each family as
// "<family>_<member> (N)" instead of all its members.
static int is_family(const TaskRegistry *r, const char *name, int *count) {
    int n = 0;
    for (int j = 0; j < r->ntasks; j++)
        if (!strcmp(r->tasks[j].family, name) && strcmp(r->tasks[j].name, name)) n++;
    if (count) *count = n;
    return n > 0;
}
static int in_family(const TaskRegistry *r, const char *name) {
    for (int j = 0; j < r->ntasks; j++) {
        const char *f = r->tasks[j].family;
        size_t l = strlen(f);
        if (strcmp(r->tasks[j].name, f) && !strncmp(name, f, l) && name[l] == '_') return 1;
    }
    return 0;
}
static void available_list(const TaskRegistry *r, char *out, size_t cap) {
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < r->ngroups && o < cap; i++) {
        int n;
        if (is_family(r, r->groups[i].name, &n))
            o += snprintf(out + o, cap - o, "%s%s (and its %d members %s_*)", o ? ", " : "", r->groups[i].name, n, r->groups[i].name);
        else if (!in_family(r, r->groups[i].name))
            o += snprintf(out + o, cap - o, "%s%s", o ? ", " : "", r->groups[i].name);
    }
    for (int i = 0; i < r->ntasks && o < cap; i++)
        if (!strcmp(r->tasks[i].name, r->tasks[i].family))
            o += snprintf(out + o, cap - o, "%s%s", o ? ", " : "", r->tasks[i].name);
}

void tasks_print_available(const TaskRegistry *r, FILE *f) {
    fprintf(f, "groups:\n");
    for (int i = 0; i < r->ngroups; i++) {
        fprintf(f, "  %-28s", r->groups[i].name);
        for (int j = 0; j < r->groups[i].n && j < 8; j++) fprintf(f, " %s", r->groups[i].members[j]);
        if (r->groups[i].n > 8) fprintf(f, " ... (%d)", r->groups[i].n);
        fprintf(f, "\n");
    }
    fprintf(f, "tasks:\n");
    for (int i = 0; i < r->ntasks; i++) fprintf(f, "  %-40s %s\n", r->tasks[i].name, r->tasks[i].file);
}

typedef struct { int *v; int n; } IntList;
static void il_push_unique(IntList *l, int x) {
    for (int i = 0; i < l->n; i++) if (l->v[i] == x) return;
    l->v = xrealloc(l->v, (l->n + 1) * sizeof(int));
    l->v[l->n++] = x;
}

// What a task file named by path defines: the last group read from it (a family's top
// group or a group file), else its task.
static const char *name_of_file(const TaskRegistry *r, const char *path) {
    for (int i = r->ngroups - 1; i >= 0; i--) if (!strcmp(r->groups[i].file, path)) return r->groups[i].name;
    for (int i = 0; i < r->ntasks; i++) if (!strcmp(r->tasks[i].file, path)) return r->tasks[i].name;
    return NULL;
}

static void expand(const TaskRegistry *r, const char *name, IntList *tasks, IntList *groups, int depth) {
    if (depth > 16) die_input("task groups nest too deeply (cycle at '%s'?)", name);
    if (depth == 0 && task_item_is_path(name)) {
        const char *n = name_of_file(r, name);
        // Its name was taken by an earlier file of the same list: that one is used.
        if (!n) die_input("--tasks: %s: defines a task or group already defined by another file of --tasks", name);
        name = n;
    }
    int t = find_task(r, name);
    if (t >= 0) { il_push_unique(tasks, t); return; }
    int g = find_group(r, name);
    if (g < 0) {
        char avail[8192];
        available_list(r, avail, sizeof avail);
        die_input("unknown task '%s'; available: %s. A task of your own: --tasks path/to/task.yaml, or --task-dir DIR "
                  "holding it (docs/tasks.md)", name, avail);
    }
    for (int i = 0; i < r->groups[g].n; i++) expand(r, r->groups[g].members[i], tasks, groups, depth + 1);
    il_push_unique(groups, g); // after its members: children first
}

TaskSelection tasks_select(const TaskRegistry *r, const char *const *names, int n) {
    IntList tasks = {0}, groups = {0};
    for (int i = 0; i < n; i++) expand(r, names[i], &tasks, &groups, 0);
    if (!tasks.n) die_input("--tasks: no task named");
    TaskSelection sel = {tasks.v, tasks.n, groups.v, groups.n};
    return sel;
}
void tasks_selection_free(TaskSelection *s) { free(s->task_idx); free(s->group_idx); s->task_idx = s->group_idx = NULL; }
