// template.c — see template.h.
#include "evals/template.h"
#include "util.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char *p; size_t n, cap; } Buf;
static void buf_put(Buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static const char *skip_ws(const char *s, const char *e) {
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    return s;
}

// Resolve a path in [s, e) against doc then vars. NULL + err on failure.
static const cJSON *resolve(const char *s, const char *e, const cJSON *doc, const cJSON *vars,
                            char *err, size_t errsz) {
    s = skip_ws(s, e);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    const char *p = s;
    if (p >= e || !(isalpha((unsigned char)*p) || *p == '_')) {
        snprintf(err, errsz, "template: expected a field name in '{{%.*s}}'", (int)(e - s), s);
        return NULL;
    }
    const cJSON *cur = NULL;
    int first = 1;
    while (p < e) {
        if (first || *p == '.') {
            if (!first) p++;
            const char *n0 = p;
            while (p < e && (isalnum((unsigned char)*p) || *p == '_')) p++;
            if (p == n0) { snprintf(err, errsz, "template: empty name in '{{%.*s}}'", (int)(e - s), s); return NULL; }
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(p - n0), n0);
            if (first) {
                cur = doc ? cJSON_GetObjectItemCaseSensitive(doc, name) : NULL;
                if (!cur && vars) cur = cJSON_GetObjectItemCaseSensitive(vars, name);
            } else {
                cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, name) : NULL;
            }
            if (!cur) { snprintf(err, errsz, "template: no field '%s' (in '{{%.*s}}')", name, (int)(e - s), s); return NULL; }
            first = 0;
        } else if (*p == '[') {
            char *end;
            long i = strtol(p + 1, &end, 10);
            if (end == p + 1 || end >= e || *end != ']') { snprintf(err, errsz, "template: bad index in '{{%.*s}}'", (int)(e - s), s); return NULL; }
            p = end + 1;
            if (!cJSON_IsArray(cur) || i < 0 || i >= cJSON_GetArraySize(cur)) {
                snprintf(err, errsz, "template: index %ld out of range in '{{%.*s}}'", i, (int)(e - s), s);
                return NULL;
            }
            cur = cJSON_GetArrayItem(cur, (int)i);
        } else {
            snprintf(err, errsz, "template: unexpected '%c' in '{{%.*s}}'", *p, (int)(e - s), s);
            return NULL;
        }
    }
    return cur;
}

static const char *FILTERS[] = {"strip", "lstrip", "rstrip", "capitalize", "lower", "upper", "spaces"};
enum { NFILTERS = sizeof FILTERS / sizeof FILTERS[0] };

static int filter_id(const char *s, const char *e) {
    s = skip_ws(s, e);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    for (int i = 0; i < NFILTERS; i++)
        if ((size_t)(e - s) == strlen(FILTERS[i]) && !strncmp(s, FILTERS[i], e - s)) return i;
    return -1;
}

// Python's str.strip() family strips Unicode whitespace; ASCII whitespace covers our data.
static int py_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static void apply_filter(int f, char **s) {
    char *p = *s;
    size_t n = strlen(p);
    switch (f) {
    case 0: case 1: case 2: {
        size_t a = 0, b = n;
        if (f != 2) while (a < b && py_space(p[a])) a++;
        if (f != 1) while (b > a && py_space(p[b - 1])) b--;
        memmove(p, p + a, b - a);
        p[b - a] = 0;
        break;
    }
    case 3: // capitalize: ASCII case mapping (non-ASCII bytes are left alone)
        for (size_t i = 0; i < n; i++) p[i] = (char)(i == 0 ? toupper((unsigned char)p[i]) : tolower((unsigned char)p[i]));
        break;
    case 4: for (size_t i = 0; i < n; i++) p[i] = (char)tolower((unsigned char)p[i]); break;
    case 5: for (size_t i = 0; i < n; i++) p[i] = (char)toupper((unsigned char)p[i]); break;
    case 6: for (size_t i = 0; i < n; i++) if (p[i] == '_') p[i] = ' '; break;
    }
}

