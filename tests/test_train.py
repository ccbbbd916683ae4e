# test_train.py — the trainer end to end: bit-identical determinism, exact resume
# (20 straight steps == 10 + --resume + 10), NaN loss → failed run with the last good
# checkpoint intact, --dry-run config, run.h5 layout (read with h5py), export round trip.
import os, shutil, struct, subprocess, sys, tempfile, json
import h5py, numpy as np
from testlib import check, run, data, done, L4Q, STORIES

tmp = tempfile.mkdtemp(prefix="l4q_train_")
cfg = os.path.join(tmp, "cfg.yaml")
with open(cfg, "w") as f:
    f.write(f"""{STORIES}method: {{ name: lora, rank: 4, alpha: 8, dropout: 0.1 }}
train: {{ steps: 20, micro_batch: 4, accum: 2, seq_len: 64, lr: 2.0e-3, warmup: 0.2, checkpoint_every: 0 }}
eval: {{ every: 5, val_batches: 2 }}
""")

def train(out, *extra, rc=0):
    p = run(["train", cfg, "--out", out, *extra], check_rc=False)
    if p.returncode != rc:
        print(p.stdout[-2000:], p.stderr[-2000:])
    return p

def losses(d):
    with h5py.File(os.path.join(d, "run.h5"), "r") as f:
        return np.array(f["train/loss"]), np.array(f["train/step"]), f.attrs["status"]

def ckpt_bytes(d):
    return open(os.path.join(d, "ckpt.bin"), "rb").read()

a, b, c = (os.path.join(tmp, x) for x in "abc")
pa = train(a); pb = train(b)
check(pa.returncode == 0 and pb.returncode == 0, "train: two runs complete", pa.stderr[-300:])
la, sa, st = losses(a); lb, _, _ = losses(b)
st = st.decode() if isinstance(st, bytes) else st
check(st == "complete", "train: run.h5 status complete", st)
check(list(sa) == list(range(1, 21)), "train: 20 logged steps", str(sa))
check(np.array_equal(la, lb) and ckpt_bytes(a) == ckpt_bytes(b), "train: same config+seed ⇒ bit-identical loss curve and state")
check(np.all(np.isfinite(la)) and 0.5 < la.mean() < 4, "train: losses finite and plausible", str(la[:3]))

p1 = train(c, "--stop-at", "10", rc=3)
check(p1.returncode == 3, "resume: --stop-at 10 exits 3 with a checkpoint", p1.stderr[-300:])
p2 = run(["train", "--resume", c], check_rc=False)
check(p2.returncode == 0, "resume: --resume completes", p2.stderr[-300:])
lc, sc, stc = losses(c)
check(list(sc) == list(range(1, 21)), "resume: log has each step once", str(sc))
check(np.array_equal(la, lc), "resume: 10 + resume + 10 == 20 straight (bit-identical losses)",
      f"max diff {np.abs(la - lc).max() if la.shape == lc.shape else 'shape'}")
check(ckpt_bytes(a) == ckpt_bytes(c), "resume: final trainable state + Adam moments bit-identical")

with h5py.File(os.path.join(a, "run.h5"), "r") as f:
    need = ["train/step", "train/loss", "train/lr", "train/grad_norm", "train/tokens_per_s", "train/rss_bytes", "eval/step", "eval/val_loss"]
    check(all(k in f for k in need), "run.h5: train/* and eval/* datasets", str([k for k in need if k not in f]))
    attrs = ["config", "method", "status", "git_commit"]
    check(all(k in f.attrs for k in attrs), "run.h5: root attributes", str(list(f.attrs)))
    m = f["memory"].attrs
    keys = ["weight_bytes", "trainable_bytes", "grad_optimizer_bytes", "saved_for_backward_bytes", "peak_transient_bytes", "peak_rss_bytes"]
    check(all(k in m for k in keys), "run.h5: memory group", str(list(m)))
    # LoRA r=4 on the seven projections of stories260K: trainable = Σ r·(in+out) floats.
    dim, hid, kv, L = 64, 172, 32, 5
    shapes = [(dim, dim), (kv, dim), (kv, dim), (dim, dim), (hid, dim), (hid, dim), (dim, hid)]
    expect = L * sum(4 * (o + i) for o, i in shapes) * 4
    check(int(m["trainable_bytes"]) == expect, "memory: LoRA trainable bytes exact", f"{int(m['trainable_bytes'])} vs {expect}")
    ev = np.array(f["eval/step"])
    check(list(ev) == [0, 5, 10, 15, 20], "run.h5: eval every 5 steps", str(ev))

