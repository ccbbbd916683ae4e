# test_hf_model.py — Hugging Face model directories (core/hf_model.c, core/safetensors.c).
# Oracles: (1) stories260K converted to HF form here (q/k permuted as HF's conversion does)
# must give the llama2.c file's logits (f32, ≤ 1e-5) — and bf16 copies the logits of a
# float64 HF-convention forward on the bf16-rounded weights (≤ 1e-4); (2) random tiny
# Llama-3-style and Mistral-style models (GQA, untied head, rope_theta 500000 / 1e6,
# llama3 RoPE scaling) against tests/torch_hf.py's float64 forward (≤ 1e-4).
import json, os, struct, subprocess, sys, tempfile
import numpy as np
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, data, done, run, ROOT
import torch_llama as tl
import torch_hf as th

DRIVER = os.path.join(ROOT, "build", "tests", "test_model_driver")
TMP = tempfile.mkdtemp(prefix="l4q_test_hf_")
V0 = data("models", "stories260K", "stories260K.bin")


def logits(model, seqs):
    """The harness's logits and mean NLL on int sequences [B, T+1] (test_model_driver dump)."""
    seqs = np.asarray(seqs, dtype="<i4")
    B, T1 = seqs.shape
    tp, op = os.path.join(TMP, "tok.bin"), os.path.join(TMP, "out.bin")
    open(tp, "wb").write(struct.pack("<2i", B, T1 - 1) + seqs.tobytes())
    p = subprocess.run([DRIVER, "dump", model, "none", tp, op], capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(p.stderr)
    b = open(op, "rb").read()
    B, T, V, D = struct.unpack_from("<4i", b, 0)
    lg = np.frombuffer(b, "<f4", B * T * V, 16).reshape(B, T, V)
    loss, = struct.unpack_from("<d", b, 16 + 4 * B * T * V)
    return lg, loss


def nll(lg, seqs):
    lg = torch.tensor(np.asarray(lg, np.float64))
    tg = torch.tensor(np.asarray(seqs)[:, 1:], dtype=torch.long)
    return torch.nn.functional.cross_entropy(lg.reshape(-1, lg.shape[-1]), tg.reshape(-1)).item()


# ---- stories260K as an HF directory ------------------------------------------------------
cfg, w = tl.load_v0(V0)
config, t = th.from_llama2c(cfg, w)
bpe = tl.Bpe(data("models", "stories260K", "tok512.bin"))
text = open(data("tinystories", "tinystories_valid_excerpt.txt"), encoding="utf-8").read()[:4000]
stream = bpe.encode(text)
seqs = np.array([stream[0:129], stream[200:329]])
base, base_loss = logits(V0, seqs)
d32 = os.path.join(TMP, "s260k_f32")
th.write_dir(d32, config, t, "F32")
lg, _ = logits(d32, seqs)
e = np.abs(lg - base).max()
check(e <= 1e-5, f"stories260K HF f32 dir = llama2.c v0 logits (max abs {e:.1e})", f"max abs diff {e:.3e}")
# The same tensors with HF's rotate-half semantics in float64: proves the permutation
# undone by the reader is the one HF's own forward expects.
with torch.no_grad():
    ref = th.forward(config, {k: v.double() for k, v in t.items()}, torch.tensor(seqs[:, :-1], dtype=torch.long)).numpy()
e = np.abs(lg - ref).max()
check(e <= 1e-4, f"stories260K HF f32 dir = float64 HF-convention forward (max abs {e:.1e})", f"max abs diff {e:.3e}")

for dt, shards in [("BF16", 2), ("F16", 1)]:
    d = os.path.join(TMP, f"s260k_{dt}_{shards}")
    th.write_dir(d, config, t, dt, shards)
    lg, loss = logits(d, seqs)
    with torch.no_grad():
        ref = th.forward(config, th.rounded(t, dt), torch.tensor(seqs[:, :-1], dtype=torch.long)).numpy()
    e = np.abs(lg - ref).max()
    check(e <= 1e-4, f"stories260K HF {dt} ({shards} shard(s)) = float64 forward on {dt}-rounded weights (max abs {e:.1e})",
          f"max abs diff {e:.3e}")
    # What the rounding alone does to the loss (stated in the README): the f32 and 16-bit
    # oracles differ by dl; the harness's 16-bit loss must sit within 1e-4 of its oracle.
    dl = abs(nll(ref, seqs) - base_loss)
    check(abs(loss - nll(ref, seqs)) <= 1e-4 and dl < 0.02,
          f"stories260K HF {dt}: loss {loss:.5f} vs f32 {base_loss:.5f} (|d| {abs(loss - base_loss):.1e}, rounding alone {dl:.1e})",
          f"loss {loss} oracle {nll(ref, seqs)} f32 {base_loss}")

r = run(["info", d32, "--json"])
check('"hf-llama safetensors f32"' in r.stdout, "info names the HF format", r.stdout[:300])

# ---- random Llama-3-style and Mistral-style models -------------------------------------
# original_max_position_embeddings 64 puts the head's frequencies in all three llama3
# regimes (kept, smoothed, divided by factor) at hs 16.
cases = [
    ("llama3", th.random_model("llama", rope_theta=500000.0, seed=3,
                               rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                             "high_freq_factor": 4.0, "original_max_position_embeddings": 64})),
    ("mistral", th.random_model("mistral", rope_theta=1000000.0, seed=4, sliding_window=4096, max_position_embeddings=128)),
]
seqs = np.random.default_rng(2).integers(0, 61, (2, 49))
toks = torch.tensor(seqs[:, :-1], dtype=torch.long)
for name, (config, t) in cases:
    for dt in ["F32", "BF16"]:
        d = os.path.join(TMP, f"{name}_{dt}")
        th.write_dir(d, config, t, dt, 2 if dt == "BF16" else 1)
        lg, _ = logits(d, seqs)
        with torch.no_grad():
            ref = th.forward(config, th.rounded(t, dt), toks).numpy()
        e = np.abs(lg - ref).max()
        check(e <= 1e-4, f"{name}-style {dt}: logits = float64 HF forward (max abs {e:.1e})", f"max abs diff {e:.3e}")
    if name == "llama3":
        j = json.loads(run(["info", d, "--json"]).stdout)
        check(j["config"].get("rope_scaling", {}).get("factor") == 8 and j["config"]["rope_theta"] == 500000,
              "info shows rope_theta and the llama3 rope_scaling", str(j["config"]))
    if name == "llama3":  # the scaling must matter at this tolerance, or the check above proves nothing
        plain = dict(config); plain.pop("rope_scaling")
        with torch.no_grad():
            e2 = np.abs(th.forward(plain, th.rounded(t, "F32"), toks).numpy() - ref).max()
        check(e2 > 1e-2, f"llama3 scaling changes these logits by {e2:.1e} (>> tolerance)", f"only {e2:.3e}")

