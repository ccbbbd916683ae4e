// sweep_run.h — running a sweep's runs (sweep.h: what they are): a pool of forked
// `l4q train` workers, resumable, one lock per study and per run directory.
#pragma once
#include "sweep.h"
#include <stddef.h>
#include <sys/types.h>

// Runs handed to other MPI ranks (experiments/sweep_dist.c): remote slots 1..n.
typedef struct {
    int n;
    void (*start)(int rank, const SweepRun *r, int state);
    // A run that finished on some rank: 1 with its rank, verdict and reason; 0 if none yet.
    int (*poll)(int *rank, int *ok, char *why, size_t whylen);
} SweepRemote;

typedef struct {
    int jobs;              // parallel workers (>= 1) of this process
    int cores;             // thread budget split across them
    const SweepRemote *remote; // NULL: this process alone
} SweepOptions;
// Runs every run not complete. Returns 0 when all are complete, 1 if some failed.
// A second sweep on the same OUT → die_input (exit 2).
int sweep_execute(Sweep *s, const SweepOptions *o);

// One run as a forked `l4q train` worker (output in DIR/train.log); its verdict from the
// wait status and run.h5 (1 = complete; else 0 and the reason in why).
pid_t sweep_launch(const SweepRun *r, int state, int threads);
int sweep_worker_result(const SweepRun *r, int wait_status, char *why, size_t n);
