// l4q_mpi.c — the MPI side of core/dist.h, built with mpicc into build/libl4q_mpi.so and
// dlopen()ed by build/l4q only when it is launched as one of several ranks, so the harness
// itself never needs MPI to build or run.
//
// OpenMPI's blocking calls busy-poll. Waits that can last (a rank evaluating while the
// others wait for the next step; a sweep rank training a whole run) therefore go through
// non-blocking calls tested with a growing sleep; a rank never burns a core while idle.
#include "dist.h"
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static void wait_sleeping(MPI_Request *req) {
    long ns = 2000;
    for (;;) {
        int done = 0;
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (done) return;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 2000000) ns *= 2;
    }
}

static int init(int *rank, int *size, int *local_size, char *err, size_t errlen) {
    // A fixed reduction order: OpenMPI's ring all-reduce (tuned algorithm 4) sums each
    // chunk of the vector around the ring in the same rank sequence every run and then
    // copies the finished chunks to every rank, so all ranks hold the same bits and the
    // same rank count reproduces them. Left to itself, OpenMPI picks an algorithm by
    // message size. A user's own choice of algorithm wins.
    if (!getenv("OMPI_MCA_coll_tuned_allreduce_algorithm")) {
        setenv("OMPI_MCA_coll_tuned_use_dynamic_rules", "1", 1);
        setenv("OMPI_MCA_coll_tuned_allreduce_algorithm", "4", 1);
    }
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        snprintf(err, errlen, "MPI_Init_thread returned an error");
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, local_size);
    MPI_Comm_free(&node);
    return 0;
}

static void finalize(void) {
    MPI_Finalize();
}

static void barrier(void) {
    MPI_Request r;
    MPI_Ibarrier(MPI_COMM_WORLD, &r);
    wait_sleeping(&r);
}

#define CHUNK (1 << 30)

static void bcast(void *buf, size_t bytes, int root) {
    size_t o = 0;
    do {
        size_t k = bytes - o < CHUNK ? bytes - o : CHUNK;
        MPI_Request r;
        MPI_Ibcast((char *)buf + o, (int)k, MPI_BYTE, root, MPI_COMM_WORLD, &r);
        wait_sleeping(&r);
        o += k;
    } while (o < bytes);
}

// Callers (core/dist.c) wait in barrier() first, so the blocking reduction only spins
// for the transfer itself.
static void sum_any(void *buf, size_t n, size_t elem, MPI_Datatype t, MPI_Op op) {
    for (size_t o = 0; o < n; o += CHUNK / 8) {
        size_t k = n - o < CHUNK / 8 ? n - o : CHUNK / 8;
        MPI_Allreduce(MPI_IN_PLACE, (char *)buf + o * elem, (int)k, t, op, MPI_COMM_WORLD);
    }
}
static void sum_f32(float *buf, size_t n) { sum_any(buf, n, sizeof(float), MPI_FLOAT, MPI_SUM); }
static void sum_f64(double *buf, size_t n) { sum_any(buf, n, sizeof(double), MPI_DOUBLE, MPI_SUM); }

static void gather(const void *mine, size_t bytes, void *all, int root) {
    MPI_Request r;
    MPI_Igather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD, &r);
    wait_sleeping(&r);
}

static void send(const void *buf, size_t bytes, int dest, int tag) {
    MPI_Request r;
    MPI_Isend(buf, (int)bytes, MPI_BYTE, dest, tag, MPI_COMM_WORLD, &r);
    wait_sleeping(&r);
}

static int probe(int *src, int *tag, size_t *bytes) {
    int flag = 0, n = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    if (!flag) return 0;
    MPI_Get_count(&st, MPI_BYTE, &n);
    *src = st.MPI_SOURCE; *tag = st.MPI_TAG; *bytes = (size_t)n;
    return 1;
}

static void recv(void *buf, size_t bytes, int src, int tag) {
    MPI_Request r;
    MPI_Irecv(buf, (int)bytes, MPI_BYTE, src, tag, MPI_COMM_WORLD, &r);
    wait_sleeping(&r);
}

const DistOps l4q_mpi_ops = {DIST_OPS_VERSION, init, finalize, barrier, bcast, sum_f32, sum_f64,
                             gather, send, probe, recv};
