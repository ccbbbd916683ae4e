#!/usr/bin/env bash
# test_fuzz.sh — a short bounded libFuzzer pass over every parser (fuzz/run.sh, seed
# corpora from the real files): FUZZ_CI_SECONDS (default 8) per target; a crash,
# sanitizer report or hang fails the target. run.h5 is left to `make fuzz` (libhdf5
# crashes on some damaged files, which only a child process can contain).
cd "$(dirname "$0")/.."
if [ ! -x build/fuzz/fuzz_config ]; then echo "FAIL: fuzz: targets not built (make fuzz-build)"; exit 1; fi
secs=${FUZZ_CI_SECONDS:-8}
rm -rf build/fuzz/corpus build/fuzz/artifacts
out=$(bash fuzz/run.sh "$secs" llama2c gguf l4qz tokenizer encode config task taskdata traindata ckpt 2>&1)
while read -r t execs _ _ _ _ rc _ f; do
    [ -z "$t" ] || [[ "$t" == \(* ]] && continue
    if [ "$rc" = 0 ] && [ "$f" = 0 ] && [ "${execs:-0}" -gt 0 ] 2>/dev/null; then echo "PASS: fuzz $t: $execs executions, no findings"
    else echo "FAIL: fuzz $t: rc $rc, findings $f (build/fuzz/$t.log)"; fi
done < <(grep -E '^[a-z0-9]+ +[0-9?]+ executions' <<<"$out")
