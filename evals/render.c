// render.c — see render.h: a document and its few-shot examples → (context, continuation)
// requests, as lm-evaluation-harness builds them.
#include "evals/render.h"
#include "evals/template.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

int utf8_codepoints(const char *s) {
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

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
        out->choice_chars[0] = utf8_codepoints(a);
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
                out->choice_chars[k] = utf8_codepoints(a);
            }
            free(gi); free(a);
        } else {
            char *q = render_doc(t, eval, i, t->doc_to_text, "doc_to_text");
            char *ts = render_doc(t, eval, i, t->doc_to_target, "doc_to_target");
            out->gold = parse_gold(t, eval, i, ts, ch, n, "doc_to_target");
            for (int k = 0; k < n; k++) {
                out->ctx[k] = cat2(lab.p, q);
                out->cont[k] = cat2(t->target_delimiter, ch[k]);
                out->choice_chars[k] = utf8_codepoints(ch[k]);
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
