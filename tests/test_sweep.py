# test_sweep.py — `l4q sweep`: spec expansion (axes, ranges, seeds, per-method overrides,
# budgets, method-key applicability, dedupe, stable ids) through --dry-run --json;
# malformed specs fail with file:line:col before any run starts; and the runner's resume
# semantics with a fake worker (L4Q_SWEEP_WORKER, a test-only hook) that writes run.h5
# with h5py: kill -9 mid-sweep then re-run → every run complete exactly once, a truncated
# run.h5 is re-run, complete runs are skipped, a held lock → exit 2, a failing run does
# not stop the others. Real training end to end: test_sweep_smoke.py.
import fcntl, json, os, signal, subprocess, tempfile, time
import h5py
from testlib import L4Q, check, done, run

tmp = tempfile.mkdtemp(prefix="l4q_sweep_")
BASE = """
base:
  model: models/stories260K/stories260K.bin
  tokenizer: models/stories260K/tok512.bin
  data: {format: text, train: tinystories/tinystories_train_excerpt.txt}
  method: {name: l4q, rank: 4, bits: 4, group_size: 32}
  train: {steps: 3, micro_batch: 2, seq_len: 32, lr: 1.0e-3}
  eval: {every: 0, val_batches: 1}
"""

def spec(name, body):
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        f.write(body)
    return p

def plan(path, *extra):
    p = run(["sweep", path, "--dry-run", "--json"] + list(extra))
    return json.loads(p.stdout)

# ---- expansion -------------------------------------------------------------------------
sp = spec("expand.yaml", BASE + """
axes:
  method.name: [none, lora, qat_lora, l4q]
  method.bits: [4, 3]
  method.rank: {from: 2, to: 8, mul: 2}
seeds: {from: 0, to: 1, step: 1}
per_method:
  none: {train.steps: 1, skip_axes: [train.seed]}
  l4q: {train: {lr: 5.0e-3}}
  qat_lora: {train.lr: 2.0e-3, method: {group_size: 16}}
budgets:
  paper: {lora: {train.steps: 9}}
""")
j = plan(sp)
runs = j["runs"]
by = {}
for r in runs:
    by.setdefault(r["method"], []).append(r)
# none: no bits/rank (it takes no method keys) and no seed axis → 1 run; lora: rank × seeds
# (no bits) = 6; qat_lora and l4q: bits × rank × seeds = 12 each.
check({k: len(v) for k, v in by.items()} == {"none": 1, "lora": 6, "qat_lora": 12, "l4q": 12},
      "axes cross only where the method takes the key; skip_axes; dedupe", str({k: len(v) for k, v in by.items()}))
check(j["n"] == 31 and len({r["id"] for r in runs}) == 31, "31 distinct ids", str(j["n"]))
check(all("bits" not in r["config"]["method"] and "rank" not in r["config"]["method"] for r in by["none"]),
      "base method keys a method does not take are dropped", json.dumps(by["none"][0]["config"]["method"]))
check(sorted({r["config"]["method"]["rank"] for r in by["l4q"]}) == [2, 4, 8], "geometric range 2..8 ×2",
      str(sorted({r["config"]["method"]["rank"] for r in by["l4q"]})))
check(sorted({r["config"]["train"]["seed"] for r in by["l4q"]}) == [0, 1], "seeds range 0..1", "")
check(all(r["config"]["train"]["lr"] == 5e-3 for r in by["l4q"]) and all(r["config"]["train"]["lr"] == 2e-3 for r in by["qat_lora"])
      and all(r["config"]["train"]["lr"] == 1e-3 for r in by["lora"]), "per-method learning rates (Table 9 style)", "")
check(all(r["config"]["method"]["group_size"] == 16 for r in by["qat_lora"]) and all(r["config"]["method"]["group_size"] == 32 for r in by["l4q"]),
      "per-method nested fragment", "")
check(by["none"][0]["config"]["train"]["steps"] == 1 and all(r["config"]["train"]["steps"] == 3 for r in by["lora"]),
      "per-method steps; equal budget by default", "")
check(all(r["dir"].startswith(j["out"] + "/") and r["dir"].endswith("-" + r["id"]) for r in runs), "run dirs end in -<id>", runs[0]["dir"])
check(all(r["status"] == "pending" for r in runs) and not os.path.exists(j["out"]), "dry run creates nothing", j["out"])
lab = [r["label"] for r in by["l4q"]]
check("l4q bits=4 rank=2 seed=0" in lab and by["l4q"][0]["settings"]["method.bits"] == 4, "labels and settings", str(lab[:2]))
j2 = plan(sp)
check([r["id"] for r in j2["runs"]] == [r["id"] for r in runs], "ids stable across invocations", "")
j3 = plan(sp, "--set", "budget=paper")
l3 = {r["label"]: r for r in j3["runs"]}
check(all(r["config"]["train"]["steps"] == 9 for r in j3["runs"] if r["method"] == "lora")
      and all(r["config"]["train"]["steps"] == 3 for r in j3["runs"] if r["method"] == "l4q"),
      "--set budget=paper applies the paper's unequal budgets", "")
