#!/usr/bin/env bash
# cuda_check.sh — THE prepared device check of the CUDA backend (issue 23 point 5): one run
# on an H100/H200 machine, about 7 minutes, every stage with its own time limit and its log
# under $OUT, so a stage that times out or fails leaves the earlier stages' results.
#
# Prepare here first (the device machine has no network and may lack OpenBLAS/HDF5/yaml):
#     make cuda-fixtures            # CPU outputs: build/cudafix/ops and build/cudafix/e2e (~15 MB)
# then the lead's call, exactly:
#     run(command="bash bench/cuda_check.sh", carry=["build/cudafix"], timeout_s=480)
# (480 s leaves the 15-minute budget room for one start and one rerun; the script stops
# starting stages at CHECK_BUDGET seconds, default 420.) With no kind named, the H100 is used.
#
# Stages (logs, at most 8 files back):
#   probe.log     driver, GPU, nvcc, cuBLAS, OS/glibc, python torch/transformers/peft (bitsandbytes
#                 is expected to be missing), compute-sanitizer, host libraries the CPU build needs
#   build.log     make -j16 cuda-only (the plugin and the device tests; no OpenBLAS needed)
#   ops.log       build/tests/test_cuda_ops (cuda-kernels' per-op parity), fp32 and bf16
#   e2e.log       build/tests/test_cuda_e2e --require (20-step lora/l4q parity, stories260K and
#                 a random stories15M shape; fp32, bitwise rerun, L4Q codes, bf16 band)
#   memcheck.log  compute-sanitizer memcheck over the quick subset (test_cuda_e2e --quick)
#   bench.log     bench/gpu_table1.sh when it exists (issue 24's benchmark, the gpu-bench helper's)
#   summary.txt   one line per stage: status, seconds, PASS/FAIL/SKIP counts
set -u
OUT="${OUT:-/tmp/cuda_check_out}"
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
BUDGET="${CHECK_BUDGET:-420}"
T0=$SECONDS
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
export PYTHONUNBUFFERED=1

# stage NAME LIMIT_SECONDS COMMAND...: runs COMMAND (a bash string) under `timeout`, its output
# tee'd into $OUT/NAME.log; the limit is cut to what is left of the budget.
stage() {
    local name="$1" limit="$2"; shift 2
    local left=$((BUDGET - (SECONDS - T0)))
    if [ "$left" -lt 15 ]; then echo "$name: not run (budget of ${BUDGET}s spent)" | tee -a "$SUMMARY"; return 1; fi
    [ "$limit" -gt "$left" ] && limit=$left
    local t=$SECONDS rc
    echo "=== $name (limit ${limit}s) ===" | tee "$OUT/$name.log"
    set -o pipefail
    timeout --signal=TERM --kill-after=10 "$limit" bash -c "$*" 2>&1 | tee -a "$OUT/$name.log"
    rc=$?
    set +o pipefail
    local p f s
    p=$(grep -c '^PASS: ' "$OUT/$name.log"); f=$(grep -c '^FAIL: ' "$OUT/$name.log"); s=$(grep -c '^SKIP: ' "$OUT/$name.log")
    local st=ok
    [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && st=TIMEOUT
    [ "$st" = ok ] && [ "$rc" -ne 0 ] && st="FAILED(rc=$rc)"
    [ "$st" = ok ] && [ "$s" -gt 0 ] && st=SKIPPED # on the device nothing may skip
    printf '%-9s %-14s %4ds  %d passed, %d failed, %d skipped\n' "$name" "$st" $((SECONDS - t)) "$p" "$f" "$s" | tee -a "$SUMMARY"
    return "$rc"
}

stage probe 40 '
nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc); echo "nvcc: $NVCC"; "$NVCC" --version
ls -l /usr/local/cuda 2>&1 | head -2
ldconfig -p | grep -E "libcublas(Lt)?\.so" || ls /usr/local/cuda/lib64/libcublas* 2>&1
grep PRETTY_NAME /etc/os-release; ldd --version | head -1; gcc --version | head -1; make --version | head -1
command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>&1
for py in /opt/torch/.venv/bin/python3 python3; do
  command -v $py >/dev/null || continue
  $py -c "import torch, transformers; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, torch.cuda.is_available()); print(\"transformers\", transformers.__version__)" 2>&1
  $py -c "import peft; print(\"peft\", peft.__version__)" 2>&1 | tail -1
  $py -c "import bitsandbytes" 2>&1 | tail -1
  break
done
for p in libopenblas0 libhdf5-103-1 libyaml-0-2 libcjson1; do dpkg -s $p >/dev/null 2>&1 && echo "have $p" || echo "no $p"; done
ls build/cudafix/ops build/cudafix/e2e 2>&1 | head -20
nproc; free -g | head -2
'
# cuda/e2e.mk is included by cuda/cuda.mk; name it here too while it is not.
MK=""; grep -q 'e2e.mk' cuda/cuda.mk || MK="-f Makefile -f cuda/e2e.mk"
stage build 200 "make $MK -j16 cuda-only build/tests/test_cuda_e2e && ls -l build/libl4q_cuda.so build/tests/test_cuda*"
BUILD_OK=$?
if [ "$BUILD_OK" -eq 0 ]; then
    stage ops 90 'build/tests/test_cuda_ops --fixtures build/cudafix/ops --precision both'
    stage e2e 150 'build/tests/test_cuda_e2e --require build/cudafix/e2e'
    SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    stage memcheck 120 "$SAN --tool memcheck --error-exitcode 3 --leak-check no build/tests/test_cuda_e2e --require --quick build/cudafix/e2e"
else
    echo "ops, e2e, memcheck: not run (build failed)" | tee -a "$SUMMARY"
fi
if [ -f bench/gpu_table1.sh ]; then
    stage bench 240 'bash bench/gpu_table1.sh'
else
    echo "bench: bench/gpu_table1.sh not present" | tee -a "$SUMMARY"
fi
echo "--- total $((SECONDS - T0))s" | tee -a "$SUMMARY"
cat "$SUMMARY"
! grep -qE 'FAILED|TIMEOUT|SKIPPED|not run' "$SUMMARY"
