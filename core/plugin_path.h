// plugin_path.h — where an optional plugin (libl4q_mpi.so, libl4q_cuda.so) is looked for.
// Inline, so core/device.c links on its own (bench/gpu_table1 builds it without util.c).
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// $env when set, else `file` beside the running executable (build/).
static inline void plugin_path(const char *env, const char *file, char *out, size_t n) {
    const char *p = getenv(env);
    if (p && *p) { snprintf(out, n, "%s", p); return; }
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[k > 0 ? k : 0] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    snprintf(out, n, "%s/%s", slash ? exe : ".", file);
}
