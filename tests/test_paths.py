# test_paths.py — results do not depend on the working directory: from an unrelated cwd
# with L4Q_DATA unset, built-in tasks and the default data folder (shared/data beside the
# repository) are found relative to the binary; a config's data-relative paths resolve.
import os, shutil, subprocess, tempfile
from testlib import ROOT, L4Q, check, data, done

shared = os.path.realpath(os.path.join(ROOT, "..", "shared", "data"))
env = {k: v for k, v in os.environ.items() if k != "L4Q_DATA"}
cwd = tempfile.mkdtemp(prefix="l4q_cwd_")
if os.path.realpath(data()) == shared:
    m, t = data("models/stories260K/stories260K.bin"), data("models/stories260K/tok512.bin")
    p = subprocess.run([L4Q, "eval", "--model", m, "--tokenizer", t, "--tasks", "tinystories,piqa", "--limit", "3", "--windows", "3", "--json"],
                       cwd=cwd, env=env, capture_output=True, text=True)
    check(p.returncode == 0 and '"piqa"' in p.stdout, "eval from another cwd, L4Q_DATA unset: built-in tasks and data found", p.stderr[-300:])
    cfg = os.path.join(cwd, "c.yaml")
    open(cfg, "w").write("model: models/stories260K/stories260K.bin\ntokenizer: models/stories260K/tok512.bin\n"
                         "data: {train: tinystories/tinystories_train_excerpt.txt}\nmethod: {name: lora}\n")
    p = subprocess.run([L4Q, "train", cfg, "--dry-run"], cwd="/", env=env, capture_output=True, text=True)
    check(p.returncode == 0 and os.path.join(shared, "tinystories") in p.stdout, "train --dry-run from /: data-relative paths resolve beside the repository", p.stderr[-300:])
else:
    print(f"(L4Q_DATA points elsewhere than {shared}: default-location checks need that layout)")
# A copy of the binary outside any checkout finds no tasks and says where it looked.
bindir = tempfile.mkdtemp(prefix="l4q_bin_")
exe = os.path.join(bindir, "l4q")
open(exe, "wb").write(open(L4Q, "rb").read()); os.chmod(exe, 0o755)
os.makedirs(os.path.join(cwd, "evals", "tasks"))  # a cwd-relative evals/tasks must not be used
p = subprocess.run([exe, "eval", "--model", data("models/stories260K/stories260K.bin"), "--tokenizer",
                    data("models/stories260K/tok512.bin"), "--tasks", "piqa"], cwd=cwd, env=os.environ, capture_output=True, text=True)
errs = [l for l in p.stderr.splitlines() if l.startswith("l4q: error:")]
check(p.returncode == 2 and len(errs) == 1 and "no evals/tasks beside the binary" in errs[0], "binary outside a checkout: one error line, cwd ignored", p.stderr[-300:])
shutil.rmtree(cwd); shutil.rmtree(bindir)
done()
