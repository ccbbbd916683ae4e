# test_ckpt_robust.py — checkpoints and weights are validated: ckpt.bin (version 2, SHA-256
# trailer) rejects every mutated/truncated copy with one error line naming it (exit 2),
# a NaN-holding checkpoint with a valid checksum is rejected naming the tensor, binary
# tensor names are escaped, a full disk (/dev/full, a tiny tmpfs when mounting is allowed)
# gives an errno message and leaves no temporary file; model files with non-finite or
# absurd weights are rejected naming the tensor and element.
import hashlib, os, random, shutil, struct, subprocess, tempfile
from testlib import check, run, data, done, STORIES

tmp = tempfile.mkdtemp(prefix="l4q_ckpt_")
cfg = os.path.join(tmp, "cfg.yaml")
with open(cfg, "w") as f:
    f.write(f"""{STORIES}method: {{ name: lora, rank: 2, alpha: 4, targets: [q, v] }}
train: {{ steps: 8, micro_batch: 2, seq_len: 16, lr: 1.0e-3 }}
""")
env = {"L4Q_THREADS": "1"}
d = os.path.join(tmp, "run")
p = run(["train", cfg, "--out", d, "--stop-at", "3"], check_rc=False, env=env)
check(p.returncode == 3, "ckpt: --stop-at writes a checkpoint", p.stderr[-300:])
ck = os.path.join(d, "ckpt.bin")
good = open(ck, "rb").read()
check(good[4:8] == struct.pack("<I", 2) and hashlib.sha256(good[:-32]).digest() == good[-32:],
      "ckpt: version 2 with a SHA-256 trailer")

def resume_with(blob):
    open(ck, "wb").write(blob)
    p = run(["train", "--resume", d, "--stop-at", "4"], check_rc=False, env=env)
    errs = [l for l in p.stderr.splitlines() if l.startswith("l4q: error:")]
    return p.returncode, errs

rng = random.Random(17)
classes = {}
ok = True
cases = [("flip", i) for i in range(16)] + [("trunc", i) for i in range(4)]
for kind, i in cases:
    b = bytearray(good)
    if kind == "flip":
        pos = rng.randrange(len(b)); b[pos] ^= 1 << rng.randrange(8)
    else:
        b = b[:rng.randrange(len(b))]
    rc, errs = resume_with(bytes(b))
    cls = errs[0].split("ckpt.bin: ")[-1][:32] if errs else f"rc {rc}"
    classes[cls] = classes.get(cls, 0) + 1
    if not (rc == 2 and len(errs) == 1 and ck in errs[0]):
        ok = False; print(f"  {kind} {i}: rc {rc} {errs}")
check(ok, f"ckpt: {len(cases)} mutated/truncated checkpoints rejected with one line naming the file, exit 2")
print("  outcome classes:", classes)

def resealed(b):
    return bytes(b[:-32]) + hashlib.sha256(bytes(b[:-32])).digest()

# NaN in the first tensor's data (after magic, version, step, count, name[64], count u64).
b = bytearray(good)
off = 4 + 4 + 8 + 4 + 64 + 8 + 4 * 5
struct.pack_into("<f", b, off, float("nan"))
rc, errs = resume_with(resealed(b))
check(rc == 2 and errs and "non-finite" in errs[0] and "element 5" in errs[0], "ckpt: NaN with a valid checksum is rejected naming tensor and element", str(errs))

# A tensor name holding a newline and binary bytes is echoed escaped.
b = bytearray(good)
b[20 + 3] = 10; b[20 + 4] = 0xff
rc, errs = resume_with(resealed(b))
check(rc == 2 and len(errs) == 1 and "\\x0a" in errs[0] and "\\xff" in errs[0], "ckpt: binary tensor names escaped in the message", str(errs))

b = bytearray(good); b[4] = 1
rc, errs = resume_with(bytes(b))
check(rc == 2 and errs and "version 1" in errs[0], "ckpt: another version is named", str(errs))

# Full disk: the temporary is /dev/full.
open(ck, "wb").write(good)
os.symlink("/dev/full", ck + ".tmp")
p = run(["train", "--resume", d, "--stop-at", "5"], check_rc=False, env=env)
errs = [l for l in p.stderr.splitlines() if l.startswith("l4q: error:")]
check(p.returncode == 2 and len(errs) == 1 and "ckpt.bin.tmp: checkpoint write failed: No space left on device" in errs[0],
      "full disk: exit 2, the temporary's path and errno text", p.stderr[-300:])
check(not os.path.lexists(ck + ".tmp") and open(ck, "rb").read() == good, "full disk: no temporary left, checkpoint kept")

# A real full file system when this machine lets us mount one (root with CAP_SYS_ADMIN).
mnt = os.path.join(tmp, "mnt"); os.mkdir(mnt)
if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100k", "tmpfs", mnt], capture_output=True).returncode == 0:
    try:
        p = run(["train", cfg, "--out", os.path.join(mnt, "r")], check_rc=False, env=env)
        errs = [l for l in p.stderr.splitlines() if l.startswith("l4q: error:")]
        left = [n for n in os.listdir(os.path.join(mnt, "r")) if n.endswith(".tmp")]
        check(p.returncode == 2 and len(errs) == 1 and mnt in errs[0] and "No space left on device" in errs[0] and not left,
              "full tmpfs: one error line with path and errno text, no temporary left", p.stderr[-300:] + str(left))
    finally:
        subprocess.run(["umount", mnt])

# Model weights: non-finite and absurd values name the tensor and element (exit 2).
src = open(data("models/stories260K/stories260K.bin"), "rb").read()
txt = os.path.join(tmp, "t.txt"); open(txt, "w").write("Once upon a time there was a cat.\n")
for val, what in [(-2.93e38, "beyond any trained weight"), (float("nan"), "non-finite"), (float("inf"), "non-finite")]:
    b = bytearray(src); struct.pack_into("<f", b, 28 + 30 * 4, val)
    m = os.path.join(tmp, "bad.bin"); open(m, "wb").write(b)
    p = run(["ppl", "--model", m, "--tokenizer", data("models/stories260K/tok512.bin"), "--data", txt, "--json"], check_rc=False)
    errs = [l for l in p.stderr.splitlines() if l.startswith("l4q: error:")]
    check(p.returncode == 2 and len(errs) == 1 and "tok_emb" in errs[0] and "element 30" in errs[0] and what in errs[0],
          f"weights: {val:g} in tok_emb → exit 2 naming tensor and element", p.stderr[-300:])
shutil.rmtree(tmp)
done()
