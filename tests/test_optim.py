# test_optim.py — AdamW vs torch.optim.AdamW (3 steps, one group with decay, one without,
# plus a frozen tensor), cosine/constant schedules vs a direct formula, grad clipping vs
# torch.nn.utils.clip_grad_norm_. C side: build/tests/test_optim (driver mode).
# With bf16 moments (train.optim_state: bf16): each step is torch.optim.AdamW's from the
# widened moments, stored back by stochastic rounding with the documented random bits
# (core/optim.h), emulated here in numpy.
import math, os, subprocess, tempfile
import numpy as np
import torch
from testlib import ROOT, check, done

DRIVER = os.path.join(ROOT, "build", "tests", "test_optim")
torch.manual_seed(0)
STEPS = 3
shapes = [(37, True, True), (5, False, True), (8, True, False), (300, True, True)]  # (n, decay, trainable)
vals = [torch.randn(n) for n, _, _ in shapes]
grads = [torch.randn(STEPS, n) * (0.1 + i) for i, (n, _, _) in enumerate(shapes)]

tmp = tempfile.mkdtemp(prefix="l4q_optim_")
inp, outp = os.path.join(tmp, "in.txt"), os.path.join(tmp, "out.txt")
def write_input():  # the driver's input: tensors (n, decay, trainable, values) and each step's grads
    with open(inp, "w") as f:
        f.write(f"{len(shapes)} {STEPS}\n")
        for (n, dec, tr), v, g in zip(shapes, vals, grads):
            f.write(f"{n} {int(dec)} {int(tr)}\n" + " ".join(f"{x:.9g}" for x in v.tolist()) + "\n")
            if tr:
                f.write(" ".join(f"{x:.9g}" for x in g.flatten().tolist()) + "\n")
for lr, b1, b2, eps, wd in [(1e-3, 0.9, 0.999, 1e-8, 0.01), (3e-2, 0.8, 0.95, 1e-6, 0.1)]:
    write_input()
    r = subprocess.run([DRIVER, "adamw", inp, outp, str(lr), str(b1), str(b2), str(eps), str(wd)],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"driver runs (lr={lr})", r.stderr)
    if r.returncode:
        continue
    got = [float(x) for x in open(outp).read().split()]
    # Parse the values exactly as the C side did (text → float32).
    ps = [torch.tensor([float(f"{x:.9g}") for x in v.tolist()], dtype=torch.float32, requires_grad=tr)
          for (n, dec, tr), v in zip(shapes, vals)]
    gs = [torch.tensor([float(f"{x:.9g}") for x in g.flatten().tolist()], dtype=torch.float32).view(STEPS, -1) for g in grads]
    dec = [p for p, (n, d, tr) in zip(ps, shapes) if tr and d]
    nodec = [p for p, (n, d, tr) in zip(ps, shapes) if tr and not d]
    opt = torch.optim.AdamW([{"params": dec, "weight_decay": wd}, {"params": nodec, "weight_decay": 0.0}],
                            lr=lr, betas=(b1, b2), eps=eps, foreach=False)
    for s in range(STEPS):
        for p, g, (n, d, tr) in zip(ps, gs, shapes):
            if tr:
                p.grad = g[s].clone()
        opt.step()
    want = torch.cat([p.detach() for p in ps]).tolist()
    diff = max(abs(a - b) for a, b in zip(got, want))
    check(len(got) == len(want) and diff <= 1e-6, f"AdamW 3 steps == torch (lr={lr}, wd={wd})", f"max diff {diff:.3g}")
    off = shapes[0][0] + shapes[1][0]
    got32 = torch.tensor(got, dtype=torch.float32)
    check(torch.equal(got32[off:off + 8], ps[2].detach()), "frozen tensor unchanged", "")
    # The no-decay tensor (index 1) must match torch's wd=0 group, not the decayed one.
    check(abs(got[37] - want[37]) <= 1e-6, "no-decay mask honoured", f"{got[37]} vs {want[37]}")

