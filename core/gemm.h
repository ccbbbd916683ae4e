// gemm.h — the row-major fp32 matrix product every method's training and inference path
// calls: C = alpha·op(A)·op(B) + beta·C, op = 'N' (as is) or 'T' (transposed), with
// cblas_sgemm's row-major arguments.
//
// Two libraries, chosen by shape. OpenBLAS packs its operands and splits the output among
// threads on every call; when the output width N or the reduction K is narrow (< 1024: the
// dim-64/288/768 products of stories260K/15M, a LoRA factor's rank-r products) that
// overhead dominates and oneDNN's sgemm is 1.1–3× faster (8192×288×288: 383 vs 318
// GFLOP/s; 8192×64×64: 286 vs 113). With both ≥ 1024 (LLaMA-7B's 4096/11008 products) both
// run near the machine's rate and OpenBLAS avoids oneDNN's slow cases (1024³: 230 vs 332;
// 512×4096×4096 X·Wᵀ: 253 vs 321). A shape always goes to the same library, and each gives
// the same bits for any thread count on these shapes (tests/test_mm.c). docs/cpu-speed.md.
#pragma once

void gemm_f32(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc);
