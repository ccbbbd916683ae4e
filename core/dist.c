// dist.c — see dist.h. The MPI plugin is loaded only when the launcher says we are one of
// several ranks; without it every function is the one-process identity.
#include "plugin_path.h"
#include "dist.h"
#include "util.h"
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const DistOps *ops;     // NULL: one process
static int g_rank, g_size = 1, g_local = 1;

static long env_long(const char *name) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : 0;
}

// Ranks the launcher started, from its environment: OpenMPI's mpirun, PMI launchers
// (MPICH hydra, srun --mpi=pmi2), srun's own step variables. 0 when not launched so.
static long launched_size(const char **who) {
    const char *e = getenv("L4Q_MPI");
    if (e && !strcmp(e, "0")) return 0;
    static const char *const VARS[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
    for (int i = 0; i < 3; i++) {
        long n = env_long(VARS[i]);
        if (n > 1) { if (who) *who = VARS[i]; return n; }
    }
    return 0;
}
static long launched_rank(void) {
    static const char *const VARS[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"};
    for (int i = 0; i < 4; i++)
        if (getenv(VARS[i])) return env_long(VARS[i]);
    return 0;
}

int dist_launched(void) { return launched_size(NULL) > 1; }
int dist_rank(void) { return g_rank; }
int dist_size(void) { return g_size; }


static uint64_t exe_hash(void) {
    size_t n;
    char *b = read_file("/proc/self/exe", &n);
    uint64_t h = hash64(b, n, HASH64_INIT);
    free(b);
    return h;
}

// Every rank leaves MPI and exits 2; rank 0 prints the one line first (MPI_Finalize waits
// for every rank, so no rank's exit can make mpirun end rank 0 before it has printed).
static _Noreturn void fail_all(const char *msg) {
    fflush(stdout);
    if (g_rank == 0) { fprintf(stderr, "l4q: error: %s\n", msg); fflush(stderr); }
    dist_finalize();
    exit(2);
}

void dist_init(const char *cmd, int supports_ranks) {
    const char *who = NULL;
    long n = launched_size(&who);
    if (n <= 1) return;
    // Before MPI is up, errors every rank hits are reported by rank 0 only (util.c).
    die_set_rank((int)launched_rank());
    if (!supports_ranks)
        die_input("%s: does not run across MPI ranks (%s=%ld); only train and sweep do — start it without mpirun/srun", cmd,
                  who, n);
    char path[PATH_MAX + 32];
    plugin_path("L4Q_MPI_PLUGIN", "libl4q_mpi.so", path, sizeof path);
    if (access(path, R_OK) != 0)
        die_input("launched as one of %ld MPI ranks (%s) but %s is missing: build it with `make mpi` (needs libopenmpi-dev)", n,
                  who, path);
    // RTLD_GLOBAL: OpenMPI's own components resolve symbols of libmpi when it loads them.
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!h) die_input("%s: cannot load the MPI plugin: %s", path, dlerror());
    const DistOps *o = dlsym(h, "l4q_mpi_ops");
    if (!o || o->version != DIST_OPS_VERSION)
        die_input("%s: not an MPI plugin of this build (version %d, want %d): rebuild with `make mpi`", path, o ? o->version : -1,
                  DIST_OPS_VERSION);
    char err[512] = "";
    if (o->init(&g_rank, &g_size, &g_local, err, sizeof err) != 0) die_input("MPI_Init failed: %s", err);
    ops = o;
    die_set_rank(g_rank);
    if (g_size != n) {
        // Each process would otherwise run the whole job alone.
        char msg[512];
        snprintf(msg, sizeof msg, "the launcher started %ld ranks (%s) but MPI sees %d: under srun pass --mpi=pmix (or the "
                 "PMI your OpenMPI was built for)", n, who, g_size);
        g_rank = 0;
        fail_all(msg);
    }
    if (g_rank > 0 && !freopen("/dev/null", "w", stdout)) die_internal("cannot silence stdout of rank %d", g_rank);
    dist_check_same("build/l4q (the executable)", exe_hash());
}

void dist_finalize(void) {
    if (ops) ops->finalize();
    ops = NULL;
}

int dist_default_threads(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    int bound = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)online;
    if (bound > 0 && bound < online) return bound;
    long t = online / (g_local > 0 ? g_local : 1);
    return t > 0 ? (int)t : 1;
}

void dist_barrier(void) { if (ops) ops->barrier(); }
void dist_bcast(void *buf, size_t bytes, int root) { if (ops) ops->bcast(buf, bytes, root); }
void dist_sum_f64(double *buf, size_t n) {
    if (!ops) return;
    ops->barrier();
    ops->sum_f64(buf, n);
}
void dist_send(const void *buf, size_t bytes, int dest, int tag) {
    if (!ops) die_internal("dist_send without MPI");
    ops->send(buf, bytes, dest, tag);
}
int dist_probe(int *src, int *tag, size_t *bytes) { return ops ? ops->probe(src, tag, bytes) : 0; }
void dist_recv(void *buf, size_t bytes, int src, int tag) {
    if (!ops) die_internal("dist_recv without MPI");
    ops->recv(buf, bytes, src, tag);
}

typedef struct { uint64_t value; char host[56]; } RankValue;

void dist_check_same(const char *what, uint64_t value) {
    if (!ops) return;
    RankValue me = {value, ""}, *all = g_rank == 0 ? xcalloc((size_t)g_size, sizeof *all) : NULL;
    gethostname(me.host, sizeof me.host - 1);
    ops->gather(&me, sizeof me, all, 0);
    int bad = -1;
    for (int r = 1; g_rank == 0 && r < g_size && bad < 0; r++)
        if (all[r].value != all[0].value) bad = r;
    ops->bcast(&bad, sizeof bad, 0);
    if (bad >= 0) {
        char msg[512] = "";
        if (g_rank == 0)
            snprintf(msg, sizeof msg, "%s differs between rank 0 (%s) and rank %d (%s): every rank must run the same build and "
                     "configuration", what, all[0].host, bad, all[bad].host);
        fail_all(msg);
    }
    free(all);
}

