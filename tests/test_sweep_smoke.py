# test_sweep_smoke.py — experiments/smoke.yaml end to end with the real trainer (CI,
# ≤ 3 minutes): sweep → every run.h5 complete with the eval tasks logged → report with
# the paper-shaped table and plots (the sweep writes report.md itself); then kill -9 a real sweep mid-way and re-run it:
# complete, no run directory lost or duplicated.
import json, os, signal, subprocess, tempfile, time
from testlib import L4Q, ROOT, check, done, run

SMOKE = os.path.join(ROOT, "experiments", "smoke.yaml")
tmp = tempfile.mkdtemp(prefix="l4q_smoke_")
out = os.path.join(tmp, "smoke")
t0 = time.time()
r = run(["sweep", SMOKE, "--out", out, "--jobs", "2"], check_rc=False)
t_sweep = time.time() - t0
plan = json.loads(run(["sweep", SMOKE, "--out", out, "--dry-run", "--json"]).stdout)
check(r.returncode == 0 and all(x["status"] == "complete" for x in plan["runs"]), "smoke sweep: every run complete",
      r.stderr[-800:])
check(os.path.exists(os.path.join(out, "report.md")) and f"report written to {out}/report.md" in r.stderr,
      "the sweep ends by writing its report.md", r.stderr[-300:])
rep = run(["report", out, "--plots", "--format", "csv"], check_rc=False)
t_all = time.time() - t0
md = open(os.path.join(out, "report.md")).read() if os.path.exists(os.path.join(out, "report.md")) else ""
check(rep.returncode == 0 and "| L4Q | 4 | 4 | 1 |" in md and "| Pre-trained | fp |" in md and "TinyStories PPL" in md
      and "BLiMP" in md and "CSQA" in md, "report: paper-shaped table from the smoke runs", rep.stderr + md[:600])
check(os.path.exists(os.path.join(out, "plots", "loss_4bit.png")), "report: loss plot", "")
check(t_all <= 180, f"smoke end to end ≤ 3 minutes ({t_all:.0f}s; sweep {t_sweep:.0f}s)", f"{t_all:.0f}s")
print(f"smoke: sweep {t_sweep:.1f}s, with report {t_all:.1f}s")

# kill -9 a real sweep after its first run completes, then re-run.
out2 = os.path.join(tmp, "killed")
sw = subprocess.Popen([L4Q, "sweep", SMOKE, "--out", out2, "--jobs", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
t1 = time.time()
def ncomplete():
    j = json.loads(run(["sweep", SMOKE, "--out", out2, "--dry-run", "--json"]).stdout)
    return sum(x["status"] == "complete" for x in j["runs"]), j
while ncomplete()[0] < 1 and time.time() - t1 < 90:
    time.sleep(0.5)
os.kill(sw.pid, signal.SIGKILL)
sw.wait()
k, j = ncomplete()
check(1 <= k < j["n"], "real sweep killed mid-way", f"{k}/{j['n']}")
r = run(["sweep", SMOKE, "--out", out2, "--jobs", "2"], check_rc=False)
k, j = ncomplete()
dirs = sorted(d for d in os.listdir(out2) if os.path.isdir(os.path.join(out2, d)))
check(r.returncode == 0 and k == j["n"] and sorted(d[-12:] for d in dirs) == sorted(x["id"] for x in j["runs"]),
      "re-run completes: no lost, no duplicated runs", r.stderr[-500:] + str(dirs))
done()
