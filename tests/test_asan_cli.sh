#!/usr/bin/env bash
# test_asan_cli.sh — the sanitizer build of the binary (build/asan/l4q, ASan + UBSan +
# LeakSanitizer) on bad input of every kind: each case must end with exit 2 and one
# "l4q: error:" line, and no sanitizer report (leaks included).
cd "$(dirname "$0")/.."
B=build/asan/l4q
[ -x $B ] || { echo "FAIL: asan cli: $B not built (make asan)"; exit 1; }
D=${L4Q_DATA:-../shared/data}; M=$D/models/stories260K
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 L4Q_THREADS=1
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
/usr/bin/python3 - "$W" "$M" <<'PY'
import json, struct, sys
w, m = sys.argv[1], sys.argv[2]
b = bytearray(open(f"{m}/stories260K.bin", "rb").read())
struct.pack_into("<f", b, 28 + 30 * 4, -2.93e38); open(f"{w}/huge.bin", "wb").write(b)
struct.pack_into("<f", b, 28 + 30 * 4, float("nan")); open(f"{w}/nan.bin", "wb").write(b)
open(f"{w}/trunc.bin", "wb").write(b[:5000])
g = open(f"{m}/stories260K.gguf", "rb").read(); open(f"{w}/trunc.gguf", "wb").write(g[:3000])
t = open(f"{m}/tok512.bin", "rb").read(); open(f"{w}/trunc_tok.bin", "wb").write(t[:1000])
json.dump([{"instruction": "x" * 5000, "input": "", "output": "y"}] * 3, open(f"{w}/alpaca.json", "w"))
open(f"{w}/deep.yaml", "w").write("a: " + "[" * 5000 + "]" * 5000 + "\n")
open(f"{w}/bad.json", "w").write('[{"instruction": "a", "output": ')
PY
cat > "$W/alp.yaml" <<Y
model: $M/stories260K.bin
tokenizer: $M/tok512.bin
data: { format: alpaca, train: $W/alpaca.json, val_examples: 1 }
method: { name: lora }
train: { steps: 2, micro_batch: 1, seq_len: 16 }
Y
sed "s|$W/alpaca.json|$W/bad.json|" "$W/alp.yaml" > "$W/badjson.yaml"
echo "task: x" > "$W/task.yaml"; mkdir "$W/tasks"; printf 'task: x\noutput_type: nope\n' > "$W/tasks/x.yaml"
TXT=$D/tinystories/tinystories_valid_excerpt.txt
check() {
    local name=$1; shift
    local err rc
    err=$("$B" "$@" 2>&1 >/dev/null); rc=$?
    local nerr; nerr=$(grep -c '^l4q: error:' <<<"$err")
    if [ $rc -eq 2 ] && [ "$nerr" -eq 1 ] && ! grep -qE 'Sanitizer|runtime error' <<<"$err"; then echo "PASS: asan cli: $name"
    else echo "FAIL: asan cli: $name: rc $rc, $nerr error lines: $(grep -m2 -E 'error|Sanitizer' <<<"$err" | tr '\n' ' ' | cut -c1-300)"; fi
}
check "weight beyond fp16 range" ppl --model "$W/huge.bin" --tokenizer "$M/tok512.bin" --data "$TXT"
check "NaN weight" ppl --model "$W/nan.bin" --tokenizer "$M/tok512.bin" --data "$TXT"
check "truncated llama2.c" ppl --model "$W/trunc.bin" --tokenizer "$M/tok512.bin" --data "$TXT"
check "truncated GGUF" info "$W/trunc.gguf"
check "truncated tokenizer" tokenize --tokenizer "$W/trunc_tok.bin" --text hi
check "Alpaca set with no usable examples" train "$W/alp.yaml" --out "$W/r1"
check "malformed Alpaca JSON" train "$W/badjson.yaml" --out "$W/r2"
check "YAML nested 5000 deep" train "$W/deep.yaml" --dry-run
check "bad task YAML" eval --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --tasks x --task-dir "$W/tasks"
check "missing model file" ppl --model "$W/none.bin" --tokenizer "$M/tok512.bin" --data "$TXT"
check "resume without a run" train --resume "$W/nothing"
# Successful commands must not leak either.
head -c 20000 "$TXT" > "$W/small.txt"
sed "s|format: alpaca, train: $W/alpaca.json, val_examples: 1|format: text, train: $W/small.txt|" "$W/alp.yaml" > "$W/ok.yaml"
ok() {
    local name=$1; shift
    local err rc
    err=$("$B" "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -eq 0 ] && ! grep -qE 'Sanitizer|runtime error' <<<"$err"; then echo "PASS: asan cli: $name (no leaks)"
    else echo "FAIL: asan cli: $name: rc $rc: $(grep -m3 -E 'error|Sanitizer|leak' <<<"$err" | tr '\n' ' ' | cut -c1-300)"; fi
}
ok "ppl" ppl --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --data "$W/small.txt" --json
ok "train 2 steps + export" train "$W/ok.yaml" --out "$W/ok"
ok "eval" eval --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --tasks tinystories,piqa --limit 3 --windows 3
