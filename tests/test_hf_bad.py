# test_hf_bad.py — damaged or unsupported Hugging Face model directories: every case must
# end with exit 2 and one stderr line naming the file (or directory) and the problem, in
# the normal and the ASan/UBSan build (build/asan/l4q).
import json, os, shutil, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, ROOT
import torch_hf as th

TMP = tempfile.mkdtemp(prefix="l4q_test_hf_bad_")
BINS = [b for b in [os.path.join(ROOT, "build", "l4q"), os.path.join(ROOT, "build", "asan", "l4q")] if os.path.exists(b)]
config, tensors = th.random_model("llama", dim=16, hidden=24, layers=1, heads=2, kv_heads=1, vocab=11, seq=32)
n = [0]


def case(name, mutate, expect, shards=1):
    """Writes a good directory, applies mutate(dir), runs `l4q info` on it."""
    n[0] += 1
    d = os.path.join(TMP, f"c{n[0]}")
    th.write_dir(d, json.loads(json.dumps(config)), dict(tensors), "F32", shards)
    mutate(d)
    for b in BINS:
        p = subprocess.run([b, "info", d], capture_output=True, text=True)
        lines = [l for l in p.stderr.splitlines() if not l.startswith("l4q: OpenBLAS detected")]
        tag = "asan " if "asan" in b else ""
        check(p.returncode == 2 and len(lines) == 1 and expect in lines[0] and d in lines[0],
              f"{tag}{name} -> exit 2: {lines[0] if lines else ''}", f"rc {p.returncode}: {p.stderr.strip()[:400]}")


def st(d, fn="model.safetensors"):
    return os.path.join(d, fn)


def edit_header(d, fn, f):
    """Rewrites a safetensors header through f(header dict), keeping the data bytes."""
    b = open(st(d, fn), "rb").read()
    hn = int.from_bytes(b[:8], "little")
    h = json.loads(b[8:8 + hn])
    f(h)
    nh = json.dumps(h).encode()
    open(st(d, fn), "wb").write(len(nh).to_bytes(8, "little") + nh + b[8 + hn:])


def edit_config(f):
    def m(d):
        c = json.load(open(os.path.join(d, "config.json")))
        f(c)
        json.dump(c, open(os.path.join(d, "config.json"), "w"))
    return m


def truncate(k):
    def m(d):
        b = open(st(d), "rb").read()
        open(st(d), "wb").write(b[:k] if k >= 0 else b[:len(b) + k])
    return m


Q = "model.layers.0.self_attn.q_proj.weight"
K = "model.layers.0.self_attn.k_proj.weight"
case("empty safetensors", truncate(0), "truncated")
case("header length past the file", truncate(200), "header length")
case("data truncated", truncate(-10), "run past the end")
case("stray bytes after the data", lambda d: open(st(d), "ab").write(b"\0" * 8), "unexpected extra bytes")
case("header not JSON", lambda d: open(st(d), "r+b").write(b"\x10\0\0\0\0\0\0\0{{{{{{{{{{{{{{{{"), "not a JSON object")
case("overlapping offsets", lambda d: edit_header(d, "model.safetensors", lambda h: h[K].update(data_offsets=[
    h[Q]["data_offsets"][0], h[Q]["data_offsets"][0] + h[K]["data_offsets"][1] - h[K]["data_offsets"][0]])), "overlaps")
case("offsets out of range", lambda d: edit_header(d, "model.safetensors", lambda h: h[Q].update(data_offsets=[10**9, 10**9 + 1024])), "run past the end")
case("offsets reversed", lambda d: edit_header(d, "model.safetensors", lambda h: h[Q].update(data_offsets=[100, 50])), "data_offsets")
case("dtype/shape mismatch", lambda d: edit_header(d, "model.safetensors", lambda h: h[Q].update(dtype="BF16")), "need")
case("shape vs offsets mismatch", lambda d: edit_header(d, "model.safetensors", lambda h: h[Q].update(shape=[16, 15])), "need")
case("unknown dtype", lambda d: edit_header(d, "model.safetensors", lambda h: h[Q].update(dtype="Q4")), "unknown dtype")
case("integer weight dtype", lambda d: edit_header(d, "model.safetensors", lambda h: h[Q].update(dtype="I32")), "only F32, F16 and BF16")
case("tensor shape vs config", lambda d: edit_header(d, "model.safetensors", lambda h: h[Q].update(shape=[8, 32])), "config.json implies")
case("tensor missing", lambda d: edit_header(d, "model.safetensors", lambda h: h.update({"lm_head.weightX": h.pop("lm_head.weight")})),
     "'lm_head.weight' is missing")