# A Mistral window shorter than the context: sequences are capped at the window.
config, t = th.random_model("mistral", seed=5, sliding_window=16, max_position_embeddings=128)
d = os.path.join(TMP, "mistral_sw16")
th.write_dir(d, config, t)
r = run(["info", d, "--json"], check_rc=False)
check(r.returncode == 0 and '"seq_len":16' in r.stdout.replace(" ", "") and "sliding_window 16" in r.stderr,
      "mistral sliding_window 16 < context: seq_len capped, noted", r.stdout + r.stderr)
try:
    logits(d, np.zeros((1, 21), dtype=int))
    check(False, "mistral window 16: a 20-token sequence is refused", "accepted")
except RuntimeError as ex:
    check("exceeds the model's 16" in str(ex), "mistral window 16: a 20-token sequence is refused", str(ex))

# ---- a directory's own tokenizer ---------------------------------------------------------
# Found without --tokenizer (tokenizer.json first); the same text must give the same loss as
# with the tokenizer named explicitly (tokenizer.model for Mistral, llama.cpp's GGUF
# vocabulary for Llama-3: different files and readers, identical ids).
import shutil
txt = os.path.join(TMP, "text.txt")
open(txt, "w").write(open(data("tinystories", "tinystories_valid_excerpt.txt"), encoding="utf-8").read()[:3000])
T = data("tokenizers")
gg = os.path.join(ROOT, "build", "llama.cpp", "models", "ggml-vocab-llama-bpe.gguf")
for name, vocab, files, other in [("mistral", 32000, [os.path.join(T, "mistral-7b-v0.1", f) for f in ("tokenizer.json", "tokenizer.model")],
                                   os.path.join(T, "mistral-7b-v0.1", "tokenizer.model")),
                                  ("llama", 128256, [os.path.join(T, "llama3", "tokenizer.json")], gg)]:
    config, t = th.random_model(name, dim=16, hidden=24, layers=1, heads=2, kv_heads=1, vocab=vocab, seq=64, seed=7)
    d = os.path.join(TMP, f"{name}_tok")
    th.write_dir(d, config, t, "BF16")
    for f in files:
        shutil.copy(f, d)
    own = run(["ppl", "--model", d, "--data", txt, "--seq-len", "32", "--json"], check_rc=False)
    named = run(["ppl", "--model", d, "--tokenizer", other, "--data", txt, "--seq-len", "32", "--json"], check_rc=False)
    key = lambda r: {k: v for k, v in json.loads(r.stdout).items() if k in ("loss", "tokens", "predicted")} if r.returncode == 0 else r.stderr
    check(own.returncode == 0 and key(own) == key(named),
          f"{name} directory: its own tokenizer is used without --tokenizer (= {os.path.basename(other)})",
          (own.stdout + own.stderr + named.stdout + named.stderr)[:600])

