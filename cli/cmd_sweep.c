// cmd_sweep.c — `l4q sweep SPEC.yaml [--jobs N] [--out DIR] [--set k=v]... [--dry-run] [--json]`.
// The spec is expanded and every run config validated before anything starts, so a
// malformed spec fails with file:line:col and no run directory is touched.
#include "cli.h"
#include "experiments/sweep.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int cmd_sweep(int argc, char **argv) {
    Flag fl[] = {FLAGV("jobs"), FLAGV("out"), FLAGV("set"), FLAGB("dry-run"), FLAGB("json")};
    Args a;
    args_parse(&a, fl, sizeof fl / sizeof fl[0], argc, argv, "sweep");
    if (a.npos != 1) die_input("usage: l4q sweep SPEC.yaml [--jobs N] [--out DIR] [--set key=value]... [--dry-run] [--json]");
    Flag *sets = arg_get(&a, "set");
    Sweep *s = sweep_load(a.pos[0], (char **)sets->multi, sets->multi_n, arg_str(&a, "out", NULL));
    if (arg_flag(&a, "dry-run")) {
        if (arg_flag(&a, "json")) {
            char *j = sweep_plan_json(s);
            puts(j);
            free(j);
        } else {
            sweep_print_plan(s, stdout);
        }
        sweep_free(s);
        return 0;
    }
    if (arg_flag(&a, "json")) die_input("sweep: --json is only for --dry-run");
    // Cores: --threads / L4Q_THREADS when given (threads_init ran in main), else all.
    SweepOptions o;
    o.cores = threads_count();
    if (o.cores < 1) o.cores = 1;
    o.jobs = arg_int(&a, "jobs", o.cores);
    if (o.jobs < 1) die_input("--jobs: must be >= 1");
    int rc = sweep_execute(s, &o);
    sweep_free(s);
    return rc;
}
