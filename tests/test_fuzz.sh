#!/usr/bin/env bash
# test_fuzz.sh — a short bounded libFuzzer pass over every parser (fuzz/run.sh, seed
# corpora from the real files): FUZZ_CI_SECONDS (default 8) per target; a crash,
# sanitizer report or hang fails the target. Then the run.h5 target's sorting of its
# worker's deaths (fuzz/fuzz_runlog.c), both ways: the two damaged files of
# $L4Q_DATA/corrupt crash libhdf5 itself and a file from fuzz/regress hangs it — not
# findings; a fault, leak or hang put into our own code is.
cd "$(dirname "$0")/.."
if [ ! -x build/fuzz/fuzz_config ]; then echo "FAIL: fuzz: targets not built (make fuzz-build)"; exit 1; fi
secs=${FUZZ_CI_SECONDS:-8}
rm -rf build/fuzz/corpus build/fuzz/artifacts
out=$(bash fuzz/run.sh "$secs" llama2c gguf l4qz hf tokenizer encode config task taskdata traindata traindocs ckpt runlog 2>&1)
while read -r t execs _ _ _ _ rc _ f; do
    [ -z "$t" ] || [[ "$t" == \(* ]] && continue
    if [ "$rc" = 0 ] && [ "$f" = 0 ] && [ "${execs:-0}" -gt 0 ] 2>/dev/null; then echo "PASS: fuzz $t: $execs executions, no findings"
    else echo "FAIL: fuzz $t: rc $rc, findings $f (build/fuzz/$t.log)"; fi
done < <(grep -E '^[a-z0-9]+ +[0-9?]+ executions' <<<"$out")

export L4Q_DATA="${L4Q_DATA:-$(cd .. && pwd)/shared/data}" L4Q_THREADS=1 OMP_NUM_THREADS=1
scratch=$(mktemp -d)
out=$(build/fuzz/fuzz_runlog -artifact_prefix="$scratch/" "$L4Q_DATA"/corrupt/*.h5 2>&1); rc=$?
if [ $rc = 0 ] && grep -q "libhdf5's own failures: 2 crashes" <<<"$out"; then echo "PASS: fuzz runlog: the damaged files' libhdf5 crashes are not findings"
else echo "FAIL: fuzz runlog on $L4Q_DATA/corrupt: rc $rc: $(grep -m2 -E 'fuzz_runlog|ERROR' <<<"$out")"; fi
# A run.h5 found by the campaign on which libhdf5 never returns from H5Oget_info_by_name
# (a cycle in a damaged symbol-table B-tree): libhdf5's hang, not a finding.
gunzip -c fuzz/regress/runlog_hdf5_hang.h5.gz > "$scratch/hang.h5"
out=$(build/fuzz/fuzz_runlog -artifact_prefix="$scratch/" "$scratch/hang.h5" 2>&1); rc=$?
if [ $rc = 0 ] && grep -q "1 hangs" <<<"$out"; then echo "PASS: fuzz runlog: a hang inside libhdf5 is not a finding"
else echo "FAIL: fuzz runlog: libhdf5's hang: rc $rc: $(grep -m2 -E 'fuzz_runlog|worker' <<<"$out")"; fi
for kind in segv leak hang; do
    out=$(FUZZ_RUNLOG_SELFTEST=$kind build/fuzz/fuzz_runlog -artifact_prefix="$scratch/" build/fuzz/corpus/runlog/run.h5 2>&1); rc=$?
    if [ $rc != 0 ] && grep -q "the worker failed" <<<"$out" && grep -q "deadly signal" <<<"$out"; then echo "PASS: fuzz runlog: a $kind in our code is a finding"
    else echo "FAIL: fuzz runlog: a $kind in our code was not a finding (rc $rc)"; fi
done
rm -rf "$scratch"
