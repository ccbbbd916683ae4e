# test_llamacpp_export.py — `l4q export --format gguf` checked by llama.cpp itself.
#
# Short runs of each kind (L4Q 4-bit g32, 3-bit g32, 4-bit g64, RTN, GPTQ, QA-LoRA,
# QLoRA* = gptq_lora with its LoRA adapter, QLoRA NF4 through the F16 fallback) on
# stories260K are exported; llama.cpp (tests/llamacpp/llama_client.c over the prebuilt
# libllama) scores the first paragraphs of the TinyStories validation excerpt on the export
# (+ adapter), the harness scores the run's own deployed model (final.l4qz) on the same
# windows, and the two mean NLLs must agree within TOL. gguf-py's reader (from the
# llama.cpp bundle) checks every tensor's type and the adapter's layout.
#
# TOL: two things separate the numbers. (1) d and m are fp16 in Q4_1 blocks; the harness
# reading the export back shows what that alone does (measured ≤ 2.1e-4 nats). (2) llama.cpp's
# CPU kernels quantize each activation row to 8-bit blocks (Q8_1 against Q4_1: d = max|x|/127
# in fp16, codes rounded to nearest) before the integer dot products, and fp16 against F16.
# A float64 emulation of that arithmetic (tests/llamacpp.py) reproduces llama.cpp to ~1e-6
# when one tensor is quantized (checked below) and moves the NLL by 3e-5..2e-4 per tensor;
# over 30 tensors the rounding decisions follow llama.cpp's float32 activations bit by bit, so
# only the size is predictable: measured |llama.cpp − harness| 3e-5..1.7e-3 on these kinds
# (largest: 3-bit, the least accurate model). TOL = 3e-3; a single mutated tensor (nibbles
# swapped, sign of m flipped) or a dropped adapter moves llama.cpp's NLL by ≥ 4e-2, far
# beyond it (checked below), so the test fails on those.
#
# A LoRA run on a 16-bit base (stories260K as bf16 and as f16, tests/torch_hf.py) exports
# W0 exactly as stored (BF16/F16 tensors, no fallback) plus the adapter; llama.cpp's NLL on
# base + adapter must agree with the harness's deployed model within the same TOL (here
# only llama.cpp's fp16 activations and summation order separate them).
import os, shutil, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
from testlib import check, done, data, run, STORIES
import llamacpp as L
import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT

TOL, TOL_READ = 3e-3, 5e-4
tmp = tempfile.mkdtemp(prefix="l4q_llexp_")
text = f"{tmp}/short.txt"
paras = L.short_text(text, 20)
wins = L.windows(paras, 256, f"{tmp}/w.bin")

KINDS = [  # name, method block, train steps, lr, fallback, has adapter
    ("l4q_4b_g32", "name: l4q, bits: 4, group_size: 32", 4, "1.0e-3", "f32", False),
    ("l4q_3b_g32", "name: l4q, bits: 3, group_size: 32", 4, "1.0e-3", "f32", False),
    ("l4q_4b_g64", "name: l4q, bits: 4, group_size: 64", 4, "1.0e-3", "f32", False),
    ("rtn", "name: rtn, bits: 4, group_size: 32", 0, "1.0e-3", "f32", False),
    ("gptq", "name: gptq, bits: 4, group_size: 32, calib_windows: 2", 0, "1.0e-3", "f32", False),
    ("qa_lora", "name: qa_lora, bits: 4, group_size: 32, calib_windows: 2", 4, "1.0e-2", "f32", False),
    ("gptq_lora", "name: gptq_lora, bits: 4, group_size: 32, calib_windows: 2", 4, "2.0e-2", "f32", True),
    ("qlora", "name: qlora", 4, "2.0e-2", "f16", True),
]


def train(name, method, steps, lr, extra=(), stories=STORIES):
    cfg = f"{tmp}/{name}.yaml"
    with open(cfg, "w") as f:
        f.write(f"""{stories}method: {{ {method} }}
train: {{ steps: {steps}, micro_batch: 4, accum: 1, seq_len: 64, lr: {lr}, warmup: 0.1 }}
eval: {{ every: 0, val_batches: 1 }}
""")
    return run(["train", cfg, "--out", f"{tmp}/{name}", *extra], check_rc=False)


def types(path):
    r = gguf.GGUFReader(path)
    return r, {t.name: t.tensor_type for t in r.tensors}


def field(r, key):
    f = r.fields[key]
    return f.contents()


def mutate(src, dst, tensor, fn):
    shutil.copy(src, dst)
    r = gguf.GGUFReader(dst, "r+")
    t = [t for t in r.tensors if t.name == tensor][0]
    fn(t.data.reshape(-1, 20))
    del r


