// fuzz_runlog.c — run.h5 through the one reader the sweep and the report use
// (core/runlog_read.c), status only and everything.
//
// libhdf5 1.10 itself crashes on some damaged files (SIGSEGV inside H5Fopen and group
// iteration), which no in-process code survives; the report contains that by reading in a
// child (runlog_read.h). Here the inputs are read in a worker process for the same reason:
// a small server, forked before libFuzzer starts, forks one worker at a time, and the
// worker reads input after input until one kills it. Its coverage counters come back through
// shared memory and are added to this process's, so libFuzzer is guided by the reader's
// coverage as if it had run here. A worker's death is sorted: a fault whose code is
// libhdf5's, a hang inside one libhdf5 call, a sanitizer report made by libhdf5 outside our
// memory, or a leak of blocks libhdf5 allocated is libhdf5's own (counted, a sample kept in
// FUZZ_HDF5_DIR, not a finding); anything else (a fault, report or hang in our code, a leak
// we made, an object left held) is re-raised here as a crash, so libFuzzer records the input.
// FUZZ_INPROC=1 reads in this process instead, to replay a finding with the full report.
#include "fuzz.h"
#include "runlog_read.h"
#include <hdf5.h>
#include <errno.h>
#include <fcntl.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <sanitizer/allocator_interface.h>
#include <sanitizer/lsan_interface.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>

// libFuzzer's inline 8-bit counters: this binary's whole coverage map, between symbols the
// linker makes for the section. Found by assembly: a C declaration of those names in an
// instrumented file pushes the instrumentation's own to other names, and its module
// constructor then registers no counters at all. (x86-64, like the fault handler below.)
static uint8_t *cov_start, *cov_stop;
static void cov_bounds(void) {
#ifdef __x86_64__
    __asm__(".weak __start___sancov_cntrs\n\t.hidden __start___sancov_cntrs\n\t"
            "leaq __start___sancov_cntrs(%%rip), %0" : "=r"(cov_start));
    __asm__(".weak __stop___sancov_cntrs\n\t.hidden __stop___sancov_cntrs\n\t"
            "leaq __stop___sancov_cntrs(%%rip), %0" : "=r"(cov_stop));
#endif
}

enum { WK_OK = 0, WK_HDF5 = 70, WK_OURS = 71, WK_LEAK = 72, WK_EOF = 73, WK_HDF5_HANG = 74, WK_TIMEOUT_S = 10, WK_HANG_LOOK_S = 3 };

static uint8_t *shared_cov; // the worker's counters after a clean read
static size_t ncov;
static uintptr_t hdf5_lo[8], hdf5_hi[8]; // libhdf5's executable segments
static int nhdf5;
static long n_hdf5_crash, n_hdf5_hang, n_hdf5_report, n_inputs, n_ends, n_restarts;
static int wcmd = -1, wres = -1; // to and from the worker (and the server)
static const char *inpath, *errpath;
static char exe[4096 + 2]; // "(<this executable>+", as reports name it; set at start (a rebuild renames it "(deleted)")

static void read_both(const char *path) {
    for (int what = RUNFILE_STATUS; what <= RUNFILE_ALL; what++) {
        RunFile rf;
        FUZZ_GUARDED(runfile_read_here(path, what, &rf); runfile_free(&rf));
    }
}

// read/write of a few bytes on a pipe, again when a signal (libFuzzer's timer) interrupts it.
static ssize_t pipe_io(int fd, void *p, size_t n, int out) {
    ssize_t k;
    do k = out ? write(fd, p, n) : read(fd, p, n); while (k < 0 && errno == EINTR);
    return k;
}

// ---------------------------------------------------------------- worker side

// The signal handler and what it calls: no coverage counters (on_signal compares them) and
// no ASan instrumentation — its stack bookkeeping before a no-return call allocates, and a
// signal may arrive while libhdf5's malloc holds the allocator's lock (seen: a deadlock).
// The handler leaves with the raw exit syscall for the same reason.
#define SIGNAL_SAFE __attribute__((no_sanitize("address", "coverage")))

// A worker forked after the OpenMP runtime started sees libomp's per-thread blocks as
// unreachable (the threads that referenced them are not in the child): not leaks.
// libhdf5 mallocs what a damaged size field says (4 GB seen): such a request fails (libhdf5
// then fails or faults, its own either way) rather than take the machine's memory.
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "max_allocation_size_mb=2000:allocator_may_return_null=1"; }
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libomp.so\n"; }

SIGNAL_SAFE static int in_hdf5(uintptr_t pc) {
    for (int i = 0; i < nhdf5; i++) if (pc >= hdf5_lo[i] && pc < hdf5_hi[i]) return 1;
    return 0;
}

