#!/usr/bin/env bash
# test_generate.sh — `l4q generate` reproduces the reference stories260K greedy text (docs/design.md) exactly,
# sampling is deterministic per seed, and bad input to generate/ppl is one stderr line
# naming the file with exit status 2.
cd "$(dirname "$0")/.."
D="${L4Q_DATA:-../shared/data}"
M="$D/models/stories260K"
L4Q=build/l4q
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fails=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; fails=$((fails + 1)); }

# The reference text, verbatim (the final line has no closing quote in the reference either).
cat > "$TMP/ref.txt" <<'REF'
Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.
Lily's mom said, "Lily, let's go to the park." Lily was sad and didn't know what to do. She said, "I want to play with your ball, but I can't find it."
Lily was sad and didn't know what to do. She said, "I'm sorry, Lily. I didn't know what to do."
Lily didn't want to help her mom, so she said, "I'm sorry, mom. I didn't know what to do." Her mom said, "Don't worry, Lily. We can help you.
REF
gen() { "$L4Q" generate --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" "$@" 2>"$TMP/gen.err"; }
for f in stories260K.bin stories260K_v1.bin stories260K.gguf; do
    "$L4Q" generate --model "$M/$f" --tokenizer "$M/tok512.bin" --temperature 0 --steps 256 >"$TMP/out.txt" 2>"$TMP/gen.err"
    if cmp -s "$TMP/out.txt" "$TMP/ref.txt"; then pass "greedy 256 steps from $f = reference text"
    else fail "greedy 256 steps from $f = reference text" "$(diff "$TMP/out.txt" "$TMP/ref.txt" | head -5)"; fi
done
for threads in 1 2; do
    gen --temperature 0 --steps 256 --threads $threads >"$TMP/t.txt"
    cmp -s "$TMP/t.txt" "$TMP/ref.txt" && pass "greedy text with --threads $threads" || fail "greedy text with --threads $threads" "differs"
done

gen --temperature 1 --topp 0.9 --seed 5 --steps 200 >"$TMP/s1.txt"
gen --temperature 1 --topp 0.9 --seed 5 --steps 200 --threads 1 >"$TMP/s2.txt"
gen --temperature 1 --topp 0.9 --seed 6 --steps 200 >"$TMP/s3.txt"
gen --temperature 0.8 --topp 1 --seed 5 --steps 200 >"$TMP/s4.txt"
gen --temperature 0.8 --topp 1 --seed 5 --steps 200 >"$TMP/s5.txt"
[ -s "$TMP/s1.txt" ] && cmp -s "$TMP/s1.txt" "$TMP/s2.txt" && pass "top-p sampling deterministic per seed" || fail "top-p sampling deterministic per seed" "outputs differ"
cmp -s "$TMP/s4.txt" "$TMP/s5.txt" && pass "plain temperature sampling deterministic per seed" || fail "plain temperature sampling deterministic per seed" "outputs differ"
! cmp -s "$TMP/s1.txt" "$TMP/s3.txt" && pass "different seeds give different samples" || fail "different seeds give different samples" "identical"
gen --prompt "Once upon a time, there was a dog" --temperature 0 --steps 64 >"$TMP/p.txt"
head -c 33 "$TMP/p.txt" | grep -qx 'Once upon a time, there was a dog' && [ "$(wc -c <"$TMP/p.txt")" -gt 60 ] \
    && pass "prompt is echoed and continued" || fail "prompt is echoed and continued" "$(head -c 80 "$TMP/p.txt")"

# Bad input: exit 2, exactly one error line (the OpenBLAS core notices aside) naming $2.
bad() { # label, expected substring, command...
    local label="$1" want="$2"; shift 2
    "$L4Q" "$@" >"$TMP/o" 2>"$TMP/e"; local rc=$?
    grep -v -E '^l4q: (OpenBLAS detected|note: OPENBLAS_CORETYPE)' "$TMP/e" >"$TMP/e2"
    if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/e2")" -eq 1 ] && grep -qF -- "$want" "$TMP/e2" && [ ! -s "$TMP/o" ]; then pass "$label"
    else fail "$label" "rc $rc, stderr: $(head -3 "$TMP/e2" | tr '\n' '|') stdout bytes $(wc -c <"$TMP/o")"; fi
}
TXT="$D/tinystories/tinystories_valid_excerpt.txt"
printf 'Once upon a time\n\nthere was \xff\xfe a cat.\n' >"$TMP/bad.txt"
bad "ppl: missing model" "$TMP/none.bin" ppl --model "$TMP/none.bin" --tokenizer "$M/tok512.bin" --data "$TXT"
bad "ppl: missing tokenizer" "$TMP/none.tok" ppl --model "$M/stories260K.bin" --tokenizer "$TMP/none.tok" --data "$TXT"
bad "ppl: missing data" "$TMP/none.txt" ppl --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --data "$TMP/none.txt"
bad "ppl: --seq-len above the model's" "stories260K.bin" ppl --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --data "$TXT" --seq-len 513
bad "ppl: non-UTF-8 text" "$TMP/bad.txt" ppl --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --data "$TMP/bad.txt"
bad "ppl: tokenizer size mismatch" "llama2c_tokenizer.bin" ppl --model "$M/stories260K.bin" --tokenizer "$D/tokenizers/llama2c_tokenizer.bin" --data "$TXT"
bad "ppl: model file that is not a checkpoint" "tok512.bin" ppl --model "$M/tok512.bin" --tokenizer "$M/tok512.bin" --data "$TXT"
bad "generate: missing model" "$TMP/none.bin" generate --model "$TMP/none.bin" --tokenizer "$M/tok512.bin"
bad "generate: missing tokenizer" "$TMP/none.tok" generate --model "$M/stories260K.bin" --tokenizer "$TMP/none.tok"
bad "generate: tokenizer size mismatch" "llama2c_tokenizer.bin" generate --model "$M/stories260K.bin" --tokenizer "$D/tokenizers/llama2c_tokenizer.bin"
head -c 100000 "$M/stories260K.bin" >"$TMP/trunc.bin"
bad "generate: truncated checkpoint" "$TMP/trunc.bin" generate --model "$TMP/trunc.bin" --tokenizer "$M/tok512.bin"
[ $fails -eq 0 ]
