# test_mpi.py — l4q under OpenMPI's mpirun on this machine (2 ranks, --oversubscribe):
# data-parallel training equals one process with the same accumulation (and reproduces
# itself bit for bit, and resumes across rank counts); a 2-rank sweep runs every run
# exactly once and its report equals the one-process sweep's; killing one rank mid-sweep
# and re-running completes with nothing lost or duplicated; bad launches (plugin missing,
# more ranks than micro-batches, mismatched configs or binaries, an output directory one
# rank cannot see) end with one error line and exit 2; without mpirun nothing changes.
import difflib, json, os, re, shutil, signal, subprocess, tempfile, time
import h5py
import numpy as np
from testlib import L4Q, ROOT, check, done, run

PLUGIN = os.path.join(ROOT, "build", "libl4q_mpi.so")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
ENV.pop("L4Q_THREADS", None)
tmp = tempfile.mkdtemp(prefix="l4q_mpi_")
if not shutil.which("mpirun") or not os.path.exists(PLUGIN):
    check(False, "OpenMPI and the plugin are installed", "run `make mpi` (make test does)")
    done()

def mpirun(np_, args, env=None, timeout=300, apps=None):
    """mpirun -np N l4q ARGS, or an MPMD launch when apps lists (np, argv, wdir) contexts."""
    e = dict(ENV); e.update(env or {})
    cmd = ["mpirun", "-q", "-np", str(np_), L4Q] + args
    if apps:
        cmd = ["mpirun", "-q"]
        for i, (n, argv, wdir) in enumerate(apps):
            cmd += ([":"] if i else []) + ["-np", str(n), "-wdir", wdir, L4Q] + argv
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout)

def errors(p):
    return [l for l in p.stderr.splitlines() if l.startswith("l4q: error")]

# ---- training ---------------------------------------------------------------------------
CFG = os.path.join(ROOT, "experiments", "configs", "l4q_4bit.yaml")
TS = ["--set", "train.steps=8", "--set", "train.micro_batch=4", "--set", "train.seq_len=64", "--set", "train.accum=4",
      "--set", "eval.every=4", "--set", "eval.val_batches=2", "--set", "eval.tasks=[]", "--threads", "1"]
def train_dir(name):
    return os.path.join(tmp, name)
def h5(d, key):
    with h5py.File(os.path.join(d, "run.h5"), "r") as f:
        return f[key][:]

one = train_dir("one")
p = run(["train", CFG, "--out", one] + TS, check_rc=False, env={"L4Q_THREADS": ""})
check(p.returncode == 0 and "MPI" not in p.stderr and "rank" not in p.stdout, "without mpirun: trains as before, no MPI output",
      p.stderr[-300:])
dp = train_dir("dp")
t0 = time.time()
pd = mpirun(2, ["train", CFG, "--out", dp] + TS)
t_dp = time.time() - t0
check(pd.returncode == 0, "mpirun -np 2 train completes", pd.stderr[-500:])
la, l1 = h5(dp, "train/loss"), h5(one, "train/loss")
rel = float(np.max(np.abs(la - l1) / l1))
# Summation order is the only difference (each rank accumulates its two micro-batches,
# then the ring adds the two partial sums): float32 rounding, measured ~1e-7.
check(len(la) == 8 and rel <= 1e-5, f"2 ranks × 2 micro-batches = 1 process × 4 (loss rel. diff {rel:.1e} ≤ 1e-5)",
      f"{la} vs {l1}")
check(np.allclose(h5(dp, "eval/val_loss"), h5(one, "eval/val_loss"), rtol=1e-5, atol=0), "validation loss equal (≤ 1e-5)", "")
m = re.search(r"data-parallel: 2 ranks, step ([\d.]+) ms: gradient all-reduce ([\d.]+) ms", pd.stdout)
check(m is not None and pd.stdout.count("run complete") == 1, "rank 0 alone reports; the all-reduce share is printed",
      pd.stdout[-400:])
if m:
    print(f"DP 2 ranks: step {m.group(1)} ms, all-reduce {m.group(2)} ms (mpirun wall {t_dp:.1f}s)")

