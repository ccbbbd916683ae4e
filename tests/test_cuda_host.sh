#!/usr/bin/env bash
# The CUDA kernels' element code (cuda/quant_elem.cuh, compiled for the host by nvcc) against
# the CPU's outputs: fresh per-op fixtures from the real CPU functions (tests/cuda_fixtures.c),
# then test_cuda_ops --host (bit-exact L4Q tiles and codes incl. ties, NF4/uniform tiles,
# AdamW fp32/bf16 state). Runs without a GPU; needs nvcc's build of test_cuda_ops.
cd "$(dirname "$0")/.."
if [ ! -x build/tests/test_cuda_ops ]; then echo "SKIP: cuda_host: build/tests/test_cuda_ops not built (nvcc not found)"; exit 0; fi
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
build/tests/cuda_fixtures "$dir/ops" >/dev/null || { echo "FAIL: cuda_host: cuda_fixtures exited $?"; exit 1; }
build/tests/test_cuda_ops --host --fixtures "$dir/ops"
