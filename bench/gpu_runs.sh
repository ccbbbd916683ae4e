#!/usr/bin/env bash
# bench/gpu_runs.sh — issue 24 §4: real runs through the whole pipeline on the GPU, about 2–3
# minutes of device time. bench/cuda_check.sh runs it after bench/gpu_table1.sh if time is
# left; by hand: OUT=DIR bash bench/gpu_runs.sh. Everything is logged to $OUT/gpu_runs.log
# and summed up in $OUT/gpu_runs.md (two files back).
#
#   1. stories260K, `l4q` and `gptq_lora` at 4 and 3 bits, 400 steps × 8×128 tokens in bf16
#      with train.device: cuda — experiments/default.yaml's settings (rank 4, alpha 8, g32,
#      lr 1e-3, cosine, warmup 0.1, wd 0.01, clip 1), TinyStories PPL on the whole
#      validation excerpt as the final evaluation. Each run's final.l4qz is re-scored on the
#      CPU by `l4q ppl` on the whole excerpt (within 1 % of the run's own final TinyStories
#      PPL) and compared with the CPU fp32 runs' seed spread when build/gpu_runs/cpu_ref.tsv
#      came along (made here by --cpu-ref).
#   2. a random-weight 1B-shape model (TinyLlama's: dim 2048, hidden 5632, 22 layers, 32
#      heads, 4 KV heads; vocab 512 so the TinyStories tokenizer applies), `l4q` 4-bit g128
#      r16, 50 steps at 1×512 in bf16: stopped at step 25 (checkpoint), resumed to 50,
#      exported (`l4q export --format l4qz`), re-scored on the CPU by `l4q ppl` on its
#      validation text (the first 16 KB of the excerpt, every window) within 1 % of the run's
#      final val_loss on the same windows (eval.val_batches 0 = all).
#
# Needs build/l4q (the CPU harness: OpenBLAS, HDF5, libyaml, cJSON on the GPU machine; built
# there if missing; one SKIP line if it cannot be) and build/libl4q_cuda.so. Data: $L4Q_DATA,
# else ../shared/data, else build/gpudata — `bash bench/gpu_runs.sh --stage-data` copies the
# ~2.2 MB needed there, so a device call can carry it (carry: ["build/gpudata"]).
#   bash bench/gpu_runs.sh --cpu-ref   the 4 stories configs on the CPU, fp32, seeds 0 1 2
#                                      → build/gpu_runs/cpu_ref.tsv (about 12 runs' time)
set -uo pipefail
cd "$(dirname "$0")/.."
W=build/gpu_runs
mkdir -p "$W"
STORIES=(models/stories260K/stories260K.bin models/stories260K/tok512.bin
         tinystories/tinystories_train_excerpt.txt tinystories/tinystories_valid_excerpt.txt)
if [ "${1:-}" = "--stage-data" ]; then
    src="${L4Q_DATA:-../shared/data}"
    for f in "${STORIES[@]}"; do mkdir -p "build/gpudata/$(dirname "$f")" && cp "$src/$f" "build/gpudata/$f" || exit 2; done
    echo "staged $(du -sh build/gpudata | cut -f1) in build/gpudata"
    exit 0
fi
D=""
for d in "${L4Q_DATA:-}" ../shared/data build/gpudata; do
    [ -n "$d" ] && [ -f "$d/${STORIES[0]}" ] && { D=$(cd "$d" && pwd); break; }
done
OUT="${OUT:-$W}"
mkdir -p "$OUT"
LOG="$OUT/gpu_runs.log"
MD="$OUT/gpu_runs.md"
log() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$LOG"; }
# stage SECONDS CMD...: CMD under a timeout cut to what is left of GPU_RUNS_BUDGET (300 s; 15 s kept
# for the summary), everything logged, step lines kept out of stdout; returns its status.
BUDGET="${GPU_RUNS_BUDGET:-300}"
T0=$SECONDS
stage() {
    local t=$1 left=$((BUDGET - 15 - (SECONDS - T0))); shift
    [ "$left" -lt 5 ] && { echo "not run (budget of ${BUDGET}s spent): $*" | tee -a "$LOG"; return 124; }
    [ "$t" -gt "$left" ] && t=$left
    timeout --kill-after=5 "$t" "$@" 2>&1 | tee -a "$LOG" | grep -v '^step '; return "${PIPESTATUS[0]}"
}
[ -n "$D" ] || { echo "SKIP: gpu_runs: no data (set L4Q_DATA, or run bash bench/gpu_runs.sh --stage-data and carry build/gpudata)" | tee -a "$LOG"; exit 0; }
export L4Q_DATA="$D"
# The CPU harness: built here if it is not there or cannot start (missing shared libraries).
if ! build/l4q info --system > /dev/null 2>&1; then
    log "build/l4q missing or not runnable here: make build/l4q build/bench/mkhf"
    stage 300 make -s -j"$(nproc)" build/l4q build/bench/mkhf
