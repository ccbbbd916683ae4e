#!/usr/bin/env bash
# bench/cpu_speed.sh (part of `make bench`) — the harness against a tuned PyTorch peer
# (bench/torch_step.py), side by side in one invocation so both see the same machine load:
# stories260K and stories15M shapes (random weights), lora and l4q (4-bit g32, rank 8),
# 32×256 tokens per step, our fp32 and bf16 (train.precision) modes and PyTorch fp32 and
# bf16 autocast. Both sides run the same OpenBLAS kernels (OPENBLAS_CORETYPE: the best core
# `l4q info --system` finds, or OPENBLAS_CORETYPE_BENCH), the same OpenMP spin (GOMP_SPINCOUNT=20000) and all cores; PyTorch runs with
# jemalloc keeping its memory (Debian's libjemalloc2, `make bench` installs it; without it
# the peer runs on glibc and says so). "before" rows: our fp32 step with the memory released
# between steps as before (L4Q_MEM_LIMIT=1 makes the memory account choose it) — the
# page-fault churn this harness no longer has. CPU_SPEED_STEPS (default 3) timed steps per row.
# CPU_SPEED_ROUNDS (default 1): the whole table that many times over, each row's rounds spread
# across the run, and the ratios from each row's median tok/s; L4Q / LoRA from the median of
# the rounds' back-to-back pairs, each side running lora then l4q (this shared machine's rate
# drifts by 15–20 % within minutes, so one row can land in a slow stretch its peer missed).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/bench/memtime build/l4q
. bench/best_core.sh # OpenBLAS on this CPU's best core
export GOMP_SPINCOUNT=20000
JE=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
PRE=() ALLOC="glibc malloc (libjemalloc2 not installed)"
if [ -f "$JE" ]; then PRE=(env LD_PRELOAD="$JE" MALLOC_CONF="retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1"); ALLOC="jemalloc, memory retained"; fi
STEPS="${CPU_SPEED_STEPS:-3}" ROUNDS="${CPU_SPEED_ROUNDS:-1}"
PY=/usr/bin/python3
"$PY" -c 'import torch' 2>/dev/null || { echo "== cpu_speed: skipped — python3-torch is not installed (make test-deps)"; exit 0; }
TH=$(nproc)
echo "== harness vs PyTorch $("$PY" -c 'import torch; print(torch.__version__)'), $(date -u '+%Y-%m-%d %H:%M UTC'), $TH cores, OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE, PyTorch on $ALLOC"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: every figure below moves with it)"
build/l4q info --system 2>/dev/null | grep -E '^sgemm' || true
fmt='import json, sys
d = json.loads(sys.stdin.read())
print("%s|%.0f|%.3f|%.0f|%.0f" % (d.get("precision", "fp32"), d["tokens_per_s"], d["step_seconds"], d["minor_faults_per_step"], d["peak_rss_bytes"] / 2**20))'
declare -A R
for round in $(seq "$ROUNDS"); do
[ "$ROUNDS" -gt 1 ] && echo "== round $round of $ROUNDS"
printf '%-12s %-5s %-22s %10s %9s %12s %10s\n' shape method side tok/s s/step faults/step "peak MiB"
for shape in 260K 15M; do
    if [ $shape = 260K ]; then S=(--dim 64 --hidden 172 --layers 5 --heads 8 --kv-heads 4 --vocab 512)
    else S=(--dim 288 --hidden 768 --layers 6 --heads 6 --kv-heads 6 --vocab 32000); fi
    C=(--tokens 256 --batch 32 --rank 8 --group 32 --bits 4 --steps "$STEPS")
    for side in "ours fp32" "ours bf16" "ours fp32 before" "pytorch fp32" "pytorch bf16"; do
        for m in lora l4q; do # back to back: L4Q / LoRA compares steps run seconds apart
            read -r who prec before <<<"$side"
            if [ "$who" = ours ]; then
                env ${before:+L4Q_MEM_LIMIT=1} build/bench/memtime "$m" "${S[@]}" "${C[@]}" --precision "$prec" >build/cpu_speed.json 2>/dev/null || { echo "$shape $m $side: failed"; continue; }
            else
                "${PRE[@]}" "$PY" bench/torch_step.py "$m" "${S[@]}" "${C[@]}" --precision "$prec" --threads "$TH" >build/cpu_speed.json 2>/dev/null || { echo "$shape $m $side: failed"; continue; }
            fi
            IFS='|' read -r _ tps st fl mib < <("$PY" -c "$fmt" <build/cpu_speed.json)
            R["$shape $m $side"]="${R["$shape $m $side"]:-} $tps"
            printf '%-12s %-5s %-22s %10s %9s %12s %10s\n' "$shape" "$m" "$side" "$tps" "$st" "$fl" "$mib"
        done
    done
done
done
# L4Q / LoRA per round from the back-to-back pairs (saved before the medians below replace
# the per-round lists): a pair shares the machine's state of those seconds.
declare -A P
for shape in 260K 15M; do for prec in fp32 bf16; do
    P["$shape $prec"]="${R[$shape lora ours $prec]:-} / ${R[$shape l4q ours $prec]:-}"
done; done
# Each row's median tok/s over the rounds (the value itself with one round).
for k in "${!R[@]}"; do
    R["$k"]=$("$PY" -c "import statistics, sys; print('%.0f' % statistics.median(float(x) for x in sys.argv[1:]))" ${R[$k]})
done
if [ "$ROUNDS" -gt 1 ]; then
    echo "== median tok/s over $ROUNDS rounds"
    for shape in 260K 15M; do for m in lora l4q; do for side in "ours fp32" "ours bf16" "ours fp32 before" "pytorch fp32" "pytorch bf16"; do
        printf '%-12s %-5s %-22s %10s\n' "$shape" "$m" "$side" "${R[$shape $m $side]:-failed}"
    done; done; done
fi
echo "== ratios (tokens/s): ours / PyTorch"
for shape in 260K 15M; do for m in lora l4q; do
    k="$shape $m"
    "$PY" -c "
f32, b16, pf, pb = ${R[$k ours fp32]:-0}, ${R[$k ours bf16]:-0}, ${R[$k pytorch fp32]:-0}, ${R[$k pytorch bf16]:-0}
r = lambda x, y: '%.2fx' % (x / y) if y else 'n/a'
print('%-5s %-5s fp32/fp32 %s  bf16/fp32 %s  bf16/bf16-autocast %s' % ('$shape', '$m', r(f32, pf), r(b16, pf), r(b16, pb)))"
done; done
# The L4Q / LoRA step: the median over rounds of each back-to-back pair's ratio.
for shape in 260K 15M; do
    "$PY" -c "
import statistics, sys
def paired(s):
    l, q = (x.split() for x in s.split('/'))
    r = [float(a) / float(b) for a, b in zip(l, q) if float(b) > 0]
    return '%.2fx' % statistics.median(r) + (' (rounds: %s)' % ' '.join('%.2f' % x for x in r) if len(r) > 1 else '') if r else 'n/a'
print('$shape: l4q step / lora step, back-to-back pairs: fp32 %s, bf16 %s' % (paired('${P[$shape fp32]}'), paired('${P[$shape bf16]}')))"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
