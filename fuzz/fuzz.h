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

// Scratch files of this process, removed at exit: fuzz_file's (slot 0), or a target's own
// (slots 1, 2: files; slot 3: the directory holding them).
static char fuzz_scratch[4][300];
static void fuzz_scratch_remove(void) { for (int i = 0; i < 4; i++) if (fuzz_scratch[i][0]) remove(fuzz_scratch[i]); }
static const char *fuzz_scratch_path(int slot, const char *name) {
    if (!fuzz_scratch[slot][0]) {
        static int registered;
        if (!registered++) atexit(fuzz_scratch_remove);
        snprintf(fuzz_scratch[slot], sizeof fuzz_scratch[slot], "%s/l4q_fuzz_%d%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), name);
    }
    return fuzz_scratch[slot];
}

static void fuzz_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) { perror(path); abort(); }
}
// path of a scratch file holding data[0..n) (same name for the life of the process).
static const char *fuzz_file(const uint8_t *data, size_t n, const char *suffix) {
    const char *path = fuzz_scratch_path(0, suffix);
    fuzz_write(path, data, n);
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