// Whose code faulted: the first frame from the faulting one outward that is neither libc
// nor the sanitizer runtime (libhdf5's memcpy goes through both) — libhdf5's, or ours.
static void *exe_base;
SIGNAL_SAFE static int fault_in_hdf5(uintptr_t pc) {
    void *fr[64];
    int n = backtrace(fr, 64), start = -1;
    for (int i = 0; i < n && start < 0; i++) if ((uintptr_t)fr[i] == pc || (uintptr_t)fr[i] == pc + 1) start = i;
    if (start < 0) { // no frame matches the faulting pc: begin at the caller of the signal trampoline
        if (in_hdf5(pc)) return 1;
        for (int i = 1; i < n && start < 0; i++) {
            Dl_info d;
            if (dladdr(fr[i], &d) && d.dli_fname && strstr(d.dli_fname, "libc.so")) start = i + 1;
        }
        if (start < 0) return 0;
    }
    for (int i = start; i < n; i++) {
        uintptr_t a = (uintptr_t)fr[i];
        if (in_hdf5(a)) return 1;
        Dl_info d;
        if (!dladdr(fr[i], &d)) return 0;
        if (d.dli_fname && strstr(d.dli_fname, "libc.so")) continue;
        // In this executable only the sanitizer runtime exports its symbols (memcpy, ...).
        if (d.dli_sname && d.dli_fbase == exe_base) continue;
        return 0;
    }
    return 0;
}

// Is libhdf5 anywhere on the stack? (A hang with our code frozen: no instrumented code ran,
// so the stack's innermost libraries hold it; libhdf5 is the one our reader calls.)
SIGNAL_SAFE static int stack_in_hdf5(uintptr_t pc) {
    void *fr[64];
    int n = backtrace(fr, 64);
    for (int i = 0; i < n; i++) if (in_hdf5((uintptr_t)fr[i])) return 1;
    return in_hdf5(pc);
}

// Fault: whose code was running decides whose bug it is. Hang (no answer in 10 s): where it
// was stopped does not say whose loop never ends (a loop of ours calls libhdf5 too), so the
// handler looks again 3 s later — libhdf5's hang only if it is still inside a libhdf5 call
// and none of our code ran in between (its coverage counters did not move). Not
// instrumented itself, so that its own run does not move them.
static uint8_t *hang_snap;
static volatile sig_atomic_t hang_looked;
SIGNAL_SAFE static void on_signal(int sig, siginfo_t *si, void *ucv) {
    (void)si;
    if (sig == SIGALRM && !hang_looked) {
        memcpy(hang_snap, cov_start, ncov);
        hang_looked = 1;
        alarm(WK_HANG_LOOK_S);
        return;
    }
    uintptr_t pc = 0;
#ifdef __x86_64__
    pc = (uintptr_t)((ucontext_t *)ucv)->uc_mcontext.gregs[REG_RIP];
#else
    (void)ucv;
#endif
    int ran = sig == SIGALRM && memcmp(hang_snap, cov_start, ncov) != 0; // before anything instrumented runs
    int theirs = sig == SIGALRM ? !ran && stack_in_hdf5(pc) : fault_in_hdf5(pc);
    char msg[160];
    int n = snprintf(msg, sizeof msg, "fuzz_runlog worker: %s at pc %#lx (%s%s)\n", sig == SIGALRM ? "hang" : sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE" : "SIGILL",
                     (unsigned long)pc, theirs ? "in libhdf5" : "not in libhdf5", ran ? "; our code ran meanwhile" : "");
    if (write(2, msg, (size_t)n) < 0) {}
    syscall(SYS_exit_group, theirs ? (sig == SIGALRM ? WK_HDF5_HANG : WK_HDF5) : WK_OURS);
}

static volatile long net_blocks; // blocks allocated minus blocks freed during this input
// Not instrumented: libhdf5's allocations must not look like our code running (on_signal).
__attribute__((no_sanitize("coverage"))) static void on_malloc(const volatile void *p, size_t n) { (void)p; (void)n; net_blocks++; }
__attribute__((no_sanitize("coverage"))) static void on_free(const volatile void *p) { (void)p; net_blocks--; }

// FUZZ_RUNLOG_SELFTEST=segv|leak|hang: our own code faults, leaks or hangs after each read,
// which must be a finding (tests/test_fuzz.sh checks the sorting both ways).
static const char *selftest;
__attribute__((noinline)) static void self_fault(void) {
    if (!strcmp(selftest, "segv")) *(volatile int *)(uintptr_t)16 = 1;
    if (!strcmp(selftest, "leak")) { void *volatile p = malloc(64); p = NULL; }
    if (!strcmp(selftest, "hang")) for (volatile unsigned i = 0;; i++) {}
}

