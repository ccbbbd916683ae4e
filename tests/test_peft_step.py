# test_peft_step.py — bench/peft_step.py's PyTorch L4Q reference layer (the GPU Table 1's
# "PyTorch L4Q" row) computes L4Q: its forward and its gradients for X, A, B, s, b equal the
# harness's CPU L4Q layer (core/l4q.c through build/tests/test_l4q_layer, driven by
# tests/test_l4q.py's case builder and runner) and test_l4q.py's torch-autograd composite
# oracle; it rounds ties to even; it keeps nothing of out×in size between forward and
# backward; and the script's replace-and-train loop trains. The PEFT and HF cases need
# transformers + peft, which the GPU machine has and this one does not: SKIP lines say so.
import importlib.util, json, os, subprocess, sys
import numpy as np
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ROOT, check, done
import test_l4q as tl

spec = importlib.util.spec_from_file_location("peft_step", os.path.join(ROOT, "bench", "peft_step.py"))
ps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ps)
torch.set_num_threads(1)


def ref_layer(c, dtype):
    """The reference function on case c in dtype: Y and the gradients of sum(Y·dY)."""
    t = {k: torch.tensor(c[k], dtype=dtype) for k in ("W0", "A", "B", "s", "b", "X", "dY")}
    for k in ("A", "B", "s", "b", "X"):
        t[k].requires_grad_(True)
    Y = ps.L4QFunction.apply(t["X"], t["W0"], t["A"], t["B"], t["s"], t["b"], c["alpha"], c["bits"], c["gs"])
    (Y * t["dY"]).sum().backward()
    return {"Y": Y, "dX": t["X"].grad, "dA": t["A"].grad, "dB": t["B"].grad, "ds": t["s"].grad, "db": t["b"].grad}


def test_against_c_and_oracle():
    if not os.path.exists(tl.BIN):
        check(False, "peft_step L4Q vs C: test_l4q_layer binary", f"{tl.BIN} is missing (run make)")
        return
    for bits in (4, 3):
        for seed, inn, gs in ((1, 40, 16), (2, 64, 32)):   # a partial last group, then whole groups
            c = tl.make_case("l4q", bits, inn=inn, gs=gs, seed=seed + 7 * bits)
            got, _, _ = tl.run_c("l4q", c)
            orc = tl.oracle("l4q", c)
            keys = ["Y", "dX", "dA", "dB", "ds", "db"]
            r32, r64 = ref_layer(c, torch.float32), ref_layer(c, torch.float64)
            tag = f"{bits}-bit in={inn} gs={gs} clipped={c['clipped']:.0%}"
            d_c = max((float(np.max(np.abs(r32[k].detach().numpy().ravel() - got[k]))), k) for k in keys)
            d_o = max((float(np.max(np.abs(r64[k].detach().numpy().ravel() - orc[k]))), k) for k in keys)
            mags = min(float(np.max(np.abs(orc[k]))) for k in keys)
            check(d_c[0] <= 1e-5 and mags > 1e-3, f"peft_step L4QFunction (fp32) = core/l4q.c layer, {tag}: Y, dX, dA, dB, ds, db",
                  f"max |diff| {d_c[0]:.3g} in {d_c[1]}")
            check(d_o[0] <= 1e-10, f"peft_step L4QFunction (fp64) = test_l4q.py's autograd oracle, {tag}",
                  f"max |diff| {d_o[0]:.3g} in {d_o[1]}")
            print(f"  {tag}: |ref - C| {d_c[0]:.2e} ({d_c[1]}), |ref - oracle| {d_o[0]:.2e} ({d_o[1]})")