ids_l4q = {r["id"] for r in runs if r["method"] == "l4q"}
check(ids_l4q == {r["id"] for r in j3["runs"] if r["method"] == "l4q"}, "unchanged configs keep their ids under another budget", "")
j4 = plan(sp, "--out", os.path.join(tmp, "elsewhere"))
check([r["id"] for r in j4["runs"]] == [r["id"] for r in runs] and j4["out"].endswith("elsewhere"), "--out keeps the ids", "")
# Text listing.
p = run(["sweep", sp, "--dry-run"])
check("31 runs (0 complete, 31 to run)" in p.stdout and "bits=3 rank=8 seed=1" in p.stdout, "--dry-run listing", p.stdout[-300:])

# Identical points are one run (a second axis value that resolves to the same config).
sp_dup = spec("dup.yaml", BASE + """
axes:
  method.name: [l4q, lora]
  method.bits: [4, 4]
""")
check(plan(sp_dup)["n"] == 2, "points resolving to one config are one run", str(plan(sp_dup)["n"]))

# `extra`: points beyond the grid, each crossed with `seeds` only, over base → per_method.
GRID = BASE + """
axes:
  method.name: [lora, l4q]
  method.bits: [4, 3]
seeds: [0, 1]
per_method:
  l4q: {train.lr: 5.0e-3}
"""
jx = plan(spec("extra.yaml", GRID + """extra:
  - {method.name: l4q, method.bits: 4, train.precision: bf16}
  - {method.name: lora, method.rank: 8}
"""))
grid = plan(spec("extra_grid.yaml", GRID))
xr = [r for r in jx["runs"] if r["id"] not in {g["id"] for g in grid["runs"]}]
check(jx["n"] == grid["n"] + 4 and [r["id"] for r in jx["runs"][:grid["n"]]] == [g["id"] for g in grid["runs"]],
      "extra points add runs after the grid and leave its ids alone", f"{jx['n']} vs {grid['n']}")
bf = [r for r in xr if r["method"] == "l4q"]
check(len(bf) == 2 and sorted(r["config"]["train"]["seed"] for r in bf) == [0, 1]
      and all(r["config"]["train"]["precision"] == "bf16" and r["config"]["method"]["bits"] == 4
              and r["config"]["train"]["lr"] == 5e-3 for r in bf)
      and bf[0]["label"] == "l4q bits=4 precision=bf16 seed=0",
      "an extra point: its keys over per_method, crossed with seeds", str([r["label"] for r in xr]))
check(sorted(r["config"]["method"]["rank"] for r in xr if r["method"] == "lora") == [8, 8], "a second extra point", "")

# ---- malformed specs: file:line:col, exit 2, nothing started -----------------------------
def bad(name, body, want, label):
    p = spec(name, body)
    out = os.path.join(tmp, "bad_out_" + name)
    r = run(["sweep", p, "--out", out], check_rc=False)
    check(r.returncode == 2 and want in r.stderr and not os.path.exists(out), label, f"rc={r.returncode} {r.stderr.strip()}")

