#!/usr/bin/env bash
# bench/run.sh (`make bench`) — throughput on this machine: perplexity (README "Perplexity protocol") over the
# TinyStories validation excerpt with stories260K, greedy generation (ours and a naive
# scalar reference, bench/naive_generate.c), and the sgemm rate `info --system` measures.
# Each generation figure is the median of 5 runs; the machine is shared, so expect noise.
# BENCH_THREADS (default: all cores) is passed as --threads.
set -euo pipefail
cd "$(dirname "$0")/.."
D="${L4Q_DATA:-../shared/data}"
M="$D/models/stories260K"
TXT="$D/tinystories/tinystories_valid_excerpt.txt"
L4Q=build/l4q
TH=()
[ -n "${BENCH_THREADS:-}" ] && TH=(--threads "$BENCH_THREADS")
for f in "$M/stories260K.bin" "$M/tok512.bin" "$TXT"; do
    [ -f "$f" ] || { echo "bench: missing $f (set L4Q_DATA)" >&2; exit 2; }
done
mkdir -p build
gcc -O3 -march=native -std=c11 -Wall -Wextra -D_POSIX_C_SOURCE=199309L -o build/naive_generate bench/naive_generate.c -lm

field() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== machine"
"$L4Q" info --system "${TH[@]}" 2>/dev/null | grep -E 'cpu|cores|threads|OpenBLAS core|sgemm'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== ppl: stories260K, seq_len 512, $(basename "$TXT")"
t0=$(date +%s%N)
j=$("$L4Q" ppl --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --data "$TXT" --json "${TH[@]}" 2>/dev/null)
t1=$(date +%s%N)
printf 'loss %s  predicted tokens %s\n' "$(field loss <<<"$j")" "$(field predicted <<<"$j")"
printf 'ppl throughput     %.0f tokens/s (%.2f s in the loop, %.2f s wall for the command)\n' \
    "$(field tokens_per_s <<<"$j")" "$(field seconds <<<"$j")" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) / 1e9}')"

echo "== generate: stories260K greedy, 256 steps from BOS"
ours=(); naive=()
for i in 1 2 3 4 5; do
    ours+=("$("$L4Q" generate --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0 --steps 256 "${TH[@]}" 2>&1 >build/bench_ours.txt \
        | sed -n 's/.*(\([0-9.]*\) tok\/s).*/\1/p')")
    naive+=("$(build/naive_generate "$M/stories260K.bin" "$M/tok512.bin" 256 2>&1 >build/bench_naive.txt \
        | sed -n 's/.*(\([0-9.]*\) tok\/s).*/\1/p')")
done
same=$(cmp -s build/bench_ours.txt build/bench_naive.txt && echo "same text" || echo "TEXT DIFFERS")
printf 'l4q generate       %.0f tok/s (median of 5)\n' "$(printf '%s\n' "${ours[@]}" | median)"
printf 'naive_generate.c   %.0f tok/s (median of 5; scalar, 1 thread, no BLAS; %s)\n' "$(printf '%s\n' "${naive[@]}" | median)" "$same"
