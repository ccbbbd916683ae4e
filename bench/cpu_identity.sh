#!/usr/bin/env bash
# cpu_identity.sh — the CPU path's results are bit-for-bit those of another build.
# Trains every method of the registry for 20 steps on stories260K with one fixed config
# (4-bit g32 where a method takes bits; bf16 AdamW moments as extra rows; a checkpoint
# at step 10 and validation every 10 steps) with each of two binaries and compares the sha256 of every final.l4qz and ckpt.bin.
#   bash bench/cpu_identity.sh BEFORE_BIN AFTER_BIN [WORKDIR]
# e.g. save build/l4q before a refactor, rebuild, run this. Prints one line per run and
# "identical: N/N"; exit 1 when any artifact differs.
set -u
before="$1"; after="$2"; work="${3:-$(mktemp -d /tmp/l4q_identity.XXXXXX)}"
D="${L4Q_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}"
export L4Q_THREADS="${L4Q_THREADS:-2}"
cat > "$work/base.yaml" <<Y
model: $D/models/stories260K/stories260K.bin
tokenizer: $D/models/stories260K/tok512.bin
data: {format: text, train: $D/tinystories/tinystories_train_excerpt.txt, val: $D/tinystories/tinystories_valid_excerpt.txt}
method: {name: none}
train: {steps: 20, micro_batch: 2, seq_len: 32, lr: 0.005, warmup: 2, checkpoint_every: 10}
eval: {every: 10, val_batches: 2}
Y
methods=$("$after" train "$work/base.yaml" --set method.name=__none__ --dry-run 2>&1 | sed -n 's/.*(valid: \(.*\))$/\1/p' | tr -d ,)
[ -n "$methods" ] || { echo "no method registry from $after"; exit 1; }
runs=()
for m in $methods; do
    set=(--set method.name=$m)
    case $m in
        l4q|qat_lora|lsq|rtn|gptq|rtn_lora|gptq_lora|qlora_uniform|qa_lora|peqa|loftq) set+=(--set method.bits=4 --set method.group_size=32) ;;
    esac
    case $m in gptq|gptq_lora|qlora_uniform|qa_lora) set+=(--set method.calib_windows=4) ;; esac
    case $m in none|rtn|gptq) set+=(--set train.steps=0) ;; esac # nothing to train: PTQ rows
    runs+=("$m|${set[*]}")
done
runs+=("l4q_bf16state|--set method.name=l4q --set method.bits=4 --set method.group_size=32 --set train.optim_state=bf16")
runs+=("lora_bf16state|--set method.name=lora --set train.optim_state=bf16")
n=0; same=0
for r in "${runs[@]}"; do
    name="${r%%|*}"; read -r -a args <<<"${r#*|}"
    line="$name"; ok=1; h=()
    for side in before after; do
        bin=${!side}; out="$work/$side/$name"
        rm -rf "$out"
        if ! "$bin" train "$work/base.yaml" "${args[@]}" --out "$out" >"$work/$side.$name.log" 2>&1; then
            h+=("FAILED"); ok=0; continue
        fi
        h+=("$(cat "$out"/final.l4qz "$out"/ckpt*/ckpt.bin "$out"/ckpt.bin 2>/dev/null | sha256sum | cut -c1-16)")
    done
    n=$((n + 1))
    [ "$ok" = 1 ] && [ "${h[0]}" = "${h[1]}" ] && same=$((same + 1)) || line="$line DIFFERENT"
    echo "$line ${h[*]}"
done
echo "identical: $same/$n  (work dir $work)"
[ "$same" -eq "$n" ]
