# test_half.py — 16-bit weights against independent references:
#   * f16/bf16 -> f32 of all 65536 patterns and f32 -> f16/bf16 (round to nearest even,
#     subnormals, overflow, NaN) equal numpy's float16 and torch's bfloat16 conversions;
#   * a tiny random LLaMA written as a GGUF with F16 (and one with BF16) projections and
#     embeddings, and as Hugging Face directories in BF16 (two shards) and F16 (q/k rows
#     permuted as HF's conversion does), gives logits, loss and every gradient bit for bit
#     equal to the same values written as fp32 (llama2.c v0), for none, lora, l4q,
#     qat_lora, full and lsq — the
#     16-bit model is widened exactly, and the fp32 model's gradients are the ones
#     tests/test_model.py and tests/test_l4q.py check against PyTorch;
#   * `info --json` reports the 16-bit dtypes and bytes; a NaN in a 16-bit tensor and a
#     truncated 16-bit GGUF are refused with one line naming the file.
import os, struct, subprocess, tempfile
import numpy as np
import torch
from testlib import ROOT, L4Q, check, done, run_json
import torch_llama as tl
import torch_hf as th

TMP = tempfile.mkdtemp(prefix="l4q_test_half_")
HALF = os.path.join(ROOT, "build", "tests", "test_half")
DRIVER = os.path.join(ROOT, "build", "tests", "test_model_driver")


# ---- conversions -------------------------------------------------------------------------
edge = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, 1e6, -1e6, 6.1035156e-05, 6.1e-05,
        5.9604645e-08, 2.9802322e-08, 2.98e-08, 8.9e-08, 1e-10, 3.3895314e38, 3.39e38,
        float("inf"), float("-inf"), 1.00048828125, 1.00146484375, 1 + 2 ** -8, 1 + 3 * 2 ** -8]
vals = np.concatenate([np.array(edge, np.float32),
                       np.random.default_rng(0).standard_normal(20000).astype(np.float32) * 10.0 ** np.random.default_rng(1).integers(-9, 6, 20000),
                       np.frombuffer(np.random.default_rng(2).integers(0, 2 ** 32, 20000, dtype=np.uint32).tobytes(), np.float32)])
vals = vals.astype(np.float32)
vals = vals[~np.isnan(vals)]
vp, op = os.path.join(TMP, "vals.bin"), os.path.join(TMP, "conv.bin")
vals.astype("<f4").tofile(vp)
subprocess.run([HALF, "conv", vp, op], check=True)
out = open(op, "rb").read()
n = len(vals)
w16 = np.frombuffer(out, "<f4", 65536, 0)
wbf = np.frombuffer(out, "<f4", 65536, 4 * 65536)
n16 = np.frombuffer(out, "<u2", n, 8 * 65536)
nbf = np.frombuffer(out, "<u2", n, 8 * 65536 + 2 * n)
pat = np.arange(65536, dtype=np.uint16)


def same_f32(a, b):  # bitwise, any NaN matching any NaN
    na, nb = np.isnan(a), np.isnan(b)
    return np.array_equal(na, nb) and np.array_equal(a[~na].view(np.uint32), b[~nb].view(np.uint32))


ref16 = pat.view(np.float16).astype(np.float32)
refbf = torch.from_numpy(pat.view(np.int16).copy()).view(torch.bfloat16).float().numpy()
check(same_f32(w16, ref16), "f16 -> f32 of all 65536 patterns = numpy float16")
check(same_f32(wbf, refbf), "bf16 -> f32 of all 65536 patterns = torch bfloat16")
r16 = vals.astype(np.float16).view(np.uint16)
rbf = torch.from_numpy(vals).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
bad16, badbf = np.flatnonzero(n16 != r16), np.flatnonzero(nbf != rbf)
check(bad16.size == 0, f"f32 -> f16 of {n} values (halfway, subnormal, overflow cases) = numpy float16",
      f"{bad16.size} differ, e.g. {vals[bad16[:3]]}: {n16[bad16[:3]]} vs {r16[bad16[:3]]}")
