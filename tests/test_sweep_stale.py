# test_sweep_stale.py — a sweep never serves a result computed from other inputs: the run id
# hashes the config's paths, so after the validation file at the same path changes, the
# complete run is reported `stale` and re-run (its recorded sha256 then matches the new file),
# while an unchanged input keeps the run skipped.
import hashlib, json, os, shutil, tempfile
import h5py
from testlib import check, data, done, run

tmp = tempfile.mkdtemp(prefix="l4q_stale_")
val = os.path.join(tmp, "val.txt")
shutil.copy(data("tinystories/tinystories_valid_excerpt.txt"), val)
sp = os.path.join(tmp, "s.yaml")
open(sp, "w").write(f"""
base:
  model: {data('models/stories260K/stories260K.bin')}
  tokenizer: {data('models/stories260K/tok512.bin')}
  data: {{format: text, train: {data('tinystories/tinystories_train_excerpt.txt')}, val: {val}}}
  method: {{name: none}}
  train: {{steps: 0, micro_batch: 2, seq_len: 32}}
  eval: {{every: 0, val_batches: 1}}
axes:
  method.name: [none]
""")
out = os.path.join(tmp, "out")

def state():
    return json.loads(run(["sweep", sp, "--out", out, "--dry-run", "--json"]).stdout)["runs"][0]["status"]

def recorded():
    (d,) = [e for e in os.listdir(out) if e.startswith("none")]
    with h5py.File(os.path.join(out, d, "run.h5"), "r") as f:
        v = f.attrs["sha256_val_data"]
    return v.decode() if isinstance(v, bytes) else str(v)

sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
run(["sweep", sp, "--out", out])
check(state() == "complete" and recorded() == sha(val), "stale: complete run records its validation file's sha256", state())
check(state() == "complete", "stale: unchanged inputs stay complete")
with open(val, "a") as f:
    f.write("\n\nOne more story about a cat.\n")
check(state() == "stale", "stale: a changed validation file at the same path makes the run stale", state())
p = run(["sweep", sp, "--out", out])
check(state() == "complete" and recorded() == sha(val), "stale: re-running records the new file's hash",
      p.stderr[-300:])
done()
