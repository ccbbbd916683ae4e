// plugin.cu — the table build/libl4q_cuda.so exports as `l4q_cuda_ops` (core/device.h):
// each entry wraps the device model (model.cu) and turns a failure into one line in `err`
// (the first error's cu_last_error() line, common.cuh). Entry points without an err argument
// (zero_grad, grad_clip, adamw_step) keep their first error in the model, and sync()
// reports it.
#include "model.cuh"
#include <math.h>
#include <stdio.h>
#include <string.h>

static void put_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg && *msg ? msg : "unknown CUDA plugin error");
}
static void keep_err(DevModel *m) {
    if (!m->err[0]) snprintf(m->err, sizeof m->err, "%s", cu_last_error());
}

// The kernels are built for sm_90 only (cuda/cuda.mk): another architecture would fail at
// the first launch with "no kernel image", so say so up front.
static int p_init(int index, char *name, size_t namelen, char *err, size_t errlen) {
    int n = 0;
    cu_clear_error();
    if (cu_probe(&n)) { put_err(err, errlen, cu_last_error()); return -1; } // "<cudaErrorName>: <string>"
    cudaError_t e;
    if (index < 0 || index >= n) {
        char msg[128];
        snprintf(msg, sizeof msg, "device %d requested, %d present", index, n);
        put_err(err, errlen, msg);
        return -1;
    }
    cudaDeviceProp pr;
    if ((e = cudaGetDeviceProperties(&pr, index)) != cudaSuccess || (e = cudaSetDevice(index)) != cudaSuccess) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s: %s", cudaGetErrorName(e), cudaGetErrorString(e));
        put_err(err, errlen, msg);
        return -1;
    }
    if (pr.major != 9) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s is sm_%d%d; the plugin is built for sm_90 (H100/H200) only", pr.name, pr.major,
                 pr.minor);
        put_err(err, errlen, msg);
        return -1;
    }
    // The context (stream, cuBLAS handle, workspace) must come up too: a missing or broken
    // libcublas shows here rather than at the first model.
    CuCtx c;
    memset(&c, 0, sizeof c);
    if (cu_ctx_init(&c, index)) { put_err(err, errlen, cu_last_error()); return -1; }
    cu_ctx_free(&c);
    if (name && namelen)
        snprintf(name, namelen, "%s (sm_%d%d, %.1f GiB)", pr.name, pr.major, pr.minor,
                 (double)pr.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    return 0;
}

static int p_supports(const char *method, int precision, char *err, size_t errlen) {
    char why[256] = "";
    if (glin_supports(method, precision, why, sizeof why)) return 1;
    put_err(err, errlen, why);
    return 0;
}

static DevModel *p_model_new(const DevModelDesc *d, char *err, size_t errlen) {
    DevModel *m = NULL;
    cu_clear_error();
    if (dm_new(&m, d)) { put_err(err, errlen, cu_last_error()); return NULL; }
    return m;
}
static void p_model_free(DevModel *m) { dm_free(m); }

static int p_step(DevModel *m, const int *tokens, const int *targets, const float *w, int B, int T, float *logprob,
                  int *greedy, int backward, float loss_scale, double *nll, char *err, size_t errlen) {
    cu_clear_error();
    if (dm_step(m, tokens, targets, w, B, T, logprob, greedy, backward, loss_scale, nll)) {
        put_err(err, errlen, cu_last_error());
        return -1;
    }
    return 0;
}
static int p_logits_row(DevModel *m, int row, float *out, char *err, size_t errlen) {
    cu_clear_error();
    if (dm_logits_row(m, row, out)) { put_err(err, errlen, cu_last_error()); return -1; }
    return 0;
}
static void p_zero_grad(DevModel *m) {
    cu_clear_error();
    if (dm_zero_grad(m)) keep_err(m);
}
static double p_grad_clip(DevModel *m, float max_norm) {
    cu_clear_error();
    double norm = NAN;
    if (dm_grad_clip(m, max_norm, &norm)) { keep_err(m); return NAN; }
    return norm;
}
static void p_adamw_step(DevModel *m, float lr) {
    cu_clear_error();
    if (dm_adamw(m, lr)) keep_err(m);
}
static int p_n_trainables(DevModel *m) { return m->np; }
static int p_download(DevModel *m, int i, int which, void *host, size_t bytes, char *err, size_t errlen) {
    cu_clear_error();
    if (dm_transfer(m, i, which, host, bytes, 0)) { put_err(err, errlen, cu_last_error()); return -1; }
    return 0;
}
static int p_upload(DevModel *m, int i, int which, const void *host, size_t bytes, char *err, size_t errlen) {
    cu_clear_error();
    if (dm_transfer(m, i, which, (void *)host, bytes, 1)) { put_err(err, errlen, cu_last_error()); return -1; }
    return 0;
}
static long p_adamw_t(DevModel *m, long set) {
    if (set >= 0) m->t = set;
    return m->t;
}
static void p_memory(DevModel *m, DevMemory *out) {
    memset(out, 0, sizeof *out);
    out->tracked_cur = m->c.tracked_cur;
    out->tracked_peak = m->c.tracked_peak;
    out->workspace = CU_WORKSPACE_BYTES;
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) == cudaSuccess) {
        out->device_used = tot - fr;
        out->device_total = tot;
    }
}
static int p_sync(DevModel *m, char *err, size_t errlen) {
    cu_clear_error();
    if (cu_sync(&m->c)) { put_err(err, errlen, cu_last_error()); return -1; }
    if (m->err[0]) {
        put_err(err, errlen, m->err);
        m->err[0] = 0;
        return -1;
    }
    return 0;
}

extern "C" {
__attribute__((visibility("default"))) extern const DeviceOps l4q_cuda_ops;
const DeviceOps l4q_cuda_ops = {
    DEVICE_OPS_VERSION, sizeof(DeviceOps), p_init,        p_supports,    p_model_new, p_model_free,
    p_step,             p_logits_row,      p_zero_grad,   p_grad_clip,   p_adamw_step, p_n_trainables,
    p_download,         p_upload,          p_adamw_t,     p_memory,      p_sync,
};
}
