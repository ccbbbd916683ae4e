#!/usr/bin/env bash
# bench/big.sh (part of `make bench`; runnable alone: bash bench/big.sh) — the paper's
# Table 1 at whole-model scale: one training step of `lora` and `l4q` on a LLaMA-7B-shape
# model (32 layers, dim 4096, hidden 11008, 32 heads, vocab 32000, untied head; random
# weights) held as bf16, 4-bit g128, rank 16, 1×512 tokens (or, if that does not fit, the
# longest of 384/256/128 that does). The model is written here as a bf16 Hugging Face
# directory (bench/mkhf.c, 13.5 GB) and deleted at the end. `qat_lora` and `lsq` hold
# O(out×in) fp32 state per layer; their memory account is predicted from a one-layer build
# (bench/memtime.c --predict) and they are run only if that fits in MemTotal.
# Both methods train with AdamW moments in bf16 (train.optim_state: bf16, --optim-state;
# BIG_OPTIM=fp32 for torch's fp32 moments). Gradients are released at zero_grad and
# written in backward into activation pages backward has released (core/model.c), so the
# peak is at the end of forward; memtime prints the RSS after each phase to show it. The
# model releases only when its memory account says the all-resident step exceeds the
# budget (model_plan_memory): on a 24 GB machine a 7B LoRA step would fit resident, so
# the runs here plan for BIG_MEM_LIMIT bytes (L4Q_MEM_LIMIT; default 16 GiB, under both
# methods' resident steps), the setting the paper's memory table is about.
# BIG_PRECISION=bf16: the products with the frozen weights in bf16 (train.precision: bf16,
# memtime --precision; the bf16 weights are used as held, with no widening tiles).
# The step timed is the first one (BIG_STEPS=N: the median of N after it; each 7B step
# takes minutes on two cores). The first step's peak is the steady state's: m and v are
# resident from the start and the gradients are released before every forward. BIG_DIR=PATH puts the model elsewhere (default build/big-7b-bf16); BIG_SHAPE="--dim D ..."
# replaces the shape (a quick check of the script itself).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/l4q build/bench/memtime build/bench/mkhf
. bench/best_core.sh # OpenBLAS on this CPU's best core
DIR="${BIG_DIR:-build/big-7b-bf16}"
read -ra SHAPE <<< "${BIG_SHAPE:---dim 4096 --hidden 11008 --layers 32 --heads 32 --kv-heads 32 --vocab 32000}"
LAYERS=$(echo "${SHAPE[@]}" | sed -E 's/.*--layers ([0-9]+).*/\1/')
NEED=$((13600 * 1024 * 1024))
mkdir -p "$(dirname "$DIR")"
avail=$(( $(df -Pk "$(dirname "$DIR")" | awk 'NR==2 {print $4}') * 1024 ))
if [ "$avail" -lt "$NEED" ]; then
    echo "== LLaMA-7B shape, bf16: skipped — needs 13.6 GB free beside $DIR, $((avail >> 30)) GiB available"
    exit 0
fi
memtotal=$(( $(awk '/^MemTotal/ {print $2}' /proc/meminfo) * 1024 ))
trap 'rm -rf "$DIR"' EXIT
OPTIM="${BIG_OPTIM:-bf16}"
echo "== LLaMA-7B shape (random weights, bf16 HF directory), 4-bit g128, rank 16, AdamW moments $OPTIM, products ${BIG_PRECISION:-fp32}, one step"
build/l4q info --system 2>/dev/null | grep -E '^sgemm' || true
t0=$SECONDS
build/bench/mkhf "$DIR" "${SHAPE[@]}" --dtype bf16
echo "model written in $((SECONDS - t0)) s: $(du -sh "$DIR" | cut -f1)"
build/l4q info "$DIR" 2>/dev/null | grep -E '^(format|weights|parameters)'
show() {
    python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
g = lambda k: d[k] / 2**30
if d.get("predicted"):
    print("%-9s predicted by the memory account: %.1f GiB (weights %.2f, trainable %.2f, grad+opt %.2f, saved %.2f, transient %.2f GiB; moments %s)%s"
          % (d["method"], g("total_bytes"), g("weight_bytes"), g("trainable_bytes"), g("grad_optimizer_bytes"),
             g("saved_for_backward_bytes"), g("peak_transient_bytes"), d["optim_state"], sys.argv[1]))
else:
    print("%-9s 1x%d tokens  %7.1f s/step  %s  peak RSS %6.2f GiB  account: weights %.2f GiB, trainable %.3f GiB, grad+opt %.3f GiB, saved %.2f GiB, transient %.3f GiB, predicted peak %.2f GiB  (load %.0f s; moments %s)"
          % (d["method"], d["tokens"], d["step_seconds"], "releasing" if d["release"] else "resident", g("peak_rss_bytes"), g("weight_bytes"), g("trainable_bytes"),
             g("grad_optimizer_bytes"), g("saved_for_backward_bytes"), g("peak_transient_bytes"), g("account_peak_bytes"),
             d["load_seconds"], d["optim_state"]))
    print("%-9s RSS after forward %.2f, head %.2f, backward %.2f, optimizer %.2f GiB"
          % ("", g("rss_after_forward"), g("rss_after_head"), g("rss_after_backward"), g("rss_after_optimizer")))' "${1:-}"
}
run() { # method tokens → JSON line on stdout, or nothing if the process failed (e.g. killed for memory)
    L4Q_MEM_LIMIT="${BIG_MEM_LIMIT:-$((16 << 30))}" build/bench/memtime "$1" --model "$DIR" --tokens "$2" --batch 1 --rank 16 --group 128 --bits 4 --optim-state "$OPTIM" --precision "${BIG_PRECISION:-fp32}" --steps "${BIG_STEPS:-0}" 2>/dev/null || true
}
out="" T=""
for T in 512 384 256 128; do
    out=$(run lora "$T")
    [ -n "$out" ] && break
    echo "lora: 1x$T tokens did not fit"
