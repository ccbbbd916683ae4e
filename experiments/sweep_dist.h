// sweep_dist.h — a sweep across MPI ranks (experiments/sweep_dist.c).
#pragma once
#include "sweep_run.h"

// Under MPI (experiments/sweep_dist.c), on every rank: rank 0 (the only one with `s`)
// runs sweep_execute's loop with the other ranks as slots, the others run what it sends.
// Returns rank 0's result on rank 0, 0 elsewhere.
int sweep_execute_dist(Sweep *s, const SweepOptions *o);