check(badbf.size == 0, f"f32 -> bf16 of {n} values = torch bfloat16",
      f"{badbf.size} differ, e.g. {vals[badbf[:3]]}: {nbf[badbf[:3]]} vs {rbf[badbf[:3]]}")


# ---- a GGUF writer (the format: llama.cpp's gguf.md; llama layout of core/gguf.c) ----------
GG_TYPES = {"f32": 0, "f16": 1, "bf16": 30}


def gguf_bytes(cfg, w, dtype):
    """GGUF v3 bytes of model (cfg, w) with embeddings/projections in dtype, norms f32."""
    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b
    kv = [("general.architecture", 8, s("llama")),
          ("llama.embedding_length", 4, struct.pack("<I", cfg["dim"])),
          ("llama.block_count", 4, struct.pack("<I", cfg["n_layers"])),
          ("llama.feed_forward_length", 4, struct.pack("<I", cfg["hidden_dim"])),
          ("llama.attention.head_count", 4, struct.pack("<I", cfg["n_heads"])),
          ("llama.attention.head_count_kv", 4, struct.pack("<I", cfg["n_kv_heads"])),
          ("llama.context_length", 4, struct.pack("<I", cfg["seq_len"])),
          ("llama.attention.layer_norm_rms_epsilon", 6, struct.pack("<f", 1e-5))]
    gname = dict(q="attn_q", k="attn_k", v="attn_v", o="attn_output", gate="ffn_gate", up="ffn_up", down="ffn_down")
    ts = [("token_embd.weight", w["tok_emb"], dtype), ("output_norm.weight", w["rms_final"].reshape(-1), "f32")]
    for l in range(cfg["n_layers"]):
        ts += [(f"blk.{l}.attn_norm.weight", w["rms_att"][l], "f32"), (f"blk.{l}.ffn_norm.weight", w["rms_ffn"][l], "f32")]
        ts += [(f"blk.{l}.{gname[p]}.weight", w[p][l], dtype) for p in tl.PROJ]
    if not cfg["shared"]:
        ts.append(("output.weight", w["wcls"], dtype))
    head = b"GGUF" + struct.pack("<IQQ", 3, len(ts), len(kv))
    for k, t, v in kv:
        head += s(k) + struct.pack("<I", t) + v
    data, infos = b"", b""
    for name, t, dt in ts:
        a = t.detach().float()
        raw = (a.numpy().astype(np.float16).tobytes() if dt == "f16" else
               a.to(torch.bfloat16).view(torch.int16).numpy().tobytes() if dt == "bf16" else a.numpy().astype("<f4").tobytes())
        shape = list(a.shape)[::-1]
        infos += s(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape)
        infos += struct.pack("<IQ", GG_TYPES[dt], len(data))
        data += raw + b"\0" * (-len(raw) % 32)
    head += infos
    return head + b"\0" * (-len(head) % 32) + data


def rounded(w, dtype, norms=False):
    """The values a dtype file holds, as float32 tensors (norms stay fp32 unless norms)."""
    t = torch.float16 if dtype == "f16" else torch.bfloat16
    return {k: (v if k.startswith("rms") and not norms else v.to(t).float()) for k, v in w.items()}


def dump(model, method, seqs, randB):
    seqs = np.asarray(seqs, dtype="<i4")
    tp, op = os.path.join(TMP, "tok.bin"), os.path.join(TMP, "out.bin")
    with open(tp, "wb") as f:
        f.write(struct.pack("<2i", seqs.shape[0], seqs.shape[1] - 1) + seqs.tobytes())
    cmd = [DRIVER, "dump", model, method, tp, op] + (["randB"] if randB else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr}")
    return open(op, "rb").read()