done
[ -z "$out" ] && { echo "lora did not run at any sequence length"; exit 1; }
echo "$out" | show
lora_rss=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["peak_rss_bytes"])')
out=$(run l4q "$T")
[ -z "$out" ] && { echo "l4q: 1x$T tokens did not fit"; exit 1; }
echo "$out" | show
l4q_rss=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["peak_rss_bytes"])')
python3 -c "r = $l4q_rss / $lora_rss; print('L4Q / LoRA peak RSS: %.3fx, both with $OPTIM AdamW moments (target <= 1.05x: %s)' % (r, 'met' if r <= 1.05 else 'NOT met'))"
for m in qat_lora lsq; do
    p=$(build/bench/memtime "$m" "${SHAPE[@]}" --dtype bf16 --tokens "$T" --batch 1 --rank 16 --group 128 --bits 4 --tied 0 --optim-state "$OPTIM" --predict "$LAYERS" 2>/dev/null)
    total=$(echo "$p" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_bytes"])')
    if [ "$total" -gt "$memtotal" ]; then
        echo "$p" | show " — does not fit ($((memtotal >> 30)) GiB machine)"
    else
        out=$(run "$m" "$T")
        if [ -n "$out" ]; then echo "$out" | show; else echo "$p" | show " — did not run"; fi
    fi
done
# BIG_EXPORT=1: the 7B `lora` run to its export — `l4q train` (one step, rank 16, the
# sequence length that fitted above) on the bf16 base, which deploys W0 as stored (bf16)
# plus the branch (l4qz v2, core/deploy.h), evaluates the deployed model and writes
# final.l4qz; then `l4q export --format gguf` (BF16 base + llama.cpp adapter). Predicted
# for LLaMA-7B: final.l4qz ≈ 14.16 GB (projections 6.476e9 × 2 B = 12.95 GB, fp32
# embeddings + untied head 1.05 GB, rank-16 branches 0.16 GB); the GGUF about the same
# (BF16 projections, F32 embeddings) + a 0.16 GB adapter. An fp32 deployment would be
# 26.95 GB, which train.c refused up front on any machine under ~40.4 GB (13.5 GB held + it).
if [ "${BIG_EXPORT:-0}" = 1 ]; then
    D=${L4Q_DATA:-$(cd .. && pwd)/shared/data}
    RUN="$(dirname "$DIR")/big-lora-run"
    rm -rf "$RUN"
    cat > "$RUN.yaml" <<Y
model: $DIR
tokenizer: $D/tokenizers/llama2_tokenizer.model
data: { format: text, train: $D/tinystories/tinystories_valid_excerpt.txt, val: $D/tinystories/tinystories_valid_excerpt.txt }
method: { name: lora, rank: 16 }
train: { steps: 1, micro_batch: 1, seq_len: $T, optim_state: $OPTIM, precision: ${BIG_PRECISION:-fp32}, checkpoint_every: 0 }
eval: { every: 0, val_batches: 1 }
Y
    t0=$SECONDS
    build/l4q train "$RUN.yaml" --out "$RUN" > "$RUN.log" 2>&1 || { echo "lora export run failed: $(tail -1 "$RUN.log")"; exit 1; }
    echo "lora run to its export: $((SECONDS - t0)) s, final.l4qz $(stat -c %s "$RUN/final.l4qz") bytes (form $(build/l4q info "$RUN/final.l4qz" | awk '$1 == "form" {print $2}'))"
    t0=$SECONDS
    build/l4q export "$RUN" --format gguf --out "$RUN.gguf" > /dev/null
    echo "gguf export: $((SECONDS - t0)) s, $(stat -c %s "$RUN.gguf") bytes + adapter $(stat -c %s "$RUN.lora.gguf") bytes"
    rm -rf "$RUN" "$RUN.yaml" "$RUN.log" "$RUN.gguf" "$RUN.lora.gguf"
fi
