// runlog.c — see runlog.h. Plain HDF5 C API (+ H5LT for string attributes). Every
// dataset is 1-D, chunked and unlimited, appended one element at a time; handles are
// cached so an append is set_extent + one hyperslab write.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // gethostname, readlink (the Makefile defines it too)
#endif
#include "runlog.h"
#include "util.h"
#include <errno.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char name[256];
    hid_t id;
    hsize_t n;
    int is_step;       // int64 step dataset
    long long last;    // is_step: last value written (to add one row per distinct step)
} DSet;

struct RunLog {
    hid_t file;
    char path[4096];
    DSet *ds;
    int nds;
    double last_flush;
};

static const char *const TRAIN_SETS[] = {"step", "loss", "lr", "grad_norm", "tokens_per_s", "rss_bytes"};

static void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
// HDF5 reports no cause; the failed system call's errno (a full disk, say) is the useful part.
#define RL_CHECK(rl, x, what) do { if ((x) < 0) die_input("%s: HDF5 error %s%s%s", (rl)->path, what, \
    errno ? ": " : "", errno ? strerror(errno) : ""); } while (0)

static void iso_now(char *buf, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

// ---- datasets --------------------------------------------------------------------------
static DSet *ds_find(RunLog *rl, const char *name) {
    for (int i = 0; i < rl->nds; i++) if (!strcmp(rl->ds[i].name, name)) return &rl->ds[i];
    return NULL;
}
static DSet *ds_add(RunLog *rl, const char *name, hid_t id) {
    rl->ds = xrealloc(rl->ds, (size_t)(rl->nds + 1) * sizeof *rl->ds);
    DSet *d = &rl->ds[rl->nds++];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->id = id;
    hid_t sp = H5Dget_space(id);
    H5Sget_simple_extent_dims(sp, &d->n, NULL);
    H5Sclose(sp);
    const char *base = strrchr(name, '/');
    d->is_step = !strcmp(base ? base + 1 : name, "step");
    d->last = -1;
    if (d->is_step && d->n > 0) {
        hid_t fs = H5Dget_space(id);
        hsize_t off = d->n - 1, one = 1;
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &one, NULL);
        hid_t ms = H5Screate_simple(1, &one, NULL);
        long long v = -1;
        if (H5Dread(id, H5T_NATIVE_LLONG, ms, fs, H5P_DEFAULT, &v) >= 0) d->last = v;
        H5Sclose(ms); H5Sclose(fs);
    }
    return d;
}
// Open `name`, creating it (and its groups) if needed.
static DSet *ds_get(RunLog *rl, const char *name) {
    DSet *d = ds_find(rl, name);
    if (d) return d;
    hid_t id;
    if (H5LTpath_valid(rl->file, name, 1) > 0) {
        id = H5Dopen2(rl->file, name, H5P_DEFAULT);
        RL_CHECK(rl, id, name);
    } else {
        const char *base = strrchr(name, '/');
        int is_step = !strcmp(base ? base + 1 : name, "step");
        hsize_t zero = 0, unlim = H5S_UNLIMITED, chunk = !strncmp(name, "train/", 6) ? 1024 : 64;
        hid_t sp = H5Screate_simple(1, &zero, &unlim);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE); // chunking is required for unlimited dims
        H5Pset_chunk(dcpl, 1, &chunk);
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);    // "eval/arc/acc" creates eval/arc
        H5Pset_create_intermediate_group(lcpl, 1);
        id = H5Dcreate2(rl->file, name, is_step ? H5T_STD_I64LE : H5T_IEEE_F64LE, sp, lcpl, dcpl, H5P_DEFAULT);
        H5Pclose(lcpl); H5Pclose(dcpl); H5Sclose(sp);
        RL_CHECK(rl, id, name);
    }
    return ds_add(rl, name, id);
}
static void ds_append(RunLog *rl, DSet *d, const void *val, hid_t memtype) {
    hsize_t n1 = d->n + 1, one = 1, off = d->n;
    RL_CHECK(rl, H5Dset_extent(d->id, &n1), d->name);
    hid_t fs = H5Dget_space(d->id);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &one, NULL);
    hid_t ms = H5Screate_simple(1, &one, NULL);
    herr_t e = H5Dwrite(d->id, memtype, ms, fs, H5P_DEFAULT, val);
    H5Sclose(ms); H5Sclose(fs);
    RL_CHECK(rl, e, d->name);
    d->n = n1;
}
static void append_f(RunLog *rl, const char *name, double v) { ds_append(rl, ds_get(rl, name), &v, H5T_NATIVE_DOUBLE); }
static void append_step(RunLog *rl, const char *name, long step) {
    DSet *d = ds_get(rl, name);
    long long v = step;
    ds_append(rl, d, &v, H5T_NATIVE_LLONG);
    d->last = v;
}