# ---- llama3 scaling survives training and export (l4qz stores it) ----------------------
config, t = th.random_model("llama", dim=32, hidden=48, layers=1, heads=4, kv_heads=2, vocab=512, seq=128, seed=9,
                            rope_theta=500000.0, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                               "high_freq_factor": 4.0, "original_max_position_embeddings": 64})
d = os.path.join(TMP, "llama3_train")
th.write_dir(d, config, t)
tok512 = data("models", "stories260K", "tok512.bin")
cfg = os.path.join(TMP, "run.yaml")
open(cfg, "w").write(f"""model: {d}
tokenizer: {tok512}
data: {{ format: text, train: {txt}, val: {txt} }}
method: {{ name: none }}
train: {{ steps: 0, micro_batch: 2, seq_len: 64 }}
""")
r = run(["train", cfg, "--out", os.path.join(TMP, "run")], check_rc=False)
exp = os.path.join(TMP, "run", "final.l4qz")
a = run(["ppl", "--model", d, "--tokenizer", tok512, "--data", txt, "--seq-len", "64", "--json"], check_rc=False)
b = run(["ppl", "--model", exp, "--tokenizer", tok512, "--data", txt, "--seq-len", "64", "--json"], check_rc=False)
la = json.loads(a.stdout)["loss"] if a.returncode == 0 else None
lb = json.loads(b.stdout)["loss"] if b.returncode == 0 else None
check(r.returncode == 0 and la is not None and la == lb and '"rope_scaling"' in run(["info", exp, "--json"]).stdout,
      f"llama3-scaled HF model -> train -> final.l4qz: same loss ({la} = {lb}), scaling kept", r.stderr[-400:] + a.stderr + b.stderr)

# Exports embed only tokenizers l4qz can hold (SentencePiece scores, llama2.c's id layout):
# the Mistral directory's tokenizer.model yes, its tokenizer.json (merge ranks) no.
config, t = th.random_model("mistral", dim=16, hidden=24, layers=1, heads=2, kv_heads=1, vocab=32000, seq=64, seed=7)
for f, embedded in [("tokenizer.model", True), ("tokenizer.json", False)]:
    d = os.path.join(TMP, f"mistral_export_{f}")
    th.write_dir(d, config, t, "BF16")
    shutil.copy(os.path.join(T, "mistral-7b-v0.1", f), d)
    open(cfg, "w").write(f"""model: {d}
tokenizer: {d}
data: {{ format: text, train: {txt}, val: {txt} }}
method: {{ name: none }}
train: {{ steps: 0, micro_batch: 2, seq_len: 32 }}
""")
    out = os.path.join(TMP, f"run_{f}")
    r = run(["train", cfg, "--out", out], check_rc=False)
    j = json.loads(run(["info", os.path.join(out, "final.l4qz"), "--json"]).stdout) if r.returncode == 0 else {}
    check(j.get("embedded_tokenizer") is embedded, f"mistral {f}: export embeds the tokenizer: {embedded}", r.stderr[-300:] + str(j.get("embedded_tokenizer")))
shutil.rmtree(TMP)
done()
