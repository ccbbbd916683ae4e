// gemm.cu — row-major products over cublasGemmEx (common.cuh).
//
// A row-major M×K matrix with row stride ld is, to cuBLAS, the column-major K×M matrix with
// leading dimension ld. So each row-major product is issued as its transpose:
//   Y = X·Wᵀ   ⇔  Yᵀ(out×N)  = W(out×in)·Xᵀ(in×N):  GemmEx(T, N, m=out, n=N, k=in, A=W, B=X, C=Y)
//   dX = dY·W  ⇔  dXᵀ(in×N) = Wᵀ(in×out)·dYᵀ:        GemmEx(N, N, m=in, n=N, k=out, A=W, B=dY, C=dX)
//   dW = dYᵀX  ⇔  dWᵀ(in×out) = Xᵀ(in×N)·dY(N×out):  GemmEx(N, T, m=in, n=out, k=N, A=X, B=dY, C=dW)
#include "common.cuh"

template <typename T> struct CuType;
template <> struct CuType<float> { static constexpr cudaDataType_t id = CUDA_R_32F; };
template <> struct CuType<bf16> { static constexpr cudaDataType_t id = CUDA_R_16BF; };

// fp32 inputs: the parity mode (no TF32, no reduced-precision split reductions).
template <typename TA> static cublasComputeType_t compute_of() {
    return CuType<TA>::id == CUDA_R_32F ? CUBLAS_COMPUTE_32F_PEDANTIC : CUBLAS_COMPUTE_32F;
}
// Should a cuBLAS build refuse the pedantic compute type for some call (NOT_SUPPORTED), the
// call is repeated with CUBLAS_COMPUTE_32F: with fp32 data and the handle's default math mode
// that is still full fp32 (TF32 needs CUBLAS_COMPUTE_32F_FAST_TF32 or a TF32 math mode, and
// cu_ctx_init sets neither). Unverified on a device: this keeps the fp32 path running if so.
static bool retry_plain(cublasStatus_t st, cublasComputeType_t ct) {
    return st == CUBLAS_STATUS_NOT_SUPPORTED && ct == CUBLAS_COMPUTE_32F_PEDANTIC;
}

template <typename TA, typename TC>
static int gemm_cm(CuCtx *c, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                   const TA *A, int lda, const TA *B, int ldb, float beta, TC *C, int ldc) {
    if (m <= 0 || n <= 0) return 0;
    CU_REQUIRE(k >= 0, "gemm: negative inner dimension %d", k);
    cublasComputeType_t ct = compute_of<TA>();
    cublasStatus_t st = cublasGemmEx(c->blas, ta, tb, m, n, k, &alpha, A, CuType<TA>::id, lda, B, CuType<TA>::id, ldb,
                                     &beta, C, CuType<TC>::id, ldc, ct, CUBLAS_GEMM_DEFAULT);
    if (retry_plain(st, ct))
        st = cublasGemmEx(c->blas, ta, tb, m, n, k, &alpha, A, CuType<TA>::id, lda, B, CuType<TA>::id, ldb, &beta, C,
                          CuType<TC>::id, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    CUBLAS_CHECK(st);
    return 0;
}

template <typename TA, typename TC>
int gemm_xwt(CuCtx *c, const TA *X, int ldx, const TA *W, int ldw, TC *Y, int ldy, int N, int in, int out,
             float alpha, float beta) {
    return gemm_cm(c, CUBLAS_OP_T, CUBLAS_OP_N, out, N, in, alpha, W, ldw, X, ldx, beta, Y, ldy);
}
template <typename TA, typename TC>
int gemm_dyw(CuCtx *c, const TA *dY, int ldy, const TA *W, int ldw, TC *dX, int ldx, int N, int out, int in,
             float alpha, float beta) {
    return gemm_cm(c, CUBLAS_OP_N, CUBLAS_OP_N, in, N, out, alpha, W, ldw, dY, ldy, beta, dX, ldx);
}
template <typename TA, typename TC>
int gemm_dytx(CuCtx *c, const TA *dY, int ldy, const TA *X, int ldx, TC *dW, int ldw, int N, int out, int in,
              float alpha, float beta) {
    return gemm_cm(c, CUBLAS_OP_N, CUBLAS_OP_T, in, out, N, alpha, X, ldx, dY, ldy, beta, dW, ldw);
}

template <typename TA, typename TC>
int gemm_batched_cm(CuCtx *c, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                    const TA *A, int lda, long long sA, const TA *B, int ldb, long long sB, float beta, TC *C,
                    int ldc, long long sC, int batch) {
    if (m <= 0 || n <= 0 || batch <= 0) return 0;
    cublasComputeType_t ct = compute_of<TA>();
    cublasStatus_t st = cublasGemmStridedBatchedEx(c->blas, ta, tb, m, n, k, &alpha, A, CuType<TA>::id, lda, sA, B,
                                                   CuType<TA>::id, ldb, sB, &beta, C, CuType<TC>::id, ldc, sC, batch,
                                                   ct, CUBLAS_GEMM_DEFAULT);
    if (retry_plain(st, ct))
        st = cublasGemmStridedBatchedEx(c->blas, ta, tb, m, n, k, &alpha, A, CuType<TA>::id, lda, sA, B,
                                        CuType<TA>::id, ldb, sB, &beta, C, CuType<TC>::id, ldc, sC, batch,
                                        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    CUBLAS_CHECK(st);
    return 0;
}

#define GEMM_INST(TA, TC)                                                                                     \
    template int gemm_xwt<TA, TC>(CuCtx *, const TA *, int, const TA *, int, TC *, int, int, int, int, float,  \
                                  float);                                                                     \
    template int gemm_dyw<TA, TC>(CuCtx *, const TA *, int, const TA *, int, TC *, int, int, int, int, float,  \
                                  float);                                                                     \
    template int gemm_dytx<TA, TC>(CuCtx *, const TA *, int, const TA *, int, TC *, int, int, int, int, float, \
                                   float);                                                                    \
    template int gemm_batched_cm<TA, TC>(CuCtx *, cublasOperation_t, cublasOperation_t, int, int, int, float,  \
                                         const TA *, int, long long, const TA *, int, long long, float, TC *,  \
                                         int, long long, int);
GEMM_INST(float, float)
GEMM_INST(bf16, float)
GEMM_INST(bf16, bf16)
