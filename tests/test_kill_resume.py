# test_kill_resume.py — a run's log is as durable as its checkpoint: training is killed
# with SIGKILL at random moments (several per run, during training and during --resume)
# and resumed until complete; run.h5's train/{step,loss,lr,grad_norm} and eval arrays must
# equal an uninterrupted run's row for row, and the final state must be bit-identical.
import os, random, signal, subprocess, tempfile, time
import h5py, numpy as np
from testlib import check, data, done, L4Q, STORIES

tmp = tempfile.mkdtemp(prefix="l4q_kill_")
cfg = os.path.join(tmp, "cfg.yaml")
with open(cfg, "w") as f:
    f.write(f"""{STORIES}method: {{ name: lora, rank: 4, alpha: 8 }}
train: {{ steps: 120, micro_batch: 2, accum: 1, seq_len: 32, lr: 2.0e-3, warmup: 0.1, checkpoint_every: 7 }}
eval: {{ every: 25, val_batches: 1 }}
""")
env = dict(os.environ, L4Q_THREADS="1")
KEYS = ["train/step", "train/loss", "train/lr", "train/grad_norm", "eval/step", "eval/val_loss", "eval/val_ppl"]

def arrays(d):
    with h5py.File(os.path.join(d, "run.h5"), "r") as f:
        st = f.attrs["status"]
        return {k: np.array(f[k]) for k in KEYS}, (st.decode() if isinstance(st, bytes) else st)

def start(out, resume):
    args = [L4Q, "train", "--resume", out] if resume else [L4Q, "train", cfg, "--out", out]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)

ref = os.path.join(tmp, "ref")
t0 = time.time()
p = start(ref, False); err = p.communicate()[1]
dur = time.time() - t0
check(p.returncode == 0, "kill/resume: reference run completes", err[-300:])
want, _ = arrays(ref)

rng = random.Random(int(os.environ.get("KILL_SEED", "17")))
for trial in range(3):
    out = os.path.join(tmp, f"k{trial}")
    kills, resumed = 0, False
    while True:
        # A run that died before writing config.yaml has nothing to resume.
        resumed = os.path.exists(os.path.join(out, "config.yaml"))
        p = start(out, resumed)
        if kills < 4:
            time.sleep(rng.uniform(0.02, 0.45) * dur)
            if p.poll() is None:
                p.send_signal(signal.SIGKILL); kills += 1
            p.communicate()
            if p.returncode == 0: break
            continue
        err = p.communicate()[1]
        if p.returncode != 0:
            check(False, f"kill/resume trial {trial}: final resume completes", err[-300:]); break
        break
    got, status = arrays(out)
    bad = [k for k in KEYS if got[k].shape != want[k].shape or not np.array_equal(got[k], want[k])]
    check(status == "complete" and not bad, f"kill/resume trial {trial}: {kills} kills, arrays equal the uninterrupted run's row for row",
          f"status {status}; differing {[(k, got[k].shape, want[k].shape) for k in bad]}")
    same = open(os.path.join(out, "ckpt.bin"), "rb").read() == open(os.path.join(ref, "ckpt.bin"), "rb").read()
    check(same, f"kill/resume trial {trial}: final checkpoint bit-identical")
    check(not any(n.endswith(".tmp") for n in os.listdir(out)), f"kill/resume trial {trial}: no temporary file left")
done()
