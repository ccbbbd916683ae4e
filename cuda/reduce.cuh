// reduce.cuh — device helpers shared by the kernel files: block reductions with a fixed
// combination order (so a launch's result never depends on scheduling: two runs are bitwise
// identical). The CPU's exp is el_exp (core/elem.h).
#pragma once
#include "common.cuh"
#include "elem.h" // el_exp: the CPU's exp, operation for operation

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

// Grid-stride loop over [0, n).
#define CU_FOR(i, n) for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
                          i += (long long)gridDim.x * blockDim.x)
static inline unsigned cu_grid(long long n, int threads) {
    unsigned b = cu_blocks(n, threads);
    return b > 65535u * 8 ? 65535u * 8 : b; // grid-stride loops cover the rest
}
