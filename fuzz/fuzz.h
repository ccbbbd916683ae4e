// fuzz.h — shared scaffolding for the libFuzzer targets (fuzz/*.c, `make fuzz`). Every
// reader takes a path, so the input is written to a per-process file first; die_input
// longjmps back here (die_longjmp) instead of exiting, so one bad input is one rejected
// run, and only crashes, sanitizer reports, leaks and hangs count as findings. A rejected
// input leaves nothing behind: die_* releases what the reader held (util.h "hold").
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

// A reader that returns must have let go of everything it held (else a later error would
// free objects its caller owns).
static inline void fuzz_check_held(size_t mark) {
    if (hold_mark() != mark) { fprintf(stderr, "fuzz: a reader returned with %zu objects still held\n", hold_mark() - mark); abort(); }
}

// FUZZ_GUARDED(stmts): runs the statements with die_* returning here; returns 0 either way.
#define FUZZ_GUARDED(...)                                   \
    do {                                                    \
        static jmp_buf jb_;                                 \
        if (setjmp(jb_) == 0) {                             \
            die_longjmp(&jb_, getenv("FUZZ_VERBOSE") == NULL); \
            __VA_ARGS__;                                    \
            fuzz_check_held(0);                             \
        }                                                   \
        die_longjmp(NULL, 0);                               \
    } while (0)
