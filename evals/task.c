// task.c — see task.h.
#include "evals/task.h"
#include "evals/template.h"
#include "util.h"
#include "yaml.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---------------------------------------------------------------- small helpers

int utf8_len(const char *s) {
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

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
    YNode *root = hold(yaml_load_file(file), yaml_release);
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

TaskRegistry *tasks_registry(const char *const *dirs, int ndirs) { return tasks_registry_open(NULL, dirs, ndirs); }

TaskRegistry *tasks_registry_open(const char *list, const char *const *dirs, int ndirs) {
    size_t mark = hold_mark();
    TaskRegistry *r = hold(xcalloc(1, sizeof *r), tasks_registry_release);
    // Task files named by path come first, so they win over a directory's task of that name.
    if (list) {
        size_t m2 = hold_mark();
        char *s = hold(xstrdup(list), free), *save = NULL;
        for (char *tok = strtok_r(s, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
            if (!task_item_is_path(tok)) continue;
            if (!file_exists(tok)) die_input("--tasks: %s: no such task file", tok);
            parse_yaml_file(r, tok);
        }
        hold_unwind(m2); // s
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

TaskSelection tasks_select(const TaskRegistry *r, const char *list) {
    IntList tasks = {0}, groups = {0};
    char *s = xstrdup(list), *save = NULL;
    for (char *tok = strtok_r(s, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) expand(r, tok, &tasks, &groups, 0);
    free(s);
    if (!tasks.n) die_input("--tasks: no task named");
    TaskSelection sel = {tasks.v, tasks.n, groups.v, groups.n};
    return sel;
}
void tasks_selection_free(TaskSelection *s) { free(s->task_idx); free(s->group_idx); s->task_idx = s->group_idx = NULL; }

// ---------------------------------------------------------------- data loading

static void ds_push(DocSet *d, cJSON *doc, int line) {
    if ((d->n & (d->n - 1)) == 0) {
        int cap = d->n ? d->n * 2 : 1;
        d->docs = xrealloc(d->docs, cap * sizeof(cJSON *));
        d->lines = xrealloc(d->lines, cap * sizeof(int));
    }
    d->docs[d->n] = doc;
    d->lines[d->n++] = line;
}

static void load_jsonl(DocSet *d, char *text) {
    int line = 0;
    for (char *p = text; *p; ) {
        line++;
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        char *q = p;
        while (*q == ' ' || *q == '\t' || *q == '\r') q++;
        if (*q) {
            cJSON *o = cJSON_Parse(q);
            if (!o) die_input("%s:%d: invalid JSON", d->path, line);
            ds_push(d, o, line); // d's now, checked or not
            if (!cJSON_IsObject(o)) die_input("%s:%d: expected a JSON object", d->path, line);
        }
        if (!nl) break;
        p = nl + 1;
    }
}

static int count_lines(const char *a, const char *b) {
    int n = 0;
    for (; a < b; a++) n += *a == '\n';
    return n;
}

// A JSON list parsed element by element so each document knows its line.
static void load_json_list(DocSet *d, const char *text) {
    const char *p = text;
    int line = 1;
    const char *last = text;
    while (*p && isspace((unsigned char)*p)) p++;
    if (*p != '[') die_input("%s:%d: expected a JSON list of objects", d->path, 1 + count_lines(text, p));
    p++;
    for (;;) {
        while (*p && isspace((unsigned char)*p)) p++;
        if (*p == ']') break;
        line += count_lines(last, p);
        last = p;
        const char *end = NULL;
        cJSON *o = cJSON_ParseWithOpts(p, &end, 0);
        if (!o) {
            const char *ep = cJSON_GetErrorPtr();
            die_input("%s:%d: invalid JSON", d->path, line + (ep && ep > p ? count_lines(p, ep) : 0));
        }
        ds_push(d, o, line); // d's now, checked or not
        if (!cJSON_IsObject(o)) die_input("%s:%d: expected a JSON object", d->path, line);
        p = end;
        while (*p && isspace((unsigned char)*p)) p++;
        if (*p == ',') { p++; continue; }
        if (*p == ']') break;
        die_input("%s:%d: expected ',' or ']' in the JSON list", d->path, line + count_lines(last, p));
    }
}

// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines.
typedef struct { char **fields; int nf; char *fb; char **own_hdr; int nhdr; } CsvBufs;
static void csv_release(void *c) {
    CsvBufs *b = c;
    for (int i = 0; i < b->nf; i++) free(b->fields[i]);
    for (int i = 0; b->own_hdr && i < b->nhdr; i++) free(b->own_hdr[i]);
    free(b->fields); free(b->fb); free(b->own_hdr);
}
static void load_csv(DocSet *d, char *text, const DataSpec *spec) {
    char **hdr = NULL; int nhdr = 0;
    if (spec->columns) { hdr = spec->columns; nhdr = spec->ncolumns; }
    char *p = text;
    int line = 1, row = 0;
    int capf = 0;
    size_t fbn = 0, fbcap = 0;
    CsvBufs cb = {0}; // held (util.h) while rows are read
    hold(&cb, csv_release);
    while (*p) {
        int row_line = line;
        cb.nf = 0;
        for (;;) { // one field
            fbn = 0;
            if (*p == '"') {
                p++;
                for (;;) {
                    if (!*p) die_input("%s:%d: unterminated quoted field", d->path, row_line);
                    if (*p == '"' && p[1] == '"') { p += 2; if (fbn + 2 > fbcap) cb.fb = xrealloc(cb.fb, fbcap = fbcap * 2 + 64); cb.fb[fbn++] = '"'; continue; }
                    if (*p == '"') { p++; break; }
                    if (*p == '\n') line++;
                    if (fbn + 2 > fbcap) cb.fb = xrealloc(cb.fb, fbcap = fbcap * 2 + 64);
                    cb.fb[fbn++] = *p++;
                }
                if (*p && *p != ',' && *p != '\n' && *p != '\r') die_input("%s:%d: text after a closing quote", d->path, line);
            } else {
                while (*p && *p != ',' && *p != '\n' && *p != '\r') {
                    if (fbn + 2 > fbcap) cb.fb = xrealloc(cb.fb, fbcap = fbcap * 2 + 64);
                    cb.fb[fbn++] = *p++;
                }
            }
            if (cb.nf == capf) cb.fields = xrealloc(cb.fields, (capf = capf * 2 + 8) * sizeof(char *));
            if (!cb.fb) cb.fb = xrealloc(cb.fb, fbcap = 64);
            cb.fb[fbn] = 0;
            cb.fields[cb.nf++] = xstrdup(cb.fb);
            if (*p == ',') { p++; continue; }
            if (*p == '\r') p++;
            if (*p == '\n') { p++; line++; }
            break;
        }
        if (cb.nf == 1 && !cb.fields[0][0]) { free(cb.fields[0]); cb.nf = 0; continue; } // blank line
        if (row == 0 && spec->header) {
            if (!hdr) { hdr = cb.own_hdr = cb.fields; nhdr = cb.nhdr = cb.nf; cb.fields = NULL; capf = 0; cb.nf = 0; }
            else { for (int i = 0; i < cb.nf; i++) free(cb.fields[i]); cb.nf = 0; }
            row++;
            continue;
        }
        row++;
        if (!hdr) die_input("%s: csv without a header row needs data.columns", d->path);
        if (cb.nf != nhdr) die_input("%s:%d: expected %d fields, found %d", d->path, row_line, nhdr, cb.nf);
        cJSON *o = cJSON_CreateObject();
        for (int i = 0; i < cb.nf; i++) { cJSON_AddStringToObject(o, hdr[i], cb.fields[i]); free(cb.fields[i]); }
        cb.nf = 0;
        ds_push(d, o, row_line);
    }
    hold_drop(&cb);
    csv_release(&cb);
}

// llama.cpp's HellaSwag text layout: 6 lines per item (context, gold, 4 endings).
static void load_hellaswag6(DocSet *d, char *text) {
    char *lines[6];
    int line = 0;
    char *p = text;
    while (*p) {
        int first = line + 1;
        for (int k = 0; k < 6; k++) {
            if (!*p) die_input("%s:%d: truncated item (6 lines per item: context, label, 4 endings)", d->path, first);
            char *nl = strchr(p, '\n');
            if (nl) *nl = 0;
            size_t l = strlen(p);
            if (l && p[l - 1] == '\r') p[l - 1] = 0;
            lines[k] = p;
            line++;
            p = nl ? nl + 1 : p + l;
        }
        char *end;
        long gold = strtol(lines[1], &end, 10);
        if (end == lines[1] || *end || gold < 0 || gold > 3) die_input("%s:%d: label must be 0-3, got '%s'", d->path, first + 1, lines[1]);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "ctx", lines[0]);
        cJSON_AddNumberToObject(o, "label", (double)gold);
        cJSON *e = cJSON_AddArrayToObject(o, "endings");
        for (int k = 2; k < 6; k++) cJSON_AddItemToArray(e, cJSON_CreateString(lines[k]));
        ds_push(d, o, first);
    }
}

static void join_labels(DocSet *d, const char *path) {
    size_t n, mark = hold_mark();
    char *text = hold(read_file(path, &n), free);
    int line = 0, k = 0;
    for (char *p = text; *p; ) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        line++;
        char *s = p;
        while (*s == ' ' || *s == '\t') s++;
        size_t l = strlen(s);
        while (l && (s[l - 1] == '\r' || s[l - 1] == ' ')) s[--l] = 0;
        if (*s) {
            if (k >= d->n) die_input("%s:%d: more labels than the %d documents of %s", path, line, d->n, d->path);
            char *end;
            long v = strtol(s, &end, 10);
            cJSON_DeleteItemFromObjectCaseSensitive(d->docs[k], "label");
            if (*end) cJSON_AddStringToObject(d->docs[k], "label", s);
            else cJSON_AddNumberToObject(d->docs[k], "label", (double)v);
            k++;
        }
        if (!nl) break;
        p = nl + 1;
    }
    hold_unwind(mark);
    if (k != d->n) die_input("%s: %d labels for %d documents of %s", path, k, d->n, d->path);
}

// ---- named preprocessing steps

static const char *req_string(const DocSet *d, int i, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d->docs[i], key);
    if (!cJSON_IsString(v)) die_input("%s:%d: field '%s' missing or not a string", d->path, d->lines[i], key);
    return v->valuestring;
}

static void set_str(cJSON *o, const char *key, const char *s, size_t n) {
    char *c = xmalloc(n + 1);
    memcpy(c, s, n); c[n] = 0;
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    cJSON_AddStringToObject(o, key, c);
    free(c);
}
static void set_num(cJSON *o, const char *key, double v) {
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    cJSON_AddNumberToObject(o, key, v);
}

// LLM-Adapters' ARC/OBQA records hold "...question: Q\n\nAnswer1: a Answer2: b ...\n\n
// Answer format: answer1/answer2/..." and answer "answerK"; recover Q, the choices in
// their original order, and the gold index.
static void pre_arc_llm_adapters(DocSet *d) {
    static const char PRE[] = "Please choose the correct answer to the question: ";
    for (int i = 0; i < d->n; i++) {
        const char *ins = req_string(d, i, "instruction");
        const char *ans = req_string(d, i, "answer");
        if (strncmp(ins, PRE, sizeof PRE - 1)) die_input("%s:%d: instruction does not start with \"%s\"", d->path, d->lines[i], PRE);
        const char *q = ins + sizeof PRE - 1;
        const char *a1 = strstr(q, "\n\nAnswer1: ");
        const char *fmt = a1 ? strstr(a1, "\n\nAnswer format: ") : NULL;
        if (!a1 || !fmt) die_input("%s:%d: instruction lacks \"\\n\\nAnswer1: \" or \"\\n\\nAnswer format: \"", d->path, d->lines[i]);
        int k = 0; // number of choices = entries in "answer1/answer2/..."
        for (const char *s = fmt; (s = strstr(s, "answer")); s += 6) k++;
        if (k < 2) die_input("%s:%d: fewer than two choices", d->path, d->lines[i]);
        cJSON *doc = d->docs[i];
        set_str(doc, "query", q, a1 - q);
        set_str(doc, "question", q, a1 - q);
        cJSON *ch = cJSON_CreateArray();
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "choices");
        cJSON_AddItemToObject(doc, "choices", ch); // doc's now, filled below
        const char *s = a1 + 2;
        for (int c = 1; c <= k; c++) {
            char mark[32];
            snprintf(mark, sizeof mark, "Answer%d: ", c);
            if (strncmp(s, mark, strlen(mark))) die_input("%s:%d: expected \"%s\"", d->path, d->lines[i], mark);
            s += strlen(mark);
            const char *e;
            if (c < k) {
                snprintf(mark, sizeof mark, " Answer%d: ", c + 1);
                e = strstr(s, mark);
                if (!e || e > fmt) die_input("%s:%d: missing \"Answer%d\"", d->path, d->lines[i], c + 1);
            } else e = fmt;
            char *txt = xmalloc(e - s + 1);
            memcpy(txt, s, e - s); txt[e - s] = 0;
            cJSON_AddItemToArray(ch, cJSON_CreateString(txt));
            free(txt);
            s = e + 1;
        }
        char *end;
        long g = strncmp(ans, "answer", 6) ? 0 : strtol(ans + 6, &end, 10);
        if (g < 1 || g > k || *end) die_input("%s:%d: answer '%s' is not one of answer1..answer%d", d->path, d->lines[i], ans, k);
        set_num(doc, "gold", (double)(g - 1));
    }
}

// lm-eval hellaswag preprocess: strip; " [title]" → ". "; drop "[...]"; "  " → " ".
static char *hs_pre(const char *in) {
    size_t n = strlen(in);
    char *a = xmalloc(2 * n + 1), *b = xmalloc(2 * n + 1);
    const char *s = in, *e = in + n;
    while (s < e && isspace((unsigned char)*s)) s++;
    while (e > s && isspace((unsigned char)e[-1])) e--;
    size_t k = 0;
    for (const char *p = s; p < e; ) {
        if (!strncmp(p, " [title]", 8) && p + 8 <= e) { a[k++] = '.'; a[k++] = ' '; p += 8; }
        else a[k++] = *p++;
    }
    a[k] = 0;
    size_t m = 0;
    for (size_t i = 0; i < k; ) { // non-greedy \[.*?\] (no newlines in our lines)
        if (a[i] == '[') {
            const char *c = memchr(a + i, ']', k - i);
            if (c && !memchr(a + i, '\n', c - (a + i))) { i = (size_t)(c - a) + 1; continue; }
        }
        b[m++] = a[i++];
    }
    b[m] = 0;
    k = 0;
    for (size_t i = 0; i < m; ) { // str.replace("  ", " "): one left-to-right pass
        if (b[i] == ' ' && b[i + 1] == ' ') { a[k++] = ' '; i += 2; }
        else a[k++] = b[i++];
    }
    a[k] = 0;
    free(b);
    return a;
}

// The 6-line file joins ctx_a and ctx_b without lm-eval's ctx_b.capitalize(). ctx_b is
// the trailing lower-case fragment of ActivityNet items (WikiHow items have none), i.e.
// the text after the last ". ": 3243 of 10042 validation items, exactly the ActivityNet
// share. Apply Python's capitalize() to that fragment.
static void hs_capitalize_ctx_b(char *ctx) {
    char *colon = strstr(ctx, ": ");
    char *seg = NULL;
    for (char *p = colon ? colon + 2 : ctx; (p = strstr(p, ". ")); p += 2) seg = p + 2;
    if (!seg || !islower((unsigned char)*seg)) return;
    for (char *p = seg; *p; p++) *p = (char)(p == seg ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
}

static void pre_hellaswag(DocSet *d) {
    for (int i = 0; i < d->n; i++) {
        cJSON *doc = d->docs[i];
        char *ctx = xstrdup(req_string(d, i, "ctx"));
        hs_capitalize_ctx_b(ctx);
        char *q = hs_pre(ctx);
        set_str(doc, "query", q, strlen(q));
        free(ctx); free(q);
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(doc, "endings");
        if (!cJSON_IsArray(en)) die_input("%s:%d: no endings", d->path, d->lines[i]);
        const cJSON *e;
        cJSON_ArrayForEach(e, en)
            if (!cJSON_IsString(e)) die_input("%s:%d: ending is not a string", d->path, d->lines[i]);
        cJSON *ch = cJSON_CreateArray();
        cJSON_ArrayForEach(e, en) {
            char *s = hs_pre(e->valuestring);
            cJSON_AddItemToArray(ch, cJSON_CreateString(s));
            free(s);
        }
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "choices");
        cJSON_AddItemToObject(doc, "choices", ch);
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(doc, "label");
        set_num(doc, "gold", cJSON_IsNumber(l) ? l->valuedouble : 0);
    }
}

// MosaicML BoolQ: query "Passage: P\nQuestion: Q?" back into lm-eval's passage/question.
static void pre_boolq_mosaic(DocSet *d) {
    for (int i = 0; i < d->n; i++) {
        const char *q = req_string(d, i, "query");
        if (strncmp(q, "Passage: ", 9)) die_input("%s:%d: query does not start with \"Passage: \"", d->path, d->lines[i]);
        const char *m = NULL;
        for (const char *p = q; (p = strstr(p, "\nQuestion: ")); p++) m = p; // the last one
        if (!m) die_input("%s:%d: query lacks \"\\nQuestion: \"", d->path, d->lines[i]);
        cJSON *doc = d->docs[i];
        const char *qs = m + 11;
        size_t ql = strlen(qs);
        if (ql && qs[ql - 1] == '?') ql--;
        char *pass = xmalloc(m - q);
        memcpy(pass, q + 9, m - q - 9); pass[m - q - 9] = 0;
        char *ques = xmalloc(ql + 1);
        memcpy(ques, qs, ql); ques[ql] = 0;
        set_str(doc, "passage", pass, strlen(pass));
        set_str(doc, "question", ques, ql);
        free(pass); free(ques);
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(doc, "gold");
        if (!cJSON_IsNumber(g)) die_input("%s:%d: field 'gold' missing or not a number", d->path, d->lines[i]);
        set_num(doc, "label", g->valuedouble);
    }
}

static void docset_release(void *d) { docset_free(d); }

DocSet *docset_load(const TaskDef *t, const DataSpec *spec) {
    if (!file_exists(spec->path)) die_input("%s:%d: data file '%s' not found (relative paths: task dir, then $L4Q_DATA=%s)", t->file, spec->path_line, spec->path, data_root());
    size_t mark = hold_mark();
    DocSet *d = hold(xcalloc(1, sizeof *d), docset_release);
    snprintf(d->path, sizeof d->path, "%s", spec->path);
    size_t n;
    d->text = read_file(spec->path, &n); // the documents' source until parsed
    if (!strcmp(spec->format, "text")) { d->text_len = n; hold_end(mark); return d; }
    char *text = d->text;
    if (!strcmp(spec->format, "jsonl")) load_jsonl(d, text);
    else if (!strcmp(spec->format, "json")) load_json_list(d, text);
    else if (!strcmp(spec->format, "csv")) load_csv(d, text, spec);
    else load_hellaswag6(d, text);
    free(text);
    d->text = NULL;
    if (spec->labels) join_labels(d, spec->labels);
    if (spec->preprocess) {
        if (!strcmp(spec->preprocess, "arc_llm_adapters")) pre_arc_llm_adapters(d);
        else if (!strcmp(spec->preprocess, "hellaswag")) pre_hellaswag(d);
        else pre_boolq_mosaic(d);
    }
    if (d->n == 0) die_input("%s: no documents", d->path);
    hold_end(mark);
    return d;
}

void docset_free(DocSet *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) cJSON_Delete(d->docs[i]);
    free(d->docs); free(d->lines); free(d->text); free(d);
}

