# test_train_device.py — the host half of train.device: cuda (run/train_device.c), exercised
# for real through a stand-in plugin (tests/plugins/fake_cuda.c) whose model has a known answer:
# NLL per target = 1 + Q, Q = ½·Σ(p − 0.05)²/P over the P trainable values it was given, so
# the gradient is (loss_scale·cnt/P)·(p − 0.05); clipping and AdamW as on the CPU. Checked:
#   * the description: one base per projection (W0, or qlora's NF4 / rtn_lora's uniform
#     Deploy through Linear.frozen_base), trainables in model_params order;
#   * the trajectory: the trainables, AdamW moments and step count in ckpt.bin (downloaded
#     before the checkpoint) = torch.optim.AdamW on the same quadratic with the same clipping
#     started from the uploaded trainables; the logged loss, gradient norm and the validation
#     loss during training (ops->step with backward 0) = the quadratic's;
#   * the final numbers are the CPU's on the export: the last val_loss = `l4q eval` of final.l4qz;
#   * resume: --stop-at 3 then --resume uploads params, moments and t (fp32 and bf16 moments)
#     and ends with the uninterrupted run's ckpt.bin and final.l4qz byte for byte;
#   * provenance: run.h5 names the device and the precision.
import os, struct, tempfile
import h5py, numpy as np, torch
from testlib import check, run, run_json, data, fake_cuda_plugin, done

tmp = tempfile.mkdtemp(prefix="l4q_train_device_")
plugin = fake_cuda_plugin(os.path.join(tmp, "fake.so"))
MODEL, TOK = data("models/stories260K/stories260K.bin"), data("models/stories260K/tok512.bin")
B, T, VB, STEPS, LR, CLIP = 2, 32, 2, 6, 5e-3, 1e-6

def config(name, method="lora", extra=""):
    p = os.path.join(tmp, name + ".yaml")
    open(p, "w").write(f"""model: {MODEL}
tokenizer: {TOK}
data: {{format: text, train: {data('tinystories/tinystories_train_excerpt.txt')}, val: {data('tinystories/tinystories_valid_excerpt.txt')}}}
method: {{name: {method}}}
train: {{device: cuda, steps: {STEPS}, micro_batch: {B}, seq_len: {T}, lr: {LR}, schedule: constant, warmup: 0, clip: {CLIP}, checkpoint_every: 3{extra}}}
eval: {{every: 3, val_batches: {VB}}}
""")
    return p

def train(name, cfg, *args, expect=0):
    log, dump = os.path.join(tmp, name + ".log"), os.path.join(tmp, name + ".dump")
    where = ["--out", os.path.join(tmp, name)] if cfg else []
    p = run(["train"] + ([cfg] if cfg else []) + where + list(args), check_rc=False,
            env={"L4Q_CUDA_PLUGIN": plugin, "FAKE_CUDA_LOG": log, "FAKE_CUDA_DUMP": dump})
    check(p.returncode == expect, f"train device: {name} {' '.join(args)} exits {expect}", p.stderr[-400:])
    return open(log).read().splitlines() if os.path.exists(log) else []

def read_ckpt(path):  # run/trainstate.c layout (version 2), AdamW fp32 or bf16 moments
    b = open(path, "rb").read()
    o = 8
    step, np_ = struct.unpack_from("<qI", b, o); o += 12
    params = {}
    for _ in range(np_):
        name = b[o:o + 64].split(b"\0")[0].decode(); o += 64
        (cnt,) = struct.unpack_from("<Q", b, o); o += 8
        params[name] = np.frombuffer(b, np.float32, cnt, o).copy(); o += 4 * cnt
    magic = b[o:o + 8]; o += 8
    t, cnt = struct.unpack_from("<qi", b, o); o += 12
    es, dt = (2, np.uint16) if magic == b"L4QADAMB" else (4, np.float32)
    mom = {}
    for _ in range(cnt):
        name = b[o:o + 64].split(b"\0")[0].decode(); o += 64
        (sz,) = struct.unpack_from("<Q", b, o); o += 8
        m = np.frombuffer(b, dt, sz, o).copy(); o += es * sz
        v = np.frombuffer(b, dt, sz, o).copy(); o += es * sz
        mom[name] = (m, v)
    return step, params, t, mom