def test_ties_and_guard():
    # v exactly on .5 ties (s = 1, b = 0): half to even as rintf / np.rint; clamp before round.
    W = torch.tensor([[-8.5, -7.5, -2.5, -0.5, 0.5, 1.5, 2.5, 6.5, 7.5, 9.0, 0.0, 3.49]])
    s, b = torch.ones(1, 1), torch.zeros(1, 1)
    Wq, _, _ = ps.fake_quant(W, s, b, 4, 12)
    want = np.clip(np.rint(np.clip(W.numpy(), -8, 7)), -8, 7)
    check(np.array_equal(Wq.numpy(), want), "peft_step fake_quant: clamp, then round half to even", f"{Wq} vs {want}")
    sg = ps.safe_scale(torch.tensor([0.0, 1e-12, -1e-12, -2e-8, 3.0]))
    check(sg.tolist() == torch.tensor([1e-8, 1e-8, -1e-8, -2e-8, 3.0]).tolist(), "peft_step safe_scale = quant_safe_scale",
          str(sg))


def test_saves_nothing_outxin():
    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 96, bias=False)
    layer = ps.L4QLinear(lin, 4, 8.0, 4, 32)
    x = torch.randn(2, 5, 64, requires_grad=True)
    y = layer(x)
    inputs = {t.data_ptr() for t in (x, layer.W0, layer.A, layer.B, layer.s, layer.b)}
    saved = y.grad_fn.saved_tensors
    check(len(saved) == 6 and all(t.data_ptr() in inputs for t in saved),
          "peft_step L4QFunction saves only its inputs (no merged or quantized out x in tensor)",
          f"{[tuple(t.shape) for t in saved]}")
    y.sum().backward()
    check(all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in (layer.B, layer.s, layer.b))
          and float(layer.A.grad.abs().sum()) == 0, "peft_step L4QLinear: gradients reach B, s, b; A's is 0 while B = 0")


def test_replace_and_train():
    # The script's own loop on a small MLP: every targeted Linear replaced, loss falls.
    torch.manual_seed(1)
    net = torch.nn.Sequential()
    net.add_module("up_proj", torch.nn.Linear(32, 64, bias=False))
    net.add_module("act", torch.nn.SiLU())
    net.add_module("down_proj", torch.nn.Linear(64, 32, bias=False))
    net.add_module("head", torch.nn.Linear(32, 10, bias=False))
    net.requires_grad_(False)
    n = ps.replace_linears(net, set(ps.TARGETS), lambda lin: ps.L4QLinear(lin, 4, 8.0, 4, 16))
    params = [p for p in net.parameters() if p.requires_grad]
    x, yt = torch.randn(64, 32), torch.randint(0, 10, (64,))
    opt, fused = ps.make_adamw(params, "cpu")
    opt.param_groups[0]["lr"] = 1e-2
    ms, losses = ps.timed_steps(lambda: torch.nn.functional.cross_entropy(net(x), yt), params, opt, "cpu", 3, 40)
    check(n == 2 and len(params) == 8 and len(ms) == 40 and not fused and losses[-1] < 0.9 * losses[0],
          "peft_step replace_linears + timed_steps: 2 layers replaced, 8 trainables, 40 timed steps, loss falls",
          f"n {n}, params {len(params)}, steps {len(ms)}, loss {losses[0]:.4f} -> {losses[-1]:.4f}")


def test_script():
    missing = [m for m in ("transformers", "peft") if importlib.util.find_spec(m) is None]
    if "transformers" in missing:
        print("SKIP: peft_step.py --device cpu --tiny (both cases): transformers is not installed here "
              "(Debian python3-torch only); the GPU machine runs the script via bench/gpu_table1.sh")
        return
    for case in ("l4q", "lora"):
        if case == "lora" and "peft" in missing:
            print("SKIP: peft_step.py --case lora: PEFT is not installed here")
            continue
        p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "peft_step.py"), "--case", case, "--device", "cpu",
                            "--tiny", "--warmup", "1", "--steps", "3"], capture_output=True, text=True)
        try:
            r = json.loads(p.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            r = {}
        check(p.returncode == 0 and r.get("status") == "ok" and r["ms"] > 0 and r["trainable"] > 0,
              f"peft_step.py --case {case} --device cpu --tiny runs and prints one JSON row", p.stdout[-300:] + p.stderr[-300:])


test_against_c_and_oracle()
test_ties_and_guard()
test_saves_nothing_outxin()
test_replace_and_train()
test_script()
done()
