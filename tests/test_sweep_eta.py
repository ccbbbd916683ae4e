# test_sweep_eta.py — the sweep's progress and its end, with a fake worker
# (L4Q_SWEEP_WORKER, as in test_sweep.py) whose runs take different times: the ETA never
# says 0 s while a run is still going (a run past the mean duration counts as at least
# one more second, marked "+"), and the sweep ends by writing report.md — or, when no
# report can be made from its runs, by naming the exact `l4q report` command.
import os, re, subprocess, tempfile, shutil
from testlib import L4Q, check, done

tmp = tempfile.mkdtemp(prefix="l4q_eta_")
FAKE = r'''#!/usr/bin/python3
import os, sys, time, h5py, numpy as np
a = sys.argv[1:]
d = a[a.index("--out") + 1] if "--out" in a else a[a.index("--resume") + 1]
os.makedirs(d, exist_ok=True)
with h5py.File(os.path.join(d, "run.h5"), "w") as f:
    f.attrs.create("status", np.bytes_(b"running"))
time.sleep(3.0 if os.environ["SLOW"] in d else 0.3)
with h5py.File(os.path.join(d, "run.h5"), "a") as f:
    f.attrs.create("status", np.bytes_(b"complete"))
'''
fake = os.path.join(tmp, "fake.py")
open(fake, "w").write(FAKE); os.chmod(fake, 0o755)
spec = os.path.join(tmp, "s.yaml")
open(spec, "w").write("""base:
  model: models/stories260K/stories260K.bin
  tokenizer: models/stories260K/tok512.bin
  data: {format: text, train: tinystories/tinystories_train_excerpt.txt}
  method: {name: lora, rank: 2}
  train: {steps: 2, micro_batch: 2, seq_len: 32}
seeds: [0, 1, 2, 3]
""")
out = os.path.join(tmp, "out")
env = dict(os.environ, L4Q_SWEEP_WORKER=fake, SLOW="seed0")
p = subprocess.run([L4Q, "sweep", spec, "--out", out, "--jobs", "2"], env=env, capture_output=True, text=True, timeout=120)
lines = [l for l in p.stderr.splitlines() if "| finished" in l]
going = [l for l in lines if not re.match(r".*sweep: (\d+)/\1 done", l)]
bad = [l for l in going if re.search(r"ETA 0s\b", l)]
check(p.returncode == 0 and len(lines) == 4 and len(going) == 3, "four runs, three progress lines with a run still going", p.stderr[-600:])
check(not bad and any("+" in l.split("ETA ")[1].split()[0] for l in going),
      "ETA never 0 s while a run is going; a run past the mean is marked '+'", "\n".join(going))
last = p.stderr.strip().splitlines()[-1]
wrote = os.path.exists(os.path.join(out, "report.md")) and f"report written to {out}/report.md" in last
told = f"the report was not written; run: l4q report {out}" in last
check(wrote or told, "the sweep ends with its report written, or with the exact command to write it", last)
p = subprocess.run([L4Q, "sweep", spec, "--out", out, "--no-report"], env=env, capture_output=True, text=True, timeout=60)
check(p.returncode == 0 and f"write it with: l4q report {out}" in p.stderr, "--no-report: says which command writes it", p.stderr[-300:])
shutil.rmtree(tmp)
done()