# NaN: a learning rate of 1e9 blows up; the run stops with one clear line, status failed.
d = os.path.join(tmp, "nan")
p = train(d, "--set", "train.lr=1e9", "--set", "train.checkpoint_every=1", "--set", "train.warmup=0", rc=2)
errl = [l for l in p.stderr.splitlines() if "error" in l]
check(p.returncode == 2 and len(errl) == 1 and "not finite" in errl[0], "nan: exit 2 with one error line", p.stderr[-400:])
_, steps_logged, stn = losses(d)
stn = stn.decode() if isinstance(stn, bytes) else stn
check(stn == "failed", "nan: run.h5 status failed", stn)
ck = ckpt_bytes(d) if os.path.exists(os.path.join(d, "ckpt.bin")) else b""
okck = ck[:4] == b"L4QC" and ck[-36:-32] == b"L4QC"  # end marker, then the SHA-256 trailer
step_ck = struct.unpack("<q", ck[8:16])[0] if okck else -1
check(okck and 0 < step_ck and step_ck <= len(steps_logged), "nan: last good checkpoint intact", f"step {step_ck}")

# train.optim_state: bf16 — AdamW's moments stored bf16 (stochastic rounding, core/optim.h):
# the loss curve stays within a stated tolerance of the fp32 run's (same data, same
# dropout draws), resume is still bit-identical, the account and the checkpoint shrink,
# and a checkpoint of one kind refuses to resume as the other.
h, h2 = os.path.join(tmp, "bf16"), os.path.join(tmp, "bf16r")
B16 = ("--set", "train.optim_state=bf16")
check(train(h, *B16).returncode == 0, "bf16 state: run completes")
lh, _, _ = losses(h)
dev = np.abs(lh - la).max()
# Measured: 2.9e-5 nats at most; > 0 shows the bf16 moments were in use.
check(1e-3 >= dev > 0, "bf16 state: loss curve within 1e-3 nats of fp32's at every step (20 steps)", f"max |Δloss| {dev:.3g}")
print(f"bf16 state: max |loss - fp32 loss| over 20 steps {dev:.3g} (first loss {la[0]:.4g}, last {la[-1]:.4g} vs {lh[-1]:.4g})")
check(train(h2, *B16, "--stop-at", "10", rc=3).returncode == 3, "bf16 state: --stop-at 10")
check(run(["train", "--resume", h2], check_rc=False).returncode == 0, "bf16 state: --resume completes")
lr2, _, _ = losses(h2)
check(np.array_equal(lh, lr2) and ckpt_bytes(h) == ckpt_bytes(h2), "bf16 state: 10 + resume + 10 == 20 straight (bit-identical)")
with h5py.File(os.path.join(h, "run.h5"), "r") as f, h5py.File(os.path.join(a, "run.h5"), "r") as g32:
    m16, m32 = f["memory"].attrs, g32["memory"].attrs
    check(int(m16["grad_optimizer_bytes"]) == 2 * int(m16["trainable_bytes"]) and
          int(m32["grad_optimizer_bytes"]) == 3 * int(m32["trainable_bytes"]),
          "bf16 state: memory account grad+optimizer = 2x trainable (fp32: 3x)", f"{int(m16['grad_optimizer_bytes'])}")
    tb = int(m16["trainable_bytes"])
check(len(ckpt_bytes(a)) - len(ckpt_bytes(h)) == tb, "bf16 state: checkpoint smaller by the moments' halved bytes",
      f"{len(ckpt_bytes(a))} vs {len(ckpt_bytes(h))}")
shutil.copy(os.path.join(h, "ckpt.bin"), os.path.join(c, "ckpt.bin"))
p = run(["train", "--resume", c], check_rc=False)
check(p.returncode == 2 and "holds bf16 moments but train.optim_state is fp32" in p.stderr,
      "bf16 state: an fp32 run refuses a bf16 checkpoint with one line", p.stderr[-300:])

# A misspelt eval.tasks entry (or eval.limits key) stops the run before it trains, not at
# its final evaluation: one line, exit 2, no step taken, nothing written in the run dir.
bad = os.path.join(tmp, "badtask")
p = run(["train", cfg, "--out", bad, "--set", "eval.tasks=[tinystories, arc_easyy]"], check_rc=False)
errl = [l for l in p.stderr.splitlines() if l.startswith("l4q: error:")]
check(p.returncode == 2 and len(errl) == 1 and "unknown task 'arc_easyy'" in errl[0] and "step 1/" not in p.stdout
      and not (os.path.isdir(bad) and os.listdir(bad)), "eval.tasks: an unknown task is refused before training",
      f"rc={p.returncode} {p.stderr[-300:]} {os.listdir(bad) if os.path.isdir(bad) else ''}")
p = run(["train", cfg, "--out", bad, "--set", "eval.tasks=[tinystories]", "--set", "eval.limits={tinystoriez: 3}"], check_rc=False)
check(p.returncode == 2 and "eval.limits: 'tinystoriez' is not a task or group" in p.stderr and "step 1/" not in p.stdout,
      "eval.limits: an unknown task is refused before training", f"rc={p.returncode} {p.stderr[-300:]}")

# Dry run prints the resolved config; a --set lands in it.
p = run(["train", cfg, "--dry-run", "--set", "method.rank=16"])
check("rank: 16" in p.stdout and "micro_batch: 4" in p.stdout, "dry-run: resolved config with overrides", p.stdout[:300])