// Reads the input file once per byte on cmd, answers one byte on res: 'O' read (counters in
// shared_cov), 'R' read but libhdf5 still holds objects (start a fresh worker), 'L' a leak
// (report on stderr). Dies on a fault, hang or sanitizer report.
static void worker(int cmd, int res, const char *path, const char *errpath) {
    int fd = open(errpath, O_WRONLY | O_APPEND);
    if (fd < 0 || dup2(fd, 2) < 0) _exit(WK_OURS);
    close(fd);
    static char altstack[1 << 16]; // a stack overflow in libhdf5 still reaches the handler
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART; // SIGALRM returns once (on_signal)
    int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGALRM};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &sa, NULL);
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    char c;
    while (pipe_io(cmd, &c, 1, 0) == 1) {
        hang_looked = 0;
        alarm(WK_TIMEOUT_S);
        memset(cov_start, 0, ncov); // count this read only
        net_blocks = 0;
        read_both(path);
        if (selftest) self_fault();
        H5garbage_collect(); // libhdf5's free lists: blocks kept for reuse, not leaked
        alarm(0);
        // Only an input that left blocks behind pays for a leak check (what libFuzzer does).
        char r = net_blocks > 0 && __lsan_do_recoverable_leak_check() ? 'L'
               : H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0  ? 'R' : 'O';
        if (r != 'L') memcpy(shared_cov, cov_start, ncov);
        if (pipe_io(res, &r, 1, 1) != 1 || r != 'O') _exit(WK_OK);
    }
    _exit(WK_EOF);
}

// Forks a worker, waits for it, reports how it ended ('X' and the status), and again, until
// the fuzzer is gone.
static void server(int cmd, int res, const char *path, const char *errpath) {
    for (;;) {
        pid_t pid = fork();
        if (pid < 0) _exit(1);
        if (pid == 0) worker(cmd, res, path, errpath);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0) if (errno != EINTR) _exit(1);
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (code == WK_EOF) _exit(0);
        unsigned char msg[2] = {'X', (unsigned char)code};
        if (pipe_io(res, msg, 2, 1) != 2) _exit(0);
    }
}

// ---------------------------------------------------------------- parent side

static int find_hdf5(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size; (void)arg;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "libhdf5")) return 0;
    for (int i = 0; i < info->dlpi_phnum && nhdf5 < 8; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        hdf5_lo[nhdf5] = info->dlpi_addr + ph->p_vaddr;
        hdf5_hi[nhdf5++] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
    }
    return 0;
}

static void summary(void) {
    if (n_inputs)
        fprintf(stderr, "fuzz_runlog: %ld inputs read by %ld workers (%ld restarted with HDF5 objects left open); libhdf5's own failures: %ld crashes, %ld hangs, %ld sanitizer reports or leaks (not findings)\n",
                n_inputs, n_ends + 1, n_restarts, n_hdf5_crash, n_hdf5_hang, n_hdf5_report);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    if (getenv("FUZZ_INPROC")) return 0;
    cov_bounds();
    ncov = (size_t)(cov_stop - cov_start);
    if (!cov_start || !ncov) { fprintf(stderr, "fuzz_runlog: no coverage counters in this build\n"); abort(); }
    shared_cov = mmap(NULL, ncov, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared_cov == MAP_FAILED) { perror("mmap"); abort(); }
    hang_snap = xmalloc(ncov);
    dl_iterate_phdr(find_hdf5, NULL);
    Dl_info self;
    if (dladdr((void *)LLVMFuzzerInitialize, &self)) exe_base = self.dli_fbase;
    void *warm[2];
    backtrace(warm, 2); // loads the unwinder now, not inside a signal handler
    if (!nhdf5) { fprintf(stderr, "fuzz_runlog: libhdf5 is not loaded\n"); abort(); }
    exe[0] = '(';
    ssize_t n = readlink("/proc/self/exe", exe + 1, sizeof exe - 3);
    if (n > 0) { exe[n + 1] = '+'; exe[n + 2] = 0; } else exe[1] = 0;
    atexit(summary);
    signal(SIGPIPE, SIG_IGN); // a dead worker is seen by its status, not by a signal here
    H5open();                 // once here, not in every worker
    selftest = getenv("FUZZ_RUNLOG_SELFTEST");
    // The server starts now, while this process is small and libFuzzer has set no hooks.
    inpath = fuzz_scratch_path(0, ".h5");
    errpath = fuzz_scratch_path(1, ".err");
    fclose(fopen(errpath, "wb"));
    int c[2], r[2];
    if (pipe(c) != 0 || pipe(r) != 0) { perror("pipe"); abort(); }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); abort(); }
    if (pid == 0) { close(c[1]); close(r[0]); server(c[0], r[1], inpath, errpath); }
    close(c[0]); close(r[1]);
    wcmd = c[1]; wres = r[0];
    return 0;
}

