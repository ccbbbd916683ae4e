# test_set_method.py — `--set method.name=X` on a config written for another method drops
# the file's method keys X does not take, with one notice line naming them (what a sweep
# over method.name does), and the result equals a config written for X directly; a key
# X does not take given by --set itself stays an error (an explicit contradiction); the
# sweep keeps dropping base keys the same way.
import os, json, tempfile, shutil
import yaml
from testlib import check, run, done, STORIES

tmp = tempfile.mkdtemp(prefix="l4q_setm_")
def cfg(name, method):
    p = os.path.join(tmp, name)
    open(p, "w").write(f"{STORIES}method: {{ {method} }}\ntrain: {{ steps: 3, micro_batch: 2, seq_len: 32 }}\n")
    return p

l4q = cfg("l4q.yaml", "name: l4q, rank: 4, alpha: 8, bits: 3, group_size: 64, init: minmax")
lora = cfg("lora.yaml", "name: lora, rank: 4, alpha: 8")
p = run(["train", l4q, "--set", "method.name=lora", "--dry-run"], check_rc=False)
notes = [l for l in p.stderr.splitlines() if "--set method.name=lora: dropped" in l]
check(p.returncode == 0 and len(notes) == 1 and all(k in notes[0] for k in ("method.bits", "method.group_size", "method.init")),
      "--set method.name=lora on an L4Q config: one notice naming the dropped keys", p.stderr)
want = run(["train", lora, "--dry-run"]).stdout
got = yaml.safe_load(p.stdout); exp = yaml.safe_load(want)
check(got["method"] == exp["method"], "the resolved method equals a config written for lora", f"{got['method']} vs {exp['method']}")
p = run(["train", l4q, "--set", "method.name=lora", "--set", "method.bits=4", "--dry-run"], check_rc=False)
check(p.returncode == 2 and "method.bits: not used by method 'lora'" in p.stderr, "a --set key lora does not take is still an error", p.stderr)
p = run(["train", lora, "--set", "method.name=l4q", "--dry-run"], check_rc=False)
check(p.returncode == 0 and "dropped" not in p.stderr and yaml.safe_load(p.stdout)["method"]["bits"] == 4,
      "switching to a method that takes every key: nothing dropped, its defaults filled in", p.stderr)
p = run(["train", l4q, "--dry-run"], check_rc=False)
check(p.returncode == 0 and not p.stderr.strip(), "no --set method.name: no notice", p.stderr)
bad = cfg("bad.yaml", "name: lora, rank: 4, bits: 4")
p = run(["train", bad, "--dry-run"], check_rc=False)
check(p.returncode == 2 and "method.bits: not used by method 'lora'" in p.stderr, "a file's own contradiction is still an error", p.stderr)
# The sweep: a base written for l4q, an axis over method.name, no error, lora's runs without bits.
spec = os.path.join(tmp, "s.yaml")
open(spec, "w").write(f"base:\n  " + STORIES.replace("\n", "\n  ") + "method: {name: l4q, bits: 3}\n  train: {steps: 2}\naxes:\n  method.name: [l4q, lora]\n")
p = run(["sweep", spec, "--out", os.path.join(tmp, "o"), "--dry-run", "--json"], check_rc=False)
ok = p.returncode == 0 and len(json.loads(p.stdout)["runs"]) == 2
check(ok, "sweep over method.name drops base keys the same way", p.stderr[-300:])
shutil.rmtree(tmp)
done()