# Export: the run's deployed model loads in ppl; the GGUF export (Q4_1 blocks, stories260K's
# 172-wide ffn_down rows as f32) gives the same loss up to the fp16 rounding of d and m.
txt = os.path.join(tmp, "val.txt")
with open(data("tinystories/tinystories_valid_excerpt.txt")) as f:
    open(txt, "w").write(f.read()[:20000])
l4qz = os.path.join(a, "final.l4qz")
g = os.path.join(tmp, "m.gguf")
run(["export", a, "--format", "gguf", "--out", g, "--fallback", "f32"])
j1 = json.loads(run(["ppl", "--model", l4qz, "--tokenizer", data("models/stories260K/tok512.bin"), "--data", txt, "--json"]).stdout)
j2 = json.loads(run(["ppl", "--model", g, "--data", txt, "--json"]).stdout)
check(abs(j1["loss"] - j2["loss"]) < 5e-4, "export: GGUF (embedded tokenizer) loss == l4qz loss up to fp16 d, m", f"{j1['loss']} vs {j2['loss']}")
# No tokenizer key: the model's own tokenizer (GGUF embedded) is used — the same run as with
# `tokenizer:` naming that file; a llama2.c model has none, which is an error naming it.
gg = data("models/stories260K/stories260K.gguf")
def tiny(name, tok_line, model=gg):
    c = os.path.join(tmp, name + ".yaml")
    open(c, "w").write(f"""model: {model}
{tok_line}data: {{ format: text, train: {data('tinystories/tinystories_train_excerpt.txt')} }}
method: {{ name: l4q, rank: 2, bits: 4, group_size: 32 }}
train: {{ steps: 3, micro_batch: 2, seq_len: 32, checkpoint_every: 0 }}
eval: {{ every: 0, val_batches: 1 }}
""")
    return run(["train", c, "--out", os.path.join(tmp, name)], check_rc=False)
p1, p2 = tiny("own_tok", ""), tiny("named_tok", f"tokenizer: {gg}\n")
check(p1.returncode == 0 and p2.returncode == 0 and np.array_equal(losses(os.path.join(tmp, "own_tok"))[0], losses(os.path.join(tmp, "named_tok"))[0]),
      "config without tokenizer: the GGUF's embedded tokenizer, same losses as naming it", p1.stderr[-300:])
p3 = tiny("no_tok", "", model=data("models/stories260K/stories260K.bin"))
check(p3.returncode == 2 and "stories260K.bin: the model has no embedded tokenizer; set tokenizer: in the config" in p3.stderr,
      "config without tokenizer on a llama2.c model: one error line, exit 2", p3.stderr[-300:])
# A final model that cannot fit is refused before training, not after it (L4Q_MEM_LIMIT
# stands in for a machine too small for a 16-bit 7B base deployed as fp32).
def limited(name, method, limit, stories=STORIES):
    c = os.path.join(tmp, name + ".yaml")
    open(c, "w").write(f"""{stories}method: {{ {method} }}
train: {{ steps: 2, micro_batch: 2, seq_len: 32, checkpoint_every: 0 }}
eval: {{ every: 0, val_batches: 1 }}
""")
    return subprocess.run([L4Q, "train", c, "--out", os.path.join(tmp, name)], capture_output=True, text=True,
                          env=dict(os.environ, L4Q_MEM_LIMIT=str(limit)))
p = limited("lora_big", "name: lora, rank: 2", 1_500_000)
check(p.returncode == 2 and "needs 1.0 MB beside the 1.0 MB of weights held; the limit is 1.5 MB (L4Q_MEM_LIMIT)" in p.stderr
      and not os.path.exists(os.path.join(tmp, "lora_big", "run.h5")),
      "train: a deployed model beyond the memory limit is refused before training (exit 2, sizes named)", p.stderr[-400:])
p = limited("l4q_small", "name: l4q, rank: 2, bits: 4, group_size: 32", 1_500_000)
check(p.returncode == 0, "train: l4q's 4-bit deployed model fits the same limit", p.stderr[-300:])
# On a 16-bit base, `lora` deploys W0 as stored (borrowed, no second copy) plus the branch:
# only the fp32 embeddings count, so the run that fp32 deployment refused at 1.0 MB fits.
sys.path.insert(0, os.path.dirname(__file__))
import torch_hf, torch_llama
b16 = os.path.join(tmp, "stories260K_bf16")
torch_hf.write_dir(b16, *torch_hf.from_llama2c(*torch_llama.load_v0(data("models/stories260K/stories260K.bin"))), "BF16")
p = limited("lora_bf16", "name: lora, rank: 2", 1_000_000, STORIES.replace(data("models/stories260K/stories260K.bin"), b16))
check(p.returncode == 0 and os.path.exists(os.path.join(tmp, "lora_bf16", "final.l4qz")),
      "train: `lora` on a bf16 base deploys it as bf16 (+ branch), within a limit fp32 deployment exceeds", p.stderr[-300:])
shutil.rmtree(tmp)
done()
