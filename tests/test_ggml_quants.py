# test_ggml_quants.py — core/ggml_quants.c against gguf-py's numpy (de)quantizers from the
# llama.cpp source bundle (build/llama.cpp, made by `make llamacpp-deps`): random blocks of
# every type the reader supports dequantize bit-exactly as gguf-py does; fp16/bf16 rounding
# equals numpy's/gguf-py's; the exporter's Q4_1/Q5_1/Q8_0 blocks read back in gguf-py as
# intended. Then whole GGUF models written by gguf-py's GGUFWriter with quantized
# projections load in l4q with exactly gguf-py's dequantized weights (same loss as the f32
# GGUF of those weights), and an unsupported type is named with its tensor.
import os, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
from testlib import check, run, data, done, ROOT
import subprocess
sys.path.insert(0, os.path.join(ROOT, "build", "llama.cpp", "gguf-py"))
import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT, quants

DRV = os.path.join(ROOT, "build", "tests", "test_ggml_quants")
tmp = tempfile.mkdtemp(prefix="l4q_ggmlq_")
rng = np.random.default_rng(0)


def drv(*args):
    subprocess.run([DRV] + [str(a) for a in args], check=True)


def random_blocks(t, nb):
    """Random block bytes whose fp16 fields are finite, moderate numbers (NaN/Inf in a
    scale field would make bit-exact comparison meaningless)."""
    bsz = gguf.GGML_QUANT_SIZES[t][1]
    b = rng.integers(0, 256, size=(nb, bsz), dtype=np.uint8)
    def half(col, lo=-2.0, hi=2.0):
        b[:, col:col + 2] = rng.uniform(lo, hi, size=nb).astype(np.float16).view(np.uint8).reshape(nb, 2)
    if t in (QT.Q4_0, QT.Q5_0, QT.Q8_0): half(0)
    elif t in (QT.Q4_1, QT.Q5_1, QT.Q4_K, QT.Q5_K): half(0); half(2)
    elif t == QT.Q6_K: half(bsz - 2)
    return b


for t in (QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.Q8_0, QT.Q4_K, QT.Q5_K, QT.Q6_K):
    blocks = random_blocks(t, 64)
    blocks.tofile(f"{tmp}/in.bin")
    drv("dequant", int(t), f"{tmp}/in.bin", f"{tmp}/out.bin")
    ours = np.fromfile(f"{tmp}/out.bin", dtype=np.float32)
    ref = quants.dequantize(blocks.reshape(-1), t).reshape(-1).astype(np.float32)
    same = ours.shape == ref.shape and np.array_equal(ours.view(np.uint32), ref.view(np.uint32))
    check(same, f"{t.name}: 64 random blocks dequantize bit-exactly as gguf-py",
          f"{int(np.sum(ours != ref)) if ours.shape == ref.shape else 'shape'} elements differ")

# F16/BF16 tensors: bit patterns over the whole range (NaNs excepted).
h = np.arange(65536, dtype=np.uint16)
h.tofile(f"{tmp}/in.bin")
for t, ref in ((QT.F16, h.view(np.float16).astype(np.float32)), (QT.BF16, quants.dequantize(h.view(np.uint8), QT.BF16))):
    drv("dequant", int(t), f"{tmp}/in.bin", f"{tmp}/out.bin")
    ours = np.fromfile(f"{tmp}/out.bin", dtype=np.float32)
    fin = ~np.isnan(ref)
    check(np.array_equal(ours[fin].view(np.uint32), ref[fin].view(np.uint32)) and np.all(np.isnan(ours[~fin])),
          f"{t.name}: all 65536 bit patterns widen as numpy/gguf-py do", "differ")

# float → fp16 / bf16 rounding vs numpy's astype(float16) and gguf-py's BF16 quantizer.
x = np.concatenate([rng.normal(0, 1, 20000), rng.normal(0, 1e-5, 5000), rng.normal(0, 3e4, 5000),
                    np.array([65504, 65519.99, 65520, 1e9, -1e9, 6e-8, 2.98e-8, 0.0, -0.0])]).astype(np.float32)
# exact halfway cases between fp16 neighbours (ties to even)
hw = np.arange(0x0400, 0x7bff, 97, dtype=np.uint16).view(np.float16).astype(np.float32)
x = np.concatenate([x, (hw * np.float32(1 + 2 ** -11)).astype(np.float32)])
x.tofile(f"{tmp}/in.bin")
drv("f16", f"{tmp}/in.bin", f"{tmp}/out.bin")
ours = np.fromfile(f"{tmp}/out.bin", dtype=np.uint16)
with np.errstate(over="ignore"): x16 = x.astype(np.float16).view(np.uint16)
check(np.array_equal(ours, x16), "float → fp16 rounds as numpy (ties to even, overflow, subnormals)",
      f"{int(np.sum(ours != x16))} differ")