rows = []
for name, method, steps, lr, fb, has_ad in KINDS:
    p = train(name, method, steps, lr)
    if p.returncode != 0:
        check(False, f"{name}: training run", p.stderr[-500:])
        continue
    out, ad = f"{tmp}/{name}.gguf", f"{tmp}/{name}.lora.gguf"
    if name == "l4q_4b_g32":  # no exact block for the 172-wide ffn_down rows: refused without --fallback
        q = run(["export", f"{tmp}/{name}", "--format", "gguf", "--out", out], check_rc=False)
        msg = [x for x in q.stderr.splitlines() if "OpenBLAS" not in x]
        check(q.returncode == 2 and len(msg) == 1 and "ffn_down" in msg[0] and "--fallback" in msg[0] and not os.path.exists(out),
              "export without --fallback is refused in one line naming the tensors (exit 2), nothing written", q.stderr)
    e = run(["export", f"{tmp}/{name}", "--format", "gguf", "--out", out, "--fallback", fb])
    r, ty = types(out)
    nofit = QT.F32 if fb == "f32" else QT.F16
    blk = QT.F16 if name == "qlora" else QT.Q4_1
    want = {"token_embd.weight": QT.F32, "output_norm.weight": QT.F32}
    for l in range(5):
        want[f"blk.{l}.attn_norm.weight"] = want[f"blk.{l}.ffn_norm.weight"] = QT.F32
        for g in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up"):
            want[f"blk.{l}.{g}.weight"] = blk
        want[f"blk.{l}.ffn_down.weight"] = nofit
    bad = {k: (ty.get(k), v) for k, v in want.items() if ty.get(k) != v}
    check(not bad and len(ty) == len(want), f"{name}: gguf-py reads the intended tensor types", str(bad or ty))
    devs = [float(field(r, k)) for k in r.fields if k.startswith("l4q.fp16_max_dev.")]
    if blk == QT.Q4_1:
        check(len(devs) == 30 and 0 < max(devs) < 5e-3, f"{name}: per-tensor fp16 deviation recorded for the 30 Q4_1 tensors", str(devs[:3]))
    if has_ad:
        ra, tya = types(ad)
        shapes = {t.name: [int(x) for x in t.shape] for t in ra.tensors}
        ok = field(ra, "general.type") == "adapter" and field(ra, "adapter.type") == "lora" and \
            abs(float(field(ra, "adapter.lora.alpha")) - 8.0) < 1e-6 and len(shapes) == 70 and \
            shapes["blk.0.ffn_down.weight.lora_a"] == [172, 4] and shapes["blk.0.ffn_down.weight.lora_b"] == [4, 64] and \
            all(v == QT.F32 for v in tya.values())
        check(ok, f"{name}: LoRA adapter GGUF as llama.cpp expects (general.type adapter, alpha 8, lora_a [in, r], lora_b [r, out])", str(shapes)[:300])
    else:
        check(not os.path.exists(ad), f"{name}: no adapter for a fully quantized form")
    h = L.harness_ppl(f"{tmp}/{name}/final.l4qz", text, 256)
    l = L.llama_nll(out, f"{tmp}/w.bin", ad if has_ad else None)
    gap = l["mean"] - h["loss"]
    rows.append((name, os.path.getsize(out), os.path.getsize(ad) if has_ad else 0, max(devs, default=0), h["loss"], l["mean"], gap))
    check(h["predicted"] == l["count"] and abs(gap) < TOL, f"{name}: llama.cpp NLL of the export within {TOL} of the harness's deployed model",
          f"harness {h['loss']:.6f} llama.cpp {l['mean']:.6f}")
    if not has_ad:
        g = L.harness_ppl(out, text, 256)
        check(abs(g["loss"] - h["loss"]) < TOL_READ, f"{name}: l4q ppl reads the export back within the fp16 rounding of d, m",
              f"{g['loss']:.6f} vs {h['loss']:.6f}")
    if name == "l4q_4b_g32":  # one mutated tensor is enough to fail the comparison
        def swap(b): q = b[:, 4:].copy(); b[:, 4:] = ((q & 0x0F) << 4) | (q >> 4)
        def negm(b): b[:, 3] ^= 0x80
        for what, fn in (("nibble order swapped", swap), ("sign of m flipped", negm)):
            mutate(out, f"{tmp}/mut.gguf", "blk.2.ffn_gate.weight", fn)
            m = L.llama_nll(f"{tmp}/mut.gguf", f"{tmp}/w.bin")["mean"]
            check(abs(m - h["loss"]) > 5 * TOL, f"mutation detected: blk.2.ffn_gate {what} → llama.cpp NLL off by {abs(m - h['loss']):.3g} > {5 * TOL}")
        # llama.cpp's arithmetic on our blocks, emulated: one Q4_1 tensor, the rest f32.
        keep = "blk.0.ffn_gate.weight"
        L.rewrite_gguf(out, f"{tmp}/one.gguf", lambda n, a, t: (np.asarray(t.data), QT.Q4_1) if n == keep else (a, QT.F32))
        lo, eq, ex = L.llama_nll(f"{tmp}/one.gguf", f"{tmp}/w.bin")["mean"], L.emulate_nll(f"{tmp}/one.gguf", wins), \
            L.emulate_nll(f"{tmp}/one.gguf", wins, act_quant=False)
        print(f"# one Q4_1 tensor: llama.cpp {lo:.7f}, emulated with 8-bit activations {eq:.7f}, exact products {ex:.7f}")
        check(abs(lo - eq) < 2e-5 and abs(lo - eq) < abs(lo - ex) / 3,
              "llama.cpp on one exported Q4_1 tensor == float64 emulation of its Q4_1·Q8_1 dot product (d, m, nibbles as written)",
              f"llama.cpp {lo} emulated {eq} exact {ex}")
        e16 = run(["export", f"{tmp}/{name}", "--format", "gguf", "--out", f"{tmp}/f16.gguf", "--fallback", "f16", "--outtype", "f16"])
        r16, ty16 = types(f"{tmp}/f16.gguf")
        l16 = L.llama_nll(f"{tmp}/f16.gguf", f"{tmp}/w.bin")["mean"]
        check(ty16["token_embd.weight"] == QT.F16 and ty16["blk.0.ffn_down.weight"] == QT.F16 and
              os.path.getsize(f"{tmp}/f16.gguf") < os.path.getsize(out) and abs(l16 - h["loss"]) < TOL,
              "--outtype f16 --fallback f16: embeddings and ffn_down F16, smaller, llama.cpp NLL still within TOL", f"{l16}")
    if has_ad:
        l0 = L.llama_nll(out, f"{tmp}/w.bin")["mean"]
        check(abs(l0 - h["loss"]) > 5 * TOL, f"mutation detected: {name} without its adapter → llama.cpp NLL off by {abs(l0 - h['loss']):.3g} > {5 * TOL}")
    if name == "qlora":  # NF4 re-quantized to the nearest llama.cpp type: Q8_0 where rows are whole blocks
        q8 = f"{tmp}/qlora_q8.gguf"
        run(["export", f"{tmp}/{name}", "--format", "gguf", "--out", q8, "--fallback", "q8_0", "--adapter", f"{tmp}/q8.lora.gguf"])
        r8, ty8 = types(q8)
        l8 = L.llama_nll(q8, f"{tmp}/w.bin", f"{tmp}/q8.lora.gguf")["mean"]
        check(ty8["blk.0.attn_q.weight"] == QT.Q8_0 and ty8["blk.0.ffn_down.weight"] == QT.F16 and abs(l8 - h["loss"]) < 1e-2,
              "--fallback q8_0: NF4 re-quantized to Q8_0 (F16 for 172-wide rows), llama.cpp NLL within 1e-2 (a re-quantized model)",
              f"{l8} vs {h['loss']}, {ty8['blk.0.attn_q.weight']}")
        gen = run(["generate", "--model", out, "--steps", "24", "--temperature", "0", "--prompt", "Once upon a time"])
        check(gen.returncode == 0 and len(gen.stdout.strip()) > 20, "generate runs on an F16-fallback export (embedded tokenizer)", gen.stdout[:200])
    if name == "gptq_lora":  # --merge: one file, no adapter, the merged model
        mo = f"{tmp}/merged.gguf"
        run(["export", f"{tmp}/{name}", "--format", "gguf", "--out", mo, "--fallback", "f32", "--merge"])
        check(not os.path.exists(f"{tmp}/merged.lora.gguf") and os.path.exists(mo), "--merge: one GGUF, no adapter")