// ---- provenance ------------------------------------------------------------------------
static int run_cmd(const char *cmd, char *out, size_t n) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t k = fread(out, 1, n - 1, p);
    out[k] = 0;
    int rc = pclose(p);
    while (k && (out[k - 1] == '\n' || out[k - 1] == ' ')) out[--k] = 0;
    return rc == 0 && k ? 0 : -1;
}
// The commit of the source tree the binary was built from: git run in the binary's
// directory (build/ lives inside the repo), else the working directory. "-dirty" marks
// uncommitted changes to tracked files; "unknown" outside a repository.
static void git_commit(char *out, size_t n) {
    char exe[4096] = "", cmd[4400], dirty[64];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *dir = ".";
    if (k > 0) { exe[k] = 0; dir = dirname(exe); }
    for (int attempt = 0; attempt < 2; attempt++, dir = ".") {
        snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse HEAD 2>/dev/null", dir);
        if (run_cmd(cmd, out, n) == 0) {
            snprintf(cmd, sizeof cmd, "git -C '%s' status --porcelain --untracked-files=no 2>/dev/null | head -1", dir);
            if (run_cmd(cmd, dirty, sizeof dirty) == 0 && strlen(out) + 7 < n) strcat(out, "-dirty");
            return;
        }
    }
    snprintf(out, n, "unknown");
}

void runlog_attr(RunLog *rl, const char *key, const char *value) {
    RL_CHECK(rl, H5LTset_attribute_string(rl->file, "/", key, value ? value : ""), key);
}
void runlog_attr_int(RunLog *rl, const char *key, long long value) {
    RL_CHECK(rl, H5LTset_attribute_long_long(rl->file, "/", key, &value, 1), key);
}

