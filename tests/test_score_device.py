# test_score_device.py — `l4q ppl|eval|generate --device cuda` (run/score_device.c) on a machine without a
# GPU, through the stand-in plugin (tests/plugins/fake_cuda.c), which predicts uniformly for a
# model described for inference: log p = −log(vocab). Asserted: the routing (the plugin gets
# an inference description, training 0, method none, with maxB×maxT the CPU path's batch and
# the file's deployed forms as they are: fp32 W0, uniform codes, NF4, LoRA side branches;
# its steps cover exactly the CPU path's windows, forward only), the number (ppl = vocab
# exactly, with the CPU path's token/window counts), and the refusals (one line naming
# --device cuda, exit 2, before the model loads). For eval: every request is one row of the
# device's passes (its ll = ntok·log p of the stand-in, its token counts and prompts the CPU
# run's), the perplexity task's windows too. For generate: the stand-in's logits put the
# argmax at the id after the last input, so greedy text is the prompt's ids counting up, and
# every token is one forward of the whole prefix (B 1, T = its length) and its last row.
import json, math, os, re, tempfile
import h5py, numpy as np
from testlib import check, run, data, fake_cuda_plugin, done

tmp = tempfile.mkdtemp(prefix="l4q_score_device_")
MODEL, TOK = data("models/stories260K/stories260K.bin"), data("models/stories260K/tok512.bin")
text = os.path.join(tmp, "valid.txt")  # ~150 windows of 64: several batches, a short last one
open(text, "w").write(open(data("tinystories/tinystories_valid_excerpt.txt")).read()[:20000])
garbage = os.path.join(tmp, "garbage.bin")  # exists, is no model: loading it would fail differently
open(garbage, "wb").write(os.urandom(4096))
plugin = fake_cuda_plugin(os.path.join(tmp, "fake.so"))
V = 512

def ppl(model, device=None, plugin_path=plugin, log=None, extra=()):
    args = ["ppl", "--model", model, "--tokenizer", TOK, "--data", text, "--json"] + list(extra)
    if device: args += ["--device", device]
    env = {"L4Q_CUDA_PLUGIN": plugin_path}
    if log:
        if os.path.exists(log): os.remove(log)
        env["FAKE_CUDA_LOG"] = log
    return run(args, check_rc=False, env=env)

def refused(name, p, want):
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(lines) == 1 and want in lines[0], f"score_device: {name}: exit 2, one line",
          f"rc {p.returncode}, stderr {p.stderr!r}")

# Refusals, before the model loads (the model is garbage: its error would be another one).
refused("no plugin", ppl(garbage, "cuda", os.path.join(tmp, "missing.so")),
        f"--device cuda: {tmp}/missing.so not found: run make cuda")
msg = "cudaErrorNoDevice: no CUDA-capable device is detected"
refused("no device", ppl(garbage, "cuda", fake_cuda_plugin(os.path.join(tmp, "nodev.so"), f'FAKE_INIT_FAIL="{msg}"')),
        f"--device cuda: no CUDA device ({msg})")
refused("unknown device", ppl(garbage, "tpu"), "ppl: --device: 'tpu' is not cpu or cuda")
p = ppl(garbage, "cuda")
check(p.returncode == 2 and "--device cuda" not in p.stderr and "garbage.bin" in p.stderr,
      "score_device: a good plugin opens, then the model loads", p.stderr)

