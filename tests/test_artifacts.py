# test_artifacts.py — a reported number is the exported artifact's number. For every method
# in the registry (at 4 and 3 bits where it takes bits) a short run is trained, then its
# final.l4qz is evaluated independently by `l4q eval` (a separate process, the exported
# file, nothing shared with the run) and compared with what run.h5 reports:
#   (a) the perplexity task's loss/ppl (≤ 1e-6 relative) and its per-window NLL;
#   (b) every accuracy metric and the per-document log-likelihoods;
#   (c) the last val_loss = the exported model's loss on the same validation windows
#       (text data: validation batch k holds windows kB..kB+B−1 of the perplexity protocol);
# plus provenance (sha256 of the inputs, command line) and, for the PTQ rows, that the
# number is not the pre-trained fp32 model's (the regression this test exists for: RTN rows
# reporting the fp32 perplexity). LoRA-style runs on a 16-bit base (stories260K stored as
# bf16 and as f16 in a Hugging Face directory, tests/torch_hf.py) deploy W0 as stored plus
# the branch (DEP_BF16/DEP_F16, l4qz version 2): the same three checks hold for them.
import hashlib, os, re, sys, tempfile
import h5py, numpy as np
from testlib import check, run, run_json, data, done

tmp = tempfile.mkdtemp(prefix="l4q_artifacts_")
MODEL, TOK = data("models/stories260K/stories260K.bin"), data("models/stories260K/tok512.bin")
TRAIN, VAL = data("tinystories/tinystories_train_excerpt.txt"), data("tinystories/tinystories_valid_excerpt.txt")
T, B, VB, LIMIT = 32, 2, 2, 4
TASKS = "tinystories,arc_easy,blimp_anaphor_gender_agreement"

# Every registered method must be covered: the registry lists itself on an unknown name.
probe = os.path.join(tmp, "probe.yaml")
open(probe, "w").write(f"model: {MODEL}\ntokenizer: {TOK}\ndata: {{format: text, train: {TRAIN}}}\nmethod: {{name: none}}\n")
p = run(["train", probe, "--set", "method.name=__none__", "--dry-run"], check_rc=False)
m = re.search(r"valid: ([a-z0-9_, ]+)\)", p.stderr)
registry = m.group(1).split(", ") if m else []
BITS = {"l4q", "qat_lora", "lsq", "rtn", "gptq", "rtn_lora", "gptq_lora", "qlora_uniform", "qa_lora", "peqa", "loftq"}
GPTQ = {"gptq", "gptq_lora", "qlora_uniform", "qa_lora"}
LR = {"full": 1e-3, "lsq": 1e-3}
covered = {"none", "full", "lora", "qlora"} | BITS
check(len(registry) >= 14 and set(registry) <= covered, "artifacts: every registered method is covered",
      f"registry {registry}, not covered {set(registry) - covered}")

def config(method, bits, model=MODEL, extra=()):  # one short run per method (and variant)
    keys = [f"name: {method}"] + list(extra)
    if bits: keys += [f"bits: {bits}"] + ([] if method == "qlora" else ["group_size: 32"])
    if method in GPTQ: keys.append("calib_windows: 4")
    return f"""model: {model}
tokenizer: {TOK}
data: {{format: text, train: {TRAIN}, val: {VAL}}}
method: {{{', '.join(keys)}}}
train: {{steps: {0 if method in ('none', 'rtn', 'gptq') else 3}, micro_batch: {B}, seq_len: {T}, lr: {LR.get(method, 5e-3)}, warmup: 0}}
eval: {{every: 0, val_batches: {VB}, tasks: [{TASKS}], limit: {LIMIT}}}
"""

def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-30)

def evaluate(model, tasks, limit, out, windows=0):
    return run_json(["eval", "--model", model, "--tokenizer", TOK, "--tasks", tasks, "--limit", str(limit),
                     "--windows", str(windows), "--seq-len", str(T), "--shots", "0", "--no-progress", "--out", out])["results"]

