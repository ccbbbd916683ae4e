// util.c — see util.h.

#include "util.h"
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <cblas.h>
#include <cJSON.h>
#include <strings.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static void (*die_fn)(void *, int);
static void *die_ctx;
void on_die(void (*fn)(void *, int), void *ctx) { die_fn = fn; die_ctx = ctx; }

enum { MAX_TEMPS = 8 };
static char *temps[MAX_TEMPS];
void temp_track(const char *path) {
    for (int i = 0; i < MAX_TEMPS; i++)
        if (!temps[i]) { temps[i] = xstrdup(path); return; }
    die_internal("more than %d temporary files open", MAX_TEMPS);
}
void temp_done(const char *path) {
    for (int i = 0; i < MAX_TEMPS; i++)
        if (temps[i] && !strcmp(temps[i], path)) { free(temps[i]); temps[i] = NULL; }
}
static void temps_remove(void) {
    for (int i = 0; i < MAX_TEMPS; i++)
        if (temps[i]) { unlink(temps[i]); free(temps[i]); temps[i] = NULL; }
}

// One write for the whole line, so readers (pipes, logs) never see half of it. Messages
// echo names read from files (tensor names, keys): control bytes and invalid UTF-8 are
// written as \xNN so the line stays one readable line.
static void put_line(FILE *f, const char *prefix, const char *fmt, va_list ap) {
    char msg[2048], line[4 * sizeof msg + 32];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t k = (size_t)snprintf(line, sizeof line, "%s", prefix), n = strlen(msg);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)msg[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len > n - i || (len > 1 && !utf8_valid(msg + i, len, NULL))) len = 0;
        if (c < 0x20 || c == 0x7f || len == 0) { k += (size_t)snprintf(line + k, sizeof line - k, "\\x%02x", c); i++; }
        else { memcpy(line + k, msg + i, len); k += len; i += len; }
    }
    line[k++] = '\n';
    line[k] = 0;
    if (f) fputs(line, f);
}

// One stack per thread: readers run inside OpenMP loops too (tok_encode in the eval
// harness), and an error in one thread releases what that thread held before the exit.
typedef struct { void *p; void (*release)(void *); } Held;
static _Thread_local Held *held;
static _Thread_local size_t nheld, capheld;
size_t hold_mark(void) { return nheld; }
void *hold(void *p, void (*release)(void *)) {
    if (!p) return p;
    if (nheld == capheld) {
        Held *h = realloc(held, (capheld ? 2 * capheld : 64) * sizeof *h);
        if (!h) { release(p); die_internal("out of memory growing the hold stack"); }
        held = h; capheld = capheld ? 2 * capheld : 64;
    }
    held[nheld++] = (Held){p, release};
    return p;
}
static void close_file(void *f) { fclose(f); }
FILE *hold_file(FILE *f) { return hold(f, close_file); }
void hold_end(size_t mark) {
    if (mark > nheld) die_internal("hold_end: mark %zu above the %zu objects held", mark, nheld);
    nheld = mark;
}
void hold_unwind(size_t mark) {
    while (nheld > mark) { Held h = held[--nheld]; h.release(h.p); }
}
static Held *held_find(const void *p) {
    for (size_t i = nheld; i-- > 0;) if (held[i].p == p) return &held[i];
    return NULL;
}
void hold_drop(const void *p) {
    Held *h = p ? held_find(p) : NULL;
    if (!h) return;
    memmove(h, h + 1, (size_t)(held + nheld - (h + 1)) * sizeof *h);
    nheld--;
}
void *hold_realloc(void *p, size_t n) {
    Held *h = p ? held_find(p) : NULL;
    void *q = xrealloc(p, n); // on failure p is still held and released by the die
    if (h) h->p = q;
    return q;
}
void json_release(void *root) { cJSON_Delete(root); }
void md_release(void *md) { EVP_MD_CTX_free(md); }
void free_at(void *pp) { free(*(void **)pp); }
void strv_free(void *v) {
    if (!v) return;
    for (char **s = v; *s; s++) free(*s);
    free(v);
}
char **strv_split(const char *s, const char *seps, int *n) {
    char **v = xcalloc(1, sizeof *v);
    int k = 0;
    for (const char *p = s + strspn(s, seps); *p; p += strspn(p, seps)) {
        size_t len = strcspn(p, seps);
        v = xrealloc(v, (size_t)(k + 2) * sizeof *v);
        v[k] = xmalloc(len + 1);
        memcpy(v[k], p, len);
        v[k][len] = 0;
        v[++k] = NULL;
        p += len;
    }
    if (n) *n = k;
    return v;
}

