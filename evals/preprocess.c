// preprocess.c — see preprocess.h: what a task template cannot express, as named C steps
// that rewrite each document's fields in place.
#include "evals/preprocess.h"
#include "util.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

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

void task_preprocess(DocSet *d, const char *step) {
    if (!strcmp(step, "arc_llm_adapters")) pre_arc_llm_adapters(d);
    else if (!strcmp(step, "hellaswag")) pre_hellaswag(d);
    else if (!strcmp(step, "boolq_mosaic")) pre_boolq_mosaic(d);
    else die_internal("unknown preprocessing step '%s' (the task reader checks the name)", step);
}
