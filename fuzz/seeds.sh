#!/usr/bin/env bash
# seeds.sh OUT — seed corpora for the fuzz targets from the real files: the data under
# $L4Q_DATA (models, tokenizers, task data, Alpaca), the repository's YAML files, and
# small models/checkpoints/run logs made by build/l4q itself. Seeds are kept small (tiny
# shapes, excerpts) so every target runs at a useful rate within fuzz/run.sh's -max_len;
# the real stories260K files are seeds too (run.sh cuts what exceeds max_len).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/fuzz/corpus}
D=${L4Q_DATA:-$(cd .. && pwd)/shared/data}
PY=${PY:-/usr/bin/python3}
export L4Q_THREADS=1
rm -rf "$OUT"; mkdir -p "$OUT"/{llama2c,gguf,l4qz,hf,tokenizer,encode,config,task,taskdata,traindata,traindocs,ckpt,runlog}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT

# Tiny llama2.c v0 and v1 files (vocab 512 to match tok512.bin; random weights). The
# shape is fuzz_ckpt.c's TINY: its checkpoint seed is trained on this model below.
$PY - "$W" <<'PY'
import random, struct, sys
w = sys.argv[1]; r = random.Random(0)
dim, hid, L, H, KV, V, T = 8, 16, 1, 2, 1, 512, 16
kvd = dim * KV // H
def f(n): return struct.pack(f"<{n}f", *[r.uniform(-0.1, 0.1) for _ in range(n)])
def ones(n): return struct.pack(f"<{n}f", *[1.0] * n)
proj = {"q": dim*dim, "k": kvd*dim, "v": kvd*dim, "o": dim*dim, "gate": hid*dim, "down": dim*hid, "up": hid*dim}
body0 = f(V*dim) + ones(L*dim) + f(proj["q"]) + f(proj["k"]) + f(proj["v"]) + f(proj["o"]) + ones(L*dim) \
      + f(proj["gate"]) + f(proj["down"]) + f(proj["up"]) + ones(dim) + f(T * (dim // H))
open(f"{w}/tiny_v0.bin", "wb").write(struct.pack("<7i", dim, hid, L, H, KV, V, T) + body0)
hdr = struct.pack("<Ii7iB", 0x616b3432, 1, dim, hid, L, H, KV, V, T, 1).ljust(256, b"\0")
body1 = ones(L*dim) + ones(L*dim) + ones(dim) + f(V*dim) + b"".join(f(proj[k]) for k in ["q","k","v","o","gate","down","up"])
open(f"{w}/tiny_v1.bin", "wb").write(hdr + body1)
PY
cp "$W"/tiny_v0.bin "$W"/tiny_v1.bin "$D"/models/stories260K/stories260K_q8_v2.bin "$OUT/llama2c/"
cp "$D"/models/stories260K/stories260K.gguf "$OUT/gguf/"

# hf: config.json, an optional index and one safetensors file, length-prefixed as
# fuzz_hf.c reads them, from tests/torch_hf.py's random models: F32, F16, BF16 with an
# index, tied embeddings, Mistral with a sliding window, Llama-3.1 rope scaling.
$PY - "$OUT/hf" <<'PY'
import json, struct, sys
sys.path.insert(0, "tests")
import torch_hf as th
out = sys.argv[1]
def pack(name, config, tensors, dtype="F32", index=False):
    c, st = json.dumps(config).encode(), th.st_bytes(tensors, dtype)
    wm = {n: "model-00001-of-00001.safetensors" for n in tensors}
    idx = json.dumps({"metadata": {"total_size": 0}, "weight_map": wm}).encode() if index else b""
    open(f"{out}/{name}", "wb").write(struct.pack("<I", len(c)) + c + struct.pack("<I", len(idx)) + idx + st)
shape = dict(dim=8, hidden=16, layers=1, heads=2, kv_heads=1, vocab=11, seq=16)
cfg, t = th.random_model("llama", **shape)
pack("llama_f32", cfg, t); pack("llama_f16", cfg, t, "F16"); pack("llama_bf16_index", cfg, t, "BF16", index=True)
tied = dict(t); del tied["lm_head.weight"]
pack("llama_tied", dict(cfg, tie_word_embeddings=True), tied)
pack("mistral_window", *th.random_model("mistral", sliding_window=8, **shape))
rs = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8}
pack("llama31_rope", *th.random_model("llama", rope_scaling=rs, rope_theta=500000.0, **shape), "BF16")
PY

# l4qz (fp32 and 4-bit L4Q) and GGUF from the tiny model, through train + export.
cat > "$W/c.yaml" <<Y
model: $W/tiny_v0.bin
tokenizer: $D/models/stories260K/tok512.bin
data: { format: text, train: $D/tinystories/tinystories_valid_excerpt.txt }
method: { name: none }
train: { steps: 0, micro_batch: 1, seq_len: 8 }
Y
build/l4q train "$W/c.yaml" --out "$W/none" >/dev/null
build/l4q train "$W/c.yaml" --out "$W/l4q" --set method.name=l4q --set method.group_size=8 --set train.steps=1 >/dev/null
cp "$W/none/final.l4qz" "$OUT/l4qz/tiny_fp32.l4qz"; cp "$W/l4q/final.l4qz" "$OUT/l4qz/tiny_l4q4.l4qz"
# l4qz version 2: a LoRA run on a bf16 base deploys W0 as stored (DEP_BF16) + the branch.
$PY - "$W/tiny_bf16" <<'PY'
import sys
sys.path.insert(0, "tests")
import torch_hf as th
th.write_dir(sys.argv[1], *th.random_model("llama", dim=8, hidden=16, layers=1, heads=2, kv_heads=1, vocab=512, seq=16), "BF16")
PY
build/l4q train "$W/c.yaml" --out "$W/lora_bf16" --set model="$W/tiny_bf16" --set method.name=lora --set method.rank=2 --set train.steps=1 >/dev/null
cp "$W/lora_bf16/final.l4qz" "$OUT/l4qz/tiny_lora_bf16.l4qz"
build/l4q export "$W/none" --format gguf --out "$OUT/gguf/tiny.gguf" >/dev/null

# ckpt.bin and run.h5 of the LoRA run fuzz_ckpt expects (the tiny model, rank 2, 7 targets).
cat > "$W/lora.yaml" <<Y
model: $W/tiny_v0.bin
tokenizer: $D/models/stories260K/tok512.bin
data: { format: text, train: $D/tinystories/tinystories_valid_excerpt.txt }
method: { name: lora, rank: 2 }
train: { steps: 4, micro_batch: 1, seq_len: 8 }
eval: { every: 2, val_batches: 1 }
Y
build/l4q train "$W/lora.yaml" --out "$W/lora" --stop-at 2 >/dev/null || true
cp "$W/lora/ckpt.bin" "$OUT/ckpt/"
build/l4q train "$W/lora.yaml" --out "$W/lora16" --set train.optim_state=bf16 --stop-at 2 >/dev/null || true
cp "$W/lora16/ckpt.bin" "$OUT/ckpt/ckpt_bf16_state.bin"
cp "$W/lora/run.h5" "$OUT/runlog/"
cp "$D"/corrupt/*.h5 "$OUT/runlog/" 2>/dev/null || true

cp "$D/models/stories260K/tok512.bin" "$D/tokenizers/llama2c_tokenizer.bin" "$OUT/tokenizer/"
# The other tokenizer formats (core/tok_files.c), cut down from the real files to their
# first N ids (and the merges among them): HF tokenizer.json in SentencePiece style
# (Mistral) and byte-level style (Llama 3), SentencePiece tokenizer.model (Llama 2).
$PY - "$D/tokenizers" "$OUT/tokenizer" <<'PY'
import json, sys
src, out = sys.argv[1], sys.argv[2]
def cut_json(path, n, dst):
    j = json.load(open(path))
    m = j["model"]
    m["vocab"] = {k: v for k, v in m["vocab"].items() if v < n}
    def ok(mg):
        a, b = mg.split(" ", 1) if isinstance(mg, str) else mg
        return a in m["vocab"] and b in m["vocab"] and a + b in m["vocab"]
    m["merges"] = [mg for mg in m["merges"] if ok(mg)]
    j["added_tokens"] = [a for a in j["added_tokens"] if a["id"] < n]
    json.dump(j, open(dst, "w"), ensure_ascii=False)
cut_json(f"{src}/mistral-7b-v0.1/tokenizer.json", 400, f"{out}/mistral400.json")
cut_json(f"{src}/llama3/tokenizer.json", 400, f"{out}/llama3_400.json")
# tokenizer.model: a protobuf; keep every non-piece field and the first 400 pieces (field 1).
b = open(f"{src}/llama2_tokenizer.model", "rb").read()
def varint(i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 127) << s; s += 7
        if c < 128: return v, i
i, keep, pieces = 0, bytearray(), 0
while i < len(b):
    start = i
    key, i = varint(i)
    wt = key & 7
    if wt == 0: _, i = varint(i)
    elif wt == 1: i += 8
    elif wt == 5: i += 4
    elif wt == 2: n, i = varint(i); i += n
    if key >> 3 != 1 or pieces < 400: keep += b[start:i]
    pieces += key >> 3 == 1
open(f"{out}/llama2_400.model", "wb").write(keep)
PY
head -c 2048 "$D/tinystories/tinystories_valid_excerpt.txt" > "$OUT/encode/tinystories"
printf 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' > "$OUT/encode/run"
printf 'caf\xc3\xa9 \xe2\x96\x81 \xf0\x9f\x98\x80 \xff\xfe\x80 \n\n<0x0A>' > "$OUT/encode/bytes"

cp experiments/configs/*.yaml experiments/*.yaml "$OUT/config/"
cp evals/tasks/*.yaml "$OUT/task/"
# taskdata: first byte picks the format (fuzz_taskdata.c's SPECS order).
seed() { { printf "\\x$(printf %02x "$1")"; head -c "${3:-4096}" "$2"; } > "$OUT/taskdata/$(basename "$2").$1"; }
seed 0 "$(ls "$D"/piqa/*.jsonl | head -1)"
seed 1 "$(ls "$D"/arc/*.json | head -1)" 6000
seed 2 "$(ls "$D"/mmlu/*.csv 2>/dev/null | head -1 || ls "$D"/mmlu/*/*.csv | head -1)"
seed 4 "$D/hellaswag/hellaswag_val_full.txt"
seed 5 "$(ls "$D"/arc/*.json | head -1)" 6000
seed 6 "$(ls "$D"/boolq/*.jsonl | head -1)"
seed 7 "$D/tinystories/tinystories_valid_excerpt.txt"
# traindata: first byte picks the reader (fuzz_traindata.c): 0/1 Alpaca, 2 text.
$PY -c "import json,sys; json.dump(json.load(open(sys.argv[1]))[:3], open(sys.argv[2],'w'))" "$D/alpaca/alpaca_data_1k.json" "$W/alpaca3.json"
for m in 0 1; do { printf "\\x0$m"; cat "$W/alpaca3.json"; } > "$OUT/traindata/alpaca3.$m"; done
{ printf '\x02'; head -c 2000 "$D/tinystories/tinystories_train_excerpt.txt"; } > "$OUT/traindata/text"
# traindocs: first byte = format (0 text, 1 jsonl, 2 json) + 4 to be its own validation text.
{ printf '\x00'; head -c 1500 "$D/tinystories/tinystoriesV2_gpt4_train_prefix.txt"; } > "$OUT/traindocs/text"
{ printf '\x05'; head -n 2 "$D/tinystories/tinystories_gpt4clean_5k.jsonl" | head -c 1500; } > "$OUT/traindocs/jsonl"
{ printf '\x01'; printf '{"text": "a\\nb"}\n\n{"id": 1, "text": "caf\\u00e9"}\n'; } > "$OUT/traindocs/jsonl_small"
{ printf '\x02'; printf '["x", "y z", "\\u0041"]'; } > "$OUT/traindocs/json_list"
{ printf '\x06'; printf '{"text": ["one story here", "two"], "n": 2}'; } > "$OUT/traindocs/json_object"
for t in "$OUT"/*; do echo "$(basename "$t"): $(ls "$t" | wc -l) seeds"; done
