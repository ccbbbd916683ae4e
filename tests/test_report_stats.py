# test_report_stats.py — `l4q report`'s statistics on run.h5 files with per-document
# evidence (/docs, written here with h5py), against numpy/scipy computed on the same data:
# paired differences (accuracy points; perplexity ΔNLL, token-weighted), McNemar p =
# scipy.stats.binomtest, bootstrap interval ≈ numpy percentile bootstrap with the same
# clustered (documents, seeds pooled) scheme; "at chance" marking and Avg; bold only when
# significant; the findings verdicts; mismatched evaluations refused (report.md + stderr);
# damaged run.h5 files (../shared/data/corrupt and truncations/byte flips) listed as
# unreadable while the rest is reported — also with the ASan/UBSan binary.
import csv, os, shutil, subprocess, tempfile
import h5py
import numpy as np
from scipy import stats as sps
from testlib import ROOT, DATA, L4Q, check, done, run

tmp = tempfile.mkdtemp(prefix="l4q_rstats_")
rng = np.random.default_rng(12)
NDOC, NWIN = 400, 60
HASH_MC = rng.integers(0, 2**63, NDOC, dtype=np.uint64)
HASH_W = rng.integers(0, 2**63, NWIN, dtype=np.uint64)
NTOK = rng.integers(40, 129, NWIN).astype(np.int32)

def config(method, bits, seed, extra=""):
    m = f"  name: {method}\n" + (f"  bits: {bits}\n" if bits else "") + extra
    return (f"model: /d/stories260K.bin\ntokenizer: /d/tok512.bin\ndata:\n  format: text\n  train: /d/t.txt\n"
            f"method:\n{m}train:\n  steps: 50\n  seed: {seed}\neval:\n  every: 0\n  tasks: [tinystories, piqa, coin]\n  limit: {NDOC}\n")

def write_run(d, method, form, bits, seed, piqa_acc, coin_acc, nll, mem=(1_000_000, 100_000, 300_000, 0, 50_000, 2e8), hash_mc=HASH_MC, extra=""):
    os.makedirs(d, exist_ok=True)
    with h5py.File(os.path.join(d, "run.h5"), "w") as f:
        for k, v in [("config", config(method, bits, seed, extra)), ("method", method), ("form", form), ("status", "complete"),
                     ("start_time", "2025-01-01T00:00:00Z"), ("end_time", "2025-01-01T00:00:10Z")]:
            f.attrs[k] = v
        f["train/step"] = np.arange(1, 51); f["train/loss"] = np.linspace(3, 2, 50)
        f["eval/step"] = np.array([50]); f["eval/val_loss"] = np.array([1.0]); f["eval/val_ppl"] = np.array([np.e])
        ppl = np.exp(nll.sum() / NTOK.sum())
        for t, k, v in [("tinystories", "ppl", ppl), ("piqa", "acc", piqa_acc.mean()), ("coin", "acc", coin_acc.mean())]:
            f[f"eval/{t}/step"] = np.array([50]); f[f"eval/{t}/{k}"] = np.array([v])
        g = f.create_group("docs"); g.attrs["step"] = np.int64(50)
        for t, acc, nch in [("piqa", piqa_acc, 2), ("coin", coin_acc, 4)]:
            h = g.create_group(t); h.attrs["output_type"] = "multiple_choice"; h.attrs["shots"] = np.int32(0)
            h["acc"] = acc.astype(np.uint8); h["nchoices"] = np.full(NDOC, nch, np.int32)
            h["prompt_hash"] = hash_mc; h["gold"] = np.zeros(NDOC, np.int32)
        h = g.create_group("tinystories"); h.attrs["output_type"] = "perplexity"; h.attrs["shots"] = np.int32(0)
        h["nll"] = nll; h["ntok"] = NTOK; h["prompt_hash"] = HASH_W
        m = f.create_group("memory")
        for k, v in zip(["weight_bytes", "trainable_bytes", "grad_optimizer_bytes", "saved_for_backward_bytes",
                         "peak_transient_bytes", "peak_rss_bytes"], mem):
            m.attrs[k] = np.int64(v)