static jmp_buf *die_jb;
static int die_quiet;
void die_longjmp(jmp_buf *jb, int quiet) { die_jb = jb; die_quiet = quiet; }

static int die_rank;
void die_set_rank(int rank) { die_rank = rank; }

static _Noreturn void die_v(int status, const char *fmt, va_list ap) {
    fflush(stdout);
    // Under MPI an error every rank hits is reported by rank 0 alone: the others wait a
    // moment, and mpirun ends them when rank 0 exits. An error of one rank only still shows.
    char prefix[48] = "l4q: error: ";
    if (die_rank > 0) { sleep(2); snprintf(prefix, sizeof prefix, "l4q: error: rank %d: ", die_rank); }
    put_line(die_jb && die_quiet ? NULL : stderr, prefix, fmt, ap);
    temps_remove();
    if (die_fn) { void (*fn)(void *, int) = die_fn; die_fn = NULL; fn(die_ctx, status); }
    hold_unwind(0);
    if (die_jb) longjmp(*die_jb, status);
    exit(status);
}
void die_input(const char *fmt, ...) { va_list ap; va_start(ap, fmt); die_v(2, fmt, ap); }
void die_internal(const char *fmt, ...) { va_list ap; va_start(ap, fmt); die_v(1, fmt, ap); }
void warnf(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    put_line(stderr, "l4q: ", fmt, ap);
    va_end(ap);
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die_internal("out of memory allocating %zu bytes", n);
    return p;
}
void *xcalloc(size_t c, size_t s) {
    void *p = calloc(c ? c : 1, s ? s : 1);
    if (!p) die_internal("out of memory allocating %zu x %zu bytes", c, s);
    return p;
}
void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) die_internal("out of memory reallocating %zu bytes", n);
    return p;
}
char *xstrdup(const char *s) { size_t n = strlen(s) + 1; return memcpy(xmalloc(n), s, n); }
static void *aligned_raw(size_t n, size_t *r) {
    void *p = NULL;
    *r = (n + 63) & ~(size_t)63;
    if (!*r) *r = 64;
    if (posix_memalign(&p, 64, *r)) die_internal("out of memory allocating %zu bytes", n);
    return p;
}
void *xmalloc_aligned(size_t n) {
    size_t r;
    void *p = aligned_raw(n, &r);
    memset(p, 0, r);
    return p;
}
void *xmalloc_aligned_lazy(size_t n) {
    size_t r;
    void *p = aligned_raw(n, &r);
    mem_zero(p, r);
    return p;
}

char *read_file(const char *path, size_t *len) {
    size_t mark = hold_mark();
    FILE *f = hold_file(fopen(path, "rb"));
    if (!f) die_input("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) die_input("%s: not a regular file", path);
    size_t n = (size_t)st.st_size;
    char *buf = hold(xmalloc(n + 1), free);
    if (n && fread(buf, 1, n, f) != n) die_input("%s: read error", path);
    hold_end(mark);
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}
void write_file_atomic(const char *path, const void *data, size_t len) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) die_input("%s: cannot create: %s", tmp, strerror(errno));
    temp_track(tmp);
    if (fwrite(data, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0) die_input("%s: write failed: %s", tmp, strerror(errno));
    if (fclose(f) != 0) die_input("%s: write failed: %s", tmp, strerror(errno));
    if (rename(tmp, path) != 0) die_input("%s: cannot rename into place: %s", path, strerror(errno));
    temp_done(tmp);
}
int file_exists(const char *path) { struct stat st; return stat(path, &st) == 0; }

