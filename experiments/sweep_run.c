// sweep_run.c — see sweep_run.h. The runner forks one `l4q train` process per run so a
// crashing run cannot take the sweep down, and everything it needs to resume lives in the
// run directories themselves (sweep.h: their states).
#include "sweep_run.h"
#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    int rank;       // 0: a forked worker of this process; > 0: the MPI rank running it
    int run;
    double t0;
} Worker;

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }

static void fmt_dur(char *buf, size_t n, double s) {
    if (s < 0 || !isfinite(s)) { snprintf(buf, n, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
}

// Worker program: this binary (or, for tests only, $L4Q_SWEEP_WORKER).
static const char *worker_program(void) {
    const char *w = getenv("L4Q_SWEEP_WORKER");
    return w && *w ? w : "/proc/self/exe";
}

// Fork/exec one run. The per-run lock fd (if any) is inherited by the worker (not
// CLOEXEC), so it stays held exactly as long as the worker lives, even if this sweep is killed.
pid_t sweep_launch(const SweepRun *r, int state, int threads) {
    mkdir_p(r->dir);
    char cfg[4200], logp[4200], thr[16], ckpt[4200], rcfg[4200];
    snprintf(cfg, sizeof cfg, "%s/sweep_config.yaml", r->dir);
    snprintf(logp, sizeof logp, "%s/train.log", r->dir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.bin", r->dir);
    snprintf(rcfg, sizeof rcfg, "%s/config.yaml", r->dir);
    snprintf(thr, sizeof thr, "%d", threads);
    FILE *f = fopen(cfg, "w");
    if (!f || fputs(r->config_yaml, f) < 0 || fclose(f) != 0) die_input("%s: cannot write", cfg);
    // A run killed mid-way resumes from its checkpoint (train --resume is exact); a
    // failed, unreadable or stale one starts over (train --force removes its files first,
    // run/rundir.h), since resuming it would fail the same way.
    int resume = state == RUN_INCOMPLETE && file_exists(ckpt) && file_exists(rcfg);
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) die_internal("fork: %s", strerror(errno));
    if (pid == 0) {
        // Die with the sweep: an orphaned worker would race the next sweep's re-run.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        signal(SIGINT, SIG_DFL); signal(SIGTERM, SIG_DFL);
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) dup2(nul, 0);
        setenv("L4Q_MPI", "0", 1); // a worker of an MPI rank is a process of its own
        const char *prog = worker_program();
        if (resume) execl(prog, prog, "train", "--resume", r->dir, "--threads", thr, (char *)NULL);
        else execl(prog, prog, "train", cfg, "--out", r->dir, "--force", "--threads", thr, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    return pid;
}

int sweep_worker_result(const SweepRun *r, int st, char *why, size_t n) {
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && sweep_run_state(r) == RUN_COMPLETE;
    if (ok) return 1;
    if (WIFSIGNALED(st)) snprintf(why, n, "killed by signal %d", WTERMSIG(st));
    else if (WIFEXITED(st) && WEXITSTATUS(st)) snprintf(why, n, "exit %d", WEXITSTATUS(st));
    else snprintf(why, n, "run.h5 not complete");
    return 0;
}

static int take_lock(const char *path, int cloexec) {
    int fd = open(path, O_RDWR | O_CREAT | (cloexec ? O_CLOEXEC : 0), 0644);
    if (fd < 0) die_input("%s: cannot open lock file (%s)", path, strerror(errno));
    // Held elsewhere → -1. A filesystem without flock (some network mounts) excludes nothing.
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) { close(fd); return -1; }
    return fd;
}

// Phase 1: the sweep lock on the output directory (its fd), naming the holder when taken.
static int lock_sweep_dir(const Sweep *s) {
    mkdir_p(s->out);
    char lockp[4200];
    snprintf(lockp, sizeof lockp, "%s/.lock", s->out);
    // CLOEXEC: workers must not keep the sweep lock after the sweep itself is gone.
    int lock = take_lock(lockp, 1);
    if (lock < 0) {
        char *who = read_file(lockp, NULL);
        die_input("%s: another sweep is running on this directory (pid %s); wait for it or use another --out",
                  s->out, who[0] ? strtok(who, "\n") : "?");
    }
    if (ftruncate(lock, 0) == 0) { char b[32]; int n = snprintf(b, sizeof b, "%d\n", (int)getpid()); if (write(lock, b, (size_t)n) < 0) { /* informational only */ } }
    return lock;
}

// Phase 2: the plan next to the results: which ids this spec expands to, for humans and tools.
static void write_plan(Sweep *s) {
    char planp[4200]; // sweep_plan_json locates the existing run directories first
    snprintf(planp, sizeof planp, "%s/sweep.json", s->out);
    char *plan = sweep_plan_json(s);
    FILE *pf = fopen(planp, "w");
    if (pf) { fputs(plan, pf); fputc('\n', pf); fclose(pf); }
    free(plan);
}

// The scheduler's state: the queue of runs not yet complete and the running workers.
typedef struct {
    Sweep *s;
    int *state, *queue, nq, qhead;
    int total, done, failed, skipped;
    int *failed_runs;
    Worker *w;
    int nw, jobs, threads;
    const SweepRemote *rm; // MPI: ranks 1..rm->n are slots too (experiments/sweep_dist.c)
    int slots;
    double t_start, dur_sum, last_print;
    int finished_here, tty;
} Sched;

// Phase 3: queue every run that is not complete; size the worker pool.
static void sched_init(Sched *q, Sweep *s, const SweepOptions *o) {
    memset(q, 0, sizeof *q);
    q->s = s;
    q->state = xcalloc((size_t)s->n, sizeof *q->state);
    q->queue = xcalloc((size_t)s->n, sizeof *q->queue);
    for (int i = 0; i < s->n; i++) {
        q->state[i] = sweep_run_state(&s->runs[i]);
        if (q->state[i] == RUN_COMPLETE) { q->done++; q->skipped++; }
        else q->queue[q->nq++] = i;
    }
    q->total = s->n;
    q->jobs = o->jobs < 1 ? 1 : o->jobs;
    if (q->jobs > q->nq) q->jobs = q->nq > 0 ? q->nq : 1;
    q->threads = o->cores / q->jobs;
    if (q->threads < 1) q->threads = 1;
    q->rm = o->remote;
    q->slots = q->jobs + (q->rm ? q->rm->n : 0);
    if (q->rm)
        fprintf(stderr, "sweep %s: %d runs, %d complete, %d to run; %d MPI ranks → %s\n", s->spec, q->total, q->skipped, q->nq,
                q->rm->n + 1, s->out);
    else
        fprintf(stderr, "sweep %s: %d runs, %d complete, %d to run; %d jobs × %d threads → %s\n", s->spec, q->total,
                q->skipped, q->nq, q->jobs, q->threads, s->out);
    q->w = xcalloc((size_t)q->slots, sizeof *q->w);
    q->failed_runs = xcalloc((size_t)s->n + 1, sizeof *q->failed_runs);
    q->t_start = now_sec();
    q->tty = is_tty(stderr);
}

// Worker index of rank `rank` (> 0), or of the local worker `pid`; -1 if none.
static int sched_find(const Sched *q, int rank, pid_t pid) {
    for (int k = 0; k < q->nw; k++)
        if (q->w[k].rank == rank && (rank || q->w[k].pid == pid)) return k;
    return -1;
}

// A free slot: 0 while this process runs fewer than `jobs` workers itself, else the
// lowest idle rank (called only when some slot is free).
static int sched_free_slot(const Sched *q) {
    int local = 0;
    for (int k = 0; k < q->nw; k++) local += q->w[k].rank == 0;
    if (local < q->jobs) return 0;
    for (int r = 1; q->rm && r <= q->rm->n; r++)
        if (sched_find(q, r, 0) < 0) return r;
    die_internal("no free sweep slot");
}

// Fill free worker slots. A run whose lock is held (a worker of a sweep killed a moment
// ago, still dying) is rotated to the back of the queue and retried. Under MPI rank 0
// hands out every run itself: no per-run file locks.
static void sched_fill(Sched *q) {
    int tried = 0;
    while (q->nw < q->slots && q->qhead < q->nq && tried < q->nq - q->qhead) {
        int ri = q->queue[q->qhead];
        SweepRun *r = &q->s->runs[ri];
        int fd = -1, rank = sched_free_slot(q);
        if (!q->rm) {
            mkdir_p(r->dir);
            char rl[4200];
            snprintf(rl, sizeof rl, "%s/.lock", r->dir);
            fd = take_lock(rl, 0);
        }
        if (!q->rm && fd < 0) {
            for (int k = q->qhead; k + 1 < q->nq; k++) q->queue[k] = q->queue[k + 1];
            q->queue[q->nq - 1] = ri;
            tried++;
            continue;
        }
        // Re-read the state under the lock: the holder may have just finished it.
        q->state[ri] = sweep_run_state(r);
        q->qhead++;
        if (q->state[ri] == RUN_COMPLETE) { if (fd >= 0) close(fd); q->done++; continue; }
        pid_t pid = 0;
        if (rank > 0) q->rm->start(rank, r, q->state[ri]);
        else pid = sweep_launch(r, q->state[ri], q->threads);
        if (fd >= 0) close(fd);
        q->w[q->nw].pid = pid; q->w[q->nw].rank = rank; q->w[q->nw].run = ri; q->w[q->nw].t0 = now_sec();
        q->nw++;
        tried = 0;
    }
}

// Elapsed time and the ETA from the mean duration of the runs finished so far. A run
// already past that mean has an unknown rest: counted as one second, so the ETA never says
// 0 s while a run is still going, and marked "+" (at least).
static void sched_times(const Sched *q, double t, double avg, char *el, char *eta) {
    fmt_dur(el, 32, t - q->t_start);
    double rest = 0;
    int overdue = 0;
    for (int k = 0; k < q->nw; k++) {
        double r = avg - (t - q->w[k].t0);
        if (r < 1) { r = 1; overdue = 1; }
        rest += r;
    }
    double v = (avg * (q->nq - q->qhead) + rest) / q->slots;
    fmt_dur(eta, 31, q->nw > 0 && v < 1 ? 1 : v);
    if (overdue && strcmp(eta, "?")) strcat(eta, "+");
}

// Nothing finished: on a terminal, refresh the progress line once a second.
static void sched_idle(Sched *q) {
    double t = now_sec();
    if (q->tty && t - q->last_print >= 1.0) {
        char el[32], eta[32];
        sched_times(q, t, q->finished_here ? q->dur_sum / q->finished_here : NAN, el, eta);
        fprintf(stderr, "\rsweep: %d/%d done, %d running, %d failed, elapsed %s, ETA %s   ", q->done, q->total, q->nw,
                q->failed, el, eta);
        q->last_print = t;
    }
    usleep(100000);
}

// Worker k's run ended, complete (ok) or not (why): record it and say so.
static void sched_reap(Sched *q, int k, int ok, const char *why) {
    int ri = q->w[k].run, rank = q->w[k].rank;
    double dur = now_sec() - q->w[k].t0;
    q->w[k] = q->w[--q->nw];
    const SweepRun *r = &q->s->runs[ri];
    if (!ok) {
        q->failed_runs[q->failed++] = ri;
    } else {
        q->done++;
    }
    q->finished_here++;
    q->dur_sum += dur;
    char el[32], eta[32], d[32];
    double t = now_sec();
    fmt_dur(d, sizeof d, dur);
    sched_times(q, t, q->dur_sum / q->finished_here, el, eta);
    char on[32] = "";
    if (q->rm) snprintf(on, sizeof on, " on rank %d", rank);
    fprintf(stderr, "%ssweep: %d/%d done, %d failed, elapsed %s, ETA %s | %s %s%s (%s) %s%s%s\n", q->tty ? "\r" : "", q->done,
            q->total, q->failed, el, eta, ok ? "finished" : "FAILED", r->id, on, d, r->label, ok ? "" : ": ", why);
    q->last_print = t;
}

// Phase 5: the summary, or on SIGINT/SIGTERM the workers stopped (their run.h5 stays
// 'running' and the next sweep resumes them) and exit 130. Other MPI ranks get the
// signal from mpirun/srun themselves.
static int sched_finish(Sched *q, int lock) {
    if (g_stop) {
        for (int k = 0; k < q->nw; k++) if (!q->w[k].rank) kill(q->w[k].pid, SIGTERM);
        for (int k = 0; k < q->nw; k++) if (!q->w[k].rank) waitpid(q->w[k].pid, NULL, 0);
        fprintf(stderr, "\nsweep: interrupted; %d/%d complete. Run the same command again to continue.\n", q->done, q->total);
        close(lock);
        exit(130);
    }
    if (q->tty) fprintf(stderr, "\n");
    char el[32];
    fmt_dur(el, sizeof el, now_sec() - q->t_start);
    fprintf(stderr, "sweep: %d/%d complete (%d were already), %d failed, %s\n", q->done, q->total, q->skipped, q->failed, el);
    for (int i = 0; i < q->failed; i++) {
        const SweepRun *r = &q->s->runs[q->failed_runs[i]];
        fprintf(stderr, "  failed: %s  %s  (log: %s/train.log)\n", r->id, r->label, r->dir);
    }
    int failed = q->failed;
    free(q->w); free(q->state); free(q->queue); free(q->failed_runs);
    close(lock);
    return failed ? 1 : 0;
}

int sweep_execute(Sweep *s, const SweepOptions *o) {
    int lock = lock_sweep_dir(s);
    write_plan(s);
    Sched q;
    sched_init(&q, s, o);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    // Phase 4: keep the slots full and reap finished workers until the queue is empty.
    // A rank judges its own worker (sweep_worker_result), seeing run.h5 as it wrote it.
    while ((q.qhead < q.nq || q.nw > 0) && !g_stop) {
        sched_fill(&q);
        int st = 0, rank = 0, ok = 0, k;
        char why[64] = "";
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid > 0) {
            if ((k = sched_find(&q, 0, pid)) >= 0) sched_reap(&q, k, sweep_worker_result(&s->runs[q.w[k].run], st, why, sizeof why), why);
        } else if (q.rm && q.rm->poll(&rank, &ok, why, sizeof why)) {
            if ((k = sched_find(&q, rank, 0)) < 0) die_internal("rank %d reported a run it was not given", rank);
            sched_reap(&q, k, ok, why);
        } else {
            sched_idle(&q);
        }
    }
    return sched_finish(&q, lock);
}
