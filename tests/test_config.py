# test_config.py — strict run configs: exact "file:line:col: message" errors (exit 2),
# --set overrides, and the resolved dump. Drives build/tests/test_config (which calls
# run_config_load) and, once `l4q train --dry-run` exists, the same cases through it.
import os, subprocess, tempfile, yaml
from testlib import ROOT, L4Q, check, done

DRIVER = os.path.join(ROOT, "build", "tests", "test_config")
BASE = """model: models/stories260K/stories260K.bin
tokenizer: models/stories260K/tok512.bin
data:
  train: tinystories/tinystories_train_excerpt.txt
  val: tinystories/tinystories_valid_excerpt.txt
method: {name: lora, rank: 4, targets: [q, v]}
train:
  steps: 20
  lr: 1.0e-4
"""
tmp = tempfile.mkdtemp(prefix="l4q_cfg_")

def cfg(name, text):
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        f.write(text)
    return p

def runners():
    yield "driver", lambda p, sets: [DRIVER, p] + sum((["--set", s] for s in sets), [])
    ok = os.path.exists(L4Q) and subprocess.run([L4Q, "train", cfg("ok.yaml", BASE), "--dry-run"],
                                                capture_output=True).returncode == 0
    if ok:
        yield "l4q", lambda p, sets: [L4Q, "train", p, "--dry-run"] + sum((["--set", s] for s in sets), [])

def err_case(runner, label, name, text, want, sets=()):
    tag, argv = runner
    p = cfg(name, text)
    r = subprocess.run(argv(p, list(sets)), capture_output=True, text=True)
    line = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    exp = "l4q: error: " + want.replace("FILE", p)
    check(r.returncode == 2 and line == exp, f"{tag}: {label}", f"rc={r.returncode}\n  got:  {line}\n  want: {exp}")

for rn in runners():
    err_case(rn, "unknown key", "unknown.yaml", BASE + "  stepz: 3\n",
             "FILE:10:3: unknown key 'stepz' in 'train'")
    err_case(rn, "unknown top-level key", "unknown_top.yaml", BASE + "optimiser: adam\n",
             "FILE:10:1: unknown key 'optimiser'")
    err_case(rn, "wrong type (number)", "type.yaml", BASE.replace("lr: 1.0e-4", "lr: fast"),
             "FILE:9:7: train.lr: expected a number, got 'fast'")
    err_case(rn, "wrong type (list for int)", "type2.yaml", BASE.replace("steps: 20", "steps: [1, 2]"),
             "FILE:8:10: train.steps: expected an integer, got a list")
    err_case(rn, "quoted number is a string", "type3.yaml", BASE.replace("steps: 20", 'steps: "20"'),
             "FILE:8:10: train.steps: expected an integer, got '20'")
    err_case(rn, "duplicate key", "dup.yaml", BASE + "  steps: 30\n",
             "FILE:10:3: duplicate key 'steps'")
    err_case(rn, "missing required value", "noval.yaml", BASE.replace("model: models/stories260K/stories260K.bin", "model:"),
             "FILE:1:7: model: missing value")
    err_case(rn, "optional key without a value", "noval2.yaml", BASE.replace("tokenizer: models/stories260K/tok512.bin", "tokenizer:"),
             "FILE:2:11: tokenizer: missing value (omit the key to use the default)")
    err_case(rn, "missing required key", "nokey.yaml", BASE.replace("  train: tinystories/tinystories_train_excerpt.txt\n", ""),
             "FILE:4:3: missing required key 'data.train'")
    err_case(rn, "malformed YAML", "syntax.yaml", BASE.replace("  steps: 20", "  steps: 20\n bad"),
             "FILE:9:2: did not find expected key (while parsing a block mapping started at line 1)")
    err_case(rn, "unclosed flow list", "syntax2.yaml", BASE.replace("[q, v]", "[q, v"),
             "FILE:6:45: did not find expected ',' or ']' (while parsing a flow sequence started at line 6)")
    err_case(rn, "method key the method does not use", "mkey.yaml", BASE.replace("rank: 4", "rank: 4, bits: 4"),
             "FILE:6:31: method.bits: not used by method 'lora'")
    err_case(rn, "unknown projection", "proj.yaml", BASE.replace("[q, v]", "[q, x]"),
             "FILE:6:44: method.targets: unknown projection 'x' (valid: q, k, v, o, gate, up, down, head)")
    err_case(rn, "eval.tasks item holding a comma", "tcomma.yaml", BASE + 'eval:\n  tasks: ["tinystories,arc_easy"]\n',
             "FILE:11:11: eval.tasks: 'tinystories,arc_easy' holds a comma: list each task as its own item, e.g. [a, b]")
    err_case(rn, "bad --set value", "set1.yaml", BASE,
             "--set train.lr:1:1: train.lr: expected a number, got 'abc'", sets=["train.lr=abc"])
    err_case(rn, "--set unknown key", "set2.yaml", BASE,
             "--set train.foo:1:1: unknown key 'foo' in 'train'", sets=["train.foo=1"])
    err_case(rn, "--set without =", "set3.yaml", BASE,
             "--set train.lr: expected key=value (e.g. train.lr=1e-4)", sets=["train.lr"])
    err_case(rn, "missing data file", "nofile.yaml", BASE.replace("tinystories_valid_excerpt", "nope"),
             f"FILE:5:8: data.val: file not found: tinystories/nope.txt (looked in {tmp} and "
             f"{os.environ.get('L4Q_DATA', '../shared/data')})")

