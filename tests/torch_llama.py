# torch_llama.py — an independent PyTorch LLaMA (llama2.c semantics) used as the oracle for
# the C model: reads/writes llama2.c v0 files, forward with optional LoRA, autograd grads.
#
# Written from the architecture description (docs/design.md "Model and tokenizer"), not from the C code: RMSNorm
# (eps 1e-5), RoPE on interleaved pairs with llama2.c's float32 frequencies (theta 10000),
# causal attention with GQA (query head h reads kv head h // (H / KVH)), SwiGLU FFN
# (down(silu(gate x) * up x)), optional classifier shared with the embedding.
import struct
import numpy as np
import torch
from bpe_llama2c import Bpe, text_stream  # noqa: F401 (re-exported for the tests)

PROJ = ["q", "k", "v", "o", "gate", "up", "down"]


def proj_shape(cfg, p):
    d, hd = cfg["dim"], cfg["hidden_dim"]
    kv = d // cfg["n_heads"] * cfg["n_kv_heads"]
    return {"q": (d, d), "k": (kv, d), "v": (kv, d), "o": (d, d),
            "gate": (hd, d), "up": (hd, d), "down": (d, hd)}[p]


def load_v0(path):
    """Config dict + dict of float32 torch tensors (names as the C model's params)."""
    raw = open(path, "rb").read()
    dim, hd, L, H, KVH, V, T = struct.unpack("<7i", raw[:28])
    shared = V > 0
    V = abs(V)
    cfg = dict(dim=dim, hidden_dim=hd, n_layers=L, n_heads=H, n_kv_heads=KVH, vocab_size=V,
               seq_len=T, shared=shared)
    a = np.frombuffer(raw, dtype="<f4", offset=28)
    off = 0

    def take(*shape):
        nonlocal off
        n = int(np.prod(shape))
        t = torch.tensor(a[off:off + n].reshape(shape).copy())
        off += n
        return t

    w = {"tok_emb": take(V, dim), "rms_att": take(L, dim)}
    for p in ["q", "k", "v", "o"]:
        w[p] = take(L, *proj_shape(cfg, p))
    w["rms_ffn"] = take(L, dim)
    for p in ["gate", "down", "up"]:  # llama2.c order: w1, w2, w3
        w[p] = take(L, *proj_shape(cfg, p))
    w["rms_final"] = take(1, dim)
    off += T * (dim // H)  # freq_cis real + imag (T × hs/2 each); recomputed below
    if not shared:
        w["wcls"] = take(V, dim)
    assert off == a.size, f"{path}: {a.size - off} trailing floats"
    return cfg, w


def write_v0(path, cfg, w):
    """Inverse of load_v0 (freq_cis tables written as llama2.c's export does)."""
    dim, H, T = cfg["dim"], cfg["n_heads"], cfg["seq_len"]
    V = cfg["vocab_size"] * (1 if cfg["shared"] else -1)
    hs = dim // H
    cos, sin = rope_tables(T, hs)
    parts = [w["tok_emb"], w["rms_att"], w["q"], w["k"], w["v"], w["o"], w["rms_ffn"],
             w["gate"], w["down"], w["up"], w["rms_final"], cos, sin]
    if not cfg["shared"]:
        parts.append(w["wcls"])
    with open(path, "wb") as f:
        f.write(struct.pack("<7i", dim, cfg["hidden_dim"], cfg["n_layers"], H, cfg["n_kv_heads"], V, T))
        for t in parts:
            f.write(t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes())


def random_model(dim=32, hidden_dim=48, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=37,
                 seq_len=16, shared=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    cfg = dict(dim=dim, hidden_dim=hidden_dim, n_layers=n_layers, n_heads=n_heads,
               n_kv_heads=n_kv_heads, vocab_size=vocab_size, seq_len=seq_len, shared=shared)
    r = lambda *s, sc=0.2: torch.randn(*s, generator=g) * sc
    w = {"tok_emb": r(vocab_size, dim, sc=0.5), "rms_att": 1 + r(n_layers, dim),
         "rms_ffn": 1 + r(n_layers, dim), "rms_final": 1 + r(1, dim)}
    for p in PROJ:
        w[p] = r(n_layers, *proj_shape(cfg, p))
    if not shared:
        w["wcls"] = r(vocab_size, dim, sc=0.5)
    return cfg, w


def rope_tables(T, hs, theta=10000.0):
    """cos/sin [T, hs/2]: frequency and angle in float32 like llama2.c, cos/sin rounded once."""
    j = np.arange(0, hs, 2, dtype=np.float32)
    freq = (np.float32(1.0) / np.power(np.float32(theta), j / np.float32(hs))).astype(np.float32)
    val = (np.arange(T, dtype=np.float32)[:, None] * freq[None, :]).astype(np.float32)
    return (torch.tensor(np.cos(val.astype(np.float64)).astype(np.float32)),
            torch.tensor(np.sin(val.astype(np.float64)).astype(np.float32)))


def rmsnorm(x, w, eps=1e-5):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rope(x, cos, sin):
    # x [B, T, heads, hs]; pairs (2i, 2i+1) rotate by angle pos·freq_i.
    B, T, nh, hs = x.shape
    xr = x.reshape(B, T, nh, hs // 2, 2)
    a, b = xr[..., 0], xr[..., 1]
    c, s = cos[:T][None, :, None, :], sin[:T][None, :, None, :]
    return torch.stack([a * c - b * s, a * s + b * c], -1).reshape(B, T, nh, hs)


def forward(cfg, w, tokens, lora=None, x0=None, matmul=None):
    """Logits [B, T, V] of int tokens [B, T]. lora: {(layer, proj): (A, B, scale)} adds
    scale·(x Aᵀ) Bᵀ to that projection. x0: the embedding output to use (a leaf for the
    input gradient); default the looked-up embeddings. matmul(layer, proj, x): a projection's
    product computed some other way (e.g. emulating llama.cpp's quantized kernels)."""
    B, T = tokens.shape
    dim, H, KVH = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
    hs = dim // H
    cos, sin = rope_tables(T, hs)
    x = w["tok_emb"][tokens] if x0 is None else x0
    mask = torch.full((T, T), float("-inf")).triu(1)

    def lin(l, p, inp):
        y = matmul(l, p, inp) if matmul else inp @ w[p][l].T
        if lora and (l, p) in lora:
            A, Bm, sc = lora[(l, p)]
            y = y + sc * ((inp @ A.T) @ Bm.T)
        return y

    for l in range(cfg["n_layers"]):
        h = rmsnorm(x, w["rms_att"][l])
        q = rope(lin(l, "q", h).view(B, T, H, hs), cos, sin)
        k = rope(lin(l, "k", h).view(B, T, KVH, hs), cos, sin)
        v = lin(l, "v", h).view(B, T, KVH, hs)
        rep = H // KVH
        k = k.repeat_interleave(rep, dim=2)
        v = v.repeat_interleave(rep, dim=2)
        att = torch.einsum("bthd,bshd->bhts", q, k) / (hs ** 0.5) + mask
        att = torch.softmax(att, -1)
        o = torch.einsum("bhts,bshd->bthd", att, v).reshape(B, T, dim)
        x = x + lin(l, "o", o)
        h = rmsnorm(x, w["rms_ffn"][l])
        g = lin(l, "gate", h)
        x = x + lin(l, "down", torch.nn.functional.silu(g) * lin(l, "up", h))
    x = rmsnorm(x, w["rms_final"][0])
    return x @ (w["tok_emb"] if cfg["shared"] else w["wcls"]).T


def mean_nll(logits, targets):
    V = logits.shape[-1]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))


def windows_nll(cfg, w, stream, T):
    """Mean NLL over README "Perplexity protocol" windows (seq_len+1 tokens overlapping by one) of a stream."""
    total, count = 0.0, 0
    for s in range(0, len(stream) - 1, T):
        win = stream[s:s + T + 1]
        if len(win) < 2:
            break
        x = torch.tensor([win[:-1]])
        y = torch.tensor(win[1:])
        with torch.no_grad():
            lg = forward(cfg, w, x)[0]
        total += torch.nn.functional.cross_entropy(lg, y, reduction="sum").item()
        count += len(win) - 1
    return total / count, count