case("non-finite weight", lambda d: open(st(d), "r+b").write(b"") or (lambda b: open(st(d), "wb").write(b[:-4] + b"\0\0\xc0\x7f"))(open(st(d), "rb").read()),
     "non-finite")


def drop_shard(d):
    os.remove(st(d, "model-00002-of-00002.safetensors"))


def index_extra(d):
    p = os.path.join(d, "model.safetensors.index.json")
    j = json.load(open(p)); j["weight_map"]["model.layers.0.extra.weight"] = "model-00001-of-00002.safetensors"
    json.dump(j, open(p, "w"))


def index_wrong_shard(d):
    p = os.path.join(d, "model.safetensors.index.json")
    j = json.load(open(p)); j["weight_map"][list(j["weight_map"])[-1]] = "model-00001-of-00002.safetensors"
    json.dump(j, open(p, "w"))


case("missing shard", drop_shard, "is missing", shards=2)
case("index names a tensor not there", index_extra, "does not hold it", shards=2)
case("index points at the wrong shard", index_wrong_shard, "the index puts", shards=2)
case("index not JSON", lambda d: open(os.path.join(d, "model.safetensors.index.json"), "w").write("[1,"), "weight_map", shards=2)
case("no weights", lambda d: os.remove(st(d)), "no model.safetensors")
case("no config.json", lambda d: os.remove(os.path.join(d, "config.json")), "config.json is missing")
case("config not JSON", lambda d: open(os.path.join(d, "config.json"), "w").write("{"), "not a JSON object")
case("config: hidden_size missing", edit_config(lambda c: c.pop("hidden_size")), "'hidden_size' is missing")
case("config: heads do not divide", edit_config(lambda c: c.update(num_attention_heads=3)), "not a multiple of num_attention_heads")
case("config: kv heads do not divide", edit_config(lambda c: c.update(num_key_value_heads=3, num_attention_heads=2)), "num_key_value_heads")
case("config: negative size", edit_config(lambda c: c.update(intermediate_size=-4)), "'intermediate_size' must be a positive integer")
case("config: head_dim contradicts", edit_config(lambda c: c.update(head_dim=4)), "head_dim")
case("config: vocab_size contradicts the embedding", edit_config(lambda c: c.update(vocab_size=12)), "config.json implies")
case("config: unsupported architecture", edit_config(lambda c: c.update(architectures=["Qwen2ForCausalLM"])), "Qwen2ForCausalLM")
case("config: model_type contradicts", edit_config(lambda c: c.update(model_type="mistral")), "contradicts")
case("config: unsupported key", edit_config(lambda c: c.update(quantization_config={"bits": 4})), "'quantization_config'")
case("config: rope_scaling yarn", edit_config(lambda c: c.update(rope_scaling={"rope_type": "yarn", "factor": 4.0})), "yarn")
case("config: llama3 scaling incomplete", edit_config(lambda c: c.update(rope_scaling={"rope_type": "llama3", "factor": 8.0})), "low_freq_factor")
case("config: hidden_act gelu", edit_config(lambda c: c.update(hidden_act="gelu")), "hidden_act")
case("config: attention_bias", edit_config(lambda c: c.update(attention_bias=True)), "attention_bias")
case("config: sliding_window on llama", edit_config(lambda c: c.update(sliding_window=8)), "sliding_window")
case("config: tied head differs", edit_config(lambda c: c.update(tie_word_embeddings=True)), "tie_word_embeddings")
case("unexpected tensor", lambda d: edit_header(d, "model.safetensors", lambda h: h.update({"model.layers.0.self_attn.q_proj.bias": h.pop("lm_head.weight")}))
     or edit_config(lambda c: c.update(tie_word_embeddings=True))(d), "not part of the supported")
shutil.rmtree(TMP)
done()