# Ground truth. piqa: L4Q right on 70% of documents, QA-LoRA on 60% (paired: shared "easy"
# documents), QAT-LoRA the same as L4Q up to noise. coin: every method at chance (25%).
# Perplexity windows: L4Q 2% lower NLL than QA-LoRA.
S = 3
easy = rng.random(NDOC)
base_nll = rng.uniform(2.0, 2.4, NWIN) * NTOK
runs = {}
for s in range(S):
    noise = rng.random(NDOC)
    l4q = (easy + 0.15 * noise < 0.78).astype(float)
    qa = (easy + 0.15 * noise < 0.66).astype(float)
    qat = (easy + 0.15 * rng.random(NDOC) < 0.78).astype(float)
    coin = [(rng.random(NDOC) < 0.25).astype(float) for _ in range(3)]
    wn = [base_nll * (1 + rng.normal(0, 0.01, NWIN)) for _ in range(3)]
    runs[("l4q", 4, s)] = (l4q, coin[0], wn[0] * 0.98)
    runs[("qa_lora", 4, s)] = (qa, coin[1], wn[1])
    runs[("qat_lora", 4, s)] = (qat, coin[2], wn[2] * 0.98)
R = os.path.join(tmp, "study")
mems = {"l4q": (1_000_000, 100_000, 300_000, 0, 50_000, 2e8), "qa_lora": (500_000, 100_000, 300_000, 0, 50_000, 1.9e8),
        "qat_lora": (1_000_000, 100_000, 300_000, 1_600_000, 50_000, 2.1e8), "lora": (1_000_000, 90_000, 280_000, 0, 40_000, 1.95e8)}
for (m, b, s), (pa, ca, nl) in runs.items():
    write_run(f"{R}/{m}_b{b}_s{s}", m, {"l4q": "4", "qa_lora": "4", "qat_lora": "4&fp"}[m], b, s, pa, ca, nl, mems[m])
write_run(f"{R}/lora", "lora", "fp32", None, 0, runs[("l4q", 4, 0)][0], runs[("l4q", 4, 0)][1], runs[("l4q", 4, 0)][2], mems["lora"])
# Damaged files beside them: the two reproducers and a truncation of a good file.
for i, name in enumerate(sorted(os.listdir(os.path.join(DATA, "corrupt")))):
    os.makedirs(f"{R}/damaged{i}"); shutil.copy(os.path.join(DATA, "corrupt", name), f"{R}/damaged{i}/run.h5")
