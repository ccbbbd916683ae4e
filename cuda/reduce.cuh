// reduce.cuh — device helpers shared by the kernel files: block reductions with a fixed
// combination order (so a launch's result never depends on scheduling: two runs are bitwise
// identical) and the CPU's exp.
#pragma once
#include "common.cuh"

// Sum / max over the block (blockDim.x a multiple of 32, ≤ 1024); every thread gets the result.
// The tree is fixed: warp shuffles xor 16..1, then warp 0 over the warps' partials in order.
template <typename V> __device__ __forceinline__ V warp_sum(V x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}
__device__ __forceinline__ float warp_max(float x) {
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}
__device__ __forceinline__ int warp_min_int(int x) {
    for (int o = 16; o > 0; o >>= 1) x = min(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}
template <typename V, typename F> __device__ __forceinline__ V block_reduce(V x, F warp_op, V identity) {
    __shared__ V part[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    x = warp_op(x);
    __syncthreads(); // part may still be read by a previous call
    if (lane == 0) part[w] = x;
    __syncthreads();
    V y = lane < nw ? part[lane] : identity;
    return warp_op(y);
}
template <typename V> __device__ __forceinline__ V block_sum(V x) {
    return block_reduce<V>(x, [](V a) { return warp_sum(a); }, V(0));
}
__device__ __forceinline__ float block_max(float x) {
    return block_reduce<float>(x, [](float a) { return warp_max(a); }, -INFINITY);
}
__device__ __forceinline__ int block_min_int(int x) {
    return block_reduce<int>(x, [](int a) { return warp_min_int(a); }, 0x7fffffff);
}

// core/ops.c's exp_vec, operation for operation (its FMA() is fmaf on the build machines,
// which have FMA; the other operations are single IEEE operations under -fmad=false): range
// reduction x = k·ln2 + r, Cephes' degree-6 polynomial, 2^k in the exponent bits; below −87
// gives 0, NaN stays NaN. Kept beside the CPU's so swiglu and the softmaxes round the same.
__device__ __forceinline__ float exp_cpu(float x0) {
    float x = x0 > -87.0f ? (x0 < 88.0f ? x0 : 88.0f) : -87.0f;
    float kf = x * 1.44269504088896341f;
    kf = (kf + 12582912.0f) - 12582912.0f;
    float r = fmaf(kf, -0.693359375f, x);
    r = fmaf(kf, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    float scale = __int_as_float(((int)kf + 127) << 23);
    float y = x0 < -87.0f ? 0.0f : p * scale;
    return x0 != x0 ? x0 : y;
}

// Grid-stride loop over [0, n).
#define CU_FOR(i, n) for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
                          i += (long long)gridDim.x * blockDim.x)
static inline unsigned cu_grid(long long n, int threads) {
    unsigned b = cu_blocks(n, threads);
    return b > 65535u * 8 ? 65535u * 8 : b; // grid-stride loops cover the rest
}