long long runlog_group(RunLog *rl, const char *name) {
    if (H5Lexists(rl->file, name, H5P_DEFAULT) > 0) RL_CHECK(rl, H5Ldelete(rl->file, name, H5P_DEFAULT), name);
    hid_t g = H5Gcreate2(rl->file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    RL_CHECK(rl, g, name);
    return (long long)g;
}
void runlog_group_close(long long group) { H5Gclose((hid_t)group); }

// ---- lifecycle -------------------------------------------------------------------------
static RunLog *rl_new(const char *path, hid_t f) {
    RunLog *rl = xcalloc(1, sizeof *rl);
    rl->file = f;
    snprintf(rl->path, sizeof rl->path, "%s", path);
    rl->last_flush = now_sec();
    return rl;
}

RunLog *runlog_create(const char *path, const char *config_yaml, const char *method, const char *form) {
    h5_quiet();
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) die_input("%s: cannot create the run log", path);
    RunLog *rl = rl_new(path, f);
    char buf[512], t[64];
    runlog_attr(rl, "config", config_yaml);
    runlog_attr(rl, "method", method);
    runlog_attr(rl, "form", form ? form : "");
    runlog_attr(rl, "status", "running");
    git_commit(buf, sizeof buf);
    runlog_attr(rl, "git_commit", buf);
    if (gethostname(buf, sizeof buf) != 0) snprintf(buf, sizeof buf, "unknown");
    buf[sizeof buf - 1] = 0;
    runlog_attr(rl, "host", buf);
    cpu_model_name(buf, sizeof buf);
    runlog_attr(rl, "cpu", buf);
    runlog_attr_int(rl, "threads", threads_count());
    iso_now(t, sizeof t);
    runlog_attr(rl, "start_time", t);
    runlog_attr(rl, "end_time", "");
    // Create the fixed datasets up front so even a run that dies at step 0 has them.
    char name[64];
    for (int i = 0; i < 6; i++) { snprintf(name, sizeof name, "train/%s", TRAIN_SETS[i]); ds_get(rl, name); }
    ds_get(rl, "eval/step"); ds_get(rl, "eval/val_loss"); ds_get(rl, "eval/val_ppl");
    RL_CHECK(rl, H5Gclose(H5Gcreate2(f, "memory", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), "memory");
    runlog_flush(rl);
    return rl;
}

// Truncation on resume: within each group that has a `step` dataset (train, eval,
// eval/<task>), keep the leading rows with step <= keep and cut every dataset directly in
// the group to that many rows.
typedef struct { RunLog *rl; long keep; const char *group; } TruncCtx;
static void truncate_group(RunLog *rl, const char *group, long keep);
// Open every dataset of the group (so the cut below sees it); recurse into subgroups.
static herr_t trunc_visit(hid_t g, const char *name, const H5L_info_t *info, void *ctx) {
    (void)info;
    TruncCtx *c = ctx;
    H5O_info_t oi;
    if (H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0) return 0;
    char full[600];
    snprintf(full, sizeof full, "%s/%s", c->group, name);
    if (oi.type == H5O_TYPE_DATASET) ds_get(c->rl, full);
    else if (oi.type == H5O_TYPE_GROUP) truncate_group(c->rl, full, c->keep);
    return 0;
}
static void truncate_group(RunLog *rl, const char *group, long keep) {
    if (H5LTpath_valid(rl->file, group, 1) <= 0) return;
    hid_t g = H5Gopen2(rl->file, group, H5P_DEFAULT);
    RL_CHECK(rl, g, group);
    TruncCtx c = {rl, keep, group};
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, trunc_visit, &c);
    H5Gclose(g);
    char sname[300];
    snprintf(sname, sizeof sname, "%s/step", group);
    DSet *s = ds_find(rl, sname);
    if (!s) return; // not a logged group
    hsize_t keep_n = 0;
    size_t gl = strlen(group);
    if (s->n) {
        long long *v = xmalloc(s->n * sizeof *v);
        RL_CHECK(rl, H5Dread(s->id, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), sname);
        while (keep_n < s->n && v[keep_n] <= keep) keep_n++;
        // A row is whole only if every dataset of the group reached it (a kill between two
        // appends of one row can leave the datasets of different lengths).
        if (!strcmp(group, "train"))
            for (int i = 0; i < rl->nds; i++) {
                DSet *d = &rl->ds[i];
                if (!strncmp(d->name, group, gl) && d->name[gl] == '/' && !strchr(d->name + gl + 1, '/') && d->n < keep_n)
                    keep_n = d->n;
            }
        s->last = keep_n ? v[keep_n - 1] : -1;
        free(v);
    }
    for (int i = 0; i < rl->nds; i++) {
        DSet *d = &rl->ds[i];
        if (strncmp(d->name, group, gl) || d->name[gl] != '/' || strchr(d->name + gl + 1, '/')) continue;
        if (d->n > keep_n) {
            RL_CHECK(rl, H5Dset_extent(d->id, &keep_n), d->name);
            d->n = keep_n;
        }
    }
}

RunLog *runlog_open_append(const char *path, long keep_step, long keep_eval_step) {
    h5_quiet();
    if (!file_exists(path)) die_input("%s: no run log to resume", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) die_input("%s: cannot open the run log (corrupt, or open in another process)", path);
    RunLog *rl = rl_new(path, f);
    if (H5LTpath_valid(f, "train/step", 1) <= 0) die_input("%s: not a run log (no train/step)", path);
    if (keep_step >= 0) truncate_group(rl, "train", keep_step);
    if (keep_eval_step >= 0) truncate_group(rl, "eval", keep_eval_step);
    runlog_attr(rl, "status", "running");
    runlog_attr(rl, "end_time", "");
    runlog_flush(rl);
    return rl;
}

