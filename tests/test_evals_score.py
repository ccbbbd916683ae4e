# test_evals_score.py — `l4q eval` log-likelihoods against an independent PyTorch scorer.
#
# For every task, the first 20 documents are rendered by `eval --render` and scored by
# `eval --out F.h5`; here each request is re-tokenized with lm-eval's _encode_pair rules
# (trailing context spaces move to the continuation, continuation = tok(ctx+cont) after
# len(tok(ctx)), empty context ⇒ BOS, left truncation to the window) using the Python BPE,
# run through tests/torch_llama.py in float64, and the summed continuation log-probs,
# greedy flags and per-document accuracy compared with the C results (≤ 1e-4).
import os, sys, json, tempfile, math
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib
from testlib import check, run, data, done
# L4Q_BIN: test another build of the binary (e.g. while build/l4q is being relinked).
testlib.L4Q = os.environ.get("L4Q_BIN", testlib.L4Q)
import torch, h5py
import torch_llama as tl

MODEL = data("models", "stories260K", "stories260K.bin")
TOK = data("models", "stories260K", "tok512.bin")
N = 20
cfg, w = tl.load_v0(MODEL)
w64 = {k: v.double() for k, v in w.items()}
bpe = tl.Bpe(TOK)
W = cfg["seq_len"]
cache = {}
enc_memo = {}


def enc(text, bos=True):
    # The choices of a document share their context: encode it once (Python BPE is slow).
    k = (text, bos)
    if k not in enc_memo:
        enc_memo[k] = bpe.encode(text, bos=bos)
    return enc_memo[k]


def encode_pair(ctx, cont):
    if ctx == "":
        return [1], enc(cont, bos=False)
    n = len(ctx) - len(ctx.rstrip())
    if n:
        cont = ctx[-n:] + cont
        ctx = ctx[:-n]
    whole = bpe.encode(ctx + cont)
    ce = enc(ctx)
    return ce, whole[len(ce):]


def score(ctx, cont):
    ce, co = encode_pair(ctx, cont)
    seq = (ce + co)[-(W + 1):]
    inp = seq[:-1]
    key = tuple(inp)
    if key not in cache:
        with torch.no_grad():
            lg = tl.forward(cfg, w64, torch.tensor([inp]))[0]
        cache[key] = torch.log_softmax(lg, -1)
    lp = cache[key]
    n = min(len(co), len(inp))
    tg = torch.tensor(seq[-n:]) if n else torch.tensor([], dtype=torch.long)
    rows = lp[len(inp) - n:]
    ll = rows[torch.arange(n), tg].sum().item() if n else 0.0
    greedy = bool((rows.argmax(-1) == tg).all()) if n else True
    return ll, greedy, n


def compare(label, tasks, extra):
    rend = json.loads(run(["eval", "--tasks", tasks, "--render", str(N)] + extra).stdout)["tasks"]
    with tempfile.TemporaryDirectory() as td:
        out = os.path.join(td, "s.h5")
        js = json.loads(run(["eval", "--model", MODEL, "--tokenizer", TOK, "--tasks", tasks,
                             "--limit", str(N), "--out", out, "--json", "--no-progress"] + extra).stdout)
        h = h5py.File(out, "r")
        for name, docs in rend.items():
            g = h["tasks"][name]
            worst, flags_ok, acc_ok, ntok_ok = 0.0, True, True, True
            accs = []
            for d in docs:
                i = d["doc"]
                lls = []
                for k, (ctx, cont) in enumerate(d["requests"]):
                    ll, gr, n = score(ctx, cont)
                    lls.append(ll)
                    worst = max(worst, abs(ll - g["ll"][i, k]))
                    flags_ok &= bool(g["greedy"][i, k]) == gr
                    ntok_ok &= int(g["ntok"][i, k]) == n
                    if name.startswith("lambada"):
                        a = gr
                if name.startswith("blimp"):
                    a = lls[d["gold"]] > lls[1 - d["gold"]]
                elif not name.startswith("lambada"):
                    a = max(range(len(lls)), key=lambda k: (lls[k], -k)) == d["gold"]
                accs.append(a)
                acc_ok &= bool(g["acc"][i]) == a
            check(worst <= 1e-4, f"{label} {name}: {len(docs)} docs ll match torch", f"max |diff| {worst:.3g}")
            check(flags_ok and ntok_ok, f"{label} {name}: greedy flags and continuation lengths match")
            check(acc_ok, f"{label} {name}: per-document acc matches")
            p = sum(accs) / len(accs)
            r = js["results"][name]
            check(abs(r["acc"] - p) < 1e-12 and abs(r["acc_stderr"] - math.sqrt(p * (1 - p) / (len(accs) - 1))) < 1e-12,
                  f"{label} {name}: acc and stderr sqrt(p(1-p)/(n-1))", f"{r} vs {p}")
            hashes_ok = all(format(int(g["prompt_hash"][d["doc"]]), "016x") == d["hash"] for d in docs)
            check(hashes_ok, f"{label} {name}: prompt hashes in the HDF5 match the rendered ones")


compare("0-shot", "hellaswag,piqa,arc_easy,arc_challenge,boolq,openbookqa,winogrande,mmlu_abstract_algebra,lambada,blimp_adjunct_island", [])
# Few-shot: long MMLU prompts are left-truncated to the 512-token window; ARC shots make
# longer shared contexts (the K/V-reuse path).
compare("few-shot", "mmlu_anatomy,arc_easy,winogrande", ["--shots", "3"])
done()
