// gemm_peak.cu — the measured bf16 GEMM peak that bench/gpu_table1's MFU is relative to:
// an M=N=K (8192 by default) product, bf16 inputs and output, fp32 accumulation
// (CUBLAS_COMPUTE_32F, as the plugin's speed mode), 5 warm-up and 20 timed calls, each
// timed with cudaEvents; prints the median as one JSON line. Fresh random inputs (a hash
// of the index, not zeros: tensor cores draw less power on zeros).
//   gemm_peak [N]
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
    printf("{\"kind\":\"gemm_peak\",\"error\":\"%s: %s\"}\n", #x, cudaGetErrorName(e_)); return 2; } } while (0)
#define CB(x) do { cublasStatus_t s_ = (x); if (s_ != CUBLAS_STATUS_SUCCESS) { \
    printf("{\"kind\":\"gemm_peak\",\"error\":\"%s: cublas status %d\"}\n", #x, (int)s_); return 2; } } while (0)

__global__ void fill(__nv_bfloat16 *p, size_t n, unsigned seed) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n) return;
    unsigned h = (unsigned)i * 2654435761u ^ seed;
    h ^= h >> 15; h *= 2246822519u; h ^= h >> 13;
    p[i] = __float2bfloat16(((h & 0xFFFF) / 32768.0f - 1.0f) * 0.05f);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 8192;
    if (n <= 0) { printf("{\"kind\":\"gemm_peak\",\"error\":\"bad size\"}\n"); return 2; }
    size_t nn = (size_t)n * n;
    __nv_bfloat16 *a, *b, *c;
    CK(cudaMalloc(&a, nn * 2)); CK(cudaMalloc(&b, nn * 2)); CK(cudaMalloc(&c, nn * 2));
    unsigned blocks = (unsigned)((nn + 255) / 256);
    fill<<<blocks, 256>>>(a, nn, 1u); fill<<<blocks, 256>>>(b, nn, 2u);
    CK(cudaGetLastError());
    cublasHandle_t h;
    CB(cublasCreate(&h));
    const float one = 1.0f, zero = 0.0f;
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    std::vector<float> ms;
    for (int i = 0; i < 25; i++) {
        CK(cudaEventRecord(e0));
        CB(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, CUDA_R_16BF, n, b, CUDA_R_16BF, n, &zero, c,
                        CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float t;
        CK(cudaEventElapsedTime(&t, e0, e1));
        if (i >= 5) ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    double med = 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
    double tflops = 2.0 * n * (double)n * n / (med * 1e-3) / 1e12;
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    printf("{\"kind\":\"gemm_peak\",\"device\":\"%s\",\"n\":%d,\"ms\":%.4f,\"ms_min\":%.4f,\"tflops\":%.1f}\n", p.name, n, med,
           ms[0], tflops);
    cublasDestroy(h);
    cudaFree(a); cudaFree(b); cudaFree(c);
    return 0;
}
