# test_tokcache.py — training text is tokenized once into a memory-mapped cache file
# (core/tokcache.c) keyed by tokenizer + data: a second run reuses it, its ids equal the
# SPEC §3 stream of `l4q tokenize` per paragraph, and a damaged cache is rebuilt.
import os, shutil, struct, subprocess, tempfile, time
import numpy as np
from testlib import check, run, data, done

tmp = tempfile.mkdtemp(prefix="l4q_tokcache_")
cache = os.path.join(tmp, "cache")
env = {"L4Q_CACHE": cache, "L4Q_THREADS": "1"}
txt = os.path.join(tmp, "train.txt")
paras = ["Once upon a time there was a cat.", "  It liked milk.\n", "", "The end. \u00e9\u2581 done"]
open(txt, "w").write("\n\n".join(paras) + "\n")
cfg = os.path.join(tmp, "c.yaml")
open(cfg, "w").write(f"""model: {data('models/stories260K/stories260K.bin')}
tokenizer: {data('models/stories260K/tok512.bin')}
data: {{ format: text, train: {txt} }}
method: {{ name: lora }}
train: {{ steps: 2, micro_batch: 1, seq_len: 4 }}
""")
p = run(["train", cfg, "--out", os.path.join(tmp, "a")], check_rc=False, env=env)
files = os.listdir(cache) if os.path.isdir(cache) else []
check(p.returncode == 0 and len(files) == 1 and files[0].endswith(".tok"), "tokcache: first run writes one cache file", p.stderr[-300:] + str(files))
cf = os.path.join(cache, files[0]) if files else ""
b = open(cf, "rb").read() if cf else b""
n = struct.unpack("<Q", b[8:16])[0] if b else 0
ids = list(np.frombuffer(b[48:], dtype="<i4")) if b else []
want = []
for para in paras:
    s = para.strip()
    if s:
        out = run(["tokenize", "--tokenizer", data("models/stories260K/tok512.bin"), "--text", s, "--bos"]).stdout.split()
        want += [int(x) for x in out]
check(b[:4] == b"L4QT" and n == len(ids) and ids == want, "tokcache: ids equal the paragraph-wise SPEC §3 stream", f"{ids[:12]} vs {want[:12]}")
m0 = os.stat(cf).st_mtime_ns if cf else 0
time.sleep(0.05)
p = run(["train", cfg, "--out", os.path.join(tmp, "b"), "--set", "train.seed=3"], check_rc=False, env=env)
check(p.returncode == 0 and os.listdir(cache) == files and os.stat(cf).st_mtime_ns == m0, "tokcache: a second run reuses the file", p.stderr[-300:])
bad = bytearray(b); struct.pack_into("<i", bad, 48, 99999); open(cf, "wb").write(bad)
p = run(["train", cfg, "--out", os.path.join(tmp, "c")], check_rc=False, env=env)
check(p.returncode == 0 and "rebuilding" in p.stderr and open(cf, "rb").read() == b, "tokcache: a damaged cache is rebuilt with a warning", p.stderr[-300:])
open(txt, "a").write("\n\nMore text.\n")
p = run(["train", cfg, "--out", os.path.join(tmp, "d")], check_rc=False, env=env)
check(p.returncode == 0 and len(os.listdir(cache)) == 2, "tokcache: changed data gets its own cache file", str(os.listdir(cache)))

# ppl streams its file in chunks of whole batches: tiny batches (hundreds of chunks) give
# the windows and tokens of one chunk holding the whole text, and its loss up to float32
# rounding (batch shapes differ).
import json
small = os.path.join(tmp, "small.txt")
open(small, "w").write(open(data("tinystories/tinystories_valid_excerpt.txt")).read()[:30000])
args = ["ppl", "--model", data("models/stories260K/stories260K.bin"), "--tokenizer", data("models/stories260K/tok512.bin"),
        "--data", small, "--seq-len", "16", "--json"]
j1 = json.loads(run(args + ["--batch", "1"], env=env).stdout)
j2 = json.loads(run(args + ["--batch", "100000"], env=env).stdout)
check(j1["tokens"] == j2["tokens"] and j1["windows"] == j2["windows"] and abs(j1["loss"] - j2["loss"]) < 1e-6 * abs(j2["loss"]),
      "ppl streaming: chunk boundaries do not change windows, tokens or loss", f"{j1} vs {j2}")
shutil.rmtree(tmp)
done()