# Hostile YAML is rejected while parsing (libyaml events), in time linear in the input.
N = 100000
hostile = [
    ("100k-deep flow nesting", "deep.yaml", "a: " + "[" * N + "]" * N + "\n", "FILE:1:67: nesting too deep (more than 64 levels)"),
    ("3000-deep block nesting", "deepb.yaml", "".join(" " * i + "k:\n" for i in range(3000)), "FILE:65:65: nesting too deep (more than 64 levels)"),
    ("nested aliases (billion laughs)", "laughs.yaml",
     "a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n" + "".join(f"a{i}: &a{i} [{','.join([f'*a{i-1}'] * 10)}]\n" for i in range(1, 9)),
     "FILE:6:14: aliases expand to more than 250000 nodes"),
    ("self-referencing alias", "self.yaml", "a: &x [1, *x]\n", "FILE:1:11: undefined alias '*x'"),
    ("200k keys, last one duplicated", "wide.yaml", "".join(f"k{i}: {i}\n" for i in range(200000)) + "k7: 1\n",
     "FILE:200001:1: duplicate key 'k7'"),
]
rn = next(runners())
# The error's position shows where parsing stopped; the times are in bench/yaml.sh.
for label, name, text, want in hostile:
    err_case(rn, label, name, text, want)

# --set overrides and the resolved dump (driver prints it).
p = cfg("set_ok.yaml", BASE)
r = subprocess.run([DRIVER, p, "--set", "train.steps=7", "--set", "method.targets=[k,o]",
                    "--set", "eval.tasks=[tinystories]", "--set", "out=runs/x"], capture_output=True, text=True)
check(r.returncode == 0, "--set overrides load", r.stderr)
if r.returncode == 0:
    d = yaml.safe_load(r.stdout)
    check(d["train"]["steps"] == 7 and d["method"]["targets"] == ["k", "o"] and d["eval"]["tasks"] == ["tinystories"]
          and d["out"] == "runs/x", "--set values applied", str(d))
    check(d["train"]["lr"] == 1e-4 and d["train"]["schedule"] == "cosine" and d["train"]["warmup"] == 0.1
          and d["method"]["rank"] == 4 and d["method"]["alpha"] == 8 and d["data"]["format"] == "text",
          "resolved dump shows defaults", str(d))
    check(os.path.isabs(d["model"]) and os.path.exists(d["data"]["val"]), "resolved paths are absolute", d["model"])
    p2 = cfg("resolved.yaml", r.stdout)
    r2 = subprocess.run([DRIVER, p2], capture_output=True, text=True)
    check(r2.returncode == 0 and r2.stdout == r.stdout, "resolved dump reloads unchanged", r2.stderr)
done()
