// common.cu — errors, context and the tracked allocator (common.cuh).
#include "common.cuh"
#include <mutex>
#include <stdarg.h>
#include <stdio.h>
#include <unordered_map>

static thread_local char g_err[512];

int cu_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    return -1;
}
const char *cu_last_error(void) { return g_err; }
void cu_clear_error(void) { g_err[0] = 0; }

const char *cublas_status_name(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

// The allocator's table: pointer → bytes, so cu_free knows what it returns.
struct AllocMap {
    std::mutex mu;
    std::unordered_map<void *, size_t> sizes;
};

int cu_probe(int *count) {
    *count = 0;
    cudaError_t e = cudaGetDeviceCount(count);
    if (e != cudaSuccess) {
        *count = 0;
        return cu_fail("%s: %s", cudaGetErrorName(e), cudaGetErrorString(e));
    }
    if (*count == 0) return cu_fail("cudaErrorNoDevice: no CUDA-capable device is detected");
    return 0;
}

int cu_ctx_init(CuCtx *c, int device) {
    *c = CuCtx{};
    c->device = device;
    int n = 0;
    CU_TRY(cu_probe(&n)); // no driver: cudaErrorInsufficientDriver / cudaErrorNoDevice
    CU_REQUIRE(device >= 0 && device < n, "device %d: only %d CUDA device(s)", device, n);
    CUDA_CHECK(cudaSetDevice(device));
    CUDA_CHECK(cudaDeviceGetAttribute(&c->sm_count, cudaDevAttrMultiProcessorCount, device));
    CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&c->blas));
    CUBLAS_CHECK(cublasSetStream(c->blas, c->stream));
    CUBLAS_CHECK(cublasSetPointerMode(c->blas, CUBLAS_POINTER_MODE_HOST));
    // Default math: fp32 products stay fp32 unless a call asks otherwise (gemm.cu asks for
    // CUBLAS_COMPUTE_32F_PEDANTIC in fp32 and CUBLAS_COMPUTE_32F for bf16 tensor cores).
    CUBLAS_CHECK(cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH));
    CUDA_CHECK(cudaMalloc(&c->workspace, CU_WORKSPACE_BYTES));
    CUBLAS_CHECK(cublasSetWorkspace(c->blas, c->workspace, CU_WORKSPACE_BYTES));
    c->alloc_map = new AllocMap();
    return 0;
}

void cu_ctx_free(CuCtx *c) {
    // Teardown: errors are not actionable here, so return codes are deliberately ignored.
    if (c->alloc_map) {
        AllocMap *am = (AllocMap *)c->alloc_map;
        for (auto &kv : am->sizes) (void)cudaFree(kv.first);
        delete am;
    }
    if (c->blas) (void)cublasDestroy(c->blas);
    if (c->workspace) (void)cudaFree(c->workspace);
    if (c->stream) (void)cudaStreamDestroy(c->stream);
    *c = CuCtx{};
}

int cu_sync(CuCtx *c) {
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    return 0;
}

int cu_malloc(CuCtx *c, void **p, size_t bytes) {
    *p = NULL;
    if (bytes == 0) return 0;
    cudaError_t e = cudaMalloc(p, bytes);
    if (e != cudaSuccess) {
        *p = NULL;
        size_t fr = 0, tot = 0;
        (void)cudaMemGetInfo(&fr, &tot);
        (void)cudaGetLastError(); // an allocation failure is not sticky: clear it
        return cu_fail("cudaMalloc(%zu bytes): %s (tracked %zu bytes, device free %zu of %zu)", bytes,
                       cudaGetErrorName(e), c->tracked_cur, fr, tot);
    }
    AllocMap *am = (AllocMap *)c->alloc_map;
    std::lock_guard<std::mutex> lk(am->mu);
    am->sizes[*p] = bytes;
    c->tracked_cur += bytes;
    if (c->tracked_cur > c->tracked_peak) c->tracked_peak = c->tracked_cur;
    return 0;
}

void cu_free(CuCtx *c, void *p) {
    if (!p) return;
    AllocMap *am = (AllocMap *)c->alloc_map;
    {
        std::lock_guard<std::mutex> lk(am->mu);
        auto it = am->sizes.find(p);
        if (it != am->sizes.end()) {
            c->tracked_cur -= it->second;
            am->sizes.erase(it);
        }
    }
    (void)cudaFree(p); // implicitly synchronizes; a fault it reports resurfaces at the next check
}

int cu_upload(CuCtx *c, void *dst, const void *src, size_t bytes) {
    if (!bytes) return 0;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    CUDA_CHECK(cudaStreamSynchronize(c->stream)); // the host buffer may be reused at once
    return 0;
}
int cu_download(CuCtx *c, void *dst, const void *src, size_t bytes) {
    if (!bytes) return 0;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    return 0;
}
int cu_zero(CuCtx *c, void *p, size_t bytes) {
    if (!bytes) return 0;
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, c->stream));
    return 0;
}
int cu_malloc_upload(CuCtx *c, void **p, const void *src, size_t bytes) {
    CU_TRY(cu_malloc(c, p, bytes));
    if (cu_upload(c, *p, src, bytes)) {
        cu_free(c, *p);
        *p = NULL;
        return -1;
    }
    return 0;
}
