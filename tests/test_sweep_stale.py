# test_sweep_stale.py — a sweep never serves a result computed from other inputs: the run id
# hashes the config's paths, so after the validation file at the same path changes, the
# complete run is reported `stale` and re-run (its recorded sha256 then matches the new file),
# while an unchanged input keeps the run skipped. The same for a list of training files (one
# listed file changed), and a training file that shares documents with the validation data
# (removed before training) stays complete: run.h5 records the inputs as given
# (sha256_train_data; a list: its files' hashes joined by commas) and the text tokenized
# apart (sha256_train_text).
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

# A list of training files, one of which shares documents with the validation file.
a, b = os.path.join(tmp, "a.txt"), os.path.join(tmp, "b.txt")
with open(data("tinystories/tinystories_train_excerpt.txt")) as f:
    text = f.read()
open(a, "w").write(text[:20000])
open(b, "w").write(text[20000:40000] + "\n\n" + open(val).read()[:3000])
sp2 = os.path.join(tmp, "s2.yaml")
open(sp2, "w").write(open(sp).read().replace(f"train: {data('tinystories/tinystories_train_excerpt.txt')}", f"train: [{a}, {b}]"))
out2 = os.path.join(tmp, "out2")
state2 = lambda: json.loads(run(["sweep", sp2, "--out", out2, "--dry-run", "--json"]).stdout)["runs"][0]["status"]
def attrs2():
    (d,) = [e for e in os.listdir(out2) if e.startswith("none")]
    with h5py.File(os.path.join(out2, d, "run.h5"), "r") as f:
        g = lambda k: (lambda v: v.decode() if isinstance(v, bytes) else str(v))(f.attrs[k])
        return g("sha256_train_data"), g("sha256_train_text"), int(f.attrs["train_docs_removed"])
run(["sweep", sp2, "--out", out2])
rec, txt, removed = attrs2()
check(state2() == "complete" and rec == sha(a) + "," + sha(b) and len(txt) == 64 and txt not in (sha(a), sha(b)) and removed > 0,
      f"stale: a list of training files (documents shared with val removed: {removed}) records its files' hashes and stays complete",
      f"{state2()} {rec[:20]} {removed}")
with open(a, "a") as f:
    f.write("\n\nOne more story about a dog.\n")
check(state2() == "stale", "stale: a changed file in a list data.train makes the run stale", state2())
run(["sweep", sp2, "--out", out2])
check(state2() == "complete" and attrs2()[0] == sha(a) + "," + sha(b), "stale: re-running the list records the new hashes", "")

# One training file sharing documents with the validation data: complete, not stale (its
# recorded hash is the file's, the removed-and-tokenized text's is sha256_train_text).
sp3 = os.path.join(tmp, "s3.yaml")
open(sp3, "w").write(open(sp).read().replace(f"train: {data('tinystories/tinystories_train_excerpt.txt')}", f"train: {b}"))
out3 = os.path.join(tmp, "out3")
run(["sweep", sp3, "--out", out3])
st3 = json.loads(run(["sweep", sp3, "--out", out3, "--dry-run", "--json"]).stdout)["runs"][0]["status"]
check(st3 == "complete", "stale: a training file with documents removed (shared with val) stays complete after its run", st3)
done()