fi
if ! build/l4q info --system > /dev/null 2>&1; then
    echo "SKIP: gpu_runs: build/l4q cannot be built or run on this machine ($(ldd build/l4q 2>/dev/null | grep -c 'not found') shared libraries not found; see $LOG)" | tee -a "$LOG"
    exit 0
fi
[ -x build/bench/mkhf ] || stage 120 make -s build/bench/mkhf

# config NAME METHOD BITS DEVICE PRECISION SEED: one stories260K run's YAML (default.yaml's settings)
config() {
    cat > "$W/$1.yaml" <<EOF
model: $D/models/stories260K/stories260K.bin
tokenizer: $D/models/stories260K/tok512.bin
data: {format: text, train: $D/tinystories/tinystories_train_excerpt.txt, val: $D/tinystories/tinystories_valid_excerpt.txt}
method: {name: $2, rank: 4, alpha: 8, bits: $3, group_size: 32}
train: {steps: ${GPU_RUNS_STEPS:-400}, micro_batch: 8, accum: 1, seq_len: 128, lr: 1.0e-3, schedule: cosine, warmup: 0.1,
        weight_decay: 0.01, clip: 1.0, seed: $6, device: $4, precision: $5}
eval: {every: 0, val_batches: 16, tasks: [tinystories], limit: 0}
EOF
}
TOK="$D/models/stories260K/tok512.bin"
# GPU_RUNS_DEVICE=cpu GPU_RUNS_PRECISION=fp32 GPU_RUNS_STEPS=N GPU_RUNS_METHODS=.. GPU_RUNS_BITS=..
# GPU_RUNS_1B=0 | GPU_RUNS_1B_SHAPE="--dim .. --hidden .. --layers .. --heads .. --kv-heads ..": the same
# pipeline on the CPU, small (how the script itself is checked without a GPU).
DEV="${GPU_RUNS_DEVICE:-cuda}" PREC="${GPU_RUNS_PRECISION:-bf16}"
VAL="$D/tinystories/tinystories_valid_excerpt.txt"
# ppl_of MODEL [KEY [DATA [SEQ]]]: `l4q ppl --json`'s KEY (ppl) on DATA (the whole excerpt) at SEQ (128), CPU.
ppl_of() { build/l4q ppl --model "$1" --tokenizer "$TOK" --data "${3:-$VAL}" --seq-len "${4:-128}" --json 2>> "$LOG" |
           grep -o "\"${2:-ppl}\":[ ]*[0-9.eE+-]*" | head -1 | sed 's/.*://'; }

if [ "${1:-}" = "--cpu-ref" ]; then
    printf 'method\tbits\tseed\tppl\n' > "$W/cpu_ref.tsv"
    for m in l4q gptq_lora; do for b in 4 3; do for s in 0 1 2; do
        n="cpu_${m}${b}_s$s"
        config "$n" "$m" "$b" cpu fp32 "$s"
        rm -rf "${W:?}/$n"
        nice -n 5 build/l4q train "$W/$n.yaml" --out "$W/$n" > "$W/$n.log" 2>&1 || { echo "$n failed: $(tail -1 "$W/$n.log")"; continue; }
        printf '%s\t%s\t%s\t%s\n' "$m" "$b" "$s" "$(ppl_of "$W/$n/final.l4qz")" | tee -a "$W/cpu_ref.tsv"
    done; done; done
    exit 0
fi

# last_val RUN_LOG: the final "eval step N: ... val_loss X" of a run.
last_val() { grep -o 'val_loss [0-9.]*' "$1" | tail -1 | cut -d' ' -f2; }
# task_ppl RUN_LOG: the run's own final TinyStories PPL (its printed task table).
task_ppl() { grep -E '^\| tinystories +\|.*\| ppl +\|' "$1" | tail -1 | awk -F'|' '{ gsub(/ /, "", $6); print $6 }'; }
relpct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "nan"; else printf "%.4f", 100 * (a - b) / b }'; }
within() { awk -v p="$1" -v l="$2" 'BEGIN { if (p == "nan") print "not measured"; else print ((p < 0 ? -p : p) <= l ? "met" : "not met") }'; }

