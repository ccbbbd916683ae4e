# test_runlog.py — run.h5 as other tools see it (h5py): root attributes, datasets, the
# memory group, and a writer SIGKILLed mid-append after a flush leaves a readable file
# with status 'running'. C side: build/tests/test_runlog.
import os, signal, subprocess, tempfile, time
import h5py
from testlib import ROOT, check, done

DRIVER = os.path.join(ROOT, "build", "tests", "test_runlog")
tmp = tempfile.mkdtemp(prefix="l4q_runlog_")

def s(x):
    return x.decode() if isinstance(x, bytes) else str(x)

p = os.path.join(tmp, "run.h5")
r = subprocess.run([DRIVER, "write", p], capture_output=True, text=True)
check(r.returncode == 0, "writer runs", r.stderr)
with h5py.File(p, "r") as f:
    a = f.attrs
    check(s(a["status"]) == "complete" and s(a["method"]) == "l4q" and s(a["form"]) == "4",
          "status/method/form attributes", str(dict(a)))
    check(s(a["config"]).startswith("model: m.bin"), "config attribute is the YAML text", s(a["config"]))
    gc = s(a["git_commit"])
    check(gc == "unknown" or (len(gc.split("-")[0]) == 40), "git_commit attribute", gc)
    check(s(a["start_time"]).endswith("Z") and s(a["end_time"]).endswith("Z") and s(a["host"]) and int(a["threads"]) >= 1,
          "host/threads/start/end attributes", str(dict(a)))
    names = ["step", "loss", "lr", "grad_norm", "tokens_per_s", "rss_bytes"]
    check(all(f["train/" + n].shape == (10,) and f["train/" + n].maxshape == (None,) for n in names),
          "train datasets: 10 rows, appendable", str({n: f["train/" + n].shape for n in names}))
    check(list(f["train/step"][:]) == list(range(1, 11)) and abs(f["train/loss"][9] - 4.0) < 1e-12
          and f["train/rss_bytes"][2] == 3 << 20, "train values", str(f["train/loss"][:]))
    check(list(f["eval/step"][:]) == [5, 10] and list(f["eval/val_ppl"][:]) == [45.0, 40.0]
          and abs(f["eval/val_loss"][1] - 3.0) < 1e-12, "eval/step, val_loss, val_ppl", str(f["eval/val_loss"][:]))
    check(list(f["eval/arc_easy/step"][:]) == [5, 10] and f["eval/arc_easy/acc_norm"].shape == (2,),
          "eval/<task>/<metric> with its step", str(list(f["eval"].keys())))
    m = f["memory"].attrs
    want = dict(weight_bytes=1000, trainable_bytes=200, grad_optimizer_bytes=600, saved_for_backward_bytes=300,
                peak_transient_bytes=50, peak_rss_bytes=123456789)
    check(all(int(m[k]) == v for k, v in want.items()), "memory group attributes", str(dict(m)))

# Killed writer: SIGKILL while appending (after at least one flush at an eval).
ok_runs = 0
for trial in range(3):
    p = os.path.join(tmp, f"killed{trial}.h5")
    w = subprocess.Popen([DRIVER, "killme", p], stdout=subprocess.PIPE, text=True)
    line = w.stdout.readline().strip()
    time.sleep(0.2 + 0.3 * trial)
    os.kill(w.pid, signal.SIGKILL)
    w.wait()
    try:
        with h5py.File(p, "r") as f:
            st = s(f.attrs["status"])
            n = f["train/step"].shape[0]
            vl = f["eval/val_loss"][:]
            steps = f["train/step"][:]
            good = line == "FLUSHED" and st == "running" and n >= 50 and len(vl) >= 1 and vl[0] == 2.5 \
                and list(steps[:50]) == list(range(1, 51))
        ok_runs += good
    except Exception as e:  # noqa: BLE001 — an unreadable file is the failure being tested
        print("unreadable:", e)
check(ok_runs == 3, "SIGKILLed writer leaves a readable run.h5 with status 'running'", f"{ok_runs}/3 readable")
done()