def routing(name, model, T, kinds):
    """ppl of `model` on the CPU and through the plugin; kinds: the set of (base, kind, bits, group, rank) its
    projections must be described with."""
    cpu = ppl(model, "cpu", extra=["--seq-len", str(T)])
    log = os.path.join(tmp, name + ".log")
    dev = ppl(model, "cuda", log=log, extra=["--seq-len", str(T)])
    if cpu.returncode or dev.returncode:
        check(False, f"score_device: {name}: runs", cpu.stderr + dev.stderr)
        return
    c, d = json.loads(cpu.stdout), json.loads(dev.stdout)
    check(all(c[k] == d[k] for k in ("tokens", "predicted", "windows", "seq_len")),
          f"score_device: {name}: the CPU path's tokens, predicted tokens and windows", f"cpu {c} device {d}")
    check(abs(d["ppl"] - V) <= 1e-9 * V and abs(d["loss"] - math.log(V)) <= 1e-12 and c["ppl"] < V / 4,
          f"score_device: {name}: ppl = vocab ({V}) exactly (uniform stand-in), not the CPU's", f"device {d['ppl']}, cpu {c['ppl']}")
    L = open(log).read().splitlines()
    new = [l for l in L if l.startswith("model_new")]
    m = re.match(r"model_new none precision=0 optim_state=\d+ maxB=(\d+) maxT=(\d+) training=0$", new[0]) if len(new) == 1 else None
    check(m is not None and int(m.group(2)) == T and int(m.group(1)) == 512 // T,
          f"score_device: {name}: one inference model (none, fp32, training 0, the CPU path's batch {512 // T}×{T})",
          str(new))
    steps = [tuple(map(int, re.match(r"step (\d+) (\d+) backward=(\d)", l).groups())) for l in L if l.startswith("step")]
    maxB = int(m.group(1)) if m else 0
    check(steps and sum(s[0] for s in steps) == c["windows"] and all(s[2] == 0 and s[1] <= T and 0 < s[0] <= maxB for s in steps)
          and sum(s[0] == maxB for s in steps) >= len(steps) - 1,
          f"score_device: {name}: forward-only steps of at most maxB windows of ≤ {T}, covering the {c['windows']} windows",
          str(steps[:3]) + f"... {len(steps)} steps")
    check(not [l for l in L if l.split()[0] in ("zero_grad", "adamw_step", "upload", "download", "grad_clip")] and L[-1] == "model_free",
          f"score_device: {name}: no training call, the model freed", str(L[-3:]))
    got = set()
    for l in L:
        q = re.match(r"proj \d+ \d+x\d+ (\w+) kind=(-?\d+) bits=(\d+) params=0 group=(-?\d+) rank=(\d+)$", l)
        if l.startswith("proj"): got.add((q.group(1),) + tuple(map(int, q.groups()[1:])) if q else ("bad", l))
    n = sum(l.startswith("proj") for l in L)
    check(got == kinds and n == 5 * 7, f"score_device: {name}: the 35 projections described as {sorted(kinds)}", f"{n}: {got}")

routing("fp32 file", MODEL, 64, {("w0", -1, 0, 0, 0)})

# eval: the same requests as on the CPU, each scored as one row on the device.
TASKS = "tinystories,arc_easy,blimp_anaphor_gender_agreement,mmlu_abstract_algebra"
def evaluate(device, log=None, model=MODEL):
    env = {"L4Q_CUDA_PLUGIN": plugin}
    if log:
        if os.path.exists(log): os.remove(log)
        env["FAKE_CUDA_LOG"] = log
    out = os.path.join(tmp, f"eval_{device}.h5")
    return run(["eval", "--model", model, "--tokenizer", TOK, "--tasks", TASKS, "--limit", "6", "--shots", "0",
                "--seq-len", "64", "--no-progress", "--json", "--device", device, "--out", out], check_rc=False, env=env), out

refused("eval: no plugin", run(["eval", "--model", garbage, "--tokenizer", TOK, "--tasks", "arc_easy", "--device", "cuda"],
                               check_rc=False, env={"L4Q_CUDA_PLUGIN": os.path.join(tmp, "missing.so")}),
        f"--device cuda: {tmp}/missing.so not found: run make cuda")
log = os.path.join(tmp, "eval.log")
(pc, hc), (pd, hd) = evaluate("cpu"), evaluate("cuda", log)
if pc.returncode or pd.returncode:
    check(False, "score_device: eval runs", pc.stderr + pd.stderr)