const char *install_root(void) {
    static char root[4096];
    static int done;
    if (done) return root[0] ? root : NULL;
    done = 1;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = 0;
    for (int up = 0; up < 4; up++) {
        char *sl = strrchr(exe, '/');
        if (!sl || sl == exe) break;
        *sl = 0;
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/evals/tasks", exe);
        if (file_exists(probe)) { snprintf(root, sizeof root, "%s", exe); return root; }
    }
    return NULL;
}
// $L4Q_DATA, else shared/data beside the repository the binary was built in (the layout
// this project is developed and tested in), else ../shared/data as a last resort.
const char *data_root(void) {
    const char *d = getenv("L4Q_DATA");
    if (d && *d) return d;
    static char buf[4200];
    const char *r = install_root();
    if (!r) return "../shared/data";
    if (!buf[0]) snprintf(buf, sizeof buf, "%s/../shared/data", r);
    return buf;
}
const char *resolve_path(const char *rel, const char *base_dir, char *out, size_t outsz) {
    snprintf(out, outsz, "%s", rel);
    if (rel[0] == '/' || file_exists(rel)) return out;
    if (base_dir && *base_dir) {
        snprintf(out, outsz, "%s/%s", base_dir, rel);
        if (file_exists(out)) return out;
    }
    snprintf(out, outsz, "%s/%s", data_root(), rel);
    if (file_exists(out)) return out;
    snprintf(out, outsz, "%s", rel); // let the opener report the original name
    return out;
}
void mkdir_p(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') { *p = 0; mkdir(buf, 0755); *p = '/'; }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) die_input("%s: cannot create directory: %s", path, strerror(errno));
}

double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static size_t status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256]; size_t kb = 0, kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl)) { kb = strtoull(line + kl, NULL, 10); break; }
    fclose(f);
    return kb * 1024;
}
size_t rss_bytes(void) { return status_kb("VmRSS:"); }
size_t peak_rss_bytes(void) { return status_kb("VmHWM:"); }
size_t mem_limit_bytes(void) {
    const char *e = getenv("L4Q_MEM_LIMIT");
    if (e && *e) {
        char *end;
        double v = strtod(e, &end);
        if (end == e || *end || !(v > 0)) die_input("L4Q_MEM_LIMIT: expected a byte count, got '%s'", e);
        return (size_t)v;
    }
    long pages = sysconf(_SC_PHYS_PAGES), pg = sysconf(_SC_PAGESIZE);
    return pages > 0 && pg > 0 ? (size_t)pages * (size_t)pg : SIZE_MAX;
}

// The whole pages inside [p, p + bytes): [*a, *e).
static void inner_pages(void *p, size_t bytes, uintptr_t *a, uintptr_t *e) {
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    *a = ((uintptr_t)p + pg - 1) & ~(pg - 1);
    *e = ((uintptr_t)p + bytes) & ~(pg - 1);
    if (*e < *a) *e = *a;
}
size_t mem_release(void *p, size_t bytes) {
    uintptr_t a, e;
    inner_pages(p, bytes, &a, &e);
    if (e == a || madvise((void *)a, e - a, MADV_DONTNEED)) return 0;
    return e - a;
}
void mem_zero(void *p, size_t bytes) {
    uintptr_t a, e, s = (uintptr_t)p;
    inner_pages(p, bytes, &a, &e);
    if (e - a < ((size_t)64 << 10) || madvise((void *)a, e - a, MADV_DONTNEED)) { // small: a syscall costs more
        memset(p, 0, bytes);
        return;
    }
    memset(p, 0, a - s);
    memset((void *)e, 0, s + bytes - e);
}

void mem_retain_freed(void) { // idempotent
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: bigger blocks still come from mmap
    mallopt(M_TRIM_THRESHOLD, INT_MAX);   // also keeps the OpenMP threads' arenas
}