// The first stack frame of a sanitizer report, from `from` on, that is not the sanitizer
// runtime's (its interceptors and allocator: in this executable but without a source line)
// nor libc's: libhdf5's?
static int first_frame_hdf5(const char *from) {
    for (const char *l = from; (l = strstr(l, "\n    #")); l++) {
        const char *e = strchr(l + 1, '\n');
        size_t k = e ? (size_t)(e - l) : strlen(l);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)(k < sizeof line ? k : sizeof line - 1), l + 1);
        if ((exe[1] && strstr(line, exe)) || strstr(line, "libc.so") || strstr(line, "sysdeps/")) continue;
        return strstr(line, "libhdf5") != NULL;
    }
    return 0;
}

// A leak report is libhdf5's when every leaked block was allocated by libhdf5.
static int leaks_all_hdf5(const char *txt) {
    int any = 0;
    for (const char *b = txt; (b = strstr(b, "allocated from:")); b++) {
        any = 1;
        if (!first_frame_hdf5(b)) return 0;
    }
    return any;
}

static void keep_sample(const uint8_t *data, size_t size, const char *kind) {
    const char *dir = getenv("FUZZ_HDF5_DIR");
    long n = n_hdf5_crash + n_hdf5_hang + n_hdf5_report;
    if (!dir || n > 50) return;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s-%ld", dir, kind, n);
    fuzz_write(p, data, size);
}

// The worker's counts into this process's counters (saturating). Not instrumented itself:
// its comparisons would be traced once per counter.
__attribute__((no_sanitize("coverage"))) static void add_worker_coverage(void) {
    for (size_t i = 0; i < ncov; i++) {
        unsigned s = (unsigned)cov_start[i] + shared_cov[i];
        cov_start[i] = (uint8_t)(s > 255 ? 255 : s);
    }
}

static void server_gone(void) { fprintf(stderr, "fuzz_runlog: the worker server is gone\n"); abort(); }

// The server's word on how the worker ended: 'X' (already read when `x`) and the status.
static int worker_end(int x) {
    unsigned char msg[2] = {'X', 0};
    if (pipe_io(wres, msg + x, (size_t)(2 - x), 0) != 2 - x || msg[0] != 'X') server_gone();
    n_ends++;
    return msg[1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_file(data, size, ".h5");
    if (!shared_cov) { read_both(p); return 0; }
    struct stat es;
    off_t errpos = stat(errpath, &es) == 0 ? es.st_size : 0;
    n_inputs++;
    char r = 0;
    if (pipe_io(wcmd, &(char){'g'}, 1, 1) != 1 || pipe_io(wres, &r, 1, 0) != 1) server_gone();
    if (r == 'O' || r == 'R') {
        add_worker_coverage();
        if (r == 'R') { n_restarts++; worker_end(0); }
        return 0;
    }
    int code = r == 'L' ? (worker_end(0), WK_LEAK) : r == 'X' ? worker_end(1) : (server_gone(), 0);
    if (code == WK_HDF5) { n_hdf5_crash++; keep_sample(data, size, "crash"); return 0; }
    if (code == WK_HDF5_HANG) { n_hdf5_hang++; keep_sample(data, size, "hang"); return 0; }
    // What the worker printed for this input: the report to sort.
    FILE *f = fopen(errpath, "rb");
    char *txt = xcalloc(1 << 16, 1);
    size_t nt = f && fseeko(f, errpos, SEEK_SET) == 0 ? fread(txt, 1, (1 << 16) - 1, f) : 0;
    if (f) fclose(f);
    txt[nt] = 0;
    if (truncate(errpath, 0) != 0) {} // the worker appends; a dead worker's text is read
    const char *rep = strstr(txt, "ERROR: AddressSanitizer");
    // A bad access made by libhdf5's code is libhdf5's unless it lands in a live block our
    // code allocated, or on our stack or globals: every buffer we hand libhdf5 is one of
    // those, so only there could a size we passed be at fault. (A wild pointer, a block
    // libhdf5 allocated, one already freed: libhdf5 reading what a damaged file says.)
    const char *alloc = rep ? strstr(rep, "allocated by thread") : NULL;
    int ours_mem = (alloc && !first_frame_hdf5(alloc) && !strstr(rep, "freed by thread")) ||
                   (rep && (strstr(rep, "is located in stack of thread") || strstr(rep, "of global variable")));
    int theirs = code == WK_LEAK ? leaks_all_hdf5(txt) : code != WK_OURS && rep && first_frame_hdf5(rep) && !ours_mem;
    if (theirs) { n_hdf5_report++; keep_sample(data, size, "report"); free(txt); return 0; }
    fprintf(stderr, "fuzz_runlog: the worker failed (status %d); its output:\n%s\n", code, txt);
    free(txt);
    abort();
}