static char *value_text(const cJSON *v, char *err, size_t errsz) {
    if (cJSON_IsString(v)) return xstrdup(v->valuestring);
    if (cJSON_IsBool(v)) return xstrdup(cJSON_IsTrue(v) ? "true" : "false");
    if (cJSON_IsNumber(v)) {
        char b[64];
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 1e15) snprintf(b, sizeof b, "%.0f", d);
        else snprintf(b, sizeof b, "%.17g", d);
        return xstrdup(b);
    }
    snprintf(err, errsz, "template: field is a %s, not text", cJSON_IsArray(v) ? "list" : cJSON_IsObject(v) ? "mapping" : "null");
    return NULL;
}

// One pass used by both render (doc != NULL or vars) and check (check_only).
static char *run(const char *t, const cJSON *doc, const cJSON *vars, int check_only, char *err, size_t errsz) {
    Buf b = {0};
    buf_put(&b, "", 0);
    const char *p = t;
    for (;;) {
        const char *o = strstr(p, "{{");
        if (!o) { buf_put(&b, p, strlen(p)); break; }
        buf_put(&b, p, o - p);
        const char *c = strstr(o + 2, "}}");
        if (!c) { snprintf(err, errsz, "template: '{{' without '}}'"); free(b.p); return NULL; }
        const char *bar = memchr(o + 2, '|', c - (o + 2));
        const char *pe = bar ? bar : c;
        // Validate filters first so check mode catches typos.
        int fl[8], nf = 0;
        for (const char *f = bar; f; ) {
            const char *fe = memchr(f + 1, '|', c - (f + 1));
            if (!fe) fe = c;
            int id = filter_id(f + 1, fe);
            if (id < 0) {
                snprintf(err, errsz, "template: unknown filter '%.*s' (known: strip lstrip rstrip capitalize lower upper spaces)", (int)(fe - f - 1), f + 1);
                free(b.p); return NULL;
            }
            if (nf == 8) { snprintf(err, errsz, "template: too many filters"); free(b.p); return NULL; }
            fl[nf++] = id;
            f = fe < c ? fe : NULL;
        }
        if (check_only) {
            // Syntax only: a name must start the expression.
            const char *s = skip_ws(o + 2, pe);
            if (s >= pe || !(isalpha((unsigned char)*s) || *s == '_')) {
                snprintf(err, errsz, "template: expected a field name in '{{%.*s}}'", (int)(c - o - 2), o + 2);
                free(b.p); return NULL;
            }
        } else {
            const cJSON *v = resolve(o + 2, pe, doc, vars, err, errsz);
            if (!v) { free(b.p); return NULL; }
            char *s = value_text(v, err, errsz);
            if (!s) { free(b.p); return NULL; }
            for (int i = 0; i < nf; i++) apply_filter(fl[i], &s);
            buf_put(&b, s, strlen(s));
            free(s);
        }
        p = c + 2;
    }
    return b.p;
}

char *tmpl_render(const char *tmpl, const cJSON *doc, const cJSON *vars, char *err, size_t errsz) {
    return run(tmpl, doc, vars, 0, err, errsz);
}

int tmpl_check(const char *tmpl, char *err, size_t errsz) {
    char *r = run(tmpl, NULL, NULL, 1, err, errsz);
    if (!r) return 0;
    free(r);
    return 1;
}

const cJSON *tmpl_array(const char *tmpl, const cJSON *doc, const cJSON *vars) {
    const char *s = tmpl;
    while (*s == ' ') s++;
    if (strncmp(s, "{{", 2) != 0) return NULL;
    const char *c = strstr(s + 2, "}}");
    if (!c) return NULL;
    const char *rest = c + 2;
    while (*rest == ' ') rest++;
    if (*rest || memchr(s + 2, '|', c - s - 2)) return NULL;
    char err[8];
    const cJSON *v = resolve(s + 2, c, doc, vars, err, sizeof err);
    return cJSON_IsArray(v) ? v : NULL;
}