# Two parameter groups (method.quant_lr): the quantizer group steps with its own base rate on
# the same schedule. torch: one param group per (group, decay), each step's lr set from the
# documented schedule formula (lr_ref below) — torch.optim.AdamW's param groups step for step.
def grouped_check(lr, qlr, sched, warmup, groups, steps):
    global STEPS, grads
    STEPS, saved = steps, grads
    grads = [torch.randn(steps, n) * (0.1 + i) for i, (n, _, _) in enumerate(shapes)]
    write_input()
    b1, b2, eps, wd = 0.9, 0.999, 1e-8, 0.01
    r = subprocess.run([DRIVER, "adamwg", inp, outp, str(lr), str(b1), str(b2), str(eps), str(wd), str(qlr), sched,
                        str(warmup), groups], capture_output=True, text=True)
    check(r.returncode == 0, f"driver runs (groups {groups})", r.stderr)
    got = [float(x) for x in open(outp).read().split()] if r.returncode == 0 else []
    ps = [torch.tensor([float(f"{x:.9g}") for x in v.tolist()], dtype=torch.float32, requires_grad=tr)
          for (n, dec, tr), v in zip(shapes, vals)]
    gs = [torch.tensor([float(f"{x:.9g}") for x in g.flatten().tolist()], dtype=torch.float32).view(steps, -1) for g in grads]
    pg = []
    for gi, base in ((0, lr), (1, qlr)):
        for d in (True, False):
            mine = [p for p, (n, dd, tr), c in zip(ps, shapes, groups) if tr and dd == d and int(c) == gi]
            if mine:
                pg.append({"params": mine, "weight_decay": wd if d else 0.0, "base": base})
    opt = torch.optim.AdamW(pg, lr=lr, betas=(b1, b2), eps=eps, foreach=False)
    for s in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_ref(sched, s, steps, warmup, g["base"])
        for p, g, (n, d, tr) in zip(ps, gs, shapes):
            if tr:
                p.grad = g[s].clone()
        opt.step()
    want = torch.cat([p.detach() for p in ps]).tolist()
    diff = max((abs(a - b) for a, b in zip(got, want)), default=1)
    check(len(got) == len(want) and diff <= 1e-6,
          f"AdamW two param groups (lr {lr}, quant lr {qlr}, {sched}, groups {groups}), {steps} steps == torch",
          f"max diff {diff:.3g}")
    # Not vacuous: had the quantizer group stepped at lr, its tensors would be far from these.
    if qlr != lr:
        ps1 = [torch.tensor([float(f"{x:.9g}") for x in v.tolist()], dtype=torch.float32, requires_grad=tr)
               for (n, dec, tr), v in zip(shapes, vals)]
        one = torch.optim.AdamW([{"params": [p], "weight_decay": wd if d else 0.0} for p, (n, d, tr) in zip(ps1, shapes) if tr],
                                lr=lr, betas=(b1, b2), eps=eps, foreach=False)
        for s in range(steps):
            for g in one.param_groups:
                g["lr"] = lr_ref(sched, s, steps, warmup, lr)
            for p, g, (n, d, tr) in zip(ps1, gs, shapes):
                if tr:
                    p.grad = g[s].clone()
            one.step()
        alt = torch.cat([p.detach() for p in ps1]).tolist()
        far = max((abs(a - b) for a, b in zip(got, alt)), default=0)
        check(far > 1e-4, f"the quantizer group did not step at lr (groups {groups})", f"max diff to one group {far:.3g}")
    STEPS, grads = 3, saved

def lr_ref(sched, step, total, warmup, base):
    W = 0 if warmup <= 0 else (round(warmup * total) if warmup < 1 else int(warmup))
    W = min(W, total)
    if step < W:
        return base * (step + 1) / W
    if sched == "constant" or total - 1 - W <= 0:
        return base
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - W) / (total - 1 - W))))

grouped_check(1e-3, 1e-4, "cosine", 0.25, "1010", 8)
grouped_check(2e-3, 2e-2, "constant", 2, "0101", 5)
grouped_check(1e-3, 1e-3, "cosine", 0.1, "1110", 6)

# bf16 moments. The random bits: r = mix64(key + j), key = mix64(seed ^ mix64((t << 20) + i)),
# i the tensor's index in the list, j the element, t the step (from 1); m takes r's low 16
# bits, v the next 16; seed 42 in the driver.
M64 = (1 << 64) - 1
def mix64(z):
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
    return z ^ (z >> np.uint64(31))
def sr_bf16(x, r16):  # x float32 array → bf16 bits (x finite here)
    b = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((b + (r16 & np.uint64(0xffff))) >> np.uint64(16)).astype(np.uint16)
def widen(h):
    return torch.from_numpy((h.astype(np.uint32) << np.uint32(16)).view(np.float32).copy())

lr, b1, b2, eps, wd, SEED = 1e-3, 0.9, 0.999, 1e-8, 0.01, 42
write_input()
r = subprocess.run([DRIVER, "adamw16", inp, outp, str(lr), str(b1), str(b2), str(eps), str(wd)], capture_output=True, text=True)
check(r.returncode == 0, "driver runs (bf16 moments)", r.stderr)
out = open(outp).read().split()
ps = [torch.tensor([float(f"{x:.9g}") for x in v.tolist()], dtype=torch.float32, requires_grad=tr)
      for (n, dec, tr), v in zip(shapes, vals)]