# LoRA on a 16-bit base: W0 exported as stored (F16/BF16) + the adapter.
import torch_hf, torch_llama
for dt, qt in (("bf16", QT.BF16), ("f16", QT.F16)):
    base = f"{tmp}/stories260K_{dt}"
    torch_hf.write_dir(base, *torch_hf.from_llama2c(*torch_llama.load_v0(data("models/stories260K/stories260K.bin"))), dt.upper())
    name = f"lora_{dt}"
    p = train(name, "name: lora", 4, "2.0e-2", stories=STORIES.replace(data("models/stories260K/stories260K.bin"), base))
    if p.returncode != 0:
        check(False, f"{name}: training run", p.stderr[-500:])
        continue
    out, ad = f"{tmp}/{name}.gguf", f"{tmp}/{name}.lora.gguf"
    e = run(["export", f"{tmp}/{name}", "--format", "gguf", "--out", out], check_rc=False)  # no --fallback needed
    check(e.returncode == 0 and os.path.exists(ad), f"{name}: exported without --fallback, adapter written", e.stderr[-300:])
    if e.returncode:
        continue
    r, ty = types(out)
    projs = [f"blk.{l}.{g}.weight" for l in range(5) for g in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")]
    # The export's base is the training file's W0 bit for bit (v and down: no q/k permutation).
    st = open(f"{base}/model.safetensors", "rb").read()
    hl = int.from_bytes(st[:8], "little")
    hdr = __import__("json").loads(st[8:8 + hl])
    def stored(n): o = hdr[n]["data_offsets"]; return st[8 + hl + o[0]:8 + hl + o[1]]
    gt = {t.name: bytes(np.asarray(t.data).tobytes()) for t in r.tensors}
    same = all(gt[f"blk.{l}.attn_v.weight"] == stored(f"model.layers.{l}.self_attn.v_proj.weight") and
               gt[f"blk.{l}.ffn_down.weight"] == stored(f"model.layers.{l}.mlp.down_proj.weight") for l in range(5))
    check(same, f"{name}: exported v and ffn_down tensors are the {dt} file's bytes unchanged")
    check(all(ty[k] == qt for k in projs) and ty["token_embd.weight"] == QT.F32 and len(ty) == len(projs) + 12,
          f"{name}: gguf-py reads the 35 projections as {qt.name} (W0 as stored)", str({k: ty[k] for k in projs[:3]}))
    ra, tya = types(ad)
    check(len(tya) == 70 and abs(float(field(ra, "adapter.lora.alpha")) - 8.0) < 1e-6,
          f"{name}: LoRA adapter GGUF with the 35 branches (alpha 8)", str(len(tya)))
    h = L.harness_ppl(f"{tmp}/{name}/final.l4qz", text, 256)
    l = L.llama_nll(out, f"{tmp}/w.bin", ad)
    l0 = L.llama_nll(out, f"{tmp}/w.bin")["mean"]
    gap = l["mean"] - h["loss"]
    rows.append((name, os.path.getsize(out), os.path.getsize(ad), 0.0, h["loss"], l["mean"], gap))
    check(h["predicted"] == l["count"] and abs(gap) < TOL, f"{name}: llama.cpp NLL of the {dt} base + adapter within {TOL} of the harness's deployed model",
          f"harness {h['loss']:.6f} llama.cpp {l['mean']:.6f}")
    check(abs(l0 - h["loss"]) > 5 * TOL, f"mutation detected: {name} without its adapter → llama.cpp NLL off by {abs(l0 - h['loss']):.3g} > {5 * TOL}")

# Bad input: an incomplete run is refused (exit 2), an existing output is left untouched.
p = train("stopped", "name: l4q, bits: 4, group_size: 32", 8, "1.0e-3", ["--stop-at", "2"])
keep = f"{tmp}/keep.gguf"
open(keep, "wb").write(b"previous contents")
q = run(["export", f"{tmp}/stopped", "--format", "gguf", "--out", keep, "--fallback", "f32"], check_rc=False)
msg = [x for x in q.stderr.splitlines() if "OpenBLAS" not in x]
check(p.returncode == 3 and q.returncode == 2 and len(msg) == 1 and "not complete" in msg[0] and open(keep, "rb").read() == b"previous contents",
      "export of an incomplete run is refused (exit 2, one line), the existing output untouched", q.stderr)
q = run(["export", f"{tmp}/l4q_4b_g32", "--format", "gguf", "--out", keep, "--fallback", "bf8"], check_rc=False)
check(q.returncode == 2 and "--fallback" in q.stderr, "unknown --fallback refused (exit 2)", q.stderr)

print("# kind          export bytes  adapter bytes  max |dw| fp16  harness NLL  llama.cpp NLL  gap")
for n, b, a, dv, hl, ll, gp in rows:
    print(f"# {n:12s} {b:12d} {a:14d} {dv:13.3g} {hl:12.6f} {ll:14.6f} {gp:+.2e}")
shutil.rmtree(tmp)
done()
