# test_rundir.py — a fresh `l4q train` never overwrites a finished run nor mixes two runs
# in one directory: a complete, interrupted or failed run (or leftovers of one) in --out
# is refused with one line naming the state and the choices (--resume, another --out,
# --force), the directory untouched; --force removes exactly the earlier run's files
# (config, log, checkpoint, model, report and plots) before the new run starts, so an
# interrupted new run leaves no old final.l4qz or report.md behind.
import os, shutil, tempfile, hashlib
import h5py
from testlib import check, run, done, STORIES

tmp = tempfile.mkdtemp(prefix="l4q_rundir_")
cfg = os.path.join(tmp, "cfg.yaml")
with open(cfg, "w") as f:
    f.write(f"""{STORIES}method: {{ name: lora, rank: 2 }}
train: {{ steps: 4, micro_batch: 2, seq_len: 32 }}
eval: {{ every: 0, val_batches: 1 }}
""")
d = os.path.join(tmp, "run")

def snapshot(path):
    out = {}
    for root, _, files in os.walk(path):
        for n in files:
            p = os.path.join(root, n)
            out[os.path.relpath(p, path)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out

def status(path):
    with h5py.File(os.path.join(path, "run.h5"), "r") as f:
        s = f.attrs["status"]
        return s.decode() if isinstance(s, bytes) else s

def errors(p):
    return [l for l in p.stderr.splitlines() if l.startswith("l4q: error:")]

p = run(["train", cfg, "--out", d], check_rc=False)
check(p.returncode == 0 and status(d) == "complete", "a first run completes", p.stderr[-300:])
run(["report", d, "--plots"])  # report.md and plots/ inside the run directory
before = snapshot(d)

# Complete run: refused, one line, nothing touched.
p = run(["train", cfg, "--out", d], check_rc=False)
e = errors(p)
check(p.returncode == 2 and len(e) == 1 and f"{d}: holds a complete run" in e[0] and "--force" in e[0]
      and "--resume" in e[0] and "another --out" in e[0], "complete run: refused with one line naming the choices", p.stderr)
check(snapshot(d) == before, "complete run: every file unchanged by the refusal")
p = run(["train", cfg, "--out", d, "--set", "train.steps=6"], check_rc=False)
check(p.returncode == 2 and snapshot(d) == before, "complete run: refused with a changed config too", p.stderr[-200:])

# --force on a run stopped at step 2: the old run's files are gone, not mixed with the new.
p = run(["train", cfg, "--out", d, "--force", "--stop-at", "2"], check_rc=False)
left = sorted(os.listdir(d))
check(p.returncode == 3 and "--force: removed the earlier run's files" in p.stdout, "--force: starts over", p.stdout[-300:] + p.stderr[-300:])
check(left == ["ckpt.bin", "config.yaml", "run.h5"] and status(d) == "running",
      "--force: only the new (interrupted) run's files remain: no old final.l4qz, report.md or plots", str(left))

# Interrupted run: refused, pointing at --resume; --resume completes it.
p = run(["train", cfg, "--out", d], check_rc=False)
e = errors(p)
check(p.returncode == 2 and len(e) == 1 and "holds an interrupted run" in e[0] and f"--resume {d} continues it" in e[0],
      "interrupted run: refused, --resume named", p.stderr)
p = run(["train", "--resume", d, "--force"], check_rc=False)
check(p.returncode == 2 and "--force starts over, --resume continues" in p.stderr, "--force with --resume: refused", p.stderr)
p = run(["train", "--resume", d], check_rc=False)
check(p.returncode == 0 and status(d) == "complete", "interrupted run: --resume completes it", p.stderr[-300:])

# Failed run (NaN loss): refused without --force.
bad = os.path.join(tmp, "bad")
p = run(["train", cfg, "--out", bad, "--set", "train.lr=1e30"], check_rc=False)
if p.returncode == 2 and os.path.exists(os.path.join(bad, "run.h5")) and status(bad) == "failed":
    p = run(["train", cfg, "--out", bad], check_rc=False)
    check(p.returncode == 2 and "holds a failed run" in p.stderr and "--force" in p.stderr, "failed run: refused", p.stderr)
    p = run(["train", cfg, "--out", bad, "--force"], check_rc=False)
    check(p.returncode == 0 and status(bad) == "complete", "failed run: --force trains it again", p.stderr[-300:])
else:
    print(f"SKIP: failed run: lr 1e30 did not fail the run here ({p.returncode})")

# Leftovers of a run without its log (a final.l4qz copied in): refused, named.
lo = os.path.join(tmp, "leftover"); os.mkdir(lo)
shutil.copy(os.path.join(d, "final.l4qz"), lo)
open(os.path.join(lo, "notes.txt"), "w").write("mine")
p = run(["train", cfg, "--out", lo], check_rc=False)
check(p.returncode == 2 and "holds files of an earlier run (final.l4qz)" in p.stderr, "leftover final.l4qz: refused, named", p.stderr)
p = run(["train", cfg, "--out", lo, "--force"], check_rc=False)
check(p.returncode == 0 and open(os.path.join(lo, "notes.txt")).read() == "mine",
      "--force removes only a run's own files (a user's notes.txt stays)", p.stderr[-300:])

# A directory with no run in it (or not there yet) is used as before.
other = os.path.join(tmp, "other"); os.mkdir(other)
open(os.path.join(other, "README"), "w").write("x")
p = run(["train", cfg, "--out", other], check_rc=False)
check(p.returncode == 0, "a directory without a run's files: trains", p.stderr[-300:])
shutil.rmtree(tmp)
done()
