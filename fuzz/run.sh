#!/usr/bin/env bash
# run.sh SECONDS [TARGET...] — runs each fuzz target for SECONDS on its seed corpus
# (build/fuzz/corpus/<name>, made by seeds.sh; new inputs go to build/fuzz/found/<name>,
# so later runs continue from what earlier ones found), then prints executions and
# findings per target, and a line of coverage and speed. Crash/leak/timeout reproducers
# land in build/fuzz/artifacts/<name>/. Exit 1 if any target found something.
# FUZZ_RUNS=N stops a target after N executions (or SECONDS, whichever comes first).
cd "$(dirname "$0")/.."
secs=${1:-60}; shift || true
export L4Q_DATA="${L4Q_DATA:-$(cd .. && pwd)/shared/data}" L4Q_THREADS=1 OMP_NUM_THREADS=1
# Leaks are findings: a rejected input must leave nothing behind (core/util.h "hold").
# Short allocation stacks and a small quarantine keep the per-input cost and RSS down.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=1:malloc_context_size=10:quarantine_size_mb=32"
export UBSAN_OPTIONS="print_stacktrace=1"
# Every input is written to a file for the readers (fuzz/fuzz.h): in memory, not on disk,
# where the writes of a busy machine would make the fuzzer wait.
[ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=/dev/shm
[ -d build/fuzz/corpus ] || bash fuzz/seeds.sh build/fuzz/corpus >/dev/null
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(llama2c gguf l4qz hf tokenizer encode config task taskdata traindata traindocs ckpt runlog)
# Largest input per target: the formats' seeds fit (fuzz/seeds.sh keeps them small); the
# real stories260K files and tokenizer.bin are cut to it, which still exercises their headers.
max_len() {
    case $1 in
    llama2c|gguf|l4qz) echo 32768 ;;
    tokenizer|taskdata|ckpt|hf) echo 8192 ;;
    encode|traindata|traindocs) echo 2048 ;;
    runlog) echo 131072 ;;
    *) echo 4096 ;;
    esac
}
bad=0
for t in "${targets[@]}"; do
    mkdir -p "build/fuzz/found/$t" "build/fuzz/artifacts/$t"
    log="build/fuzz/$t.log"
    # run.h5: libhdf5 itself crashes on some damaged files; the target reads in a worker
    # process and sorts those out (fuzz/fuzz_runlog.c), keeping samples here.
    extra=()
    [ "$t" = runlog ] && { rm -rf build/fuzz/hdf5; mkdir -p build/fuzz/hdf5; export FUZZ_HDF5_DIR=$PWD/build/fuzz/hdf5; }
    [ -n "${FUZZ_RUNS:-}" ] && extra+=(-runs="$FUZZ_RUNS")
    "build/fuzz/fuzz_$t" "${extra[@]}" -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=30 \
        -detect_leaks=1 -rss_limit_mb=2048 -malloc_limit_mb=2048 -seed=1 \
        -artifact_prefix="build/fuzz/artifacts/$t/" -print_final_stats=1 \
        "build/fuzz/found/$t" "build/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    [ -z "$execs" ] && execs=$(grep -o '#[0-9]*' "$log" | tail -1 | tr -d '#')
    found=$(ls "build/fuzz/artifacts/$t" | grep -vc '^slow-unit-')
    printf '%-10s %10s executions in %ss  rc %d  findings %d\n' "$t" "${execs:-?}" "$secs" "$rc" "$found"
    last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1)
    printf '    cov %s ft %s corpus %s exec/s %s\n' "$(grep -o 'cov: [0-9]*' <<<"$last" | cut -d' ' -f2)" \
        "$(grep -o 'ft: [0-9]*' <<<"$last" | cut -d' ' -f2)" "$(grep -o 'corp: [^ ]*' <<<"$last" | cut -d' ' -f2)" \
        "$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    [ "$t" = runlog ] && grep -o "[0-9]* inputs read by.*" "$log" | tail -1 | sed 's/^/    /; s/$/; samples in build\/fuzz\/hdf5/'
    if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
        bad=1; grep -m3 -E 'ERROR|SUMMARY|runtime error' "$log" | sed 's/^/    /'
    fi
done
exit $bad