bad("b1.yaml", BASE + "axes:\n  method.name: [l4q]\n  train.lrr: [1, 2]\n", "b1.yaml:11:15: unknown key 'lrr' in 'train'", "unknown config key in an axis → its file:line:col")
bad("b2.yaml", BASE + "axes:\n  method.name: [l4q, nosuch]\n", "b2.yaml:10:22: method.name: unknown method 'nosuch'", "unknown method in an axis")
bad("b3.yaml", BASE + "per_method:\n  l4q: {train.steps: -1}\n", "b3.yaml:10:22: train.steps", "bad value in per_method")
bad("b4.yaml", BASE + "axis:\n  method.bits: [4]\n", "b4.yaml:9:1: unknown key 'axis'", "unknown top-level key")
bad("b5.yaml", BASE + "axes:\n  method.rank: {from: 1, to: 8}\n", "b5.yaml:10:16: method.rank: a range needs exactly one of step", "range without step/mul")
bad("b6.yaml", BASE + "per_method:\n  l4q: {skip_axes: [train.seed]}\n", "b6.yaml:10:21: skip_axes: 'train.seed' is not an axis", "skip_axes names a non-axis")
bad("b7.yaml", BASE + "budget: paper\n", "b7.yaml:9:9: budget: no budgets entry 'paper'", "unknown budget")
bad("b8.yaml", BASE + "axes: {method.bits: [4, 3\n", "b8.yaml:", "YAML syntax error")
bad("b9.yaml", BASE + "per_method:\n  qlora_x: {train.lr: 1}\n", "b9.yaml:10:3: per_method: unknown method 'qlora_x'", "unknown method in per_method")
bad("b11.yaml", BASE + "seeds: [0]\nextra:\n  - {method.name: none, method.bits: 4}\n", "b11.yaml:11:38: extra: method 'none' does not take 'method.bits'", "an extra key its method does not take")
bad("b12.yaml", BASE + "extra:\n  - {train: {lr: 1}}\n", "b12.yaml:10:13: extra[0].train: expected one value", "an extra point with a nested section")
bad("b13.yaml", BASE + "seeds: [0]\nextra:\n  - {train.seed: 3}\n", "b13.yaml:11:18: extra[0]: train.seed is given by `seeds`", "an extra point that sets the seed")
bad("b14.yaml", BASE + "extra: {method.bits: 4}\n", "b14.yaml:9:8: extra: expected a list of points", "extra not a list")
bad("b10.yaml", BASE.replace("lr: 1.0e-3", "lr: 1.0e-3, bogus: 1"), "b10.yaml:7:62: unknown key 'bogus'", "unknown key in base")

# ---- runner with a fake worker ------------------------------------------------------------
FAKE = r'''#!/usr/bin/python3
# Fake `l4q train` for test_sweep.py: writes run.h5 like the trainer (running → complete).
import os, sys, time, h5py
import numpy as np
def put(f, k, v):  # fixed-length strings, as the trainer's H5LT attributes are
    f.attrs.create(k, np.bytes_(v.encode()))
args = sys.argv[1:]
assert args[0] == "train"
if args[1] == "--resume":
    d, mode = args[2], "resume"
else:
    d, mode = args[args.index("--out") + 1], "fresh"
thr = args[args.index("--threads") + 1]
log = os.environ["FAKE_LOG"]
name = os.path.basename(d)
with open(log, "a") as f:
    f.write(f"start {name} {mode} {thr} {os.getpid()}\n")
if "FAIL_MATCH" in os.environ and os.environ["FAIL_MATCH"] in name:
    sys.exit(3)
os.makedirs(d, exist_ok=True)
p = os.path.join(d, "run.h5")
with h5py.File(p, "a" if mode == "resume" and os.path.exists(p) else "w") as f:
    put(f, "status", "running")
    put(f, "method", "l4q")
    put(f, "form", "4")
time.sleep(float(os.environ.get("FAKE_SLEEP", "0.3")))
with h5py.File(p, "a") as f:
    put(f, "status", "complete")
with open(log, "a") as f:
    f.write(f"complete {name}\n")
'''
fake = os.path.join(tmp, "fake_worker.py")
with open(fake, "w") as f:
    f.write(FAKE)
os.chmod(fake, 0o755)

sp_run = spec("runs.yaml", BASE + """
axes:
  method.name: [lora, qat_lora, l4q]
  method.bits: [4, 3]
seeds: [0, 1]
""")
out = os.path.join(tmp, "out")
flog = os.path.join(tmp, "fake.log")
env = dict(os.environ, L4Q_SWEEP_WORKER=fake, FAKE_LOG=flog, FAKE_SLEEP="0.6", L4Q_THREADS="4")
ids = [r["id"] for r in plan(sp_run, "--out", out)["runs"]]
n = len(ids)

def loglines():
    return open(flog).read().splitlines() if os.path.exists(flog) else []

def alive(pid):
    # A killed worker reparented to a non-reaping init stays a zombie: that is dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False

