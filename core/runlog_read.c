// runlog_read.c — see runlog_read.h. The child reads (read_hdf5) with the plain HDF5 API (fixed- and
// variable-length string attributes, so files written by h5py read too) into a RunFile,
// serializes it into one buffer and writes it to a pipe; the parent reads the pipe (and
// the child's stderr, for the reason of a failure) and deserializes.
#include "runlog_read.h"
#include "util.h"
#include "ynode.h"
#include <errno.h>
#include <hdf5.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *const RUNLOG_MEMORY_KEYS[RUNLOG_NMEM] = {"weight_bytes", "trainable_bytes", "grad_optimizer_bytes",
                                                     "saved_for_backward_bytes", "peak_transient_bytes", "peak_rss_bytes"};

enum { READ_TIMEOUT_S = 60 };

// ---------------------------------------------------------------- accessors

const char *runfile_attr(const RunFile *rf, const char *key) {
    for (int i = 0; i < rf->nattrs; i++) if (!strcmp(rf->akeys[i], key)) return rf->avals[i];
    return NULL;
}
const RunSeries *runfile_series(const RunFile *rf, const char *name) {
    for (int i = 0; i < rf->nseries; i++) if (!strcmp(rf->series[i].name, name)) return &rf->series[i];
    return NULL;
}
const RunDocs *runfile_docs(const RunFile *rf, const char *task) {
    for (int i = 0; i < rf->ndocs; i++) if (!strcmp(rf->docs[i].name, task)) return &rf->docs[i];
    return NULL;
}

static void docs_free(RunDocs *d) { free(d->hash); free(d->acc); free(d->nchoices); free(d->nll); free(d->ntok); }

void runfile_free(RunFile *rf) {
    for (int i = 0; i < rf->nattrs; i++) { free(rf->akeys[i]); free(rf->avals[i]); }
    for (int i = 0; i < rf->nseries; i++) free(rf->series[i].v);
    for (int i = 0; i < rf->ndocs; i++) docs_free(&rf->docs[i]);
    free(rf->akeys); free(rf->avals); free(rf->series); free(rf->docs);
    char path[sizeof rf->path];
    memcpy(path, rf->path, sizeof path);
    memset(rf, 0, sizeof *rf);
    memcpy(rf->path, path, sizeof path);
}

static void add_attr(RunFile *rf, const char *k, char *v) {
    rf->akeys = xrealloc(rf->akeys, (size_t)(rf->nattrs + 1) * sizeof *rf->akeys);
    rf->avals = xrealloc(rf->avals, (size_t)(rf->nattrs + 1) * sizeof *rf->avals);
    rf->akeys[rf->nattrs] = xstrdup(k);
    rf->avals[rf->nattrs++] = v;
}

// ---------------------------------------------------------------- HDF5 (child side)

typedef struct {
    RunFile *rf;
    size_t max_elems;   // no dataset can hold more elements than the file has bytes
    char *err;          // first problem found (rf->error)
} Rd;

static void rd_fail(Rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rd_fail(Rd *r, const char *fmt, ...) {
    if (r->err[0]) return; // the first problem is the one worth reporting
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->rf->error, fmt, ap);
    va_end(ap);
}

static char *attr_str(hid_t obj, const char *name) {
    if (H5Aexists(obj, name) <= 0) return NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    char *out = NULL;
    // Scalar or one-element strings only; an attribute damaged into an array is not read.
    if (t >= 0 && sp >= 0 && H5Tget_class(t) == H5T_STRING && H5Sget_simple_extent_npoints(sp) == 1) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_cset(mt, H5Tget_cset(t)); // h5py writes UTF-8; HDF5 will not convert csets
        if (H5Tis_variable_str(t) > 0) {
            H5Tset_size(mt, H5T_VARIABLE);
            char *v = NULL;
            if (H5Aread(a, mt, &v) >= 0 && v) out = xstrdup(v);
            if (v) H5free_memory(v);
        } else {
            size_t n = H5Tget_size(t);
            if (n < (1u << 24)) {
                H5Tset_size(mt, n + 1);
                H5Tset_strpad(mt, H5T_STR_NULLTERM);
                out = xcalloc(n + 2, 1);
                if (H5Aread(a, mt, out) < 0) { free(out); out = NULL; }
            }
        }
        H5Tclose(mt);
    }
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return out;
}

