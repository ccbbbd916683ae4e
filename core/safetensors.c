// safetensors.c — see safetensors.h.
#include "safetensors.h"
#include "half.h"
#include "util.h"
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct { char *path; void *map; size_t len; } Shard;

struct StSet {
    Shard *files; int nfiles;
    StTensor *t; int n, cap;
};

size_t st_dtype_size(StDtype d) { return d == ST_F32 ? 4 : (d == ST_F16 || d == ST_BF16) ? 2 : 0; }

static size_t other_size(const char *s) {
    static const struct { const char *n; size_t b; } k[] = {
        {"F64", 8}, {"I64", 8}, {"U64", 8}, {"I32", 4}, {"U32", 4}, {"I16", 2}, {"U16", 2},
        {"I8", 1}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) if (!strcmp(s, k[i].n)) return k[i].b;
    return 0;
}

static void map_file(Shard *f) {
    int fd = open(f->path, O_RDONLY);
    if (fd < 0) die_input("%s: cannot open: %s", f->path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); die_input("%s: not a regular file", f->path); }
    f->len = (size_t)st.st_size;
    f->map = NULL;
    if (f->len) {
        f->map = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (f->map == MAP_FAILED) { close(fd); die_input("%s: cannot map: %s", f->path, strerror(errno)); }
    }
    close(fd);
}

static int cmp_off(const void *a, const void *b) {
    const StTensor *x = *(StTensor *const *)a, *y = *(StTensor *const *)b;
    const char *px = x->data, *py = y->data;
    return px < py ? -1 : px > py;
}

// Parses one shard's header and appends its tensors.
static void read_shard(StSet *s, int fi) {
    Shard *f = &s->files[fi];
    map_file(f);
    const unsigned char *p = f->map;
    if (f->len < 8) die_input("%s: truncated: %zu bytes, a safetensors file starts with an 8-byte header length", f->path, f->len);
    uint64_t hn;
    memcpy(&hn, p, 8);
    if (hn > f->len - 8)
        die_input("%s: truncated or not safetensors: header length %llu runs past the end of the %zu-byte file",
                  f->path, (unsigned long long)hn, f->len);
    size_t mark = hold_mark();
    cJSON *root = hold(cJSON_ParseWithLength((const char *)p + 8, (size_t)hn), json_release);
    if (!root || !cJSON_IsObject(root)) die_input("%s: safetensors header is not a JSON object", f->path);
    const unsigned char *data = p + 8 + hn;
    size_t dlen = f->len - 8 - (size_t)hn;
    int first = s->n;
    for (cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) continue;
        const char *nm = e->string;
        cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
        cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsObject(e) || !cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2)
            die_input("%s: tensor '%.100s': header entry needs dtype (string), shape (array) and data_offsets ([begin, end])", f->path, nm);
        if (s->n == s->cap) { s->cap = s->cap ? 2 * s->cap : 64; s->t = xrealloc(s->t, s->cap * sizeof *s->t); }
        StTensor *t = &s->t[s->n];
        memset(t, 0, sizeof *t);
        snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dt->valuestring);
        t->dtype = !strcmp(dt->valuestring, "F32") ? ST_F32 : !strcmp(dt->valuestring, "F16") ? ST_F16
                 : !strcmp(dt->valuestring, "BF16") ? ST_BF16 : ST_OTHER;
        size_t es = t->dtype == ST_OTHER ? other_size(dt->valuestring) : st_dtype_size(t->dtype);
        if (!es) die_input("%s: tensor '%.100s' has unknown dtype '%.32s'", f->path, nm, dt->valuestring);
        t->ndim = cJSON_GetArraySize(sh);
        if (t->ndim > 8) die_input("%s: tensor '%.100s' has %d dimensions (at most 8 supported)", f->path, nm, t->ndim);
        t->nel = 1;
        int d = 0;
        for (cJSON *x = sh->child; x; x = x->next, d++) {
            double v = cJSON_IsNumber(x) ? x->valuedouble : -1;
            if (!(v >= 0 && v <= (double)(1ull << 40) && v == floor(v)))
                die_input("%s: tensor '%.100s': shape entry %d is not a non-negative integer", f->path, nm, d);
            t->shape[d] = (int64_t)v;
            if (t->shape[d] && t->nel > ((size_t)1 << 40) / (size_t)t->shape[d])
                die_input("%s: tensor '%.100s': shape is implausibly large", f->path, nm);
            t->nel *= (size_t)t->shape[d];
        }
        double b = cJSON_IsNumber(of->child) ? of->child->valuedouble : -1;
        double en = cJSON_IsNumber(of->child->next) ? of->child->next->valuedouble : -1;
        if (!(b >= 0 && en >= b && b == floor(b) && en == floor(en)))
            die_input("%s: tensor '%.100s': data_offsets [%g, %g] are not an ordered pair of non-negative integers", f->path, nm, b, en);
        if (en > (double)dlen)
            die_input("%s: tensor '%.100s': data_offsets [%.0f, %.0f] run past the end of the %zu-byte data buffer (truncated file?)",
                      f->path, nm, b, en, dlen);
        t->nbytes = (size_t)en - (size_t)b;
        if (t->nbytes != t->nel * es)
            die_input("%s: tensor '%.100s': dtype %s and its shape need %zu bytes but data_offsets span %zu",
                      f->path, nm, t->dtype_name, t->nel * es, t->nbytes);
        for (int j = 0; j < s->n; j++)
            if (!strcmp(s->t[j].name, nm)) die_input("%s: tensor '%.100s' appears twice (also in %s)", f->path, nm, s->t[j].file);
        t->name = xstrdup(nm);
        t->data = data + (size_t)b;
        t->file = f->path;
        s->n++;
    }
    hold_unwind(mark); // root
    // Overlaps and stray bytes: sort this shard's tensors by offset and walk the buffer.
    int k = s->n - first;
    StTensor **o = hold(xmalloc((k ? k : 1) * sizeof *o), free);
    for (int i = 0; i < k; i++) o[i] = &s->t[first + i];
    qsort(o, k, sizeof *o, cmp_off);
    const unsigned char *at = data;
    for (int i = 0; i < k; i++) {
        const unsigned char *b = o[i]->data;
        const StTensor *cur = o[i], *prev = i ? o[i - 1] : NULL;
        if (b < at)
            die_input("%s: tensor '%.100s' (bytes %zu..%zu) overlaps tensor '%.100s'", f->path, cur->name,
                      (size_t)(b - data), (size_t)(b - data) + cur->nbytes, prev->name);
        if (b > at) die_input("%s: %zu bytes at data offset %zu belong to no tensor", f->path, (size_t)(b - at), (size_t)(at - data));
        at = b + cur->nbytes;
    }
    hold_unwind(mark); // o
    if (at != data + dlen)
        die_input("%s: %zu unexpected extra bytes after the last tensor", f->path, (size_t)(data + dlen - at));
}