static int n_threads = 1;
void threads_init(int requested) {
    int n = requested;
    const char *e = getenv("L4Q_THREADS");
    if (n <= 0 && e && *e) n = atoi(e);
    if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0) n = 1;
    n_threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    openblas_set_num_threads(n);
}
int threads_count(void) { return n_threads; }

static uint64_t splitmix(uint64_t *x) { return mix64(*x += 0x9e3779b97f4a7c15ULL); }
void rng_seed(Rng *r, uint64_t seed) { for (int i = 0; i < 4; i++) r->s[i] = splitmix(&seed); }
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
uint64_t rng_u64(Rng *r) {
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return res;
}
float rng_uniform(Rng *r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }
float rng_normal(Rng *r) {
    float u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-12f) u1 = 1e-12f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
}

int is_tty(FILE *f) { return isatty(fileno(f)); }

uint64_t hash64(const void *data, size_t n, uint64_t h) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h;
}

int utf8_valid(const char *str, size_t n, size_t *bad) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n) { if (bad) *bad = i; return 0; }
        for (int k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) { if (bad) *bad = i; return 0; }
        i += len;
    }
    return 1;
}

void cpu_model_name(char *out, size_t n) {
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *v = strchr(line, ':');
            if (v) { v++; while (*v == ' ') v++; v[strcspn(v, "\n")] = 0; snprintf(out, n, "%s", v); }
            break;
        }
    fclose(f);
}

// Environment fixes that must be in place before libgomp/OpenBLAS initialise, so they are
// applied by re-executing once:
// - Debian's OpenBLAS 0.3.21 misdetects this AVX-512 CPU as Prescott (5x slower
//   sgemm): use OPENBLAS_CORETYPE=SkylakeX.
// - GOMP_SPINCOUNT=20000: idle OpenMP threads spin ~10-20 µs, then sleep. Long spins
//   (libgomp's default) steal the cores from other processes on a busy machine (measured
//   10-100x slowdowns); sleeping at once (OMP_WAIT_POLICY=passive) costs a futex round trip
//   per parallel region: 2.5x slower evaluation of many short requests.
// Settings the user made (OPENBLAS_CORETYPE, OMP_WAIT_POLICY, GOMP_SPINCOUNT) are respected.
void env_setup(char **argv) {
    int again = 0;
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) { setenv("GOMP_SPINCOUNT", "20000", 1); again = 1; }
    if (!getenv("OPENBLAS_CORETYPE")) {
        const char *core = openblas_get_corename();
        __builtin_cpu_init();
        if (core && !strcasecmp(core, "prescott") && __builtin_cpu_supports("avx512f")) {
            setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
            fprintf(stderr, "l4q: OpenBLAS detected the generic Prescott core on an AVX-512 CPU; using SkylakeX kernels (set OPENBLAS_CORETYPE to override)\n");
            again = 1;
        }
    }
    if (again) execv("/proc/self/exe", argv);
}

// Rank of an OpenBLAS x86-64 core name by the vector ISA its kernels use: 3 AVX-512,
// 2 AVX2, 1 AVX, 0 older or unknown (the names OPENBLAS_CORETYPE accepts, any case).
static int core_rank(const char *name) {
    static const char *const r3[] = {"skylakex", "cooperlake", "sapphirerapids"}, *const r2[] = {"haswell", "zen"},
                             *const r1[] = {"sandybridge", "bulldozer", "piledriver", "steamroller", "excavator"};
    for (size_t i = 0; i < sizeof r3 / sizeof *r3; i++) if (!strcasecmp(name, r3[i])) return 3;
    for (size_t i = 0; i < sizeof r2 / sizeof *r2; i++) if (!strcasecmp(name, r2[i])) return 2;
    for (size_t i = 0; i < sizeof r1 / sizeof *r1; i++) if (!strcasecmp(name, r1[i])) return 1;
    return 0;
}
const char *blas_best_core(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
    if (__builtin_cpu_supports("avx2")) return "Haswell";
    if (__builtin_cpu_supports("avx")) return "Sandybridge";
    return NULL;
}
int blas_core_pinned_older(const char **pinned) {
    const char *env = getenv("OPENBLAS_CORETYPE"), *best = blas_best_core();
    if (pinned) *pinned = env;
    return env && *env && best && core_rank(env) < core_rank(best);
}
void blas_core_notice(void) {
    static int said;
    const char *env;
    if (said++ || !blas_core_pinned_older(&env)) return;
    fprintf(stderr, "l4q: note: OPENBLAS_CORETYPE=%s pins OpenBLAS, which runs the products with N and K >= 1024, to older "
            "kernels than this CPU runs (%s; about twice the sgemm rate on AVX-512); kept as set (`l4q info --system` "
            "measures both)\n", env, blas_best_core());
}

