# llamacpp.py — llama.cpp as an oracle for the Python tests: the client built by `make test`
# (tests/llamacpp/llama_client.c against the prebuilt libraries `make llamacpp-deps`
# installs), the same perplexity windows the harness scores, gguf-py from the bundle.
import json, os, subprocess, sys
from testlib import ROOT, run, data

BINS = os.path.join(ROOT, "build", "npm", "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64")
CLIENT = os.path.join(ROOT, "build", "llamacpp", "llama_client")
sys.path.insert(0, os.path.join(ROOT, "build", "llama.cpp", "gguf-py"))
TOK = data("models", "stories260K", "tok512.bin")


def short_text(path, paragraphs):
    """The first `paragraphs` paragraphs of the TinyStories validation excerpt."""
    with open(data("tinystories", "tinystories_valid_excerpt.txt")) as f:
        paras = [p.strip() for p in f.read().split("\n\n") if p.strip()][:paragraphs]
    with open(path, "w") as f:
        f.write("\n\n".join(paras) + "\n")
    return paras


def windows(paras, seq_len, path):
    """The harness's perplexity protocol (README: each paragraph encoded with BOS, concatenated,
    windows of seq_len + 1 overlapping by one) written for llama_client; returns the ids."""
    ids = []
    for p in paras:
        ids += [int(x) for x in run(["tokenize", "--tokenizer", TOK, "--text", p, "--bos"]).stdout.split()]
    wins = [ids[k:k + seq_len + 1] for k in range(0, len(ids) - 1, seq_len)]
    wins = [w for w in wins if len(w) >= 2]
    import numpy as np
    out = [np.int32(len(wins))]
    with open(path, "wb") as f:
        f.write(np.int32(len(wins)).tobytes())
        for w in wins:
            f.write(np.int32(len(w)).tobytes() + np.asarray(w, dtype=np.int32).tobytes())
    return ids


def llama_nll(model, winfile, adapter=None, scale=None):
    env = dict(os.environ, LLAMA_BINS=BINS)
    args = [CLIENT, "nll", model, winfile] + ([adapter] if adapter else []) + ([str(scale)] if scale is not None else [])
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"llama_client failed ({p.returncode}): {p.stderr[-2000:]}")
    return json.loads(p.stdout)


def llama_quantize(src, dst, ftype):
    env = dict(os.environ, LLAMA_BINS=BINS)
    p = subprocess.run([CLIENT, "quantize", src, dst, ftype], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"llama_client quantize failed ({p.returncode}): {p.stderr[-2000:]}")


def harness_ppl(model, text, seq_len):
    return json.loads(run(["ppl", "--model", model, "--tokenizer", TOK, "--data", text, "--seq-len", str(seq_len), "--json"]).stdout)