gs = [torch.tensor([float(f"{x:.9g}") for x in g.flatten().tolist()], dtype=torch.float32).view(STEPS, -1) for g in grads]
m16 = {i: np.zeros(n, np.uint16) for i, (n, d, tr) in enumerate(shapes) if tr}
v16 = {i: np.zeros_like(m) for i, m in m16.items()}
for t in range(1, STEPS + 1):
    for i in m16:
        p, (n, d, tr) = ps[i], shapes[i]
        opt = torch.optim.AdamW([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd if d else 0.0, foreach=False)
        opt.state[p] = {"step": torch.tensor(float(t - 1)), "exp_avg": widen(m16[i]), "exp_avg_sq": widen(v16[i])}
        p.grad = gs[i][t - 1].clone()
        opt.step()
        key = mix64(np.uint64(SEED) ^ mix64(np.uint64((t << 20) + i)))
        with np.errstate(over="ignore"):
            rr = mix64(key + np.arange(n, dtype=np.uint64))
        m16[i] = sr_bf16(opt.state[p]["exp_avg"].numpy(), rr)
        v16[i] = sr_bf16(opt.state[p]["exp_avg_sq"].numpy(), rr >> np.uint64(16))
npar = sum(n for n, _, _ in shapes)
got = [float(x) for x in out[:npar]]
want = torch.cat([p.detach() for p in ps]).tolist()
diff = max(abs(a - b) for a, b in zip(got, want))
check(len(out) == npar + 2 * sum(len(m) for m in m16.values()) and diff <= 1e-6,
      "AdamW with bf16 moments, 3 steps == torch from the widened moments", f"max diff {diff:.3g}")
gm = np.array([int(x) for x in out[npar:]], dtype=np.int64)
wm = np.concatenate([np.concatenate([m16[i], v16[i]]) for i in sorted(m16)]).astype(np.int64)
same = float(np.mean(gm == wm)) if len(gm) == len(wm) else 0.0
check(len(gm) == len(wm) and same >= 0.99 and np.abs(gm - wm).max() <= 1,
      "bf16 moments == stochastic rounding of torch's moments (bit for bit but a last-bit draw)", f"identical {same:.4f}")

# Schedules: the documented formulas (optim.h, lr_ref above), checked independently.

for sched, total, warmup, base in [("cosine", 200, 0.1, 1e-4), ("cosine", 50, 0, 3e-3), ("cosine", 30, 5, 1e-3),
                                   ("constant", 40, 0.25, 2e-4), ("constant", 10, 0, 1e-3)]:
    r = subprocess.run([DRIVER, "lr", sched, str(total), str(warmup), str(base)], capture_output=True, text=True)
    got = [float(x) for x in r.stdout.split()]
    want = [lr_ref(sched, s, total, warmup, base) for s in range(total)]
    err = max((abs(a - b) / base for a, b in zip(got, want)), default=1)
    extra = (got[-1] == 0.0) if sched == "cosine" else True
    check(r.returncode == 0 and len(got) == total and err < 1e-6 and extra,
          f"lr schedule {sched} total={total} warmup={warmup}", f"rel err {err:.3g}, last {got[-1] if got else None}")

# Grad clipping vs torch.nn.utils.clip_grad_norm_ (pre-clip norm and scaled grads).
inp = os.path.join(tmp, "clip.txt")
for max_norm in (0.5, 1e9):
    gvals = [torch.randn(50) * 3, torch.randn(7), torch.randn(1000) * 0.01]
    with open(inp, "w") as f:
        f.write(f"{len(gvals)}\n")
        for g in gvals:
            f.write(f"{g.numel()}\n" + " ".join(f"{x:.9g}" for x in g.tolist()) + "\n")
    t = []
    for g in gvals:
        p = torch.zeros(g.numel(), requires_grad=True)
        p.grad = torch.tensor([float(f"{x:.9g}") for x in g.tolist()], dtype=torch.float32)
        t.append(p)
    n_ref = float(torch.nn.utils.clip_grad_norm_(t, max_norm))
    r = subprocess.run([DRIVER, "clip", str(max_norm), inp], capture_output=True, text=True)
    vals_c = [float(x) for x in r.stdout.split()]
    want = torch.cat([p.grad for p in t]).tolist()
    ok = r.returncode == 0 and abs(vals_c[0] - n_ref) <= 1e-5 * n_ref and \
        max(abs(a - b) for a, b in zip(vals_c[1:], want)) <= 1e-6
    check(ok, f"grad clip max_norm={max_norm} == torch", f"norm {vals_c[0] if vals_c else None} vs {n_ref}")
done()