// ---- provenance ------------------------------------------------------------------------

static void sha256_file_bin(const char *path, unsigned char out[32]) {
    size_t mark = hold_mark();
    FILE *f = hold_file(fopen(path, "rb"));
    if (!f) die_input("%s: cannot open for hashing: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = hold(EVP_MD_CTX_new(), md_release);
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) die_internal("sha256: OpenSSL init failed");
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) EVP_DigestUpdate(ctx, buf, n);
    if (ferror(f)) die_input("%s: read error while hashing", path);
    unsigned int len = 32;
    EVP_DigestFinal_ex(ctx, out, &len);
    hold_unwind(mark);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void sha256_path(const char *path, char hex[65]) {
    unsigned char d[32];
    struct stat st;
    if (stat(path, &st) != 0) die_input("%s: cannot hash: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        if (!dir) die_input("%s: cannot open directory: %s", path, strerror(errno));
        char **names = NULL;
        size_t n = 0, cap = 0;
        for (struct dirent *e; (e = readdir(dir));) {
            if (e->d_name[0] == '.') continue;
            if (n == cap) names = xrealloc(names, (cap = cap ? 2 * cap : 16) * sizeof *names);
            names[n++] = xstrdup(e->d_name);
        }
        closedir(dir);
        qsort(names, n, sizeof *names, cmp_str);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        for (size_t i = 0; i < n; i++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", path, names[i]);
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                unsigned char fd[32];
                sha256_file_bin(p, fd);
                EVP_DigestUpdate(ctx, names[i], strlen(names[i]) + 1);
                EVP_DigestUpdate(ctx, fd, 32);
            }
            free(names[i]);
        }
        free(names);
        unsigned int len = 32;
        EVP_DigestFinal_ex(ctx, d, &len);
        EVP_MD_CTX_free(ctx);
    } else {
        sha256_file_bin(path, d);
    }
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

char *sha256_paths_joined(const char *const *paths, int n, const char *(*memo)(const char *path)) {
    size_t cap = (size_t)(n > 0 ? n : 1) * 65, o = 0; // 64 hex digits and a comma or NUL each
    char *out = xmalloc(cap);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        char hex[65];
        const char *h = memo ? memo(paths[i]) : NULL;
        if (!h) { sha256_path(paths[i], hex); h = hex; }
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "," : "", h);
    }
    return out;
}

static char *g_cmdline;
void command_line_set(int argc, char **argv) {
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 3;
    free(g_cmdline);
    g_cmdline = xmalloc(n);
    g_cmdline[0] = 0;
    for (int i = 0; i < argc; i++) {
        // Quote arguments a shell would split, so the line can be pasted back.
        int q = argv[i][0] == 0 || strpbrk(argv[i], " \t'\"$") != NULL;
        if (i) strcat(g_cmdline, " ");
        if (q) strcat(g_cmdline, "'");
        strcat(g_cmdline, argv[i]);
        if (q) strcat(g_cmdline, "'");
    }
}
const char *command_line(void) { return g_cmdline ? g_cmdline : ""; }