void dist_fail_if(int bad, const char *fmt, ...) {
    if (!ops) {
        if (!bad) return;
        char msg[1024];
        va_list ap; va_start(ap, fmt); vsnprintf(msg, sizeof msg, fmt, ap); va_end(ap);
        die_input("%s", msg);
    }
    int any = bad;
    ops->bcast(&any, sizeof any, 0); // rank 0's verdict: every rank evaluated the same thing
    if (!any) return;
    char msg[1024];
    va_list ap; va_start(ap, fmt); vsnprintf(msg, sizeof msg, fmt, ap); va_end(ap);
    fail_all(msg);
}

void dist_check_shared_dir(const char *dir, const char *what) {
    if (!ops) return;
    // Rank 0 creates the directory (remembering whether it existed) and a marker whose
    // content is a token only this job knows; each rank looks for it for a few seconds
    // (NFS attribute caches) and the verdicts meet at rank 0.
    struct { uint64_t token; int created; } m = {0, 0};
    char marker[PATH_MAX + 64];
    if (g_rank == 0) {
        m.created = access(dir, F_OK) != 0;
        mkdir_p(dir);
        m.token = hash64(&m, sizeof m, (uint64_t)getpid() ^ ((uint64_t)(now_sec() * 1e9) << 16));
    }
    ops->bcast(&m, sizeof m, 0);
    snprintf(marker, sizeof marker, "%s/.l4q-shared-%016llx", dir, (unsigned long long)m.token);
    if (g_rank == 0) {
        FILE *f = fopen(marker, "w");
        if (!f || fprintf(f, "%016llx\n", (unsigned long long)m.token) < 0 || fclose(f) != 0)
            die_input("%s: cannot write in %s (%s)", marker, what, strerror(errno));
    }
    ops->barrier();
    RankValue me = {0, ""}, *all = g_rank == 0 ? xcalloc((size_t)g_size, sizeof *all) : NULL;
    gethostname(me.host, sizeof me.host - 1);
    for (double t0 = now_sec(); !me.value && now_sec() - t0 < 5; ) {
        FILE *f = fopen(marker, "r");
        unsigned long long got = 0;
        if (f) { me.value = fscanf(f, "%llx", &got) == 1 && got == m.token; fclose(f); }
        if (!me.value) usleep(100000);
    }
    ops->gather(&me, sizeof me, all, 0);
    int bad = -1;
    for (int r = 0; g_rank == 0 && r < g_size && bad < 0; r++)
        if (!all[r].value) bad = r;
    if (g_rank == 0) {
        unlink(marker);
        if (bad >= 0 && m.created) rmdir(dir); // nothing half-written: only if still empty
    }
    ops->bcast(&bad, sizeof bad, 0);
    if (bad >= 0) {
        char msg[PATH_MAX + 512] = "";
        if (g_rank == 0)
            snprintf(msg, sizeof msg, "%s: %s is not shared: rank %d (%s) does not see the marker rank 0 (%s) wrote there; put "
                     "it on a filesystem every node mounts at the same path", dir, what, bad, all[bad].host, all[0].host);
        fail_all(msg);
    }
    free(all);
}

void dist_share(int count, int *lo, int *hi) {
    *lo = (int)((long)count * g_rank / g_size);
    *hi = (int)((long)count * (g_rank + 1) / g_size);
}

// Gradients are packed into chunks so a model of many small tensors costs a few large
// all-reduces, and the buffer stays bounded for models of billions of parameters.
#define SUM_CHUNK ((size_t)1 << 22)

void dist_sum_grads(Param **ps, int n, double *wait_s, double *reduce_s) {
    if (!ops) return;
    double t0 = now_sec();
    ops->barrier();
    *wait_s += now_sec() - t0;
    t0 = now_sec();
    size_t total = 0;
    for (int i = 0; i < n; i++) if (ps[i]->grad) total += ps[i]->n;
    size_t cap = total < SUM_CHUNK ? total : SUM_CHUNK;
    float *buf = xmalloc((cap ? cap : 1) * sizeof(float));
    // Walk the tensors twice in step: `pi, po` pack, `ui, uo` unpack the same elements.
    int pi = 0, ui = 0;
    size_t po = 0, uo = 0;
    while (pi < n) {
        size_t k = 0;
        while (k < cap && pi < n) {
            if (!ps[pi]->grad || po == ps[pi]->n) { pi++; po = 0; continue; }
            size_t m = ps[pi]->n - po < cap - k ? ps[pi]->n - po : cap - k;
            memcpy(buf + k, ps[pi]->grad + po, m * sizeof(float));
            k += m; po += m;
        }
        if (!k) break;
        ops->sum_f32(buf, k);
        for (size_t j = 0; j < k;) {
            if (!ps[ui]->grad || uo == ps[ui]->n) { ui++; uo = 0; continue; }
            size_t m = ps[ui]->n - uo < k - j ? ps[ui]->n - uo : k - j;
            memcpy(ps[ui]->grad + uo, buf + j, m * sizeof(float));
            j += m; uo += m;
        }
    }
    free(buf);
    *reduce_s += now_sec() - t0;
}

uint64_t dist_params_hash(Param **ps, int n) {
    uint64_t h = HASH64_INIT;
    for (int i = 0; i < n; i++) h = hash64(ps[i]->data, ps[i]->n * sizeof(float), h);
    return h;
}
