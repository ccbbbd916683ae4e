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
    with open(path, "wb") as f:
        f.write(np.int32(len(wins)).tobytes())
        for w in wins:
            f.write(np.int32(len(w)).tobytes() + np.asarray(w, dtype=np.int32).tobytes())
    return wins


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


# ---- llama.cpp's CPU arithmetic, emulated in float64 over tests/torch_llama.py ----------
# What separates llama.cpp's NLL from the harness's on the same weights is how its CPU
# kernels treat activations (ggml-cpu: ggml_vec_dot_q4_1_q8_1 after quantize_row_q8_1, AVX2
# path; F16 weights: activations converted to fp16). Reproducing that arithmetic predicts
# llama.cpp's number independently of both programs.
GNAME = {"q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output", "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}


def _f16(a):
    import numpy as np
    with np.errstate(over="ignore"):
        return a.astype(np.float32).astype(np.float16).astype(np.float64)


def _q8_1(x):
    """Activation rows [N, in] → (q8 [N, nb, 32], d8 [N, nb], s8 [N, nb]) as quantize_row_q8_1."""
    import numpy as np
    xb = x.astype(np.float32).reshape(x.shape[0], -1, 32)
    amax = np.abs(xb).max(-1)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(amax != 0, np.float32(127) / amax, np.float32(0)).astype(np.float32)
    q = np.rint((xb * idv[..., None]).astype(np.float32))  # _MM_ROUND_NEAREST: ties to even
    s = (d * q.sum(-1).astype(np.float32)).astype(np.float32)
    return q.astype(np.float64), _f16(d), _f16(s)


def emulate_nll(model, win_ids, adapter=None, act_quant=True):
    """Mean NLL over windows (lists of ids) of a GGUF (+ LoRA adapter), computed in float64
    with llama.cpp's activation quantization (act_quant) or without it (exact products)."""
    import numpy as np, torch
    import gguf, torch_llama as tl
    from gguf import GGMLQuantizationType as QT
    r = gguf.GGUFReader(model)
    kv = lambda k: r.fields[k].contents()
    cfg = dict(dim=int(kv("llama.embedding_length")), hidden_dim=int(kv("llama.feed_forward_length")),
               n_layers=int(kv("llama.block_count")), n_heads=int(kv("llama.attention.head_count")),
               n_kv_heads=int(kv("llama.attention.head_count_kv")))
    T = {t.name: t for t in r.tensors}
    cfg["shared"] = "output.weight" not in T
    deq = lambda t: np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float64).reshape(
        [int(x) for x in reversed(t.shape)])
    L = cfg["n_layers"]
    w = {"tok_emb": torch.tensor(deq(T["token_embd.weight"])),
         "rms_att": torch.tensor(np.stack([deq(T[f"blk.{l}.attn_norm.weight"]) for l in range(L)])),
         "rms_ffn": torch.tensor(np.stack([deq(T[f"blk.{l}.ffn_norm.weight"]) for l in range(L)])),
         "rms_final": torch.tensor(deq(T["output_norm.weight"])[None])}
    if not cfg["shared"]: w["wcls"] = torch.tensor(deq(T["output.weight"]))
    blocks = {}
    for p, g in GNAME.items():
        w[p] = torch.tensor(np.stack([deq(T[f"blk.{l}.{g}.weight"]) for l in range(L)]))
        for l in range(L):
            t = T[f"blk.{l}.{g}.weight"]
            if t.tensor_type == QT.Q4_1:
                b = np.asarray(t.data).reshape(int(t.shape[1]), -1, 20)
                d4 = b[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float64)
                m4 = b[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float64)
                qs = b[..., 4:]
                q4 = np.concatenate([qs & 0x0F, qs >> 4], -1).astype(np.float64)
                blocks[(l, p)] = (d4, m4, q4)
            blocks.setdefault((l, p, "type"), t.tensor_type)
    lora = None
    if adapter:
        ra = gguf.GGUFReader(adapter)
        alpha = float(ra.fields["adapter.lora.alpha"].contents())
        A = {t.name: t for t in ra.tensors}
        lora = {}
        for l in range(L):
            for p, g in GNAME.items():
                n = f"blk.{l}.{g}.weight"
                if n + ".lora_a" in A:
                    a, bm = deq(A[n + ".lora_a"]), deq(A[n + ".lora_b"])
                    lora[(l, p)] = (torch.tensor(a), torch.tensor(bm), alpha / a.shape[0])

    def matmul(l, p, x):
        shp = x.shape
        x2 = x.reshape(-1, shp[-1]).numpy()
        ty = blocks[(l, p, "type")]
        if act_quant and (l, p) in blocks:
            d4, m4, q4 = blocks[(l, p)]
            q8, d8, s8 = _q8_1(x2)
            y = np.einsum("rk,nk,nrk->nr", d4, d8, np.einsum("nkj,rkj->nrk", q8, q4)) + np.einsum("rk,nk->nr", m4, s8)
        elif act_quant and ty == QT.F16:
            y = _f16(x2) @ w[p][l].numpy().T
        else:
            y = x2 @ w[p][l].numpy().T
        return torch.tensor(y).reshape(*shp[:-1], -1)

    tot, cnt = 0.0, 0
    with torch.no_grad():
        for ids in win_ids:
            tok = torch.tensor([ids])
            logits = tl.forward(cfg, w, tok[:, :-1], lora=lora, matmul=matmul)
            lp = torch.log_softmax(logits[0], -1)
            tot -= float(lp[torch.arange(len(ids) - 1), tok[0, 1:]].sum())
            cnt += len(ids) - 1
    return tot / cnt


def rewrite_gguf(src, dst, convert):
    """Copy GGUF src to dst through gguf-py, each tensor replaced by convert(name, float32
    array [rows, cols]) → (array, ggml type): float arrays are written as is (F32), block
    bytes (uint8) as that raw type."""
    import numpy as np, gguf
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, str(r.fields["general.architecture"].contents()))
    for f in r.fields.values():
        if f.name.startswith("GGUF.") or f.name == "general.architecture": continue
        vt = f.types[0]
        if vt == gguf.GGUFValueType.ARRAY: w.add_key_value(f.name, f.contents(), vt, sub_type=f.types[-1])
        else: w.add_key_value(f.name, f.contents(), vt)
    for t in r.tensors:
        a = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32).reshape([int(x) for x in reversed(t.shape)])
        arr, ty = convert(t.name, a, t)
        if arr.dtype == np.uint8: w.add_tensor(t.name, arr, raw_dtype=ty)
        else: w.add_tensor(t.name, arr)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
