// gemm.c — see gemm.h.
#include "gemm.h"
#include "util.h"
#include <cblas.h>
#include <dnnl.h>

#define GEMM_NARROW 1024 // N or K below this: oneDNN (gemm.h)

void gemm_f32(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (N >= GEMM_NARROW && K >= GEMM_NARROW) {
        cblas_sgemm(CblasRowMajor, ta == 'T' ? CblasTrans : CblasNoTrans, tb == 'T' ? CblasTrans : CblasNoTrans, M, N, K,
                    alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    dnnl_status_t s = dnnl_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (s != dnnl_success)
        die_internal("oneDNN sgemm %c%c %dx%dx%d (ld %d %d %d) failed (status %d)", ta, tb, M, N, K, lda, ldb, ldc, (int)s);
}