else:
    c, d = json.loads(pc.stdout), json.loads(pd.stdout)
    fc, fd = h5py.File(hc, "r"), h5py.File(hd, "r")
    lv = np.float64(np.float32(-math.log(V)))  # the stand-in's float log p, summed in double
    same, exact = [], []
    for t in TASKS.split(","):
        gc, gd = fc["tasks"][t], fd["tasks"][t]
        keys = ["ntok", "prompt_hash"] + (["gold", "nchoices"] if "gold" in gc else [])
        same.append(all(np.array_equal(gc[k][()], gd[k][()]) for k in keys))
        ntok = gd["ntok"][()]
        got = gd["nll"][()] if "nll" in gd else gd["ll"][()]
        want = -lv * ntok if "nll" in gd else lv * ntok
        exact.append(np.array_equal(got[ntok > 0], want[ntok > 0]) and ntok.sum() > 0)
    check(all(same) and c["requests"] == d["requests"],
          "score_device: eval: the CPU run's requests, token counts, prompts and golds", f"{same} {c['requests']} {d['requests']}")
    check(all(exact) and abs(d["results"]["tinystories"]["ppl"] - V) <= 1e-9 * V,
          "score_device: eval: every request's ll and window NLL = ntok·log p of the device (uniform stand-in)", str(exact))
    L = open(log).read().splitlines()
    m = re.match(r"model_new none precision=0 optim_state=\d+ maxB=(\d+) maxT=64 training=0$", [l for l in L if l.startswith("model_new")][0])
    steps = [tuple(map(int, re.match(r"step (\d+) (\d+) backward=0$", l).groups())) for l in L if l.startswith("step")]
    nwin = len(fd["tasks"]["tinystories"]["ntok"])
    check(m and sum(b for b, _ in steps) == c["requests"] + nwin and all(b <= int(m.group(1)) and t <= 64 for b, t in steps),
          f"score_device: eval: the device's passes hold the {c['requests']} requests, one row each, and the {nwin} windows",
          f"{steps} {L[:3]}")

# generate: greedy over the stand-in's logits.
log = os.path.join(tmp, "gen.log")
if os.path.exists(log): os.remove(log)
STEPS = 12
g = run(["generate", "--model", MODEL, "--tokenizer", TOK, "--prompt", "Once upon", "--steps", str(STEPS), "--temperature", "0",
         "--device", "cuda"], check_rc=False, env={"L4Q_CUDA_PLUGIN": plugin, "FAKE_CUDA_LOG": log})
ids = [int(x) for x in run(["tokenize", "--tokenizer", TOK, "--text", "Once upon", "--bos"]).stdout.split()]
want_ids = ids + [(ids[-1] + k) % V for k in range(1, STEPS - len(ids) + 2)]
want = run(["tokenize", "--tokenizer", TOK, "--ids", ",".join(map(str, want_ids)), "--decode"]).stdout
check(g.returncode == 0 and g.stdout.rstrip("\n") == want.rstrip("\n") and f"{len(want_ids) - len(ids)} tokens in" in g.stderr,
      "score_device: generate: greedy text = the device's logits' argmax chain", f"{g.stdout!r} vs {want!r}, {g.stderr}")
L = [l for l in open(log).read().splitlines() if l.startswith(("step", "logits_row", "model_new"))] if os.path.exists(log) else []
expect = [f"model_new none precision=0 optim_state=0 maxB=1 maxT={STEPS} training=0"]
for T in range(len(ids), STEPS + 1): expect += [f"step 1 {T} backward=0", f"logits_row {T - 1}"]
check(L == expect, "score_device: generate: one forward of the whole prefix and its last row's logits per token", f"{L[:5]}")
refused("generate: no plugin", run(["generate", "--model", garbage, "--tokenizer", TOK, "--device", "cuda"], check_rc=False,
                                   env={"L4Q_CUDA_PLUGIN": os.path.join(tmp, "missing.so")}),
        f"--device cuda: {tmp}/missing.so not found: run make cuda")

# Deployed files: each method's final.l4qz (a short run), its forms handed over as they are.
for method, keys, form in [("rtn", "bits: 4, group_size: 32", ("base", 1, 4, 32, 0)),
                           ("qlora", "rank: 4", ("base", 2, 0, 0, 4)),
                           ("rtn_lora", "bits: 3, group_size: 32, rank: 4", ("base", 1, 3, 32, 4))]:
    cfg = os.path.join(tmp, method + ".yaml")
    open(cfg, "w").write(f"""model: {MODEL}
tokenizer: {TOK}
data: {{format: text, train: {data('tinystories/tinystories_train_excerpt.txt')}}}
method: {{name: {method}, {keys}}}
train: {{steps: {0 if method == 'rtn' else 1}, micro_batch: 1, seq_len: 16}}
eval: {{every: 0, val_batches: 0, tasks: []}}
""")
    out = os.path.join(tmp, method)
    run(["train", cfg, "--out", out])
    routing(method, os.path.join(out, "final.l4qz"), 32, {form})
done()
