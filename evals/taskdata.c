// taskdata.c — see taskdata.h: a task's documents from jsonl, json, csv, hellaswag6 or text
// files, labels joined, the named preprocessing step applied (preprocess.h).
#include "evals/taskdata.h"
#include "evals/preprocess.h"
#include "util.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
    if (spec->preprocess) task_preprocess(d, spec->preprocess);
    if (d->n == 0) die_input("%s: no documents", d->path);
    hold_end(mark);
    return d;
}

void docset_free(DocSet *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) cJSON_Delete(d->docs[i]);
    free(d->docs); free(d->lines); free(d->text); free(d);
}