fp32 = evaluate(MODEL, "tinystories", LIMIT, os.path.join(tmp, "fp32.h5"))["tinystories"]["loss"]
sha_model = hashlib.sha256(open(MODEL, "rb").read()).hexdigest()

# The 16-bit bases: stories260K rounded to bf16 / f16 (HF directories).
sys.path.insert(0, os.path.dirname(__file__))
import torch_hf, torch_llama
HALF = {}
for dt in ("bf16", "f16"):
    HALF[dt] = os.path.join(tmp, f"stories260K_{dt}")
    torch_hf.write_dir(HALF[dt], *torch_hf.from_llama2c(*torch_llama.load_v0(MODEL)), dt.upper())
half_base = {dt: evaluate(HALF[dt], "tinystories", LIMIT, os.path.join(tmp, f"{dt}.h5"))["tinystories"]["loss"] for dt in HALF}

# (method, bits, half base or None, extra method keys, name tag)
points = [(m, b, None, (), "") for m in registry for b in ((4, 3) if m in BITS else (4,) if m == "qlora" else (None,))]
points += [("lora", None, "bf16", (), "_bf16"), ("lora", None, "f16", (), "_f16"), ("none", None, "bf16", (), "_bf16")]
# Variants that are not methods of their own: L4Q started from GPTQ's grid, and L4Q with
# its quantizer parameters on their own learning rate.
points += [("l4q", b, None, ("init: gptq", "calib_windows: 4"), "_init_gptq") for b in (4, 3)]
points += [("l4q", 3, None, ("quant_lr: 1.0e-4",), "_quant_lr")]
for method, bits, half, extra, tag in points:
    name = f"{method}{bits or ''}{tag}"
    d = os.path.join(tmp, name)
    cfg = os.path.join(tmp, name + ".yaml")
    open(cfg, "w").write(config(method, bits, HALF[half] if half else MODEL, extra))
    p = run(["train", cfg, "--out", d], check_rc=False)
    check(p.returncode == 0, f"artifacts {name}: run completes", p.stderr[-300:])
    if p.returncode:
        continue
    art = os.path.join(d, "final.l4qz")
    ind = evaluate(art, TASKS, LIMIT, os.path.join(d, "independent.h5"))
    with h5py.File(os.path.join(d, "run.h5"), "r") as f, h5py.File(os.path.join(d, "independent.h5"), "r") as g:
        # (a) perplexity task: the scalar and every window.
        rep = float(f["eval/tinystories/loss"][-1])
        check(rel(rep, ind["tinystories"]["loss"]) <= 1e-6, f"artifacts {name}: tinystories loss = exported model's",
              f"run.h5 {rep!r} vs l4q eval {ind['tinystories']['loss']!r}")
        check(rel(float(f["eval/tinystories/ppl"][-1]), ind["tinystories"]["ppl"]) <= 1e-6,
              f"artifacts {name}: tinystories ppl = exported model's")
        wn, gn = f["docs/tinystories/nll"][:], g["tasks/tinystories/nll"][:]
        check(wn.shape == gn.shape and np.allclose(wn, gn, rtol=1e-6, atol=0)
              and np.array_equal(f["docs/tinystories/prompt_hash"][:], g["tasks/tinystories/prompt_hash"][:]),
              f"artifacts {name}: per-window NLL and hashes = exported model's")
        # (b) accuracy metrics and per-document scores.
        for task in ("arc_easy", "blimp_anaphor_gender_agreement"):
            for metric, val in ind[task].items():
                if metric in ("n", "shots") or metric.endswith("_stderr"): continue
                r = float(f[f"eval/{task}/{metric}"][-1])
                check(r == val, f"artifacts {name}: {task} {metric} = exported model's", f"{r} vs {val}")
            ll_a, ll_b = f[f"docs/{task}/ll"][:], g[f"tasks/{task}/ll"][:]
            check(np.allclose(ll_a, ll_b, rtol=1e-6, atol=1e-9, equal_nan=True)
                  and np.array_equal(f[f"docs/{task}/prompt_hash"][:], g[f"tasks/{task}/prompt_hash"][:]),
                  f"artifacts {name}: {task} per-document log-likelihoods = exported model's")
        # (c) the last validation loss on the exported model (same windows).
        vl = float(f["eval/val_loss"][-1])
        vind = evaluate(art, "tinystories", 0, os.path.join(d, "val.h5"), windows=VB * B)["tinystories"]["loss"]
        check(rel(vl, vind) <= 1e-6, f"artifacts {name}: last val_loss = exported model's on the same windows",
              f"{vl!r} vs {vind!r}")
        vd = f["docs/val/nll"][:]
        check(abs(vd.sum() / f["docs/val/ntok"][:].sum() - vl) <= 1e-9 * abs(vl), f"artifacts {name}: docs/val sums to val_loss")
        # The model that computed it is the quantized/trained one, not the starting file.
        base = half_base[half] if half else fp32
        if method == "none":
            check(rel(rep, base) <= 1e-6, f"artifacts {name}: the untouched model reports the file's loss", f"{rep} vs {base}")
        else:
            check(abs(rep - base) > 1e-5, f"artifacts {name}: reported loss is not the pre-trained model's",
                  f"{rep} vs {base}")
        if half:  # deployed as stored: 2 bytes per projection weight, the branch beside it
            info = run(["info", art]).stdout
            form = half + ("&fp" if method == "lora" else "")
            check(re.search(rf"^form +{re.escape(form)}$", info, re.M) and "l4qz v2" in info
                  and f" {half} " in info and os.path.getsize(art) < os.path.getsize(os.path.join(tmp, method, "final.l4qz")),
                  f"artifacts {name}: final.l4qz holds W0 as {half} (form {form}, l4qz v2), smaller than the fp32 run's",
                  info[:600])
        a = f.attrs
        s = lambda k: a[k].decode() if isinstance(a[k], bytes) else str(a[k])
        check((s("sha256_model") == sha_model or half and len(s("sha256_model")) == 64) and len(s("sha256_tokenizer")) == 64 and len(s("sha256_val_data")) == 64
              and "train" in s("command_line") and cfg in s("command_line"), f"artifacts {name}: provenance recorded")