# ---- lora, fp32 moments: the whole run against torch ----------------------------------
log = train("lora", config("lora"))
out = os.path.join(tmp, "lora")
projs = [l for l in log if l.startswith("proj ")]
check(len(projs) == 35 and all(" w0 " in l and "params=2 first=layers." in l for l in projs),
      "train device: lora description: 35 projections on W0, A and B each", "\n".join(projs[:3]))
names, sizes, decays = [], [], []
for line in open(os.path.join(tmp, "lora.dump.idx")):
    n, s, d = line.split(); names.append(n); sizes.append(int(s)); decays.append(int(d))
flat = np.fromfile(os.path.join(tmp, "lora.dump.bin"), np.float32)
check(flat.size == sum(sizes) and names[0] == "layers.0.q.lora_A" and names[1] == "layers.0.q.lora_B",
      "train device: trainables uploaded in model_params order", f"{names[:2]} {flat.size} {sum(sizes)}")

# The oracle: torch AdamW on the quadratic, from the uploaded values.
P = float(sum(sizes))
ps = [torch.tensor(c, requires_grad=True) for c in np.split(flat, np.cumsum(sizes)[:-1])]
f32 = lambda x: float(np.float32(x))  # the harness holds lr, betas, eps and decay as float32
opt = torch.optim.AdamW([{"params": [p for p, d in zip(ps, decays) if d], "weight_decay": f32(0.01)},
                         {"params": [p for p, d in zip(ps, decays) if not d], "weight_decay": 0.0}],
                        lr=f32(LR), betas=(f32(0.9), f32(0.999)), eps=f32(1e-8), foreach=False)
C = np.float32(0.05)
Q = lambda: 0.5 * sum(float(((p.detach() - C).double() ** 2).sum()) for p in ps) / P
cnt = B * T  # text data: every position has a target
losses, norms, qs = [], [], [Q()]
for s in range(STEPS):
    losses.append(1 + Q())
    scale = np.float32(np.float64(np.float32(1.0 / cnt)) * cnt / P)
    for p in ps: p.grad = torch.from_numpy(scale * (p.detach().numpy() - C))
    gn = float(np.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in ps)))
    norms.append(gn)
    coef = CLIP / (gn + 1e-6)
    if coef < 1:
        for p in ps: p.grad.mul_(np.float32(coef))
    opt.step()
    qs.append(Q())
step, params, t, mom = read_ckpt(os.path.join(out, "ckpt.bin"))
got = np.concatenate([params[n] for n in names])
want = np.concatenate([p.detach().numpy() for p in ps])
err = float(np.abs(got - want).max() / np.abs(want).max())
check(step == STEPS and t == STEPS and err <= 1e-6, "train device: ckpt.bin trainables = torch AdamW on the device's loss",
      f"step {step} t {t} max rel err {err:.3g}")
st = opt.state
m_err = max(float(np.abs(mom[n][0] - st[p]["exp_avg"].numpy()).max() / (np.abs(st[p]["exp_avg"].numpy()).max() + 1e-30))
            for n, p in zip(names, ps) if np.abs(st[p]["exp_avg"].numpy()).max() > 0)
v_err = max(float(np.abs(mom[n][1] - st[p]["exp_avg_sq"].numpy()).max() / (np.abs(st[p]["exp_avg_sq"].numpy()).max() + 1e-30))
            for n, p in zip(names, ps) if np.abs(st[p]["exp_avg_sq"].numpy()).max() > 0)
print(f"trajectory vs torch: params {err:.3g}, m {m_err:.3g}, v {v_err:.3g} (max abs err / max abs)")
check(m_err <= 1e-5 and v_err <= 1e-5, "train device: ckpt.bin AdamW moments = torch's", f"m {m_err:.3g} v {v_err:.3g}")
with h5py.File(os.path.join(out, "run.h5"), "r") as f:
    tl, tg = f["train/loss"][:], f["train/grad_norm"][:]
    check(np.allclose(tl, losses, rtol=1e-6, atol=0) and np.allclose(tg, norms, rtol=1e-4, atol=0),
          "train device: logged loss and gradient norm = the device's", f"{tl} vs {losses}; {tg} vs {norms}")
    es, vl = f["eval/step"][:], f["eval/val_loss"][:]
    mid = [float(v) for s_, v in zip(es, vl) if s_ < STEPS]
    want_mid = [1 + qs[int(s_)] for s_ in es if s_ < STEPS]
    check(len(mid) == 2 and np.allclose(mid, want_mid, rtol=1e-6, atol=0),
          "train device: validation during training runs on the device", f"{list(zip(es, vl))} vs {want_mid}")
    final = float(vl[-1])
    attrs = dict(f.attrs)
    check(attrs.get("device") == b"Fake CUDA device (test plugin)" and attrs.get("precision") == b"fp32",
          "train device: run.h5 names the device and precision", f"{attrs.get('device')} {attrs.get('precision')}")
