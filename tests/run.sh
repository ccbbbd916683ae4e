#!/usr/bin/env bash
# The suite: every C test (normal and ASan/UBSan builds), every Python oracle test and
# shell test. Each prints "PASS: name" / "FAIL: name: why" lines, or "SKIP: name: why" for
# a check that cannot run here (no GPU, say); a program that exits non-zero without a FAIL
# line counts as one failure. Ends with each skip's line and "N passed, N failed, N skipped";
# the exit status is non-zero when anything failed (skips do not fail the suite).
cd "$(dirname "$0")/.."
export L4Q_DATA="${L4Q_DATA:-$(cd .. && pwd)/shared/data}"
export PY=/usr/bin/python3
# LeakSanitizer on: error exits may leave reachable memory (fine), never unreachable blocks.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export L4Q_THREADS="${L4Q_THREADS:-2}"
# Test binaries do not re-exec like build/l4q does: give them the same OpenMP wait policy.
export GOMP_SPINCOUNT="${GOMP_SPINCOUNT:-20000}"
pass=0; fail=0; skip=0; skips=""
only="${1:-}"
run_one() {
    local name="$1"; shift
    [ -n "$only" ] && [[ "$name" != *"$only"* ]] && return
    local out rc t0=$SECONDS
    out=$("$@" 2>&1); rc=$?
    local p f s
    p=$(grep -c '^PASS: ' <<<"$out"); f=$(grep -c '^FAIL: ' <<<"$out"); s=$(grep -c '^SKIP: ' <<<"$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; out="$out"$'\n'"FAIL: $name exited $rc"; fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    [ "$s" -gt 0 ] && skips="$skips$(grep -E '^SKIP: ' <<<"$out" | sed "s|^|  $name: |")"$'\n'
    printf '%-40s %3d passed %3d failed %3d skipped  (%ds)\n' "$name" "$p" "$f" "$s" $((SECONDS - t0))
    if [ "$f" -gt 0 ]; then grep -E '^FAIL: ' <<<"$out" | head -20; tail -15 <<<"$out" | grep -v -E '^(PASS|FAIL): '; fi
}
for t in build/tests/test_*; do [ -x "$t" ] && run_one "$(basename "$t")" "$t"; done
for t in build/asan/tests/test_*; do [ -x "$t" ] && run_one "asan/$(basename "$t")" "$t"; done
for t in tests/test_*.py; do [ -f "$t" ] && run_one "$(basename "$t")" $PY "$t"; done
for t in tests/test_*.sh; do [ -f "$t" ] && run_one "$(basename "$t")" bash "$t"; done
[ -n "$skips" ] && printf 'skipped:\n%s' "$skips"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