def info_check(path, cfg, dtype):
    j = run_json(["info", path])
    dts = {t["name"]: t["dtype"] for t in j["tensors"]}
    nproj = 7 * cfg["n_layers"]
    ok = all(dts[f"layers.{l}.{p}"] == dtype for l in range(cfg["n_layers"]) for p in tl.PROJ) and dts["tok_emb"] == dtype \
        and dts["rms_att"] == "f32"  # norms are small: always converted
    nparams = sum(t["shape"][0] * t["shape"][1] for t in j["tensors"])
    nnorm = (2 * cfg["n_layers"] + 1) * cfg["dim"]
    check(ok and j["weight_bytes"] == 2 * (nparams - nnorm) + 4 * nnorm and dtype in j["format"],
          f"info: {dtype} tensors listed as {dtype}, weights held in {j['weight_bytes']} bytes ({nproj} projections)",
          f"format {j['format']}, weight_bytes {j['weight_bytes']}, dtypes {sorted(set(dts.values()))}")


for dtype, shared in [("f16", False), ("bf16", True)]:
    cfg, w0 = tl.random_model(shared=shared, seed=5)
    # GGUF keeps the norms f32 (as llama.cpp writes them); an HF file has one dtype for all.
    w, wh = rounded(w0, dtype), rounded(w0, dtype, norms=True)
    f32p, f32h, hp = (os.path.join(TMP, f"m_{dtype}{x}") for x in (".bin", "_hf.bin", ".gguf"))
    tl.write_v0(f32p, cfg, w)
    tl.write_v0(f32h, cfg, wh)
    open(hp, "wb").write(gguf_bytes(cfg, w, dtype))
    hfd = os.path.join(TMP, f"hf_{dtype}")
    config, t = th.from_llama2c(cfg, wh)
    th.write_dir(hfd, config, t, dtype.upper(), 2 if dtype == "bf16" else 1)
    seqs = np.random.default_rng(4).integers(0, cfg["vocab_size"], (2, cfg["seq_len"] + 1))
    for method in ["none", "lora", "l4q", "qat_lora", "full", "lsq"]:
        randB = method in ("lora", "l4q", "qat_lora")
        for label, path, ref in [("GGUF", hp, f32p), ("HF dir", hfd, f32h)]:
            a, b = dump(ref, method, seqs, randB), dump(path, method, seqs, randB)
            check(a == b, f"{dtype} {label} ({'tied' if shared else 'untied'} head), {method}: logits, loss and every "
                  f"gradient bit for bit = the fp32 file of the same values", f"dumps differ ({len(a)} vs {len(b)} bytes)")
    for path in (hp, hfd):
        info_check(path, cfg, dtype)


# ---- bad 16-bit files ----------------------------------------------------------------------
cfg, w = tl.random_model(shared=False, seed=6)
w = rounded(w, "f16")
w["up"][1, 3, 5] = float("nan")
bp = os.path.join(TMP, "nan.gguf")
open(bp, "wb").write(gguf_bytes(cfg, w, "f16"))
p = subprocess.run([L4Q, "info", bp], capture_output=True, text=True)
lines = [x for x in p.stderr.splitlines() if "OpenBLAS" not in x]  # the SkylakeX notice aside
check(p.returncode == 2 and len(lines) == 1 and "nan.gguf" in lines[0] and "layers.1.up" in lines[0] and "f16" in lines[0],
      "a NaN in an f16 projection: exit 2, one line naming the file and tensor", f"rc {p.returncode}: {p.stderr!r}")
raw = gguf_bytes(cfg, rounded(tl.random_model(shared=False, seed=6)[1], "f16"), "f16")
tp = os.path.join(TMP, "trunc.gguf")
open(tp, "wb").write(raw[:len(raw) - 100])
p = subprocess.run([L4Q, "info", tp], capture_output=True, text=True)
lines = [x for x in p.stderr.splitlines() if "OpenBLAS" not in x]
check(p.returncode == 2 and len(lines) == 1 and "trunc.gguf" in lines[0],
      "a truncated f16 GGUF: exit 2, one line naming the file", f"rc {p.returncode}: {p.stderr!r}")
done()