void runlog_train(RunLog *rl, long step, double loss, double lr, double grad_norm, double tokens_per_s, size_t rss_bytes) {
    append_step(rl, "train/step", step);
    append_f(rl, "train/loss", loss);
    append_f(rl, "train/lr", lr);
    append_f(rl, "train/grad_norm", grad_norm);
    append_f(rl, "train/tokens_per_s", tokens_per_s);
    append_f(rl, "train/rss_bytes", (double)rss_bytes);
    if (now_sec() - rl->last_flush > 30) runlog_flush(rl);
}

void runlog_eval(RunLog *rl, long step, const char *task, const char *metric, double value) {
    char group[256], name[512], sname[300];
    if (task && *task) snprintf(group, sizeof group, "eval/%s", task);
    else snprintf(group, sizeof group, "eval");
    snprintf(sname, sizeof sname, "%s/step", group);
    snprintf(name, sizeof name, "%s/%s", group, metric);
    if (!strcmp(metric, "step")) die_internal("runlog_eval: 'step' is reserved");
    DSet *s = ds_get(rl, sname);
    if (s->last != step || s->n == 0) append_step(rl, sname, step);
    append_f(rl, name, value);
    runlog_flush(rl);
}

void runlog_memory(RunLog *rl, const MemAccount *m, size_t peak_rss) {
    if (H5LTpath_valid(rl->file, "memory", 1) <= 0)
        RL_CHECK(rl, H5Gclose(H5Gcreate2(rl->file, "memory", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), "memory");
    const char *names[] = {"weight_bytes", "trainable_bytes", "grad_optimizer_bytes", "saved_for_backward_bytes",
                           "peak_transient_bytes", "peak_rss_bytes"};
    long long v[6] = {(long long)m->weight_bytes, (long long)m->trainable_bytes, (long long)m->grad_opt_bytes,
                      (long long)m->saved_bytes, (long long)m->transient_peak, (long long)peak_rss};
    for (int i = 0; i < 6; i++) RL_CHECK(rl, H5LTset_attribute_long_long(rl->file, "memory", names[i], &v[i], 1), names[i]);
    runlog_flush(rl);
}

void runlog_status(RunLog *rl, const char *status) {
    runlog_attr(rl, "status", status);
    if (strcmp(status, "running")) { char t[64]; iso_now(t, sizeof t); runlog_attr(rl, "end_time", t); }
    runlog_flush(rl);
}

void runlog_flush(RunLog *rl) {
    RL_CHECK(rl, H5Fflush(rl->file, H5F_SCOPE_GLOBAL), "flushing");
    rl->last_flush = now_sec();
}

static RunLog *die_log;
static void die_hook(void *ctx, int status) {
    (void)status;
    RunLog *rl = ctx;
    die_log = NULL;
    // Best effort: a failing HDF5 call here must not recurse into die_*.
    H5LTset_attribute_string(rl->file, "/", "status", "failed");
    char t[64];
    iso_now(t, sizeof t);
    H5LTset_attribute_string(rl->file, "/", "end_time", t);
    for (int i = 0; i < rl->nds; i++) H5Dclose(rl->ds[i].id);
    rl->nds = 0;
    H5Fclose(rl->file);
    rl->file = -1;
}
void runlog_fail_on_die(RunLog *rl) { die_log = rl; on_die(die_hook, rl); }

void runlog_close(RunLog *rl) {
    if (!rl) return;
    if (die_log == rl) { on_die(NULL, NULL); die_log = NULL; }
    if (rl->file >= 0) {
        for (int i = 0; i < rl->nds; i++) H5Dclose(rl->ds[i].id);
        H5Fflush(rl->file, H5F_SCOPE_GLOBAL);
        if (H5Fclose(rl->file) < 0) die_internal("%s: HDF5 error closing the run log", rl->path);
    }
    free(rl->ds);
    free(rl);
}