static int attr_ll(hid_t obj, const char *name, long long *v) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    int rc = -1;
    if (t >= 0 && sp >= 0 && H5Tget_class(t) == H5T_INTEGER && H5Sget_simple_extent_npoints(sp) == 1)
        rc = H5Aread(a, H5T_NATIVE_LLONG, v) >= 0 ? 0 : -1;
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return rc;
}

static herr_t root_attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *ctx) {
    (void)info;
    Rd *r = ctx;
    // A damaged attribute list may never end (a cycle): every attribute takes bytes of the file.
    if ((size_t)r->rf->nattrs >= r->max_elems) { rd_fail(r, "more root attributes than the file has bytes (damaged)"); return -1; }
    char *v = attr_str(loc, name);
    if (v) add_attr(r->rf, name, v);
    return 0;
}

// A whole 1-D dataset converted to memtype. 1 read, 0 absent, −1 present but bad
// (wrong rank or class, implausible size, read error).
static int read_1d(Rd *r, hid_t loc, const char *name, hid_t memtype, size_t elsz, int want_int, void **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return 0;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d), t = H5Dget_type(d);
    int rc = -1;
    hsize_t len = 0;
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    int ok_cls = want_int ? cls == H5T_INTEGER : (cls == H5T_INTEGER || cls == H5T_FLOAT);
    if (sp >= 0 && ok_cls && H5Sget_simple_extent_ndims(sp) == 1 && H5Sget_simple_extent_dims(sp, &len, NULL) == 1 &&
        len <= r->max_elems) {
        void *buf = xmalloc(((size_t)len + 1) * elsz);
        if (len == 0 || H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) {
            *out = buf;
            *n = (size_t)len;
            rc = 1;
        } else free(buf);
    }
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

static int obj_type(hid_t loc, const char *name) {
    H5O_info_t oi;
    if (H5Oget_info_by_name(loc, name, &oi, H5P_DEFAULT) < 0) return -1;
    return oi.type;
}

// A link count from a damaged group can be anything; every link takes bytes of the file, and
// the loops over the links must end.
static int too_many_links(Rd *r, const char *group, hsize_t n) {
    if (n <= r->max_elems) return 0;
    rd_fail(r, "%s: %llu links in a file of at most %zu bytes (damaged)", group, (unsigned long long)n, r->max_elems);
    return 1;
}

// Every 1-D numeric dataset under `group` (recursing one level: eval/<task>/<metric>).
static void read_series(Rd *r, hid_t f, const char *group, int depth) {
    if (H5Lexists(f, group, H5P_DEFAULT) <= 0 || obj_type(f, group) != H5O_TYPE_GROUP) return;
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    H5G_info_t gi;
    if (g < 0 || H5Gget_info(g, &gi) < 0) { rd_fail(r, "%s: unreadable group", group); if (g >= 0) H5Gclose(g); return; }
    if (too_many_links(r, group, gi.nlinks)) { H5Gclose(g); return; }
    for (hsize_t i = 0; i < gi.nlinks && !r->err[0]; i++) {
        char name[128], full[192];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) < 0) continue;
        snprintf(full, sizeof full, "%s/%s", group, name);
        int ty = obj_type(g, name);
        if (ty == H5O_TYPE_GROUP && depth < 1) read_series(r, f, full, depth + 1);
        if (ty != H5O_TYPE_DATASET) continue;
        void *v;
        size_t n;
        int rc = read_1d(r, g, name, H5T_NATIVE_DOUBLE, sizeof(double), 0, &v, &n);
        if (rc < 0) { rd_fail(r, "%s: unreadable dataset", full); continue; }
        RunFile *rf = r->rf;
        rf->series = xrealloc(rf->series, (size_t)(rf->nseries + 1) * sizeof *rf->series);
        RunSeries *s = &rf->series[rf->nseries++];
        snprintf(s->name, sizeof s->name, "%s", full);
        s->v = v;
        s->n = n;
    }
    H5Gclose(g);
}

