# bench/best_core.sh — sourced by bench/cpu_speed.sh and bench/big.sh: OpenBLAS runs on the
# best core of this CPU as `l4q info --system` finds it (SkylakeX on an AVX-512 CPU), or on
# OPENBLAS_CORETYPE_BENCH, even where the environment pins an older one (which would halve
# the fp32 products but not oneDNN's bf16 ones). Needs build/l4q.
best=$(build/l4q info --system --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("openblas_best_core") or "")' 2>/dev/null || true)
if [ -n "${OPENBLAS_CORETYPE_BENCH:-$best}" ]; then export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE_BENCH:-$best}"; fi