# kill -9 the sweep once a few runs are complete.
sw = subprocess.Popen([L4Q, "sweep", sp_run, "--out", out, "--jobs", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
t0 = time.time()
while sum(l.startswith("complete") for l in loglines()) < 3 and time.time() - t0 < 60:
    time.sleep(0.05)
os.kill(sw.pid, signal.SIGKILL)
sw.wait()
time.sleep(0.3)
started = [l.split() for l in loglines() if l.startswith("start")]
check(all(s[3] == "2" for s in started), "threads split: 4 cores / 2 jobs = --threads 2", str(started[:2]))
orphans = [int(s[4]) for s in started if alive(int(s[4]))]
check(not orphans, "workers die with a SIGKILLed sweep (no orphan racing the re-run)", str(orphans))
ncomplete_before = sum(l.startswith("complete") for l in loglines())
check(3 <= ncomplete_before < n, "sweep killed mid-way", f"{ncomplete_before}/{n}")

r = subprocess.run([L4Q, "sweep", sp_run, "--out", out, "--jobs", "2"], env=env, capture_output=True, text=True)
check(r.returncode == 0 and f"sweep: {n}/{n} complete" in r.stderr, "re-run completes", r.stderr[-400:])
completes = [l.split()[1] for l in loglines() if l.startswith("complete")]
dirs = sorted(d for d in os.listdir(out) if not d.startswith(".") and os.path.isdir(os.path.join(out, d)))
check(sorted(completes) == sorted(set(completes)) and len(completes) == n, "no run completed twice, none lost",
      f"{len(completes)} completions for {n} runs")
check(len(dirs) == n and sorted(d[-12:] for d in dirs) == sorted(ids), "one directory per planned id", str(dirs))
def status(d):
    with h5py.File(os.path.join(out, d, "run.h5"), "r") as f:
        s = f.attrs["status"]
        return s.decode() if isinstance(s, bytes) else s
check(all(status(d) == "complete" for d in dirs), "every run.h5 complete", "")
resumed = [l for l in loglines() if " resume " in l]
check(all(" fresh " in l or " resume " in l for l in loglines() if l.startswith("start")), "workers start fresh or resume", "")

# Complete runs are skipped.
before = len(loglines())
r = subprocess.run([L4Q, "sweep", sp_run, "--out", out], env=env, capture_output=True, text=True)
check(r.returncode == 0 and len(loglines()) == before and f"{n} complete, 0 to run" in r.stderr, "complete runs are skipped", r.stderr[-300:])
pj = plan(sp_run, "--out", out)
check(all(x["status"] == "complete" for x in pj["runs"]), "--dry-run shows them complete", "")

# A truncated run.h5 is detected (corrupt) and re-run.
victim = os.path.join(out, dirs[0], "run.h5")
size = os.path.getsize(victim)
with open(victim, "r+b") as f:
    f.truncate(size // 3)
pj = {x["id"]: x["status"] for x in plan(sp_run, "--out", out)["runs"]}
check(pj[dirs[0][-12:]] == "corrupt", "truncated run.h5 → corrupt", str(pj[dirs[0][-12:]]))
r = subprocess.run([L4Q, "sweep", sp_run, "--out", out], env=env, capture_output=True, text=True)
new = loglines()[before:]
check(r.returncode == 0 and [l.split()[1] for l in new if l.startswith("start")] == [dirs[0]] and status(dirs[0]) == "complete",
      "only the truncated run is re-run, fresh", str(new) + open(flog).read())

# A second sweep on the same directory while one holds the lock → exit 2.
with open(os.path.join(out, ".lock"), "a+") as lk:
    fcntl.flock(lk, fcntl.LOCK_EX | fcntl.LOCK_NB)
    r = subprocess.run([L4Q, "sweep", sp_run, "--out", out], env=env, capture_output=True, text=True)
    check(r.returncode == 2 and "another sweep is running" in r.stderr, "lock: second sweep exits 2 with a clear error", r.stderr)
    fcntl.flock(lk, fcntl.LOCK_UN)

# Two sweeps started together on one directory: one runs, the other exits 2.
out2 = os.path.join(tmp, "out2")
env2 = dict(env, FAKE_SLEEP="0.5")
a = subprocess.Popen([L4Q, "sweep", sp_run, "--out", out2, "--jobs", "2"], env=env2, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(0.3)
b = subprocess.run([L4Q, "sweep", sp_run, "--out", out2], env=env2, capture_output=True, text=True)
a.communicate()
check(b.returncode == 2 and a.returncode == 0, "concurrent sweeps: the second is refused", f"a={a.returncode} b={b.returncode} {b.stderr}")

# A failing run does not take the sweep down; exit 1 and the failure is listed.
out3 = os.path.join(tmp, "out3")
env3 = dict(env, FAKE_SLEEP="0.05", FAIL_MATCH="qat_lora_bits3_seed1")
r = subprocess.run([L4Q, "sweep", sp_run, "--out", out3, "--jobs", "2"], env=env3, capture_output=True, text=True)
st = {x["label"]: x["status"] for x in plan(sp_run, "--out", out3)["runs"]}
check(r.returncode == 1 and "failed: " in r.stderr and "qat_lora bits=3 seed=1" in r.stderr
      and sum(v == "complete" for v in st.values()) == n - 1, "a failing worker: others complete, exit 1", r.stderr[-400:])
done()