// One /docs/<task> group: the arrays the report needs, all of one length.
static void read_docs_task(Rd *r, hid_t g, const char *name) {
    RunDocs d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "%s", name);
    char *ot = attr_str(g, "output_type");
    long long shots = 0;
    attr_ll(g, "shots", &shots);
    d.shots = (int)shots;
    static const char *TYPES[] = {"multiple_choice", "minimal_pair", "loglikelihood", "perplexity"};
    int type = -1;
    for (int i = 0; ot && i < 4; i++) if (!strcmp(ot, TYPES[i])) type = i;
    free(ot);
    char full[200];
    snprintf(full, sizeof full, "docs/%s", name);
    if (type < 0) { rd_fail(r, "%s: missing or unknown output_type", full); return; }
    snprintf(d.output_type, sizeof d.output_type, "%s", TYPES[type]);
    size_t n[3] = {0, 0, 0};
    int rc[3];
    rc[0] = read_1d(r, g, "prompt_hash", H5T_NATIVE_UINT64, 8, 1, (void **)&d.hash, &n[0]);
    if (type == 3) {
        rc[1] = read_1d(r, g, "nll", H5T_NATIVE_DOUBLE, sizeof(double), 0, (void **)&d.nll, &n[1]);
        rc[2] = read_1d(r, g, "ntok", H5T_NATIVE_INT, sizeof(int), 1, (void **)&d.ntok, &n[2]);
    } else {
        rc[1] = read_1d(r, g, "acc", H5T_NATIVE_UCHAR, 1, 1, (void **)&d.acc, &n[1]);
        rc[2] = read_1d(r, g, "nchoices", H5T_NATIVE_INT, sizeof(int), 1, (void **)&d.nchoices, &n[2]);
    }
    static const char *NAMES[2][3] = {{"prompt_hash", "acc", "nchoices"}, {"prompt_hash", "nll", "ntok"}};
    for (int i = 0; i < 3; i++)
        if (rc[i] != 1) { rd_fail(r, "%s: %s dataset %s", full, rc[i] ? "bad" : "missing", NAMES[type == 3][i]); docs_free(&d); return; }
    if (n[1] != n[0] || n[2] != n[0]) { rd_fail(r, "%s: arrays of different lengths", full); docs_free(&d); return; }
    d.n = n[0];
    for (size_t i = 0; i < d.n; i++) {
        if (d.ntok && d.ntok[i] < 0) { rd_fail(r, "%s: negative ntok", full); docs_free(&d); return; }
        if (d.acc && d.acc[i] > 1) { rd_fail(r, "%s: acc is not 0/1", full); docs_free(&d); return; }
    }
    RunFile *rf = r->rf;
    rf->docs = xrealloc(rf->docs, (size_t)(rf->ndocs + 1) * sizeof *rf->docs);
    rf->docs[rf->ndocs++] = d;
}

