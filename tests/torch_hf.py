# torch_hf.py — Hugging Face LLaMA/Mistral conventions for the oracle tests: a safetensors
# writer (numpy + json + torch for bf16/f16 rounding), HF's q/k permutation
# (convert_llama_weights_to_hf.py), and an independent float64 forward that follows HF's
# modeling_llama: rotate-half RoPE on the permuted weights, Llama-3.1 frequency scaling,
# GQA, RMSNorm, SwiGLU, optional untied head.
import json, math, os
import numpy as np
import torch

DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def permute(w, n_heads):
    """HF's conversion of Meta's interleaved q/k rows to rotate-half order."""
    d1, d2 = w.shape
    return w.view(n_heads, d1 // n_heads // 2, 2, d2).transpose(1, 2).reshape(d1, d2)


def st_bytes(tensors, dtype="F32"):
    """safetensors file bytes of {name: torch tensor}, every tensor stored as dtype."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(DT[dtype]).contiguous().view(torch.int16 if dtype != "F32" else torch.int32).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return len(h).to_bytes(8, "little") + h + b"".join(blobs)


def rounded(tensors, dtype):
    """The values a reader of that dtype sees, as float64."""
    return {k: v.to(DT[dtype]).double() for k, v in tensors.items()}


def write_dir(d, config, tensors, dtype="F32", shards=1):
    """An HF model directory: config.json and model.safetensors (or `shards` files + index)."""
    os.makedirs(d, exist_ok=True)
    json.dump(config, open(os.path.join(d, "config.json"), "w"), indent=1)
    names = list(tensors)
    if shards == 1:
        open(os.path.join(d, "model.safetensors"), "wb").write(st_bytes(tensors, dtype))
        return
    wm = {}
    per = -(-len(names) // shards)
    for s in range(shards):
        fn = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[s * per:(s + 1) * per]}
        open(os.path.join(d, fn), "wb").write(st_bytes(part, dtype))
        wm.update({n: fn for n in part})
    json.dump({"metadata": {"total_size": 0}, "weight_map": wm},
              open(os.path.join(d, "model.safetensors.index.json"), "w"), indent=1)


def from_llama2c(cfg, w):
    """HF config + tensors of a model held in torch_llama's layout (Meta's rotary order)."""
    H, KVH = cfg["n_heads"], cfg["n_kv_heads"]
    t = {"model.embed_tokens.weight": w["tok_emb"]}
    hn = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj", "o": "self_attn.o_proj",
          "gate": "mlp.gate_proj", "up": "mlp.up_proj", "down": "mlp.down_proj"}
    for l in range(cfg["n_layers"]):
        t[f"model.layers.{l}.input_layernorm.weight"] = w["rms_att"][l]
        for p, n in hn.items():
            x = w[p][l]
            if p == "q": x = permute(x, H)
            if p == "k": x = permute(x, KVH)
            t[f"model.layers.{l}.{n}.weight"] = x
        t[f"model.layers.{l}.post_attention_layernorm.weight"] = w["rms_ffn"][l]
    t["model.norm.weight"] = w["rms_final"][0]
    if not cfg["shared"]:
        t["lm_head.weight"] = w["wcls"]
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": cfg["dim"],
              "intermediate_size": cfg["hidden_dim"], "num_hidden_layers": cfg["n_layers"],
              "num_attention_heads": H, "num_key_value_heads": KVH, "vocab_size": cfg["vocab_size"],
              "max_position_embeddings": cfg["seq_len"], "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
              "tie_word_embeddings": cfg["shared"], "hidden_act": "silu", "torch_dtype": "float32",
              "bos_token_id": 1, "eos_token_id": 2}
    return config, t


def inv_freq(config, hs):
    """RoPE inverse frequencies (float64), with rope_scaling type llama3 applied as HF's
    _compute_llama3_parameters does."""
    f = 1.0 / (config.get("rope_theta", 10000.0) ** (np.arange(0, hs, 2, dtype=np.float64) / hs))
    rs = config.get("rope_scaling")
    if rs and rs.get("rope_type", rs.get("type")) == "llama3":
        fac, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        out = []
        for x in f:
            wl = 2 * math.pi / x
            if wl < old / hi:
                out.append(x)
            elif wl > old / lo:
                out.append(x / fac)
            else:
                s = (old / wl - lo) / (hi - lo)
                out.append((1 - s) * x / fac + s * x)
        f = np.array(out)
    return f


def forward(config, t, tokens):
    """Logits [B, T, V] (float64) of int tokens [B, T] with HF tensors t (float64)."""
    B, T = tokens.shape
    D, H = config["hidden_size"], config["num_attention_heads"]
    KVH = config.get("num_key_value_heads", H)
    hs, eps = D // H, config.get("rms_norm_eps", 1e-6)
    f = torch.tensor(inv_freq(config, hs))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * f[None, :]
    emb = torch.cat([ang, ang], -1)
    cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]

    def rot(x):  # rotate_half
        return torch.cat([-x[..., hs // 2:], x[..., :hs // 2]], -1)

    def norm(x, w):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w

    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    x = t["model.embed_tokens.weight"][tokens]
    for l in range(config["num_hidden_layers"]):
        p = lambda n: t[f"model.layers.{l}.{n}.weight"]
        h = norm(x, p("input_layernorm"))
        q = (h @ p("self_attn.q_proj").T).view(B, T, H, hs)
        k = (h @ p("self_attn.k_proj").T).view(B, T, KVH, hs)
        v = (h @ p("self_attn.v_proj").T).view(B, T, KVH, hs)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k, v = k.repeat_interleave(H // KVH, 2), v.repeat_interleave(H // KVH, 2)
        a = torch.softmax(torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(hs) + mask, -1)
        x = x + torch.einsum("bhts,bshd->bthd", a, v).reshape(B, T, D) @ p("self_attn.o_proj").T
        h = norm(x, p("post_attention_layernorm"))
        x = x + (torch.nn.functional.silu(h @ p("mlp.gate_proj").T) * (h @ p("mlp.up_proj").T)) @ p("mlp.down_proj").T
    x = norm(x, t["model.norm.weight"])
    head = t["model.embed_tokens.weight"] if config.get("tie_word_embeddings") else t["lm_head.weight"]
    return x @ head.T


def random_model(arch, dim=64, hidden=96, layers=2, heads=4, kv_heads=2, vocab=61, seq=64, seed=0, **extra):
    """A random untied HF model of the given architecture ("llama" or "mistral")."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s, sc=0.15: torch.randn(*s, generator=g, dtype=torch.float64) * sc
    hs = dim // heads
    t = {"model.embed_tokens.weight": r(vocab, dim, sc=0.5), "model.norm.weight": 1 + r(dim),
         "lm_head.weight": r(vocab, dim, sc=0.5)}
    for l in range(layers):
        pre = f"model.layers.{l}."
        t[pre + "input_layernorm.weight"] = 1 + r(dim)
        t[pre + "post_attention_layernorm.weight"] = 1 + r(dim)
        for n, shp in [("self_attn.q_proj", (dim, dim)), ("self_attn.k_proj", (kv_heads * hs, dim)),
                       ("self_attn.v_proj", (kv_heads * hs, dim)), ("self_attn.o_proj", (dim, dim)),
                       ("mlp.gate_proj", (hidden, dim)), ("mlp.up_proj", (hidden, dim)), ("mlp.down_proj", (dim, hidden))]:
            t[pre + n + ".weight"] = r(*shp)
    config = {"architectures": ["MistralForCausalLM" if arch == "mistral" else "LlamaForCausalLM"],
              "model_type": arch, "hidden_size": dim, "intermediate_size": hidden, "num_hidden_layers": layers,
              "num_attention_heads": heads, "num_key_value_heads": kv_heads, "vocab_size": vocab,
              "max_position_embeddings": seq, "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
              "hidden_act": "silu", "attention_dropout": 0.0, "torch_dtype": "bfloat16"}
    config.update(extra)
    return config, t
