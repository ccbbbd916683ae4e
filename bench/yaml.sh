#!/usr/bin/env bash
# yaml.sh (part of `make bench`) — hostile YAML is rejected while libyaml parses (core/ynode.c
# counts depth and alias expansion on its event stream), so the time does not grow with
# what follows the first violation. Each case: wall time of `l4q train FILE` until its error.
# The tests (tests/test_config.py) check the error lines; the times live here, not in a test.
cd "$(dirname "$0")/.."
make -s build/l4q || exit 1
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
/usr/bin/python3 - "$W" <<'PY'
import sys
w, N = sys.argv[1], 100000
cases = {
    "deep_flow_100k": "a: " + "[" * N + "]" * N + "\n",
    "deep_flow_1M": "a: " + "[" * (10 * N) + "]" * (10 * N) + "\n",
    "deep_block_3000": "".join(" " * i + "k:\n" for i in range(3000)),
    "billion_laughs": "a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n" + "".join(f"a{i}: &a{i} [{','.join([f'*a{i-1}'] * 10)}]\n" for i in range(1, 9)),
    "keys_200k_dup": "".join(f"k{i}: {i}\n" for i in range(200000)) + "k7: 1\n",
}
for k, v in cases.items():
    open(f"{w}/{k}.yaml", "w").write(v)
PY
echo "== hostile YAML: time to the error line"
for f in "$W"/*.yaml; do
    t0=$(date +%s.%N)
    msg=$(OPENBLAS_CORETYPE=SkylakeX build/l4q train "$f" 2>&1 | tail -1)
    t1=$(date +%s.%N)
    printf '%-18s %6s KB  %6.3f s  %s\n' "$(basename "$f" .yaml)" "$(( $(stat -c %s "$f") / 1024 ))" "$(echo "$t1 - $t0" | bc -l)" "${msg##*: }"
done
