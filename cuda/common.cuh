// common.cuh — what every CUDA translation unit of the plugin shares: error handling, the
// tracked allocator, the context (stream, cuBLAS handle, workspace) and the row-major GEMM
// helpers that mirror core/linear.h's mm_xwt / mm_dyw / mm_dytx.
//
// Errors. Every host function here and in ops.cuh returns int: 0 on success, -1 on failure,
// after writing ONE line (no newline) into a per-thread buffer read by cu_last_error():
//   "<file>:<line>: <expr>: <cudaErrorName>: <string>"   (or the cuBLAS status name)
// The macros below do the check-and-return; callers chain them with CU_TRY(f(...)), so an
// error unwinds to the plugin entry point, which copies cu_last_error() into its `err`
// argument (DeviceOps convention, core/device.h). No exceptions, no setjmp across frames,
// no exit(). Kernel launches are followed by CU_LAUNCH_CHECK() (cudaGetLastError: launch
// configuration errors); faults inside a kernel surface at the next synchronizing call,
// which is checked like any other (the plugin's sync()).
//
// Memory: only cudaMalloc (never managed memory), through cu_malloc/cu_free, which track the
// current and peak bytes of the plugin's own allocations (DevMemory.tracked_*).
#pragma once
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

typedef __nv_bfloat16 bf16;

// ---- errors ----------------------------------------------------------------------------
// Formats one line into this thread's error buffer (printf-style). Returns -1.
int cu_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *cu_last_error(void);   // "" when none since cu_clear_error()
void cu_clear_error(void);
const char *cublas_status_name(cublasStatus_t s);

#define CUDA_CHECK(expr)                                                                        \
    do {                                                                                        \
        cudaError_t e_ = (expr);                                                                \
        if (e_ != cudaSuccess)                                                                  \
            return cu_fail("%s:%d: %s: %s: %s", __FILE__, __LINE__, #expr, cudaGetErrorName(e_), \
                           cudaGetErrorString(e_));                                             \
    } while (0)
