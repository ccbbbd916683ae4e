#!/usr/bin/env bash
# stream.sh [MB] — streaming benchmarks (not tests): `l4q ppl` on an MB-sized text (default
# 300; TinyStories validation repeated) — wall time and peak RSS, against a 1/10 size file
# to show the RSS does not grow with the input — and tokenizer throughput (bench/tokbench)
# on natural text and adversarial text (one 64 MB run of one character; random bytes).
cd "$(dirname "$0")/.."
MB=${1:-300}
D=${L4Q_DATA:-$(cd .. && pwd)/shared/data}; M=$D/models/stories260K
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
make -s build/l4q build/bench/tokbench || exit 1
gen() { /usr/bin/python3 - "$1" "$2" "$D/tinystories/tinystories_valid_excerpt.txt" <<'PY'
import sys
out, mb, src = sys.argv[1], float(sys.argv[2]), open(sys.argv[3]).read() + "\n\n"
with open(out, "w") as f:
    for _ in range(int(mb * 1e6 / len(src)) + 1): f.write(src)
PY
}
gen "$W/small.txt" "$(echo "$MB / 10" | bc -l)"; gen "$W/big.txt" "$MB"
echo "== ppl (stories260K, seq_len 512, threads ${L4Q_THREADS:-all})"
for f in small big; do
    /usr/bin/time -f "$f.txt $(du -m "$W/$f.txt" | cut -f1) MB: %e s wall, peak RSS %M KB" \
        build/l4q ppl --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --data "$W/$f.txt" --json 2>&1 | grep -v OpenBLAS
done
echo "== tokenizer throughput"
head -c 64000000 /dev/zero | tr '\0' 'a' > "$W/run_of_a.txt"
head -c 16000000 /dev/urandom | tr -d '\000' | iconv -f latin1 -t utf-8 > "$W/random_latin1.txt"
for tok in "$M/tok512.bin" "$D/tokenizers/llama2c_tokenizer.bin"; do
    echo "-- $(basename "$tok")"
    build/bench/tokbench "$tok" "$W/small.txt" "$W/run_of_a.txt" "$W/random_latin1.txt"
done
