#!/usr/bin/env bash
# method_hashes.sh — trains every registered method 20 steps (none/rtn/gptq: 0) on stories260K
# (threads 1, so deterministic) and prints "method sha256(final.l4qz)": run before and after a
# refactoring that must not change any number, and diff the two outputs. Not a test (no
# PASS/FAIL; tests/run.sh runs test_* only).
set -u
cd "$(dirname "$0")/.."
D=${L4Q_DATA:-$(cd .. && pwd)/shared/data}
MODEL=$D/models/stories260K/stories260K.bin TOK=$D/models/stories260K/tok512.bin
TRAIN=$D/tinystories/tinystories_train_excerpt.txt VAL=$D/tinystories/tinystories_valid_excerpt.txt
W=$(mktemp -d)
methods=$(build/l4q train /dev/null --set method.name=__x__ --dry-run 2>&1 | sed -n 's/.*valid: \([a-z0-9_, ]*\)).*/\1/p' | tr -d ,)
[ -n "$methods" ] || { printf 'model: %s\ntokenizer: %s\ndata: {format: text, train: %s}\nmethod: {name: none}\n' $MODEL $TOK $TRAIN > $W/p.yaml;
  methods=$(build/l4q train $W/p.yaml --set method.name=__x__ --dry-run 2>&1 | sed -n 's/.*valid: \([a-z0-9_, ]*\)).*/\1/p' | tr -d ,); }
for m in $methods; do
  st=20; case $m in none|rtn|gptq) st=0;; esac
  extra=""; case $m in gptq|gptq_lora|qlora_uniform|qa_lora) extra=", calib_windows: 4";; esac
  cat > $W/$m.yaml <<Y
model: $MODEL
tokenizer: $TOK
data: {format: text, train: $TRAIN, val: $VAL}
method: {name: $m$extra}
train: {steps: $st, micro_batch: 2, seq_len: 32, lr: 0.002, warmup: 0, threads: 1}
eval: {every: 0, val_batches: 1, tasks: [tinystories], limit: 2}
Y
  if nice -n 5 build/l4q train $W/$m.yaml --out $W/$m >$W/$m.log 2>&1; then
    echo "$m $(sha256sum < $W/$m/final.l4qz | cut -c1-64)"
  else echo "$m FAILED $(tail -1 $W/$m.log)"; fi
done
rm -rf $W
