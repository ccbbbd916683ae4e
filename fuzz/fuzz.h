// fuzz.h — shared scaffolding for the libFuzzer targets (fuzz/*.c, `make fuzz`). Every
// reader takes a path, so the input is written to a per-process file first; die_input
// longjmps back here (die_longjmp) instead of exiting, so one bad input is one rejected
// run, and only crashes, sanitizer reports and hangs count as findings.
#pragma once
#include "util.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// path of a scratch file holding data[0..n) (same name for the life of the process).
static const char *fuzz_file(const uint8_t *data, size_t n, const char *suffix) {
    static char path[256];
    snprintf(path, sizeof path, "%s/l4q_fuzz_%d%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), suffix);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) { perror(path); abort(); }
    return path;
}

// A rejected input leaves what the reader had open when die_* jumped out (an exit would
// have closed it): close every descriptor at or above the lowest one free before the input.
static inline int fuzz_fd_mark(void) { int fd = dup(0); if (fd >= 0) close(fd); return fd; }
static inline void fuzz_fd_release(int mark) {
    for (int fd = mark; mark >= 0 && fd < mark + 256; fd++) close(fd);
}

// FUZZ_GUARDED(stmts): runs the statements with die_* returning here; returns 0 either way.
#define FUZZ_GUARDED(...)                                   \
    do {                                                    \
        static jmp_buf jb_;                                 \
        static int fdmark_;                                 \
        fdmark_ = fuzz_fd_mark();                           \
        if (setjmp(jb_) == 0) {                             \
            die_longjmp(&jb_, getenv("FUZZ_VERBOSE") == NULL); \
            __VA_ARGS__;                                    \
        }                                                   \
        die_longjmp(NULL, 0);                               \
        fuzz_fd_release(fdmark_);                           \
    } while (0)
