#!/usr/bin/env bash
# bench/train.sh (part of `make bench`) — training step time, tokens/s and peak RSS per
# method, one process per method (bench/memtime.c), next to forward-only (`none`):
#   stories260K (seq 256 × 32 rows): none, full, lora (r 8), l4q, qat_lora, lsq (4-bit, g32)
#   stories15M shape, random weights (dim 288, 6 layers, 6 heads, hidden 768, vocab 32000)
#   one decoder block of LLaMA-7B's shape (dim 4096, hidden 11008, 32 heads), 1×512 tokens,
#   group 128: lora, l4q, qat_lora, lsq — the analogue of the paper's Table 1 (7B: LoRA 25.1,
#   L4Q 25.4, QAT-LoRA 41.9, LSQ 79.5 GB).
# BENCH_QUICK=1 skips the 7B block. BENCH_REPS=N (default 1) runs each row N times and
# prints the run with the median step time. Each section starts with the sgemm rate measured
# just before it: this VM's rate itself swings between about 210 and 310 GFLOP/s over a
# day, and training throughput follows it.
set -euo pipefail
cd "$(dirname "$0")/.."
D="${L4Q_DATA:-../shared/data}"
B=build/bench/memtime
row() { # method, then memtime args
    local m=$1; shift
    for _ in $(seq "${BENCH_REPS:-1}"); do "$B" "$m" "$@"; echo; done | python3 -c '
import json, sys
runs = sorted((json.loads(l) for l in sys.stdin if l.strip()), key=lambda d: d["step_seconds"])
d = runs[(len(runs) - 1) // 2]
mib = lambda k: d[k] / 2**20
print("%-9s %8.3f s/step %10.0f tok/s  %6.0f faults/step  peak RSS %8.1f MiB  trainable %7.2f MiB  grad+opt %7.2f MiB  layer-saved %7.2f MiB  transient %6.2f MiB"
      % (d["method"], d["step_seconds"], d["tokens_per_s"], d["minor_faults_per_step"], mib("peak_rss_bytes"), mib("trainable_bytes"),
         mib("grad_optimizer_bytes"), mib("layer_saved_bytes"), mib("peak_transient_bytes")))'
}
rate() { build/l4q info --system 2>/dev/null | grep -E '^sgemm' || true; }
echo "== training step: stories260K, 32×256 tokens, 4-bit g32, rank 8"
rate
for m in none full lora l4q qat_lora lsq; do
    row $m --model "$D/models/stories260K/stories260K.bin" --tokens 256 --batch 32 --rank 8 --group 32 --steps 3
done
echo "== training step: stories15M shape (random), 32×256 tokens"
rate
for m in none lora full; do
    row $m --dim 288 --hidden 768 --layers 6 --heads 6 --kv-heads 6 --vocab 32000 --tokens 256 --batch 32 --rank 8 --steps 2
done
[ -n "${BENCH_QUICK:-}" ] && exit 0
echo "== one LLaMA-7B decoder block (random), 1×512 tokens, 4-bit g128, rank 16"
rate
for m in lora l4q qat_lora lsq; do
    row $m --dim 4096 --hidden 11008 --layers 1 --heads 32 --kv-heads 32 --vocab 512 --tokens 512 --batch 1 --rank 16 --group 128 --steps 2
done
