// cmd_sweep.c — `l4q sweep SPEC.yaml [--jobs N] [--out DIR] [--set k=v]... [--dry-run] [--json]
// [--no-report]`. The spec is expanded and every run config validated before anything
// starts, so a malformed spec fails with file:line:col and no run directory is touched.
// A sweep that ran to its end writes OUT/report.md (as `l4q report OUT`).
#include "cli.h"
#include "dist.h"
#include "experiments/sweep_dist.h"
#include "results/report.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

// The study's report, in a child: a report that cannot be written (an unreadable log
// libhdf5 crashes on, no run complete) must not turn a finished sweep into an error, but
// the user is told the exact command to run.
static void sweep_report(const char *out) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ReportOptions ro = {"md", 0, "l4q", 0};
        int rc = report_write(out, &ro);
        fflush(NULL); // _exit does not flush stdio
        _exit(rc);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
        fprintf(stderr, "sweep: the report was not written; run: l4q report %s\n", out);
    else
        fprintf(stderr, "sweep: report written to %s/report.md (plots: l4q report %s --plots)\n", out, out);
}

int cmd_sweep(int argc, char **argv) {
    Flag fl[] = {FLAGV("jobs"), FLAGV("out"), FLAGV("set"), FLAGB("dry-run"), FLAGB("json"), FLAGB("no-report")};
    Args a;
    args_parse(&a, fl, sizeof fl / sizeof fl[0], argc, argv, "sweep");
    if (a.npos != 1) die_input("sweep: expected one SPEC.yaml; l4q sweep --help lists the options");
    Flag *sets = arg_get(&a, "set");
    // Under MPI rank 0 alone reads and expands the spec (its errors end the job); the
    // others wait for it, asleep.
    int lead = dist_rank() == 0, ranks = dist_size();
    Sweep *s = lead ? sweep_load(a.pos[0], (char **)sets->multi, sets->multi_n, arg_str(&a, "out", NULL)) : NULL;
    dist_barrier();
    if (!lead) {
        if (arg_flag(&a, "dry-run")) return 0;
    } else if (arg_flag(&a, "dry-run")) {
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
    o.remote = NULL;
    if (o.jobs < 1) die_input("--jobs: must be >= 1");
    int report = !arg_flag(&a, "no-report");
    if (ranks > 1)
        dist_fail_if(arg_get(&a, "jobs")->given, "--jobs: under MPI every rank runs one run at a time (start more ranks instead)");
    int rc = ranks == 1 ? sweep_execute(s, &o) : sweep_execute_dist(s, &o);
    if (lead) {
        // The report is the sweep's last step (rank 0's on a cluster).
        if (report) sweep_report(s->out);
        else fprintf(stderr, "sweep: no report (--no-report); write it with: l4q report %s\n", s->out);
        sweep_free(s);
    }
    return rc;
}