# --stop-at under 2 ranks, resumed by 2 ranks (bit-identical to the uninterrupted 2-rank
# run: the same rank count reproduces bit for bit) and by 1 process (≈).
st = train_dir("stop2")
q = mpirun(2, ["train", CFG, "--out", st, "--stop-at", "4"] + TS)
shutil.copytree(st, st + "_1")
r2 = mpirun(2, ["train", "--resume", st, "--threads", "1"])
r1 = run(["train", "--resume", st + "_1", "--threads", "1"], check_rc=False)
same = open(st + "/final.l4qz", "rb").read() == open(dp + "/final.l4qz", "rb").read()
check(q.returncode == 3 and r2.returncode == 0 and h5(st, "train/loss").tobytes() == la.tobytes() and same,
      "stop at 4 + resume on 2 ranks = uninterrupted 2 ranks, bit for bit (loss, exported model)", q.stderr[-300:] + r2.stderr[-300:])
lr1 = h5(st + "_1", "train/loss")
check(r1.returncode == 0 and len(lr1) == 8 and float(np.max(np.abs(lr1 - la) / la)) <= 1e-5,
      "a 2-rank checkpoint resumes on 1 process (≤ 1e-5)", r1.stderr[-300:])

# Bad launches: one error line from rank 0, exit 2, nothing written.
bad = train_dir("bad_accum")
q = mpirun(3, ["train", CFG, "--out", bad] + TS[:-2] + ["--set", "train.accum=2", "--threads", "1"])
check(q.returncode == 2 and len(errors(q)) == 1 and "train.accum: 2 micro-batches per step cannot be shared by 3 ranks" in q.stderr
      and not os.path.exists(bad), "3 ranks, 2 micro-batches → one error line, exit 2, no run dir", q.stderr[-400:])
q = mpirun(0, [], apps=[(1, ["train", CFG, "--out", bad] + TS, tmp),
                        (1, ["train", CFG, "--out", bad] + TS + ["--set", "train.lr=2e-3"], tmp)])
check(q.returncode == 2 and len(errors(q)) == 1 and "the run configuration differs between rank 0" in q.stderr
      and not os.path.exists(bad), "mismatched configs across ranks → one error line, exit 2", q.stderr[-400:])
other = os.path.join(tmp, "l4q_other")
shutil.copy(L4Q, other)
with open(other, "ab") as f:
    f.write(b"\0")
q = subprocess.run(["mpirun", "-q", "-np", "1", L4Q, "train", CFG, "--out", bad] + TS + [":", "-np", "1", other, "train", CFG,
                    "--out", bad] + TS, capture_output=True, text=True, env=dict(ENV, L4Q_MPI_PLUGIN=PLUGIN), timeout=120)
check(q.returncode == 2 and len(errors(q)) == 1 and "build/l4q (the executable) differs between rank 0" in q.stderr,
      "mismatched binaries across ranks → one error line, exit 2", q.stderr[-400:])
q = mpirun(2, ["train", CFG, "--out", bad] + TS, env={"L4Q_MPI_PLUGIN": os.path.join(tmp, "missing.so")})
check(q.returncode == 2 and len(errors(q)) == 1 and "missing.so is missing: build it with `make mpi`" in q.stderr,
      "under mpirun without the plugin → one error line, exit 2", q.stderr[-400:])
q = mpirun(2, ["info", "--system"])
check(q.returncode == 2 and "only train and sweep do" in q.stderr, "other commands refuse to run on several ranks", q.stderr[-300:])

# ---- sweeps -----------------------------------------------------------------------------
SPEC = os.path.join(ROOT, "experiments", "slurm", "check_sweep.yaml")  # shared with local_check.sh

def plan(out, *sets):
    return json.loads(run(["sweep", SPEC, "--out", out, "--dry-run", "--json"] + list(sets)).stdout)

def main_tables(md):
    # The metric tables (main results, paired differences); the findings and the memory/time
    # table quote measured RSS and time, which differ between any two sweeps.
    return md.split("## Main results")[-1].split("## Fine-tuning memory and time")[0]