static void read_docs(Rd *r, hid_t f) {
    if (H5Lexists(f, "docs", H5P_DEFAULT) <= 0) return;
    if (obj_type(f, "docs") != H5O_TYPE_GROUP) { rd_fail(r, "docs: not a group"); return; }
    hid_t g = H5Gopen2(f, "docs", H5P_DEFAULT);
    H5G_info_t gi;
    if (g < 0 || H5Gget_info(g, &gi) < 0) { rd_fail(r, "docs: unreadable group"); if (g >= 0) H5Gclose(g); return; }
    if (too_many_links(r, "docs", gi.nlinks)) { H5Gclose(g); return; }
    for (hsize_t i = 0; i < gi.nlinks && !r->err[0]; i++) {
        char name[128];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) < 0) continue;
        if (obj_type(g, name) != H5O_TYPE_GROUP) continue;
        hid_t t = H5Gopen2(g, name, H5P_DEFAULT);
        if (t < 0) { rd_fail(r, "docs/%s: unreadable group", name); continue; }
        read_docs_task(r, t, name);
        H5Gclose(t);
    }
    H5Gclose(g);
}

static void release_rf(void *rf) { runfile_free(rf); }
static void release_h5file(void *f) { H5Fclose(*(hid_t *)f); }

static void read_hdf5(const char *path, int what, RunFile *rf) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct stat st;
    Rd r = {rf, 0, rf->error};
    if (stat(path, &st) != 0) { rd_fail(&r, "cannot open: %s", strerror(errno)); return; }
    r.max_elems = (size_t)st.st_size > 4096 ? (size_t)st.st_size : 4096;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) { rd_fail(&r, "not an HDF5 file HDF5 can open (damaged or truncated)"); return; }
    // The config check below may die (util.h): what was read so far and the file go with it.
    size_t mark = hold_mark();
    hold(rf, release_rf);
    hold(&f, release_h5file);
    char *st_attr = attr_str(f, "status");
    if (!st_attr) rd_fail(&r, "no status attribute (not a run log, or damaged)");
    else { snprintf(rf->status, sizeof rf->status, "%s", st_attr); free(st_attr); }
    if (!r.err[0]) {
        hsize_t idx = 0;
        if (H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, root_attr_cb, &r) < 0) rd_fail(&r, "unreadable root attributes");
    }
    if (what == RUNFILE_ALL && !r.err[0]) {
        // A damaged config dies here (die_input: its message becomes the reason), not in the caller.
        const char *cfg = runfile_attr(rf, "config");
        if (cfg) y_free(y_load_string(cfg, "config attribute"));
        read_series(&r, f, "train", 0);
        read_series(&r, f, "eval", 0);
        if (!r.err[0] && H5Lexists(f, "memory", H5P_DEFAULT) > 0) {
            hid_t g = H5Oopen(f, "memory", H5P_DEFAULT);
            if (g < 0) rd_fail(&r, "memory: unreadable group");
            else {
                for (int i = 0; i < RUNLOG_NMEM; i++) if (attr_ll(g, RUNLOG_MEMORY_KEYS[i], &rf->mem[i]) != 0) rf->mem[i] = -1;
                H5Oclose(g);
            }
        }
        if (!r.err[0]) read_docs(&r, f);
    }
    hold_end(mark);
    if (H5Fclose(f) < 0) rd_fail(&r, "HDF5 error closing the file");
}

// ---------------------------------------------------------------- serialization

typedef struct { unsigned char *p; size_t n, cap, off; int bad; } Buf;

