// sweep_dist.c — a sweep across MPI ranks (core/dist.h). Rank 0 expands the spec and runs
// the sweep loop of sweep.c with the other ranks as extra slots: it sends a rank one run
// (directory, resolved config, state) when the rank is idle, and the rank answers when its
// forked `l4q train` worker ends. Nothing relies on file locks, which network filesystems
// may not honour; resume works as in one process, from what the run directories hold.
#include "dist.h"
#include "sweep_dist.h"
#include "util.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { TAG_RUN = 1, TAG_DONE = 2, TAG_STOP = 3 };

// TAG_RUN: int state (RUN_*), then dir, label, config YAML, each NUL-terminated. Rank 0
// remembers which run each rank holds, so TAG_DONE carries only the verdict.
typedef struct { int ok; char why[64]; } DoneMsg;

static void remote_start(int rank, const SweepRun *r, int state) {
    size_t nd = strlen(r->dir) + 1, nl = strlen(r->label) + 1, nc = strlen(r->config_yaml) + 1;
    size_t n = sizeof state + nd + nl + nc;
    char *m = xmalloc(n);
    memcpy(m, &state, sizeof state);
    memcpy(m + sizeof state, r->dir, nd);
    memcpy(m + sizeof state + nd, r->label, nl);
    memcpy(m + sizeof state + nd + nl, r->config_yaml, nc);
    dist_send(m, n, rank, TAG_RUN);
    free(m);
}

static int remote_poll(int *rank, int *ok, char *why, size_t whylen) {
    int src, tag;
    size_t n;
    if (!dist_probe(&src, &tag, &n)) return 0;
    if (tag != TAG_DONE || n != sizeof(DoneMsg)) die_internal("rank %d sent an unexpected message (tag %d, %zu bytes)", src, tag, n);
    DoneMsg d;
    dist_recv(&d, sizeof d, src, tag);
    *rank = src;
    *ok = d.ok;
    snprintf(why, whylen, "%s", d.why);
    return 1;
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }

// Ranks > 0: run what rank 0 sends, one at a time, until it says stop. Idle waiting sleeps.
static void serve(int threads) {
    struct sigaction sa = {0};
    sa.sa_handler = on_signal; // no SA_RESTART: waitpid returns so the worker can be ended
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (;;) {
        int src, tag;
        size_t n;
        if (g_stop) exit(130);
        if (!dist_probe(&src, &tag, &n)) { usleep(50000); continue; }
        char *m = xmalloc(n + 1);
        dist_recv(m, n, src, tag);
        m[n] = 0;
        if (tag == TAG_STOP) { free(m); return; }
        if (tag != TAG_RUN || n < sizeof(int) + 3) die_internal("unexpected message from rank %d (tag %d)", src, tag);
        int state;
        memcpy(&state, m, sizeof state);
        SweepRun r = {0};
        char *p = m + sizeof state;
        snprintf(r.dir, sizeof r.dir, "%s", p);
        p += strlen(p) + 1;
        r.label = p;
        p += strlen(p) + 1;
        r.config_yaml = p;
        pid_t pid = sweep_launch(&r, state, threads);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0) {
            if (errno != EINTR) die_internal("waitpid: %s", strerror(errno));
            if (g_stop) kill(pid, SIGTERM); // run.h5 stays 'running': the next sweep resumes it
        }
        if (g_stop) exit(130);
        DoneMsg d = {0, ""};
        d.ok = sweep_worker_result(&r, st, d.why, sizeof d.why);
        dist_send(&d, sizeof d, 0, TAG_DONE);
        free(m);
    }
}

int sweep_execute_dist(Sweep *s, const SweepOptions *o) {
    int R = dist_size();
    // Rank 0 knows the output directory; every rank must see it.
    char out[4096] = "";
    if (dist_rank() == 0) snprintf(out, sizeof out, "%s", s->out);
    dist_bcast(out, sizeof out, 0);
    dist_check_shared_dir(out, "the sweep's output directory");
    if (dist_rank() > 0) {
        serve(o->cores);
        return 0;
    }
    SweepRemote rm = {R - 1, remote_start, remote_poll};
    SweepOptions lo = *o;
    lo.jobs = 1;
    lo.remote = &rm;
    int rc = sweep_execute(s, &lo);
    for (int r = 1; r < R; r++) dist_send("", 1, r, TAG_STOP);
    return rc;
}