// ---------------------------------------------------------------- Python's random

// MT19937 with CPython's seeding (init_by_array over the 32-bit words of |seed|) and
// CPython's randbelow/sample algorithms, so shot draws equal lm-eval's.
static void mt_init(PyRandom *r, uint32_t s) {
    r->mt[0] = s;
    for (int i = 1; i < 624; i++) r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->idx = 624;
}
void pyrandom_seed(PyRandom *r, uint64_t seed) {
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    int klen = key[1] ? 2 : 1;
    mt_init(r, 19650218u);
    int i = 1, j = 0;
    for (int k = 624 > klen ? 624 : klen; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++; j++;
        if (i >= 624) { r->mt[0] = r->mt[623]; i = 1; }
        if (j >= klen) j = 0;
    }
    for (int k = 623; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= 624) { r->mt[0] = r->mt[623]; i = 1; }
    }
    r->mt[0] = 0x80000000u;
    r->idx = 624;
}
uint32_t pyrandom_u32(PyRandom *r) {
    if (r->idx >= 624) {
        for (int k = 0; k < 624; k++) {
            uint32_t y = (r->mt[k] & 0x80000000u) | (r->mt[(k + 1) % 624] & 0x7fffffffu);
            r->mt[k] = r->mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        r->idx = 0;
    }
    uint32_t y = r->mt[r->idx++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}
static int bit_length(uint32_t n) { int k = 0; while (n) { k++; n >>= 1; } return k; }
static uint32_t randbelow(PyRandom *r, uint32_t n) {
    int k = bit_length(n); // CPython: getrandbits(n.bit_length()) until < n
    if (k == 0) return 0;
    uint32_t v;
    do v = pyrandom_u32(r) >> (32 - k); while (v >= n);
    return v;
}
void pyrandom_sample(PyRandom *r, int n, int k, int *out) {
    if (k < 0 || k > n) die_internal("sample: k=%d out of range for a population of %d", k, n);
    int setsize = 21;
    if (k > 5) { // 4 ** ceil(log(3k, 4))
        double l = log((double)k * 3) / log(4.0);
        int c = (int)ceil(l);
        long p = 1;
        for (int i = 0; i < c; i++) p *= 4;
        setsize += (int)p;
    }
    if (n <= setsize) {
        int *pool = xmalloc(n * sizeof(int));
        for (int i = 0; i < n; i++) pool[i] = i;
        for (int i = 0; i < k; i++) {
            int j = (int)randbelow(r, (uint32_t)(n - i));
            out[i] = pool[j];
            pool[j] = pool[n - i - 1];
        }
        free(pool);
    } else {
        for (int i = 0; i < k; i++) {
            int j, dup;
            do {
                j = (int)randbelow(r, (uint32_t)n);
                dup = 0;
                for (int q = 0; q < i; q++) dup |= out[q] == j;
            } while (dup);
            out[i] = j;
        }
    }
}

// ---------------------------------------------------------------- rendering

static _Noreturn void doc_die(const DocSet *d, int i, const TaskDef *t, const char *what, const char *err) {
    die_input("%s:%d: task %s: %s: %s", d->path, d->lines[i], t->name, what, err);
}

static char *render_doc(const TaskDef *t, const DocSet *d, int i, const char *tmpl, const char *what) {
    char err[512];
    char *s = tmpl_render(tmpl, d->docs[i], t->vars, err, sizeof err);
    if (!s) doc_die(d, i, t, what, err);
    return s;
}

// The choices of a document (malloc'd strings).
static char **doc_choices(const TaskDef *t, const DocSet *d, int i, int *n) {
    char **out;
    if (t->doc_to_choice) {
        const cJSON *arr = tmpl_array(t->doc_to_choice, d->docs[i], t->vars);
        if (!arr) doc_die(d, i, t, "doc_to_choice", "must be a {{field}} naming a list");
        *n = cJSON_GetArraySize(arr);
        if (*n < 1) doc_die(d, i, t, "doc_to_choice", "empty list");
        out = xcalloc(*n, sizeof(char *));
        int k = 0;
        const cJSON *e;
        char err[256];
        cJSON_ArrayForEach(e, arr) {
            cJSON *wrap = cJSON_CreateObject();
            cJSON_AddItemReferenceToObject(wrap, "v", (cJSON *)e);
            out[k] = tmpl_render("{{v}}", wrap, NULL, err, sizeof err);
            cJSON_Delete(wrap);
            if (!out[k]) doc_die(d, i, t, "doc_to_choice", err);
            k++;
        }
    } else {
        *n = t->nchoice_list;
        out = xcalloc(*n, sizeof(char *));
        for (int k = 0; k < *n; k++) out[k] = render_doc(t, d, i, t->choice_list[k], "doc_to_choice");
    }
    return out;
}

// lm-eval: a target that renders to digits is an index; else it must equal a choice.
static int parse_gold(const TaskDef *t, const DocSet *d, int i, const char *s, char **choices, int n, const char *what) {
    const char *p = s;
    while (*p == ' ') p++;
    char *end;
    long v = strtol(p, &end, 10);
    while (*end == ' ') end++;
    if (end != p && !*end) {
        if (v < 0 || v >= n) {
            char e[128];
            snprintf(e, sizeof e, "index %ld out of range for %d choices", v, n);
            doc_die(d, i, t, what, e);
        }
        return (int)v;
    }
    for (int k = 0; k < n; k++) if (!strcmp(choices[k], s)) return k;
    char e[256];
    snprintf(e, sizeof e, "'%.120s' is neither an index nor one of the choices", s);
    doc_die(d, i, t, what, e);
}

static void free_strs(char **v, int n) { for (int k = 0; k < n; k++) free(v[k]); free(v); }

typedef struct { char *p; size_t n, cap; } SB;
static void sb_add(SB *b, const char *s) {
    size_t l = strlen(s);
    if (b->n + l + 1 > b->cap) { b->cap = (b->n + l + 1) * 2; b->p = xrealloc(b->p, b->cap); }
    memcpy(b->p + b->n, s, l + 1);
    b->n += l;
}

// The text a document contributes as a few-shot example (question + delimiter + answer).
static void add_shot(const TaskDef *t, const DocSet *d, int i, SB *b) {
    if (t->type == OT_LOGLIKELIHOOD) {
        char *q = render_doc(t, d, i, t->doc_to_text, "doc_to_text");
        char *a = render_doc(t, d, i, t->doc_to_target, "doc_to_target");
        sb_add(b, q); sb_add(b, t->target_delimiter); sb_add(b, a); sb_add(b, t->fewshot_delimiter);
        free(q); free(a);
        return;
    }
    int n;
    char **ch = doc_choices(t, d, i, &n);
    if (t->multiple_input) {
        char *gi = render_doc(t, d, i, t->doc_to_text, "doc_to_text");
        int g = parse_gold(t, d, i, gi, ch, n, "doc_to_text");
        char *a = render_doc(t, d, i, t->doc_to_target, "doc_to_target");
        sb_add(b, ch[g]); sb_add(b, t->target_delimiter); sb_add(b, a); sb_add(b, t->fewshot_delimiter);
        free(gi); free(a);
    } else {
        char *q = render_doc(t, d, i, t->doc_to_text, "doc_to_text");
        char *ts = render_doc(t, d, i, t->doc_to_target, "doc_to_target");
        int g = parse_gold(t, d, i, ts, ch, n, "doc_to_target");
        sb_add(b, q); sb_add(b, t->target_delimiter); sb_add(b, ch[g]); sb_add(b, t->fewshot_delimiter);
        free(q); free(ts);
    }
    free_strs(ch, n);
}

static char *cat2(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = xmalloc(la + lb + 1);
    memcpy(s, a, la); memcpy(s + la, b, lb + 1);
    return s;
}

void task_render(const TaskDef *t, const DocSet *eval, const DocSet *pool, int i, int shots,
                 PyRandom *rng, Rendered *out) {
    memset(out, 0, sizeof *out);
    int same = pool == NULL || pool == eval;
    const DocSet *P = same ? eval : pool;
    SB lab = {0};
    sb_add(&lab, "");
    char *desc = render_doc(t, eval, i, t->description, "description");
    sb_add(&lab, desc);
    free(desc);
    if (shots > 0) {
        int avail = P->n - (same ? 1 : 0);
        if (shots > avail) die_input("task %s: %d shots requested but the few-shot pool %s has only %d documents", t->name, shots, P->path, avail);
        int k = same ? shots + 1 : shots;
        int *idx = xmalloc(k * sizeof(int));
        if (t->sampler_first_n) for (int j = 0; j < k; j++) idx[j] = j;
        else pyrandom_sample(rng, P->n, k, idx);
        out->shots = xmalloc(shots * sizeof(int));
        // lm-eval drops the evaluated document from an n+1 draw and keeps the first n.
        for (int j = 0; j < k && out->nshots < shots; j++)
            if (!(same && idx[j] == i)) out->shots[out->nshots++] = idx[j];
        free(idx);
        for (int j = 0; j < out->nshots; j++) add_shot(t, P, out->shots[j], &lab);
    }
    if (t->type == OT_LOGLIKELIHOOD) {
        char *q = render_doc(t, eval, i, t->doc_to_text, "doc_to_text");
        char *a = render_doc(t, eval, i, t->doc_to_target, "doc_to_target");
        out->nreq = 1;
        out->ctx = xmalloc(sizeof(char *)); out->cont = xmalloc(sizeof(char *));
        out->choice_chars = xmalloc(sizeof(int));
        out->ctx[0] = cat2(lab.p, q);
        out->cont[0] = cat2(t->target_delimiter, a);
        out->choice_chars[0] = utf8_len(a);
        out->gold = -1;
        free(q); free(a);
    } else {
        int n;
        char **ch = doc_choices(t, eval, i, &n);
        out->nreq = n;
        out->ctx = xcalloc(n, sizeof(char *)); out->cont = xcalloc(n, sizeof(char *));
        out->choice_chars = xcalloc(n, sizeof(int));
        if (t->multiple_input) {
            char *gi = render_doc(t, eval, i, t->doc_to_text, "doc_to_text");
            out->gold = parse_gold(t, eval, i, gi, ch, n, "doc_to_text");
            char *a = render_doc(t, eval, i, t->doc_to_target, "doc_to_target");
            for (int k = 0; k < n; k++) {
                out->ctx[k] = cat2(lab.p, ch[k]);
                out->cont[k] = cat2(t->target_delimiter, a);
                out->choice_chars[k] = utf8_len(a);
            }
            free(gi); free(a);
        } else {
            char *q = render_doc(t, eval, i, t->doc_to_text, "doc_to_text");
            char *ts = render_doc(t, eval, i, t->doc_to_target, "doc_to_target");
            out->gold = parse_gold(t, eval, i, ts, ch, n, "doc_to_target");
            for (int k = 0; k < n; k++) {
                out->ctx[k] = cat2(lab.p, q);
                out->cont[k] = cat2(t->target_delimiter, ch[k]);
                out->choice_chars[k] = utf8_len(ch[k]);
            }
            free(q); free(ts);
        }
        free_strs(ch, n);
        if (t->type == OT_MINIMAL_PAIR && n != 2) doc_die(eval, i, t, "doc_to_choice", "a minimal pair needs exactly two sentences");
    }
    free(lab.p);
    uint64_t h = HASH64_INIT;
    for (int k = 0; k < out->nreq; k++) {
        h = hash64(out->ctx[k], strlen(out->ctx[k]) + 1, h);
        h = hash64(out->cont[k], strlen(out->cont[k]) + 1, h);
    }
    out->hash = h;
}

void rendered_free(Rendered *r) {
    for (int k = 0; k < r->nreq; k++) { free(r->ctx[k]); free(r->cont[k]); }
    free(r->ctx); free(r->cont); free(r->choice_chars); free(r->shots);
    memset(r, 0, sizeof *r);
}
