// testlib.h — tiny assertion helpers for the C tests: PASS/FAIL lines, non-zero exit.
#pragma once
#include <math.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
static int t_fails;
#define CHECK(cond, name, ...) do { if (cond) printf("PASS: %s\n", name); \
    else { t_fails++; printf("FAIL: %s: ", name); printf(__VA_ARGS__); printf("\n"); } } while (0)
static inline float t_maxdiff(const float *a, const float *b, size_t n) {
    float m = 0; for (size_t i = 0; i < n; i++) { float d = fabsf(a[i] - b[i]); if (!(d <= m)) m = d; } return m;
}
#define T_EXIT() return t_fails ? 1 : 0

// Runs fn(arg) in a forked child (so die_input's exit does not end the test) and returns
// its exit status (128 + signal if it was killed), its stderr in err (read to EOF: closing
// early would SIGPIPE the child mid-message).
static inline int t_in_child(void (*fn)(void *), void *arg, char *err, size_t errsz) {
    int fd[2];
    if (pipe(fd)) return -1;
    fflush(stdout); // the child must not re-print our buffered PASS lines
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        fn(arg);
        _exit(0);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < errsz && (r = read(fd[0], err + n, errsz - 1 - n)) > 0) n += (size_t)r;
    err[n] = 0;
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