os.makedirs(f"{R}/truncated")
blob = open(f"{R}/l4q_b4_s0/run.h5", "rb").read()
open(f"{R}/truncated/run.h5", "wb").write(blob[: len(blob) // 3])

p = run(["report", R, "--format", "csv"], check_rc=False)
check(p.returncode == 0, "report over a study with damaged files exits 0", p.stderr[-500:])
md = open(f"{R}/report.md").read()
rows = list(csv.DictReader(open(f"{R}/report.csv")))
def paired(label, col):
    for r in rows:
        if r["table"] == "paired" and r["label"] == label and r["column"] == col:
            return r
def main(label, col):
    for r in rows:
        if r["table"] == "main" and r["label"] == label and r["column"] == col:
            return r

# ---- paired difference QA-LoRA − L4Q on PIQA: documents, seeds pooled (unit = document)
d = sum(runs[("qa_lora", 4, s)][0] - runs[("l4q", 4, s)][0] for s in range(S))   # per document, summed over seeds
r = paired("QA-LoRA", "PIQA")
check(r is not None and abs(float(r["mean"]) - 100 * d.sum() / (S * NDOC)) < 1e-9 and r["reference"] == "L4Q" and int(r["n"]) == NDOC,
      "paired Δ (points) = numpy mean of per-document differences", str(r))
# Bootstrap: numpy percentile bootstrap over documents with their seeds together.
idx = rng.integers(0, NDOC, (20000, NDOC))
reps = 100 * d[idx].sum(1) / (S * NDOC)
lo, hi, sd = np.percentile(reps, 2.5), np.percentile(reps, 97.5), reps.std()
check(abs(float(r["ci_lo"]) - lo) < 0.25 * sd and abs(float(r["ci_hi"]) - hi) < 0.25 * sd,
      "paired CI ≈ numpy percentile bootstrap (documents resampled with their seeds)", f"{r['ci_lo']} {r['ci_hi']} vs {lo} {hi}")
# p: integer-valued differences → Monte Carlo sign flip; compare with scipy's.
ref = sps.permutation_test((d, np.zeros(NDOC)), lambda x, y, axis=-1: np.sum(x - y, axis=axis), permutation_type="samples",
                           vectorized=True, n_resamples=9999, random_state=1).pvalue
check(float(r["p"]) < 0.001 and ref < 0.001, "QA-LoRA vs L4Q on PIQA: p ≈ scipy permutation test (both < 0.001)", f"{r['p']} {ref}")

# Perplexity: Δ = token-weighted mean NLL difference over windows, seeds pooled.
dn = sum(runs[("qa_lora", 4, s)][2] - runs[("l4q", 4, s)][2] for s in range(S))
r = paired("QA-LoRA", "TinyStories PPL")
check(r is not None and abs(float(r["mean"]) - dn.sum() / (S * NTOK.sum())) < 1e-12 and r["unit"] == "nats/token"
      and float(r["ci_lo"]) > 0 and float(r["p"]) < 0.001, "perplexity: Δ mean NLL per token over windows, CI above 0", str(r))

# seeds p: Welch's t-test on the rows' per-run scores (PPL as log PPL, accuracy in %), each
# seed one unit = scipy.stats.ttest_ind(equal_var=False); a one-run row has none.
for col, f in [("PIQA", lambda m, s_: 100 * runs[(m, 4, s_)][0].mean()),
               ("TinyStories PPL", lambda m, s_: runs[(m, 4, s_)][2].sum() / NTOK.sum())]:
    want = sps.ttest_ind([f("qa_lora", s_) for s_ in range(S)], [f("l4q", s_) for s_ in range(S)], equal_var=False).pvalue
    r = paired("QA-LoRA", col)
    check(r is not None and abs(float(r["seeds_p"]) - want) < 1e-9 * max(1, want), f"seeds p on {col} = scipy Welch t-test",
          f"{r and r['seeds_p']} vs {want}")
r = paired("LoRA", "PIQA")
check(r is None or r["seeds_p"] == "", "seeds p: none for a one-run row", str(r))
md_paired = md.split("## Paired")[1].split("\n## ")[0]
check("; seeds p" in md_paired and "Welch" in md_paired, "the paired table shows seeds p and says what it is", md_paired[:400])

# ---- a single seed pair with binary differences: p = scipy binomtest (McNemar), exactly
R1 = os.path.join(tmp, "one_seed")
for m in ("l4q", "qa_lora"):
    pa, ca, nl = runs[(m, 4, 0)]
    write_run(f"{R1}/{m}", m, "4", 4, 0, pa, ca, nl)
run(["report", R1, "--format", "csv"])
r1 = [x for x in csv.DictReader(open(f"{R1}/report.csv")) if x["table"] == "paired" and x["column"] == "PIQA"][0]
dd = runs[("qa_lora", 4, 0)][0] - runs[("l4q", 4, 0)][0]
b, c = int((dd > 0).sum()), int((dd < 0).sum())
ref = sps.binomtest(b, b + c, 0.5).pvalue
check(abs(float(r1["p"]) - ref) <= 1e-9 * ref + 1e-300, "one seed: p = scipy.stats.binomtest (exact McNemar)", f"{r1['p']} vs {ref}")

# ---- at chance, Avg, bold
hdr = [h.strip() for h in md.split("## Main results")[1].splitlines()[2].split("|")[1:-1]]
check("coin (at chance)" in hdr and "PIQA" in hdr, "coin marked at chance, PIQA not", str(hdr))
check("stays out of the Avg column" in md and "coin (chance 25.0)" in md and "carries no bold" in md, "sentence under the table about at-chance tasks", "")
m = main("L4Q", "Avg")
l4q_piqa = np.mean([100 * runs[("l4q", 4, s)][0].mean() for s in range(S)])
check(m is not None and abs(float(m["mean"]) - l4q_piqa) < 1e-9, "Avg leaves out the at-chance column", f"{m} {l4q_piqa}")
lines = [l for l in md.split("## Main results")[1].split("\n## ")[0].splitlines() if l.startswith("| ") and not l.startswith("| Method")]
def mdcell(label, col):
    for l in lines:
        c = [x.strip() for x in l.split("|")[1:-1]]
        if c[0] == label:
            return c[hdr.index(col)]
# L4Q and QAT-LoRA are equally good on PIQA: whichever mean is higher, it is not significant.
check(not mdcell("L4Q", "PIQA").startswith("**") and not mdcell("QAT-LoRA", "PIQA").startswith("**"),
      "no bold when the best is not significantly better than the runner-up", mdcell("L4Q", "PIQA"))
coin = [c[hdr.index("coin (at chance)")] for c in ([x.strip() for x in l.split("|")[1:-1]] for l in lines)]
check(coin and not any(c.startswith("**") for c in coin), "no bold in a column at chance", str(coin))
ppl_cells = [mdcell(x, "TinyStories PPL") for x in ("QA-LoRA", "QAT-LoRA", "L4Q")]
check(sum(c.startswith("**") for c in ppl_cells) <= 1 and not ppl_cells[0].startswith("**"), "bold never on a worse row", str(ppl_cells))

# ---- findings
fnd = md.split("## Findings")[1].split("\n## ")[0]
row = lambda text: [l for l in fnd.splitlines() if l.startswith("| " + text)]
qa = row("L4Q ≥ QA-LoRA")
check(len(qa) == 1 and "**agree**" in qa[0] and "Holm" in qa[0], "finding: L4Q ≥ QA-LoRA agrees (significant on PIQA and PPL)", str(qa))
qat = row("L4Q ≥ QAT-LoRA")
check(len(qat) == 1 and "inconclusive" in qat[0], "finding: L4Q vs QAT-LoRA inconclusive (equal by construction)", str(qat))
check("Skipped: L4Q ≥ QLoRA*" in fnd and "Skipped: LSQ's training memory" in fnd, "claims without runs are skipped with a note", fnd[-400:])
mem = row("L4Q's training memory ≈ LoRA's")
check(len(mem) == 1 and "**agree**" in mem[0] and "1.03×" in mem[0], "memory: L4Q ≈ LoRA (1.450/1.410 MB)", str(mem))
far = row("QAT-LoRA's training memory far larger")
check(len(far) == 1 and "**agree**" in far[0] and "2.10×" in far[0], "memory: QAT-LoRA 2.1× L4Q", str(far))
check("Scale caveat" in fnd and "260K parameters" in fnd, "scale caveat", fnd[:300])

# ---- damaged files: listed with path and reason, on stderr too; the rest reported
inc = md.split("## Incomplete runs")[1]
check(all(f"| damaged{i} | unreadable |" in inc for i in range(2)) and "| truncated | unreadable |" in inc
      and f"{R}/damaged0/run.h5: " in inc, "damaged run.h5 files listed as unreadable with path and reason", inc[:600])
check(p.stderr.count("unreadable") == 3 and "damaged1/run.h5" in p.stderr, "one stderr line per unreadable run", p.stderr[-600:])

# ---- mismatched evaluation: one run scored other piqa documents
RM = os.path.join(tmp, "mismatch")
shutil.copytree(R, RM, ignore=shutil.ignore_patterns("damaged*", "truncated", "report.*"))
other = HASH_MC.copy(); other[5] ^= np.uint64(1)
pa, ca, nl = runs[("qa_lora", 4, 1)]
write_run(f"{RM}/qa_lora_b4_s1", "qa_lora", "4", 4, 1, pa, ca, nl, hash_mc=other)
pm = run(["report", RM, "--format", "csv"])
mmd = open(f"{RM}/report.md").read()
sec = mmd.split("## Evaluation mismatches")[1].split("\n## ")[0] if "## Evaluation mismatches" in mmd else ""
check("qa_lora_b4_s1 was evaluated on different documents than" in sec and "piqa" in sec and "coin" in sec,
      "mismatch: the run and its tasks named in report.md", sec[:500])
check("qa_lora_b4_s1 was evaluated on different documents" in pm.stderr, "mismatch on stderr", pm.stderr[-400:])
mr = [x for x in csv.DictReader(open(f"{RM}/report.csv")) if x["table"] == "paired" and x["label"] == "QA-LoRA"]
check({x["column"] for x in mr} == {"TinyStories PPL"}, "mismatched tasks are not compared paired; the others still are", str([x["column"] for x in mr]))
check("evaluation differs between" in mmd, "the paired table says why a comparison is missing", "")

check("evaluate TinyStories PPL on 60 windows, PIQA on 400 documents" in md, "the scale caveat counts the evidence (windows, documents)",
      [l for l in md.splitlines() if l.startswith("Scale caveat")][:1])

# ---- a reference method with several rows (an ablation): the default pairs against its
# row without settings or the first, and says which; --reference LABEL picks a row.
RA = os.path.join(tmp, "ablation")
for s_ in range(2):
    pa, ca, nl = runs[("l4q", 4, s_)]
    write_run(f"{RA}/r4_{s_}", "l4q", "4", 4, s_, pa, ca, nl, extra="  rank: 4\n")
    write_run(f"{RA}/r8_{s_}", "l4q", "4", 4, s_, runs[("qa_lora", 4, s_)][0], ca, nl, extra="  rank: 8\n")
    write_run(f"{RA}/qa_{s_}", "qa_lora", "4", 4, s_, runs[("qat_lora", 4, s_)][0], ca, nl)
def ablation(*ref):
    run(["report", RA, "--format", "csv", *ref])
    return open(f"{RA}/report.md").read(), [x for x in csv.DictReader(open(f"{RA}/report.csv")) if x["table"] == "paired" and x["column"] == "PIQA"]
amd, ar = ablation()
check("L4Q has 2 rows" in amd and "else with **L4Q (rank=4)**" in amd and "--reference 'L4Q (rank=8)'" in amd,
      "ablation: the report names which of the reference method's rows is the reference", amd.split("## Paired")[1][:300])
amd, ar = ablation("--reference", "l4q (rank=8)")
qa = [x for x in ar if x["label"] == "QA-LoRA"]
want = 100 * sum(runs[("qat_lora", 4, s_)][0] - runs[("qa_lora", 4, s_)][0] for s_ in range(2)).sum() / (2 * NDOC)
check("## Paired differences against L4Q (rank=8)" in amd and len(qa) == 1 and qa[0]["reference"] == "L4Q (rank=8)"
      and abs(float(qa[0]["mean"]) - want) < 1e-9 and any(x["label"] == "L4Q (rank=4)" for x in ar),
      "--reference LABEL: every row paired against that row (Δ = numpy)", f"{qa} {want}")

# The default reference is the method: a 3-bit L4Q row (labelled plain "L4Q") beside the
# 4-bit L4Q rows with settings must not make "L4Q" a label reference that leaves the 4-bit
# rows unpaired (make reproduce's bf16 row exposed this).
RC = os.path.join(tmp, "ablation_bits")
shutil.copytree(RA, RC, ignore=shutil.ignore_patterns("report.*"))
for s_ in range(2):
    pa, ca, nl = runs[("l4q", 4, s_)]
    write_run(f"{RC}/b3_{s_}", "l4q", "3", 3, s_, pa, ca, nl)
run(["report", RC, "--format", "csv"])
cr = [x for x in csv.DictReader(open(f"{RC}/report.csv")) if x["table"] == "paired" and x["column"] == "PIQA"]
check(any(x["label"] == "QA-LoRA" and x["reference"] == "L4Q (rank=4)" for x in cr),
      "default reference: the method l4q, not the row labelled 'L4Q' at another bit-width", str([(x["label"], x["reference"]) for x in cr]))

# ---- findings compare like with like: in a sweep over a setting (here rank), L4Q (rank=r)
# is set against QA-LoRA (rank=r), one verdict line per setting.
RB = os.path.join(tmp, "matched")
acc = {("l4q", 4): "l4q", ("l4q", 8): "qat_lora", ("qa_lora", 4): "qa_lora", ("qa_lora", 8): "l4q"}
for (m, rk), src in acc.items():
    for s_ in range(2):
        pa, ca, nl = runs[(src, 4, s_)]
        write_run(f"{RB}/{m}_r{rk}_{s_}", m, "4", 4, s_, pa, ca, nl, extra=f"  rank: {rk}\n")
for name in os.listdir(RB):
    with h5py.File(f"{RB}/{name}/run.h5", "a") as f:
        f.attrs["git_commit"] = "0123456789abcdef0123" + ("-dirty" if name == "l4q_r8_1" else "")
run(["report", RB, "--format", "csv"])
bmd = open(f"{RB}/report.md").read()
check("**Builds: the runs were produced by 2 different builds** (git commit: runs) `0123456789ab`: 7, `0123456789ab-dirty`: 1." in bmd
      and "Build: `unrecorded`" in md, "report: the builds that produced the runs, flagged when they differ", bmd[:600])
brows = [x for x in csv.DictReader(open(f"{RB}/report.csv")) if x["table"] == "paired" and x["column"] == "PIQA"]
check(sorted((x["label"], x["reference"]) for x in brows if x["method"] == "qa_lora")
      == [("QA-LoRA (rank=4)", "L4Q (rank=4)"), ("QA-LoRA (rank=8)", "L4Q (rank=8)")],
      "paired table: each QA-LoRA row against the L4Q row of the same settings", str([(x["label"], x["reference"]) for x in brows]))
for rk in (4, 8):
    d = 100 * sum(runs[(acc[("l4q", rk)], 4, s_)][0] - runs[(acc[("qa_lora", rk)], 4, s_)][0] for s_ in range(2)).sum() / (2 * NDOC)
    line = [l for l in bmd.splitlines() if l.startswith(f"| L4Q ≥ QA-LoRA (both fully quantized) | 4 (rank={rk}) |")]
    check(len(line) == 1 and f"PIQA {d:+.1f} [" in line[0], f"findings: L4Q (rank={rk}) against QA-LoRA (rank={rk}), Δ = numpy {d:+.1f}",
          str(line))

# ---- L4Q variants (an ablation of L4Q's settings against QA-LoRA and QLoRA*): per bit-width,
# how many settings are at least as good as both, and the best one's Δ against each (numpy).
RV = os.path.join(tmp, "variants")
for s_ in range(2):
    pa, ca, nl = runs[("l4q", 4, s_)]
    qp, qc, qn = runs[("qa_lora", 4, s_)]
    write_run(f"{RV}/l4q_lo_{s_}", "l4q", "4", 4, s_, pa, ca, nl, extra="  quant_lr: 0.0001\n")
    write_run(f"{RV}/l4q_hi_{s_}", "l4q", "4", 4, s_, qp, ca, qn * 1.05, extra="  quant_lr: 0.001\n")
    write_run(f"{RV}/qa_{s_}", "qa_lora", "4", 4, s_, qp, qc, qn)
    write_run(f"{RV}/gl_{s_}", "gptq_lora", "4&fp", 4, s_, qp, qc, qn * 1.01)
run(["report", RV, "--format", "csv"])
vmd = open(f"{RV}/report.md").read()
vsec = vmd.split("### L4Q's variants")[1].split("\n## ")[0] if "### L4Q's variants" in vmd else ""
vline = [l for l in vsec.splitlines() if l.startswith("| 4 |")]
def ppl_delta(other, scale):
    d = sum((runs[("l4q", 4, s_)][2] - runs[(other, 4, s_)][2] * scale).sum() for s_ in range(2)) / (2 * NTOK.sum())
    return 100 * (np.exp(d) - 1)
dq, dg = ppl_delta("qa_lora", 1.0), ppl_delta("qa_lora", 1.01)
check(len(vline) == 1 and "| 1 of 2 |" in vline[0] and "quant_lr=0.0001 — **yes**" in vline[0]
      and f"TinyStories PPL {dq:+.1f}% [" in vline[0] and f"TinyStories PPL {dg:+.1f}% [" in vline[0],
      f"findings: variants — 1 of 2 L4Q settings at least as good as QA-LoRA and QLoRA*, the best's Δ = numpy ({dq:+.1f}%, {dg:+.1f}%)",
      str(vline) + vsec[:300])
check("### L4Q's variants" not in md, "findings: no variants table for a study with one L4Q row per bit-width", "")

# ---- mutation set: truncations and byte flips of a good run.h5, normal and ASan binaries
MU = os.path.join(tmp, "mutants")
good = open(f"{R}/lora/run.h5", "rb").read()
muts = []
for k, cut in enumerate([0, 8, 100, 512, 2048, len(good) // 2, len(good) - 1]):
    muts.append(good[:cut])
for k in range(18):
    b = bytearray(good)
    for _ in range(1 + k % 4):
        b[int(rng.integers(0, len(b)))] ^= int(rng.integers(1, 256))
    muts.append(bytes(b))
for i, m in enumerate(muts):
    os.makedirs(f"{MU}/m{i:02d}"); open(f"{MU}/m{i:02d}/run.h5", "wb").write(m)
os.makedirs(f"{MU}/good"); open(f"{MU}/good/run.h5", "wb").write(good)
for binary in [L4Q, os.path.join(ROOT, "build", "asan", "l4q")]:
    if not os.path.exists(binary):
        continue
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    q = subprocess.run([binary, "report", MU], capture_output=True, text=True, env=env, timeout=600)
    mm = open(f"{MU}/report.md").read() if os.path.exists(f"{MU}/report.md") else ""
    listed = mm.count("| unreadable |")
    check(q.returncode == 0 and "| LoRA | fp | fp32 |" in mm and listed >= 7,
          f"mutation set ({len(muts)} files, {os.path.basename(os.path.dirname(binary))}): report written, damaged listed",
          f"rc={q.returncode} unreadable={listed} {q.stderr[-300:]}")
done()
