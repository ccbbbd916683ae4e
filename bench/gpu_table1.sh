#!/usr/bin/env bash
# bench/gpu_table1.sh — issue 24's GPU Table 1 on the GPU machine: bench/cuda_check.sh runs it
# after its parity stages; by hand: OUT=DIR bash bench/gpu_table1.sh. About 4–6 minutes at
# the LLaMA-7B shape on an H100 (start-up not included). Stages, each under its own timeout,
# all logged to $OUT/table1.log as they go (a timeout keeps what came before it):
#   1. build bench/gemm_peak (nvcc + cuBLAS) and bench/gpu_table1 (cc; against core/device.c,
#      or its few-line local loader while that file is not in the tree); the plugin
#      build/libl4q_cuda.so is cuda_check's (`make cuda`), built here only if missing;
#   2. the bf16 GEMM peak (8192³), the denominator of MFU;
#   3. ours: 7 methods × fp32/bf16 AdamW moments (rows that do not fit print the prediction);
#   4. the peers, one process each: PEFT LoRA, the PyTorch L4Q reference (bench/peft_step.py);
#   5. $OUT/table1.md and $OUT/table1.csv (bench/gpu_table1_md.py), printed at the end.
# One file comes back under $OUT: table1.md (cuda_check's other logs leave room for one of the
# 8 files a device call returns); its end holds the CSV and the raw JSON rows. The log is this
# script's output (cuda_check's bench.log) and build/gpu_table1/table1.log, the CSV
# build/gpu_table1/table1.csv.
# Knobs: GPU_TABLE1_BUDGET (225 s in all: cuda_check gives the stage 240; every stage's limit is
# cut to what is left, keeping 10 s for the table), GPU_TABLE1_ARGS (extra gpu_table1 options,
# e.g. "--methods lora,l4q --steps 5"), GPU_TABLE1_OURS_S (110), GPU_TABLE1_TORCH_S (90 per
# case), PY, NVCC, CC.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-build/gpu_table1}"
W=build/gpu_table1
mkdir -p "$OUT" "$W"
LOG="$W/table1.log"
: > "$LOG"
BUDGET="${GPU_TABLE1_BUDGET:-225}"
T0=$SECONDS
CC="${CC:-cc}"
NVCC="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
PY="${PY:-$([ -x /opt/torch/.venv/bin/python3 ] && echo /opt/torch/.venv/bin/python3 || command -v python3)}"
log() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$LOG"; }
# stage SECONDS CMD...: runs CMD under a timeout cut to the budget left (less 10 s for the
# table), output appended to the log; returns its status (124: timed out or no time left).
stage() {
    local t=$1 left=$((BUDGET - 10 - (SECONDS - T0))); shift
    [ "$left" -lt 5 ] && { echo "not run (budget of ${BUDGET}s spent): $*" | tee -a "$LOG"; return 124; }
    [ "$t" -gt "$left" ] && t=$left
    timeout --kill-after=5 "$t" "$@" 2>&1 | tee -a "$LOG"; return "${PIPESTATUS[0]}"
}

log "gpu_table1: $(nvidia-smi -L 2>/dev/null | head -1 || echo 'no nvidia-smi')"
# 1. builds
CFLAGS_T1="-std=c11 -O2 -Wall -Wextra -fopenmp-simd -D_GNU_SOURCE -Icore -I."
if [ -f core/device.c ] && stage 60 "$CC" $CFLAGS_T1 -ffunction-sections -o "$W/gpu_table1" bench/gpu_table1.c core/device.c \
        -ldl -lm -Wl,--gc-sections; then
    log "gpu_table1 built against core/device.c"
else
    stage 60 "$CC" $CFLAGS_T1 -DGT_LOCAL_OPEN -o "$W/gpu_table1" bench/gpu_table1.c -ldl -lm &&
        log "gpu_table1 built with its local loader (core/device.c absent or not linkable alone)"
fi
stage 120 "$NVCC" -O2 -std=c++17 -gencode arch=compute_90,code=sm_90 -o "$W/gemm_peak" bench/gemm_peak.cu -lcublas ||
    log "gemm_peak did not build: MFU will be missing"
if [ ! -f build/libl4q_cuda.so ]; then
    log "build/libl4q_cuda.so missing: make cuda"
    stage 300 make -s -j"$(nproc)" cuda || log "make cuda failed"
fi
# 2. GEMM peak
PEAK=0
if [ -x "$W/gemm_peak" ]; then
    stage 60 "$W/gemm_peak" 8192 > "$W/gemm.jsonl"
    PEAK=$(grep -o '"tflops":[0-9.]*' "$W/gemm.jsonl" | head -1 | cut -d: -f2)
    PEAK=${PEAK:-0}
    log "bf16 GEMM peak: $PEAK TFLOP/s"
fi
# 3. ours
: > "$W/ours.jsonl"
if [ -x "$W/gpu_table1" ]; then
    log "ours: gpu_table1 --peak-tflops $PEAK ${GPU_TABLE1_ARGS:-}"
    # shellcheck disable=SC2086
    stage "${GPU_TABLE1_OURS_S:-110}" "$W/gpu_table1" --peak-tflops "$PEAK" ${GPU_TABLE1_ARGS:-} > "$W/ours.jsonl"
    log "ours: exit $? ($(grep -c '"status":"ok"' "$W/ours.jsonl") rows measured)"
fi
if ! grep -q '"kind":"device"' "$W/ours.jsonl" && [ -x "$W/gpu_table1" ]; then
    log "ours did not start: the table gets the memory predictions instead"
    "$W/gpu_table1" --predict ${GPU_TABLE1_ARGS:-} >> "$W/ours.jsonl" 2>> "$LOG"
fi
T=$(grep -o '"tokens":[0-9]*' "$W/ours.jsonl" | head -1 | cut -d: -f2)
T=${T:-2048}
# 4. the PyTorch peers, one process per case
"$PY" -c 'import torch, transformers, peft; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)' 2>&1 | tail -1 | tee -a "$LOG"
for case in lora l4q; do
    log "torch: peft_step.py --case $case --tokens $T"
    stage "${GPU_TABLE1_TORCH_S:-90}" "$PY" bench/peft_step.py --case "$case" --tokens "$T" > "$W/torch_$case.jsonl"
    log "torch $case: exit $?"
done
# 5. the table
log "render"
"$PY" bench/gpu_table1_md.py "$OUT/table1.md" "$W/table1.csv" "$W/gemm.jsonl" "$W/ours.jsonl" "$W"/torch_*.jsonl \
    > /dev/null 2>> "$LOG" || log "render failed"
[ -f "$OUT/table1.md" ] && cat "$OUT/table1.md"
log "gpu_table1 done"