static void put(Buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 4096;
        b->p = xrealloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u64(Buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(Buf *b, const char *s) { size_t n = strlen(s); put_u64(b, n); put(b, s, n); }
static void put_arr(Buf *b, const void *a, size_t n, size_t elsz) { put_u64(b, a ? n : UINT64_MAX); if (a) put(b, a, n * elsz); }

static void get(Buf *b, void *d, size_t n) {
    if (b->bad || n > b->n - b->off) { b->bad = 1; memset(d, 0, n); return; }
    memcpy(d, b->p + b->off, n);
    b->off += n;
}
static uint64_t get_u64(Buf *b) { uint64_t v; get(b, &v, 8); return v; }
static char *get_str(Buf *b) {
    uint64_t n = get_u64(b);
    if (b->bad || n > b->n - b->off) { b->bad = 1; return xstrdup(""); }
    char *s = xmalloc(n + 1);
    get(b, s, n);
    s[n] = 0;
    return s;
}
static void get_fixed(Buf *b, char *out, size_t cap) { char *s = get_str(b); snprintf(out, cap, "%s", s); free(s); }
static void *get_arr(Buf *b, size_t *n, size_t elsz) {
    uint64_t k = get_u64(b);
    if (k == UINT64_MAX || b->bad) { if (n) *n = 0; return NULL; }
    if (k > (b->n - b->off) / elsz) { b->bad = 1; return NULL; }
    void *a = xmalloc(k * elsz + 1);
    get(b, a, k * elsz);
    if (n) *n = k;
    return a;
}

static void serialize(const RunFile *rf, Buf *b) {
    put_str(b, rf->status);
    put_u64(b, (uint64_t)rf->nattrs);
    for (int i = 0; i < rf->nattrs; i++) { put_str(b, rf->akeys[i]); put_str(b, rf->avals[i]); }
    put_u64(b, (uint64_t)rf->nseries);
    for (int i = 0; i < rf->nseries; i++) { put_str(b, rf->series[i].name); put_arr(b, rf->series[i].v, rf->series[i].n, 8); }
    put(b, rf->mem, sizeof rf->mem);
    put_u64(b, (uint64_t)rf->ndocs);
    for (int i = 0; i < rf->ndocs; i++) {
        const RunDocs *d = &rf->docs[i];
        put_str(b, d->name); put_str(b, d->output_type); put_u64(b, (uint64_t)(int64_t)d->shots);
        put_arr(b, d->hash, d->n, 8); put_arr(b, d->acc, d->n, 1); put_arr(b, d->nchoices, d->n, sizeof(int));
        put_arr(b, d->nll, d->n, 8); put_arr(b, d->ntok, d->n, sizeof(int));
    }
}

static void deserialize(Buf *b, RunFile *rf) {
    get_fixed(b, rf->status, sizeof rf->status);
    uint64_t na = get_u64(b);
    for (uint64_t i = 0; i < na && !b->bad; i++) { char *k = get_str(b); add_attr(rf, k, get_str(b)); free(k); }
    uint64_t ns = get_u64(b);
    for (uint64_t i = 0; i < ns && !b->bad; i++) {
        rf->series = xrealloc(rf->series, (size_t)(rf->nseries + 1) * sizeof *rf->series);
        RunSeries *s = &rf->series[rf->nseries++];
        get_fixed(b, s->name, sizeof s->name);
        s->v = get_arr(b, &s->n, 8);
    }
    get(b, rf->mem, sizeof rf->mem);
    uint64_t nd = get_u64(b);
    for (uint64_t i = 0; i < nd && !b->bad; i++) {
        rf->docs = xrealloc(rf->docs, (size_t)(rf->ndocs + 1) * sizeof *rf->docs);
        RunDocs *d = &rf->docs[rf->ndocs++];
        memset(d, 0, sizeof *d);
        get_fixed(b, d->name, sizeof d->name);
        get_fixed(b, d->output_type, sizeof d->output_type);
        d->shots = (int)(int64_t)get_u64(b);
        size_t n = 0, k;
        d->hash = get_arr(b, &n, 8);
        d->acc = get_arr(b, &k, 1);
        d->nchoices = get_arr(b, &k, sizeof(int));
        d->nll = get_arr(b, &k, 8);
        d->ntok = get_arr(b, &k, sizeof(int));
        d->n = n;
    }
}

// ---------------------------------------------------------------- the fork

static void write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) _exit(4);
        c += k;
        n -= (size_t)k;
    }
}

static void unreadable(RunFile *rf, const char *why) {
    runfile_free(rf);
    for (int i = 0; i < RUNLOG_NMEM; i++) rf->mem[i] = -1;
    snprintf(rf->status, sizeof rf->status, "unreadable");
    snprintf(rf->error, sizeof rf->error, "%s", why);
    // One line: control characters (from a damaged file or a sanitizer report) become spaces.
    for (char *c = rf->error; *c; c++) if ((unsigned char)*c < 32) *c = ' ';
}