{
    echo "# GPU pipeline runs ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nvidia-smi -L 2>/dev/null | head -1 || echo 'no nvidia-smi'))"
    echo
    echo "stories260K, default.yaml's settings, ${GPU_RUNS_STEPS:-400} steps × 8×128, train.device $DEV, train.precision $PREC. "
    echo "TinyStories PPL on the whole validation excerpt: the run's own final evaluation, and final.l4qz re-scored by \`l4q ppl\` on the CPU."
    echo
    echo "| run | s | final val_loss | PPL (run) | PPL re-scored (CPU) | Δ % | ≤ 1 % | CPU fp32 seeds mean ± std | within 3 std |"
    echo "|---|---|---|---|---|---|---|---|---|"
} > "$MD"
for m in ${GPU_RUNS_METHODS:-l4q gptq_lora}; do for b in ${GPU_RUNS_BITS:-4 3}; do
    n="gpu_${m}${b}"
    config "$n" "$m" "$b" "$DEV" "$PREC" 0
    rm -rf "${W:?}/$n"
    log "$n: train"
    t0=$SECONDS
    stage "${GPU_RUNS_RUN_S:-120}" build/l4q train "$W/$n.yaml" --out "$W/$n" > "$W/$n.log"
    rc=$?
    dt=$((SECONDS - t0))
    if [ $rc -ne 0 ] || [ ! -f "$W/$n/final.l4qz" ]; then
        echo "| $m $b-bit | $dt | failed (exit $rc): $(grep -v '^step' "$W/$n.log" | tail -1 | cut -c1-150 | tr '|' '/') | | | | | | |" >> "$MD"
        continue
    fi
    vl=$(last_val "$W/$n.log")
    run_ppl=$(task_ppl "$W/$n.log")
    ppl=$(ppl_of "$W/$n/final.l4qz")
    p=$(relpct "$ppl" "$run_ppl")
    ref="" inside="no CPU reference"
    if [ -f "$W/cpu_ref.tsv" ]; then
        read -r ref inside < <(awk -F'\t' -v m="$m" -v b="$b" -v g="$ppl" '$1 == m && $2 == b && $4 != "" { x[n++] = $4 }
            END { if (!n || g == "") { print "- not-measured"; exit } s = 0; for (i = 0; i < n; i++) s += x[i]; mu = s / n;
                  v = 0; for (i = 0; i < n; i++) v += (x[i] - mu) ^ 2; sd = n > 1 ? sqrt(v / (n - 1)) : 0;
                  d = g - mu; if (d < 0) d = -d; printf "%.3f±%.3f(n=%d) %s\n", mu, sd, n, (d <= 3 * sd ? "met" : "not-met") }' "$W/cpu_ref.tsv")
    fi
    echo "| $m $b-bit | $dt | $vl | $run_ppl | $ppl | $p | $(within "$p" 1) | $ref | $inside |" >> "$MD"
    log "$n: ${dt}s, val_loss $vl, ppl run $run_ppl, re-scored $ppl ($p %)"
done; done

# 2. the 1B shape: random bf16 HF directory, stop at 25 (checkpoint), resume to 50, export, re-score.
[ "${GPU_RUNS_1B:-1}" = 1 ] || { cat "$MD" | tee -a "$LOG"; exit 0; }
B1="$W/rand1b"
log "1B shape: write a random bf16 model"
rm -rf "$B1" "$W/run1b" "$W/run1b.l4qz"
head -c 16384 "$VAL" > "$W/val16k.txt"
# shellcheck disable=SC2086
stage 120 build/bench/mkhf "$B1" ${GPU_RUNS_1B_SHAPE:---dim 2048 --hidden 5632 --layers 22 --heads 32 --kv-heads 4} \
    --vocab 512 --seq 512 --dtype bf16 > /dev/null
cat > "$W/run1b.yaml" <<EOF
model: $B1
tokenizer: $TOK
data: {format: text, train: $D/tinystories/tinystories_train_excerpt.txt, val: $W/val16k.txt}
method: {name: l4q, rank: 16, alpha: 32, bits: 4, group_size: 128}
train: {steps: 50, micro_batch: 1, accum: 1, seq_len: 512, lr: 1.0e-4, schedule: cosine, warmup: 0.1, weight_decay: 0.01,
        clip: 1.0, seed: 0, device: $DEV, precision: $PREC, optim_state: bf16}
eval: {every: 0, val_batches: 0, tasks: []}
EOF
t0=$SECONDS
stage 180 build/l4q train "$W/run1b.yaml" --out "$W/run1b" --stop-at 25 > "$W/run1b.log"
rc1=$?
stage 180 build/l4q train --resume "$W/run1b" >> "$W/run1b.log"
rc2=$?
stage 120 build/l4q export "$W/run1b" --format l4qz --out "$W/run1b.l4qz"
rc3=$?
vl=$(last_val "$W/run1b.log")
rs=$(ppl_of "$W/run1b.l4qz" loss "$W/val16k.txt" 512)
p=$(relpct "$rs" "$vl")
{
    echo
    echo "1B shape (${GPU_RUNS_1B_SHAPE:-dim 2048, hidden 5632, 22 layers, 32/4 heads}, vocab 512; random bf16 weights), l4q 4-bit g128 r16, "
    echo "50 steps × 1×512 on $DEV/$PREC: stopped at 25 (exit $rc1, 3 = stopped with a checkpoint), resumed (exit $rc2), "
    echo "exported (exit $rc3), $((SECONDS - t0)) s: final val_loss $vl, exported file on the CPU $rs (Δ $p %: $(within "$p" 1))."
} >> "$MD"
rm -rf "$B1"
cat "$MD" | tee -a "$LOG"
