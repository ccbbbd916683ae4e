// rundir.c — see rundir.h.
#include "rundir.h"
#include "runlog_read.h"
#include "util.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *const RUNDIR_ARTIFACTS[] = {"config.yaml", "run.h5", "ckpt.bin", "final.l4qz", "final_eval.md",
                                        "report.md", "report.tex", "report.csv", "plots", NULL};

static void path_in(char *p, size_t n, const char *dir, const char *name) { snprintf(p, n, "%s/%s", dir, name); }

// The last logged training step of a run.h5 (0 when none), for the message only.
static long last_step(const RunFile *rf) {
    const RunSeries *s = runfile_series(rf, "train/step");
    return s && s->n ? (long)s->v[s->n - 1] : 0;
}

// One line: what the directory holds and what the user can do.
static void refuse(const char *dir, const char *found) {
    char p[4200];
    path_in(p, sizeof p, dir, "run.h5");
    if (!file_exists(p))
        die_input("%s: holds files of an earlier run (%s); --force removes them and starts over, or choose another --out",
                  dir, found);
    RunFile rf;
    int rc = runfile_read(p, RUNFILE_ALL, &rf);
    char what[400], how[4400];
    if (rc != 0) {
        snprintf(what, sizeof what, "a run whose log is unreadable (%s)", rf.error);
        snprintf(how, sizeof how, "--force starts over");
    } else if (!strcmp(rf.status, "complete")) {
        snprintf(what, sizeof what, "a complete run");
        snprintf(how, sizeof how, "--force deletes it and trains again (--resume %s only re-runs its final evaluation)", dir);
    } else if (!strcmp(rf.status, "failed")) {
        snprintf(what, sizeof what, "a failed run (step %ld logged)", last_step(&rf));
        snprintf(how, sizeof how, "--force starts over");
    } else {
        snprintf(what, sizeof what, "an interrupted run (status %s, step %ld logged)", rf.status, last_step(&rf));
        snprintf(how, sizeof how, "--resume %s continues it, --force starts over", dir);
    }
    runfile_free(&rf);
    die_input("%s: holds %s; %s, or choose another --out", dir, what, how);
}

static void remove_path(const char *p) {
    if (unlink(p) == 0 || errno == ENOENT) return;
    if (errno != EISDIR && errno != EPERM) die_input("%s: cannot remove (%s)", p, strerror(errno));
    // plots/: the report's PNGs and gnuplot script, nothing nested.
    DIR *d = opendir(p);
    if (!d) die_input("%s: cannot remove (%s)", p, strerror(errno));
    struct dirent *e;
    char q[4600];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(q, sizeof q, "%s/%s", p, e->d_name);
        if (unlink(q) != 0) { closedir(d); die_input("%s: cannot remove (%s)", q, strerror(errno)); }
    }
    closedir(d);
    if (rmdir(p) != 0) die_input("%s: cannot remove (%s)", p, strerror(errno));
}

void rundir_prepare_fresh(const char *dir, int force, int remove) {
    char p[4200], found[512] = "";
    for (int i = 0; RUNDIR_ARTIFACTS[i]; i++) {
        path_in(p, sizeof p, dir, RUNDIR_ARTIFACTS[i]);
        if (access(p, F_OK) == 0)
            snprintf(found + strlen(found), sizeof found - strlen(found), "%s%s", found[0] ? ", " : "", RUNDIR_ARTIFACTS[i]);
    }
    if (!found[0]) return;
    if (!force) refuse(dir, found);
    if (!remove) return;
    for (int i = 0; RUNDIR_ARTIFACTS[i]; i++) {
        path_in(p, sizeof p, dir, RUNDIR_ARTIFACTS[i]);
        remove_path(p);
    }
    // Temporaries a killed writer left (NAME.tmp beside each artifact).
    for (int i = 0; RUNDIR_ARTIFACTS[i]; i++) {
        snprintf(p, sizeof p, "%s/%s.tmp", dir, RUNDIR_ARTIFACTS[i]);
        if (unlink(p) != 0 && errno != ENOENT) die_input("%s: cannot remove (%s)", p, strerror(errno));
    }
    printf("--force: removed the earlier run's files in %s (%s)\n", dir, found);
}