ind = run_json(["eval", "--model", os.path.join(out, "final.l4qz"), "--tokenizer", TOK, "--tasks", "tinystories", "--windows",
                str(VB * B), "--seq-len", str(T), "--shots", "0", "--no-progress", "--out", os.path.join(tmp, "ind.h5")])
vind = ind["results"]["tinystories"]["loss"]
base = run_json(["eval", "--model", MODEL, "--tokenizer", TOK, "--tasks", "tinystories", "--windows", str(VB * B), "--seq-len",
                 str(T), "--shots", "0", "--no-progress", "--out", os.path.join(tmp, "base.h5")])["results"]["tinystories"]["loss"]
check(abs(final - vind) <= 1e-6 * abs(vind) and abs(vind - base) > 1e-4 * base,
      "train device: the final val_loss is the CPU's on final.l4qz, which holds the trained values",
      f"{final!r} vs l4q eval {vind!r}, untrained {base!r}")
# Downloads come before each checkpoint and the export: params (0) and moments (2, 3).
steps_at = [i for i, l in enumerate(log) if l.startswith("adamw_step")]
dl = [i for i, l in enumerate(log) if l == "download 0 0"]
check(len(dl) == 3 and steps_at[2] < dl[0] < steps_at[3] and all(d > steps_at[-1] for d in dl[1:])
      and sum(l == f"download {len(names) - 1} 3" for l in log) == 3 and not any(l.startswith("upload") for l in log),
      "train device: downloads before the checkpoints and the export, no uploads without a resume", f"{dl} {steps_at}")

# ---- resume: stop at 3, resume, same bytes as uninterrupted (fp32 and bf16 moments) -----------
for state in ("fp32", "bf16"):
    extra = f", optim_state: {state}"
    full = f"full_{state}"
    if state == "fp32": full = "lora"
    else: train(full, config(full, extra=extra))
    name = f"resume_{state}"
    cfg = config(name, extra=extra)
    train(name, cfg, "--stop-at", "3", expect=3)
    log2 = train(name, None, "--resume", os.path.join(tmp, name))
    second = log2[log2.index("adamw_step t=3") + 1:]  # the resumed process's calls
    mn = [i for i, l in enumerate(second) if l.startswith("model_new")]
    up = [i for i, l in enumerate(second) if l.startswith("upload")]
    first_step = next(i for i, l in enumerate(second) if l.startswith("step ") and mn and i > mn[0])
    check(mn and len(up) == 3 * len(names) and mn[0] < up[0] and up[-1] < first_step and "adamw_t set 3" in second,
          f"train device: resume ({state} moments) uploads params, moments and t before the first step", f"{len(up)}")
    same = all(open(os.path.join(tmp, name, f_), "rb").read() == open(os.path.join(tmp, full, f_), "rb").read()
               for f_ in ("ckpt.bin", "final.l4qz"))
    check(same, f"train device: stop + resume ({state} moments) = uninterrupted, ckpt.bin and final.l4qz byte for byte")

# ---- the quantized bases reach the device as Deploy forms ------------------------------------
for method, kind, bits in (("qlora", 2, 4), ("rtn_lora", 1, 4)):
    log = train(method, config(method, method=method))
    projs = [l for l in log if l.startswith("proj ")]
    check(len(projs) == 35 and all(f" base kind={kind} bits={bits} params=2" in l for l in projs),
          f"train device: {method} description: every projection's frozen base is its {('uniform', 'NF4')[kind == 2]} Deploy",
          "\n".join(projs[:2]))
done()