static void rf_init(RunFile *rf, const char *path) {
    memset(rf, 0, sizeof *rf);
    snprintf(rf->path, sizeof rf->path, "%s", path);
    for (int i = 0; i < RUNLOG_NMEM; i++) rf->mem[i] = -1;
}

int runfile_read_here(const char *path, int what, RunFile *rf) {
    rf_init(rf, path);
    read_hdf5(path, what, rf);
    if (!rf->error[0]) return 0;
    char why[sizeof rf->error];
    memcpy(why, rf->error, sizeof why);
    unreadable(rf, why);
    return -1;
}

int runfile_read(const char *path, int what, RunFile *rf) {
    rf_init(rf, path);
    if (!file_exists(path)) { unreadable(rf, "no such file"); return -1; }
    int data[2], errp[2];
    if (pipe(data) != 0) die_internal("pipe: %s", strerror(errno));
    if (pipe(errp) != 0) die_internal("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) die_internal("fork: %s", strerror(errno));
    if (pid == 0) {
        close(data[0]); close(errp[0]);
        on_die(NULL, NULL); // the parent's hook (e.g. "mark my run log failed") is not the child's
        dup2(errp[1], 2);
        signal(SIGALRM, SIG_DFL);
        alarm(READ_TIMEOUT_S);
        read_hdf5(path, what, rf);
        Buf b = {0};
        unsigned char ok = rf->error[0] ? 'E' : 'O';
        put(&b, &ok, 1);
        if (ok == 'E') put_str(&b, rf->error);
        else serialize(rf, &b);
        write_all(data[1], b.p, b.n);
        _exit(0);
    }
    close(data[1]); close(errp[1]);
    Buf b = {0};
    char errtxt[2048];
    size_t nerr = 0;
    struct pollfd pf[2] = {{data[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds) {
        if (poll(pf, 2, -1) < 0) { if (errno == EINTR) continue; break; }
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char chunk[65536];
            ssize_t k = read(pf[i].fd, chunk, sizeof chunk);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) { close(pf[i].fd); pf[i].fd = -1; open_fds--; continue; }
            if (i == 0) put(&b, chunk, (size_t)k);
            else {
                size_t c = (size_t)k < sizeof errtxt - 1 - nerr ? (size_t)k : sizeof errtxt - 1 - nerr;
                memcpy(errtxt + nerr, chunk, c);
                nerr += c;
            }
        }
    }
    errtxt[nerr] = 0;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    char why[sizeof rf->error];
    int rc = -1;
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        if (sig == SIGALRM) snprintf(why, sizeof why, "the HDF5 reader did not finish in %d s", READ_TIMEOUT_S);
        else snprintf(why, sizeof why, "the HDF5 reader crashed on it (%s)", strsignal(sig));
    } else if (WEXITSTATUS(st) != 0 || b.n == 0) {
        // The child's own error line (xmalloc, a sanitizer report) says more than its status.
        const char *line = strstr(errtxt, "ERROR");
        if (!line) line = errtxt;
        while (*line == '\n' || *line == ' ') line++;
        snprintf(why, sizeof why, "the HDF5 reader failed (exit %d)%s%.200s", WEXITSTATUS(st), *line ? ": " : "", line);
        char *nl = strchr(why, '\n');
        if (nl) *nl = 0;
    } else if (b.p[0] == 'E') {
        b.off = 1;
        char *e = get_str(&b);
        snprintf(why, sizeof why, "%s", e);
        free(e);
    } else {
        b.off = 1;
        deserialize(&b, rf);
        if (b.bad || b.off != b.n) snprintf(why, sizeof why, "the HDF5 reader's output was cut short");
        else rc = 0;
    }
    free(b.p);
    if (rc != 0) unreadable(rf, why);
    return rc;
}