#define CUBLAS_CHECK(expr)                                                                      \
    do {                                                                                        \
        cublasStatus_t s_ = (expr);                                                             \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                        \
            return cu_fail("%s:%d: %s: %s", __FILE__, __LINE__, #expr, cublas_status_name(s_)); \
    } while (0)
// After every <<<...>>>: a bad launch configuration is reported here, at its kernel.
#define CU_LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())
// Propagates a failed helper's -1 (its line is already in the buffer).
// Variadic so template arguments' commas pass through: CU_TRY(gemm<T, float>(...)).
#define CU_TRY(...)                       \
    do {                                  \
        if ((__VA_ARGS__) != 0) return -1; \
    } while (0)
// A violated precondition of a launcher (bad shape, NULL pointer): one line, -1.
#define CU_REQUIRE(cond, ...)                          \
    do {                                               \
        if (!(cond)) return cu_fail(__VA_ARGS__);      \
    } while (0)

// ---- context ----------------------------------------------------------------------------
#define CU_WORKSPACE_BYTES ((size_t)32 << 20) // cuBLAS workspace (Hopper wants 32 MiB)

typedef struct {
    int device;
    int sm_count;
    cudaStream_t stream;          // every kernel and cuBLAS call of the context runs here
    cublasHandle_t blas;          // bound to stream and workspace, pointer mode host
    void *workspace;              // CU_WORKSPACE_BYTES (not counted in tracked bytes)
    size_t tracked_cur, tracked_peak;
    void *alloc_map;              // the allocator's pointer → size table (common.cu)
} CuCtx;

// The number of devices; with no driver or device it fails with exactly
// "<cudaErrorName>: <string>" (no file:line), for the plugin's "no CUDA device (...)" line.
int cu_probe(int *count);
// Opens device `device` and creates the stream, handle and workspace. With no device or
// driver it fails with the CUDA error's name (the caller's "no CUDA device (...)" line).
// On failure, cu_ctx_free() releases whatever was created.
int cu_ctx_init(CuCtx *c, int device);
void cu_ctx_free(CuCtx *c);            // frees everything still allocated too
int cu_sync(CuCtx *c);                 // cudaStreamSynchronize, checked

// ---- memory ----------------------------------------------------------------------------
int cu_malloc(CuCtx *c, void **p, size_t bytes); // bytes 0: *p = NULL, success
void cu_free(CuCtx *c, void *p);                 // NULL ok
// Benchmarks measuring one phase: the peak restarts from the current bytes.
static inline void cu_mem_reset_peak(CuCtx *c) { c->tracked_peak = c->tracked_cur; }
// Stream-ordered copies (a host→device copy from pageable memory returns once the source
// is consumed; device→host waits for the data).
int cu_upload(CuCtx *c, void *dst, const void *src, size_t bytes);
int cu_download(CuCtx *c, void *dst, const void *src, size_t bytes);
int cu_zero(CuCtx *c, void *p, size_t bytes);
// Allocate and upload in one (the common case for weights and tables).
int cu_malloc_upload(CuCtx *c, void **p, const void *src, size_t bytes);

// ---- GEMM (row-major, cuBLAS column-major underneath) ------------------------------------
// Two modes, chosen by the element type:
//   float:  A, B, C fp32, CUBLAS_COMPUTE_32F_PEDANTIC (no TF32, no reduced-precision
//           reductions): the parity mode, within 1e-4 relative of OpenBLAS's sgemm.
//   bf16:   A, B bf16, C bf16 or fp32 (TC), CUBLAS_COMPUTE_32F (fp32 accumulate): speed.
// alpha, beta are fp32 host scalars. Leading dimensions are row strides in elements; a
// column offset is the caller's pointer arithmetic (L4Q tiles: Y + r0 with ldy = out).
//
// Y[N×out] = alpha·X[N×in]·W[out×in]ᵀ + beta·Y          (mm_xwt)
template <typename TA, typename TC>
int gemm_xwt(CuCtx *c, const TA *X, int ldx, const TA *W, int ldw, TC *Y, int ldy, int N, int in, int out,
             float alpha, float beta);
// dX[N×in] = alpha·dY[N×out]·W[out×in] + beta·dX        (mm_dyw)
template <typename TA, typename TC>
int gemm_dyw(CuCtx *c, const TA *dY, int ldy, const TA *W, int ldw, TC *dX, int ldx, int N, int out, int in,
             float alpha, float beta);
// dW[out×in] = alpha·dY[N×out]ᵀ·X[N×in] + beta·dW       (mm_dytx: summed over N rows)
template <typename TA, typename TC>
int gemm_dytx(CuCtx *c, const TA *dY, int ldy, const TA *X, int ldx, TC *dW, int ldw, int N, int out, int in,
              float alpha, float beta);
// Instantiated (gemm.cu) for <float,float>, <bf16,float>, <bf16,bf16>.

// The contiguous forms, argument for argument as core/linear.h's helpers.
template <typename TA, typename TC>
static inline int mm_xwt(CuCtx *c, const TA *X, const TA *W, TC *Y, int N, int in, int out, float beta) {
    return gemm_xwt(c, X, in, W, in, Y, out, N, in, out, 1.0f, beta);
}
template <typename TA, typename TC>
static inline int mm_dyw(CuCtx *c, const TA *dY, const TA *W, TC *dX, int N, int out, int in, float beta) {
    return gemm_dyw(c, dY, out, W, in, dX, in, N, out, in, 1.0f, beta);
}
template <typename TA, typename TC>
static inline int mm_dytx(CuCtx *c, const TA *dY, const TA *X, TC *dW, int N, int out, int in, float beta) {
    return gemm_dytx(c, dY, out, X, in, dW, in, N, out, in, 1.0f, beta);
}

// Strided-batched C_i = alpha·op(A_i)·op(B_i) + beta·C_i in cuBLAS's own column-major terms
// (attention's per-head products; same modes as above). ta/tb: CUBLAS_OP_N or CUBLAS_OP_T.
template <typename TA, typename TC>
int gemm_batched_cm(CuCtx *c, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                    const TA *A, int lda, long long sA, const TA *B, int ldb, long long sB, float beta, TC *C,
                    int ldc, long long sC, int batch);

// ---- launch geometry ----------------------------------------------------------------------
static inline unsigned cu_blocks(long long n, int threads) {
    long long b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > 0x7fffffff ? 0x7fffffff : b);
}

// Element conversion used by templated kernels (fp32 math on either storage type).
__device__ __forceinline__ float cu_f32(float x) { return x; }
__device__ __forceinline__ float cu_f32(bf16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float cu_f32(__half x) { return __half2float(x); }
template <typename T> __device__ __forceinline__ T cu_from_f32(float x);
template <> __device__ __forceinline__ float cu_from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ bf16 cu_from_f32<bf16>(float x) { return __float2bfloat16_rn(x); }