# The version-2 reader validates what it reads: a final.l4qz with bf16 W0 + branch, damaged
# and resealed (FNV-1a-64 over bytes [16, size − 8), l4qz.h), is refused in one line (exit 2).
def reseal(b):
    h = 1469598103934665603
    for x in b[16:-8]:
        h = ((h ^ x) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return b[:-8] + h.to_bytes(8, "little")

good = open(os.path.join(tmp, "lora_bf16", "final.l4qz"), "rb").read()
# Header 124 bytes (no RoPE scaling), then fp32 tok_emb 512×64, norms 2·5×64 + 64 (tied head),
# then layers.0.q: u32 kind, i32 out, i32 in, bf16 values.
q0 = 124 + 4 * (512 * 64 + 2 * 5 * 64 + 64)
nan = good[:q0 + 12 + 6] + bytes([0xC0, 0x7F]) + good[q0 + 12 + 8:]
for what, data_, needle in (
        ("version 1 with a 16-bit kind", good[:4] + (1).to_bytes(4, "little") + good[8:], "layers.0.q: weight kind 4 (16-bit) in a version-1 file"),
        ("version 3", good[:4] + (3).to_bytes(4, "little") + good[8:], "version 3 is not supported"),
        ("NaN in a bf16 weight", reseal(nan), "layers.0.q weight holds a non-finite value at element 3"),
        ("unknown kind 9", reseal(good[:q0] + (9).to_bytes(4, "little") + good[q0 + 4:]), "unknown weight kind 9"),
        ("truncated", good[:q0 + 100], "truncated")):
    fn = os.path.join(tmp, "bad.l4qz")
    open(fn, "wb").write(data_)
    p = run(["info", fn], check_rc=False)
    msg = [x for x in p.stderr.splitlines() if "OpenBLAS" not in x]
    check(p.returncode == 2 and len(msg) == 1 and needle in msg[0] and fn in msg[0], f"l4qz v2 {what} → exit 2, one line naming it", p.stderr[-300:])
done()
