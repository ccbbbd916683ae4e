# test_data.py — datasets vs an independent Python reimplementation: llama2.c BPE
# encoding (from tokenizer.bin), the perplexity protocol's (README) paragraph stream and validation windows, random
# training windows (xoshiro256** replicated), Alpaca template / truncation / masking.
# C side: build/tests/test_data (driver modes).
import json, os, subprocess, tempfile
from testlib import ROOT, check, data, done
from bpe_llama2c import Bpe, text_stream

DRIVER = os.path.join(ROOT, "build", "tests", "test_data")
TOK = data("models", "stories260K", "tok512.bin")
M64 = (1 << 64) - 1

# ---- llama2.c tokenizer (tests/bpe_llama2c.py) ----
bpe = Bpe(TOK)

def encode(text, bos=True, eos=False):
    return bpe.encode(text, bos) + ([2] if eos else [])

# ---- RNG (util.c: splitmix64 seeding, xoshiro256**) ----
class Rng:
    def __init__(self, seed):
        self.s = []
        x = seed
        for _ in range(4):
            x = (x + 0x9e3779b97f4a7c15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
            z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
            self.s.append(z ^ (z >> 31))
    def u64(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
        res = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45)
        return res

def parse(out):
    lines = out.splitlines()
    res = {"val": [], "train": []}
    for ln in lines:
        tag, rest = ln.split(" ", 1)
        if tag == "stream":
            res["stream"] = [int(x) for x in rest.split()]
            continue
        a, b = rest.split("|")
        a, b = [int(x) for x in a.split()], [int(x) for x in b.split()]
        res[tag].append((a[0], a[1:], b) if tag == "val" else (a, b))
    return res

tmp = tempfile.mkdtemp(prefix="l4q_data_")

# ---- text ----
with open(data("tinystories", "tinystories_valid_excerpt.txt"), encoding="utf-8") as f:
    paras = f.read().split("\n\n")[:25]
text = "\n\n".join(paras) + "\n\n\n\n   \n\n  Last paragraph with   spaces.  \n"
tp = os.path.join(tmp, "t.txt")
with open(tp, "w", encoding="utf-8") as f:
    f.write(text)
T, B, N, SEED = 64, 3, 5, 42
r = subprocess.run([DRIVER, "text", TOK, tp, str(T), str(B), str(N), str(SEED)], capture_output=True, text=True)
check(r.returncode == 0, "text driver runs", r.stderr[-500:])
if r.returncode == 0:
    got = parse(r.stdout)
    stream = text_stream(bpe, text)
    check(got["stream"] == stream, "paragraph stream == Python BPE (BOS per paragraph)",
          f"len {len(got['stream'])} vs {len(stream)}")
    n = len(stream)
    wins = [stream[k * T: k * T + T + 1] for k in range((n - 2) // T + 1)]
    ok = True
    for bi, (cnt, ins, tgs) in enumerate(got["val"]):
        want_in, want_tg, want_cnt = [], [], 0
        for row in range(B):
            w = wins[bi * B + row] if bi * B + row < len(wins) else []
            L = max(len(w) - 1, 0)
            want_in += w[:L] + [0] * (T - L)
            want_tg += w[1:L + 1] + [-1] * (T - L)
            want_cnt += L
        ok = ok and ins == want_in and tgs == want_tg and cnt == want_cnt
    check(ok and len(got["val"]) == (len(wins) + B - 1) // B, "validation batches == perplexity-protocol windows", f"{len(got['val'])} batches")
    rng = Rng(SEED)
    ok = True
    for ins, tgs in got["train"]:
        want_in, want_tg = [], []
        for row in range(B):
            s = rng.u64() % (n - T)
            want_in += stream[s:s + T]; want_tg += stream[s + 1:s + T + 1]
        ok = ok and ins == want_in and tgs == want_tg
    check(ok and len(got["train"]) == N, "random training windows == replicated xoshiro sampling", "")

# ---- alpaca ----
def prompt(ex):
    if ex.get("input"):
        return ("Below is an instruction that describes a task, paired with an input that provides further context. "
                "Write a response that appropriately completes the request.\n\n"
                f"### Instruction:\n{ex['instruction']}\n\n### Input:\n{ex['input']}\n\n### Response:\n")
    return ("Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
            f"### Instruction:\n{ex['instruction']}\n\n### Response:\n")

AP = data("alpaca", "alpaca_data_1k.json")
exs = json.load(open(AP, encoding="utf-8"))
FIRST, COUNT, B = 3, 10, 3
check(any(e.get("input") for e in exs[FIRST:FIRST + COUNT]) and any(not e.get("input") for e in exs[FIRST:FIRST + COUNT]),
      "alpaca sample has both template variants")
truncated = dropped_any = 0
for T in (400, 150, 125):
    enc = []
    for ex in exs[FIRST:FIRST + COUNT]:
        p = prompt(ex)
        full = encode(p + ex["output"], eos=True)
        truncated += len(full) > T + 1
        enc.append((len(encode(p)), full[:T + 1]))
    for mask in (1, 0):
        r = subprocess.run([DRIVER, "alpaca", TOK, AP, str(T), str(mask), str(FIRST), str(COUNT), str(B)],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"alpaca driver runs (T={T}, mask={mask})", r.stderr[-500:])
        if r.returncode:
            continue
        got = parse(r.stdout)
        rows = [(np_, toks) for np_, toks in enc if len(toks) >= 2 and not (mask and np_ >= len(toks))]
        ok, dropped = True, COUNT - len(rows)
        dropped_any += dropped
        for bi, (cnt, ins, tgs) in enumerate(got["val"]):
            want_in, want_tg, want_cnt = [], [], 0
            for row in range(B):
                k = bi * B + row
                np_, toks = rows[k] if k < len(rows) else (0, [])
                L = len(toks)
                for t in range(T):
                    if t + 1 < L:
                        masked = mask and t + 1 < np_
                        want_in.append(toks[t]); want_tg.append(-1 if masked else toks[t + 1]); want_cnt += not masked
                    else:
                        want_in.append(0); want_tg.append(-1)
            ok = ok and ins == want_in and tgs == want_tg and cnt == want_cnt
        check(ok and len(got["val"]) == (len(rows) + B - 1) // B,
              f"alpaca rows == template + BPE + truncation (T={T}, mask_inputs={mask}, {dropped} dropped)", "")
check(truncated > 0 and dropped_any > 0, "truncation and dropping were exercised", f"{truncated} truncated, {dropped_any} dropped")
done()
