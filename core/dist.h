// dist.h — running as one of several MPI ranks (mpirun, srun), behind a narrow interface.
//
// MPI is optional: build/l4q never links it. When the launch environment says this
// process is one of N > 1 ranks (OMPI_COMM_WORLD_SIZE, PMI_SIZE, or srun's
// SLURM_STEP_NUM_TASKS), dist_init dlopen()s build/libl4q_mpi.so (mpi/l4q_mpi.c, built
// with mpicc by `make mpi`) and calls MPI_Init through it; otherwise, or with L4Q_MPI=0,
// every call below is the single-process identity (rank 0 of 1) and nothing changes.
// Only `train` (data-parallel) and `sweep` (runs dispatched to ranks) run across ranks.
#pragma once
#include "tensor.h"
#include <stddef.h>
#include <stdint.h>

// What the plugin exports as `l4q_mpi_ops` (checked by version). Waits that can be long
// (a rank evaluating, a rank training a whole sweep run) sleep instead of busy-polling.
#define DIST_OPS_VERSION 1
typedef struct {
    int version;
    int (*init)(int *rank, int *size, int *local_size, char *err, size_t errlen); // 0 = ok
    void (*finalize)(void);
    void (*barrier)(void);                                  // sleeping
    void (*bcast)(void *buf, size_t bytes, int root);       // sleeping
    // In-place sums, identical bits on every rank, by one fixed algorithm (a ring), so the
    // same rank count reproduces bit for bit.
    void (*sum_f32)(float *buf, size_t n);
    void (*sum_f64)(double *buf, size_t n);
    void (*gather)(const void *mine, size_t bytes, void *all, int root); // rank-ordered
    void (*send)(const void *buf, size_t bytes, int dest, int tag);
    // Next pending message from any rank: 1 and its source/tag/size, or 0 (no wait).
    int (*probe)(int *src, int *tag, size_t *bytes);
    void (*recv)(void *buf, size_t bytes, int src, int tag);
} DistOps;

// Launch check: is this process one of N > 1 ranks? (environment only; no MPI calls)
int dist_launched(void);
// Joins the job when launched (die_input, exit 2, if the plugin is missing or MPI says
// the size differs from the launcher's), checks every rank runs the same build/l4q,
// and sends stdout of ranks other than 0 to /dev/null. `cmd` names the subcommand for
// the error when it does not run across ranks.
void dist_init(const char *cmd, int supports_ranks);
void dist_finalize(void);
int dist_rank(void);
int dist_size(void);
// Threads for this rank when --threads/L4Q_THREADS are not given: the cores the launcher
// bound it to, or the node's cores shared between the ranks on that node.
int dist_default_threads(void);

void dist_barrier(void);
void dist_bcast(void *buf, size_t bytes, int root);
void dist_sum_f64(double *buf, size_t n); // after a (sleeping) barrier
void dist_send(const void *buf, size_t bytes, int dest, int tag);
int dist_probe(int *src, int *tag, size_t *bytes);
void dist_recv(void *buf, size_t bytes, int src, int tag);

// Collective checks: every rank passes its own value; on a mismatch rank 0 prints one
// error line naming `what`, the first differing rank and its host, and every rank exits 2.
void dist_check_same(const char *what, uint64_t value);
// Every rank must see `dir` (rank 0 creates it and writes a marker file there); if some
// rank does not, rank 0 removes what it created, prints one line and all exit 2.
void dist_check_shared_dir(const char *dir, const char *what);
// Collective verdict on a condition every rank evaluates alike: when `bad`, rank 0 prints
// the message (die_input's format) and every rank exits 2.
void dist_fail_if(int bad, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Data-parallel helpers. Micro-batches [*lo, *hi) of `count` are this rank's (contiguous,
// sizes differ by at most one). dist_sum_grads adds the trainable gradients of all ranks
// (packed into chunks, one all-reduce per chunk); it adds the seconds spent waiting for
// the slowest rank to *wait_s and those of the all-reduce itself to *reduce_s.
void dist_share(int count, int *lo, int *hi);
void dist_sum_grads(Param **ps, int n, double *wait_s, double *reduce_s);
uint64_t dist_params_hash(Param **ps, int n);