static int add_file(StSet *s, const char *path) {
    for (int i = 0; i < s->nfiles; i++) if (!strcmp(s->files[i].path, path)) return i;
    s->files = xrealloc(s->files, (s->nfiles + 1) * sizeof *s->files);
    s->files[s->nfiles] = (Shard){xstrdup(path), NULL, 0};
    return s->nfiles++;
}

void st_release(void *s) { st_close(s); }

StSet *st_open(const char *path) {
    size_t mark = hold_mark();
    StSet *s = hold(xcalloc(1, sizeof *s), st_release);
    size_t pl = strlen(path);
    if (pl < 5 || strcmp(path + pl - 5, ".json")) {
        read_shard(s, add_file(s, path));
        hold_end(mark);
        return s;
    }
    // Sharded: the index maps every tensor name to the file (beside the index) holding it.
    size_t len;
    char *text = hold(read_file(path, &len), free);
    cJSON *root = hold(cJSON_ParseWithLength(text, len), json_release);
    cJSON *wm = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(wm)) die_input("%s: not a safetensors index: no \"weight_map\" object", path);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = 0; else dir[0] = 0;
    for (cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/'))
            die_input("%s: weight_map entry '%.100s' must name a file beside the index", path, e->string);
        char fp[2048];
        snprintf(fp, sizeof fp, "%s%s", dir, e->valuestring);
        int before = s->nfiles, fi = add_file(s, fp);
        if (fi == before) {
            if (!file_exists(fp)) die_input("%s: shard %s (holding '%.100s') is missing", path, fp, e->string);
            read_shard(s, fi);
        }
    }
    for (cJSON *e = wm->child; e; e = e->next) {
        StTensor *t = st_find(s, e->string);
        char fp[2048];
        snprintf(fp, sizeof fp, "%s%s", dir, e->valuestring);
        if (!t) die_input("%s: the index names tensor '%.100s' in %s, but that shard does not hold it", path, e->string, fp);
        if (strcmp(t->file, fp)) die_input("%s: the index puts tensor '%.100s' in %s, but it is in %s", path, e->string, fp, t->file);
    }
    for (int i = 0; i < s->n; i++)
        if (!cJSON_GetObjectItemCaseSensitive(wm, s->t[i].name))
            die_input("%s: shard %s holds tensor '%.100s' that the index does not list", path, s->t[i].file, s->t[i].name);
    hold_drop(s);
    hold_unwind(mark); // the index
    return s;
}

void st_close(StSet *s) {
    if (!s) return;
    for (int i = 0; i < s->nfiles; i++) {
        if (s->files[i].map) munmap(s->files[i].map, s->files[i].len);
        free(s->files[i].path);
    }
    for (int i = 0; i < s->n; i++) free(s->t[i].name);
    free(s->files); free(s->t); free(s);
}

int st_count(const StSet *s) { return s->n; }
size_t st_bytes(const StSet *s) {
    size_t b = 0;
    for (int i = 0; i < s->nfiles; i++) b += s->files[i].len;
    return b;
}
StTensor *st_tensor(StSet *s, int i) { return &s->t[i]; }

StTensor *st_find(StSet *s, const char *name) {
    for (int i = 0; i < s->n; i++) if (!strcmp(s->t[i].name, name)) return &s->t[i];
    return NULL;
}

void st_to_f32(const StTensor *t, size_t first, size_t n, float *dst) {
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case ST_F32: memcpy(dst, p + 4 * first, n * 4); break;
    case ST_F16: half_to_f32(DT_F16, p + 2 * first, dst, n); break;
    case ST_BF16: half_to_f32(DT_BF16, p + 2 * first, dst, n); break;
    default: die_input("%s: tensor '%.100s' has dtype %s; only F32, F16 and BF16 are supported", t->file, t->name, t->dtype_name);
    }
}