s1, s2 = os.path.join(tmp, "sweep1"), os.path.join(tmp, "sweep2")
t0 = time.time()
p1 = run(["sweep", SPEC, "--out", s1, "--jobs", "2", "--threads", "2"], check_rc=False)
t_one = time.time() - t0
run(["report", s1])
t0 = time.time()
p2 = mpirun(2, ["sweep", SPEC, "--out", s2, "--threads", "1"])
t_two = time.time() - t0
j = plan(s2)
fin = re.findall(r"finished ([0-9a-f]{12}) on rank (\d)", p2.stderr)
check(p1.returncode == 0 and p2.returncode == 0 and all(x["status"] == "complete" for x in j["runs"]), "2-rank sweep completes",
      p2.stderr[-600:])
check(sorted(i for i, _ in fin) == sorted(x["id"] for x in j["runs"]) and {r for _, r in fin} == {"0", "1"},
      f"every run finished exactly once, on both ranks ({len(fin)} runs)", str(fin))
md1 = open(os.path.join(s1, "report.md")).read()
md2 = open(os.path.join(s2, "report.md")).read() if os.path.exists(os.path.join(s2, "report.md")) else ""
diff = [l for l in difflib.unified_diff(main_tables(md1).splitlines(), main_tables(md2).splitlines(), lineterm="")]
check(md2 and not diff, "rank 0 writes the report; it equals the one-process sweep's", "\n".join(diff[:12]) or "no report")
print(f"sweep of {j['n']} runs: one process (2 jobs × 1 thread) {t_one:.1f}s, mpirun -np 2 {t_two:.1f}s")

# Non-shared output directory: rank 1 starts in another directory, so the relative --out
# names a different place for it, as an unshared filesystem would.
wa, wb = os.path.join(tmp, "node_a"), os.path.join(tmp, "node_b")
os.makedirs(wa); os.makedirs(wb)
q = mpirun(0, [], apps=[(1, ["sweep", SPEC, "--out", "out", "--threads", "1"], wa), (1, ["sweep", SPEC, "--out", "out", "--threads", "1"], wb)])
check(q.returncode == 2 and len(errors(q)) == 1 and "is not shared: rank 1" in q.stderr and not os.path.exists(os.path.join(wa, "out")),
      "output directory not shared → one error line, exit 2, nothing left", q.stderr[-400:])

# Kill one rank mid-sweep (after a run completed), then run the same command again.
sk = os.path.join(tmp, "killed")
SETS = ["--set", "base.train.steps=30"]
killcmd = ["sweep", SPEC, "--out", sk, "--threads", "1"] + SETS
mp = subprocess.Popen(["mpirun", "-q", "-np", "2", L4Q] + killcmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
                      start_new_session=True)
def rank_pid(rank):
    for pid in os.listdir("/proc"):
        try:
            if not pid.isdigit() or open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[1:3] != [b"sweep", SPEC.encode()]:
                continue
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
            if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env and b"L4Q_MPI=0" not in env:
                return int(pid)
        except (OSError, IndexError):
            pass
    return None
t1 = time.time()
while time.time() - t1 < 120:
    k = sum(x["status"] == "complete" for x in plan(sk, *SETS)["runs"]) if os.path.isdir(sk) else 0
    if k >= 2:
        break
    time.sleep(0.3)
victim = rank_pid(1)
if victim:
    os.kill(victim, signal.SIGKILL)
try:
    mp.wait(timeout=60)
except subprocess.TimeoutExpired:
    os.killpg(mp.pid, signal.SIGKILL)
j = plan(sk, *SETS)
k = sum(x["status"] == "complete" for x in j["runs"])
check(victim is not None and mp.returncode != 0 and 1 <= k < j["n"], f"rank 1 killed mid-sweep ({k}/{j['n']} complete)",
      f"victim {victim} rc {mp.returncode}")
q = mpirun(2, killcmd)
j = plan(sk, *SETS)
dirs = sorted(d for d in os.listdir(sk) if os.path.isdir(os.path.join(sk, d)))
fin = re.findall(r"finished ([0-9a-f]{12})", q.stderr)
check(q.returncode == 0 and all(x["status"] == "complete" for x in j["runs"])
      and sorted(d[-12:] for d in dirs) == sorted(x["id"] for x in j["runs"]) and len(fin) == len(set(fin)) == j["n"] - k,
      "re-run completes: nothing lost, nothing run twice", q.stderr[-500:] + str(dirs))
shutil.rmtree(tmp, ignore_errors=True)
done()