drv("bf16", f"{tmp}/in.bin", f"{tmp}/out.bin")
ours = np.fromfile(f"{tmp}/out.bin", dtype=np.uint16)
check(np.array_equal(ours, quants.quantize(x, QT.BF16).view(np.uint16)), "float → bf16 rounds as gguf-py", "differ")

# The exporter's blocks: codes q with real d, m → gguf-py reads fp16(d)·q + fp16(m).
for bits, t in ((4, QT.Q4_1), (5, QT.Q5_1)):
    nb = 200
    q = rng.integers(0, 1 << bits, size=(nb, 32), dtype=np.uint8)
    d = rng.uniform(-0.05, 0.05, nb).astype(np.float32)
    m = rng.uniform(-0.5, 0.5, nb).astype(np.float32)
    rec = np.concatenate([q, d.view(np.uint8).reshape(nb, 4), m.view(np.uint8).reshape(nb, 4)], axis=1)
    rec.tofile(f"{tmp}/in.bin")
    drv("affine", bits, f"{tmp}/in.bin", f"{tmp}/out.bin")
    blocks = np.fromfile(f"{tmp}/out.bin", dtype=np.uint8)
    got = quants.dequantize(blocks, t).reshape(nb, 32)
    want = q.astype(np.float32) * d.astype(np.float16).astype(np.float32)[:, None] + m.astype(np.float16).astype(np.float32)[:, None]
    check(np.array_equal(got, want), f"{t.name} blocks written from (q, d, m) read back in gguf-py as fp16(d)·q + fp16(m)",
          f"max diff {np.abs(got - want).max()}")
xs = rng.normal(0, 0.1, 32 * 300).astype(np.float32)
xs.tofile(f"{tmp}/in.bin")
drv("q8_0", f"{tmp}/in.bin", f"{tmp}/out.bin")
ours = np.fromfile(f"{tmp}/out.bin", dtype=np.uint8)
check(np.array_equal(ours, quants.quantize(xs.reshape(-1, 32), QT.Q8_0).reshape(-1)), "Q8_0 blocks equal gguf-py's bit-exact reference quantizer", "differ")

# Whole models: stories260K's GGUF re-written by gguf-py with quantized projections.
import llamacpp as L
src_path = data("models", "stories260K", "stories260K.gguf")
text = data("tinystories", "tinystories_valid_excerpt.txt")
tok = data("models", "stories260K", "tok512.bin")


# A short text (the first ~6,000 tokens of the validation excerpt) keeps this fast.
with open(text) as f: short = f.read()[:24000]
text = f"{tmp}/short.txt"
with open(text, "w") as f: f.write(short)


def loss(model):
    import json
    return json.loads(run(["ppl", "--model", model, "--tokenizer", tok, "--data", text, "--seq-len", "128", "--json"]).stdout)["loss"]


for qt in (QT.Q8_0, QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.F16, QT.BF16):
    def pick(name, a, qt=qt):
        if a.ndim != 2 or name.startswith("token_embd"): return QT.F32
        if qt in (QT.F16, QT.BF16): return qt
        return qt if a.shape[1] % 32 == 0 else QT.F16
    def quant(name, a, t, qt=qt):
        q = pick(name, a)
        return (a, QT.F32) if q == QT.F32 else (quants.quantize(a, q), q)
    def dequant(name, a, t, qt=qt):
        q = pick(name, a)
        return (a, QT.F32) if q == QT.F32 else (quants.dequantize(quants.quantize(a, q), q).astype(np.float32), QT.F32)
    qp, dp = f"{tmp}/m_{qt.name}.gguf", f"{tmp}/m_{qt.name}_deq.gguf"
    L.rewrite_gguf(src_path, qp, quant)
    L.rewrite_gguf(src_path, dp, dequant)
    info = run(["info", qp]).stdout
    lq, ld = loss(qp), loss(dp)
    check(lq == ld and qt.name.lower() in info, f"stories260K with {qt.name} projections (gguf-py): l4q's loss equals that of gguf-py's dequantized f32 file",
          f"{lq} vs {ld}")

# Unsupported type: named with the tensor, exit 2 (an IQ4_NL tensor written raw: 64×64 is
# two 18-byte blocks per row).
L.rewrite_gguf(src_path, f"{tmp}/iq4.gguf", lambda name, a, t: (np.zeros((64, 36), dtype=np.uint8), QT.IQ4_NL)
               if name == "blk.0.attn_q.weight" else (a, QT.F32))
p2 = run(["ppl", "--model", f"{tmp}/iq4.gguf", "--tokenizer", tok, "--data", text], check_rc=False)
msg = [l for l in p2.stderr.strip().splitlines() if "OpenBLAS" not in l]
check(p2.returncode == 2 and len(msg) == 1 and "IQ4_NL" in msg[0] and "blk.0.attn_q.weight" in msg[0],
      "an IQ4_NL tensor is refused naming the type and the tensor (exit 2, one line)", p2.stderr)
done()
