// util.h — errors, allocation, files, time, memory, RNG: the few things every file needs.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "elem.h" // mix64

// Errors follow README "Commands": one line on stderr, exit 2 for bad input/usage, 1 for internal
// failures. Hooks (e.g. "mark run.h5 failed") run before exit.
_Noreturn void die_input(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void die_internal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void on_die(void (*fn)(void *ctx, int status), void *ctx); // one hook; NULL clears
void die_set_rank(int rank); // core/dist.c: MPI ranks > 0 prefix their rank and report late
// Fuzz targets only: while jb is set, die_* longjmp to it (setjmp returns the exit status)
// instead of exiting, without printing when quiet. NULL restores exiting.
#include <setjmp.h>
void die_longjmp(jmp_buf *jb, int quiet);
// What a reader holds while it may still die. A reader takes a mark, holds each block,
// object (with its free function; partly built objects must be freeable) or open file as
// it gets it, and on success lets go of everything held since the mark (hold_end): its
// caller owns the results. die_* releases everything still held, newest first, before
// exiting or jumping back to a fuzz target, so a rejected input leaks nothing. The stack
// is per thread (what a thread holds, that thread's error releases).
size_t hold_mark(void);
void *hold(void *p, void (*release)(void *)); // returns p; a NULL p holds nothing
FILE *hold_file(FILE *f);                      // released with fclose
void hold_end(size_t mark);                    // success: forget what was held since mark
void hold_unwind(size_t mark);                 // failure handled here: release it now
void hold_drop(const void *p);                 // forget p alone (freed or handed over)
void *hold_realloc(void *p, size_t n);         // xrealloc of a held block; the hold follows
void strv_free(void *v);                       // a NULL-terminated char * array and its strings
void json_release(void *root);                 // cJSON_Delete
void md_release(void *md);                     // EVP_MD_CTX_free
void free_at(void *pp);                        // hold(&p, free_at): frees p's value then (buffers that grow)
// Temporary files being written (path.tmp before its rename into place): an error exit
// removes every tracked file, so no temporary survives a failed write. temp_done after
// the rename (or removal) stops tracking.
void temp_track(const char *path);
void temp_done(const char *path);
void warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
// The items of s between any of the characters in seps (empty items skipped), as a
// NULL-terminated array (free with strv_free); *n (if non-NULL) gets their count.
char **strv_split(const char *s, const char *seps, int *n);
void *xmalloc_aligned(size_t n); // 64-byte aligned, zeroed; free with free()
// The same, zeroed with mem_zero (below): its whole pages count in RSS only once written —
// for buffers first written long after they are allocated (gradients).
void *xmalloc_aligned_lazy(size_t n);

// Whole file into memory (NUL-terminated). Missing/unreadable file → die_input.
char *read_file(const char *path, size_t *len);
int file_exists(const char *path);
// Write len bytes to path.tmp, fsync, rename over path (die_input with errno text; the
// temporary is removed on failure).
void write_file_atomic(const char *path, const void *data, size_t len);
// Resolve a data path: absolute or existing relative path as given; else base_dir/rel;
// else $L4Q_DATA/rel (default: shared/data beside the binary's repository, see data_root).
// Result in out.
const char *resolve_path(const char *rel, const char *base_dir, char *out, size_t outsz);
const char *data_root(void);
// The repository (or installed tree) the running binary belongs to: the nearest ancestor
// of its directory that holds evals/tasks (build/l4q, build/tests/x, build/asan/l4q all
// find the checkout). NULL if there is none. Never depends on the working directory.
const char *install_root(void);
void mkdir_p(const char *path); // die_input on failure

double now_sec(void);
void cpu_model_name(char *out, size_t n); // /proc/cpuinfo "model name", or "unknown"
size_t rss_bytes(void);      // current resident set
size_t peak_rss_bytes(void); // VmHWM
// The memory a run may plan for: physical RAM, or L4Q_MEM_LIMIT (bytes) when set.
size_t mem_limit_bytes(void);
// Memory malloc handed out (private anonymous pages): mem_release gives the whole pages
// inside [p, p + bytes) back to the kernel (MADV_DONTNEED) — they read as zeros when next
// touched and count in RSS only from then on — and returns the bytes released (0 for a
// range under one page). mem_zero is memset(p, 0, bytes) that releases those whole pages
// instead of writing them (exactly the same contents afterwards).
size_t mem_release(void *p, size_t bytes);
void mem_zero(void *p, size_t bytes);
// Freed heap memory stays with the process from now on (glibc: no trimming of the heaps'
// tops, no mmap per allocation under 32 MB), so per-step temporaries are not returned
// and re-faulted every step. Process-wide; model_plan_memory calls it when memory allows.
void mem_retain_freed(void);

// Process start (every executable's main calls it first): OPENBLAS_CORETYPE=SkylakeX
// when Debian's OpenBLAS misdetects an AVX-512 CPU as Prescott (README "Build and test"), and a short
// OpenMP spin (GOMP_SPINCOUNT=20000); both must be set before the libraries initialise, so this
// re-executes the program once when it changes anything. User settings are respected.
void env_setup(char **argv);
// OpenBLAS's x86-64 kernels for this CPU: the newest core it supports ("SkylakeX" with
// AVX-512, "Haswell" with AVX2, "Sandybridge" with AVX, else NULL), and whether the
// environment's OPENBLAS_CORETYPE pins an older one (then *pinned is its value).
const char *blas_best_core(void);
int blas_core_pinned_older(const char **pinned);
// One stderr line, once per process, when blas_core_pinned_older: the setting is kept
// (the commands that compute call it after their inputs are checked).
void blas_core_notice(void);

// Threads: all cores by default; --threads N / L4Q_THREADS override. Sets OpenMP and
// OpenBLAS together so they never oversubscribe.
void threads_init(int requested);
int threads_count(void);

// Deterministic RNG (splitmix64 seeding + xoshiro256**): same seed ⇒ same stream.
typedef struct { uint64_t s[4]; } Rng;
void rng_seed(Rng *r, uint64_t seed);
// mix64 (splitmix64's output function, for random streams indexed by position): core/elem.h.
uint64_t rng_u64(Rng *r);
float rng_uniform(Rng *r); // [0,1)
float rng_normal(Rng *r);

// Progress line: a \r-updated line on a terminal, plain lines (every `every` calls) otherwise.
int is_tty(FILE *f);

// SHA-256 (OpenSSL libcrypto) of a file as 64 hex digits, for provenance. A directory
// (a Hugging Face model folder) hashes its regular files in name order, each as its name,
// a NUL and its own digest. Missing/unreadable → die_input naming the path.
void sha256_path(const char *path, char hex[65]);
// The sha256 of each of n paths in order, joined by commas (malloc'd): the provenance of a
// list of input files (run.h5 sha256_train_data), compared by `l4q sweep` for staleness.
// memo (may be NULL): a caller's cache of sha256_path, so a sweep hashes each file once;
// where it returns NULL the path is hashed here.
char *sha256_paths_joined(const char *const *paths, int n, const char *(*memo)(const char *path));
// The command line as the user typed it (main saves it; "" before), for provenance.
void command_line_set(int argc, char **argv);
const char *command_line(void);

// FNV-1a 64 hash (run ids, prompt hashes).
uint64_t hash64(const void *data, size_t n, uint64_t h);
#define HASH64_INIT 1469598103934665603ULL

// UTF-8 validity; on failure *bad is the byte offset of the first bad sequence.
int utf8_valid(const char *s, size_t n, size_t *bad);
