# test_report.py — `l4q report` on run.h5 files written here with h5py (README "Training"):
# mean ± sample std over seeds, the Avg column, best-per-bit-width bold, row order
# (fp, then bits descending), the form column, group detail tables (csqa members),
# incomplete/failed/corrupt runs listed but not averaged, row settings for an ablation
# axis, CSV and LaTeX output, PNG plots, and both fixed- and variable-length string
# attributes.
import csv, os, re, statistics, tempfile
import h5py
import numpy as np
from testlib import check, done, run

tmp = tempfile.mkdtemp(prefix="l4q_report_")

def config(method, bits=None, seed=0, rank=4, steps=100, tasks=("tinystories", "blimp", "csqa"), train_extra=""):
    m = f"  name: {method}\n"
    if method not in ("none", "lora"):
        m += f"  bits: {bits}\n  group_size: 32\n"
    if method != "none":
        m += f"  rank: {rank}\n"
    return (f"model: /d/stories260K.bin\ntokenizer: /d/tok512.bin\ndata:\n  format: text\n  train: /d/train.txt\n"
            f"method:\n{m}train:\n  steps: {steps}\n  lr: 0.001\n  seed: {seed}\n{train_extra}"
            f"eval:\n  every: 0\n  tasks: [{', '.join(tasks)}]\nout: runs/x\n")

def write_run(d, method, form, bits=None, seed=0, status="complete", ppl=5.0, blimp=0.6, csqa=0.3, members=None,
              rank=4, vlen=False, loss0=3.0, steps=100, mem=(1000000, 150000, 450000, 4000000, 90000, 25000000), train_extra=""):
    os.makedirs(d, exist_ok=True)
    with h5py.File(os.path.join(d, "run.h5"), "w") as f:
        def attr(k, v):
            if vlen:
                f.attrs[k] = v  # h5py default: variable-length UTF-8
            else:
                f.attrs.create(k, np.bytes_(v.encode()))
        attr("config", config(method, bits, seed, rank, steps, train_extra=train_extra))
        attr("method", method)
        attr("form", form)
        attr("status", status)
        attr("start_time", "2025-01-01T00:00:00Z")
        attr("end_time", "2025-01-01T00:01:40Z")
        st = np.arange(1, steps + 1, dtype=np.int64)
        f["train/step"] = st
        f["train/loss"] = loss0 * np.exp(-st / 50.0)
        f["train/tokens_per_s"] = np.full(steps, 1000.0 + seed)
        f["eval/step"] = np.array([0, steps], dtype=np.int64)
        f["eval/val_loss"] = np.array([9.0, np.log(ppl)])
        f["eval/val_ppl"] = np.array([99.0, ppl])
        f["eval/tinystories/step"] = np.array([steps], dtype=np.int64)
        f["eval/tinystories/ppl"] = np.array([ppl])
        f["eval/tinystories/loss"] = np.array([np.log(ppl)])
        f["eval/blimp/step"] = np.array([0, steps], dtype=np.int64)
        f["eval/blimp/acc"] = np.array([0.01, blimp])  # an earlier eval row must not be used
        f["eval/csqa/step"] = np.array([steps], dtype=np.int64)
        f["eval/csqa/acc"] = np.array([csqa])
        f["eval/csqa/acc_stderr"] = np.array([0.02])
        for t, v in (members or {}).items():
            f[f"eval/{t}/step"] = np.array([steps], dtype=np.int64)
            f[f"eval/{t}/acc"] = np.array([v])
        g = f.create_group("memory")
        for k, v in zip(["weight_bytes", "trainable_bytes", "grad_optimizer_bytes", "saved_for_backward_bytes",
                         "peak_transient_bytes", "peak_rss_bytes"], mem):
            g.attrs.create(k, np.int64(v))

R = os.path.join(tmp, "main")
l4q4 = [(0.61, 0.31, 5.0), (0.63, 0.29, 5.2), (0.65, 0.33, 4.9)]
for s, (b, c, p) in enumerate(l4q4):
    write_run(f"{R}/l4q_b4_s{s}", "l4q", "4", bits=4, seed=s, blimp=b, csqa=c, ppl=p, vlen=(s == 1),
              members={"hellaswag": 0.25 + s / 100, "piqa": 0.5})
qat4 = [(0.60, 0.35, 5.5), (0.58, 0.36, 5.4)]
for s, (b, c, p) in enumerate(qat4):
    write_run(f"{R}/qat_b4_s{s}", "qat_lora", "4&fp", bits=4, seed=s, blimp=b, csqa=c, ppl=p)
write_run(f"{R}/l4q_b3_s0", "l4q", "3", bits=3, blimp=0.55, csqa=0.28, ppl=8.0)
write_run(f"{R}/qat_b3_s0", "qat_lora", "3&fp", bits=3, blimp=0.56, csqa=0.27, ppl=7.5)
write_run(f"{R}/lora", "lora", "fp32", blimp=0.70, csqa=0.40, ppl=4.0)
write_run(f"{R}/none", "none", "fp32", blimp=0.66, csqa=0.38, ppl=4.5, steps=0)
# Not complete: must be listed, never averaged (their values would change every cell).
write_run(f"{R}/l4q_b4_s3_running", "l4q", "4", bits=4, seed=3, status="running", blimp=0.99, csqa=0.99, ppl=1.0)
write_run(f"{R}/l4q_b4_s4_failed", "l4q", "4", bits=4, seed=4, status="failed", blimp=0.99, csqa=0.99, ppl=1.0)
os.makedirs(f"{R}/corrupt", exist_ok=True)
write_run(f"{R}/corrupt", "l4q", "4", bits=4, seed=5, blimp=0.99)
sz = os.path.getsize(f"{R}/corrupt/run.h5")
with open(f"{R}/corrupt/run.h5", "r+b") as fh:
    fh.truncate(sz // 2)

p = run(["report", R, "--format", "csv", "--plots"])
md = open(f"{R}/report.md").read()
rows = list(csv.DictReader(open(f"{R}/report.csv")))
def cell(label, bits, col, table="main"):
    for r in rows:
        if r["table"] == table and r["label"] == label and r["bits"] == bits and r["column"] == col:
            return float(r["mean"]), (float(r["std"]) if r["std"] else None), int(r["n"])
    return None

m, s, n = cell("L4Q", "4", "BLiMP")
want = [100 * b for b, _, _ in l4q4]
check(n == 3 and abs(m - statistics.mean(want)) < 1e-9 and abs(s - statistics.stdev(want)) < 1e-9,
      "BLiMP mean ± sample std over 3 seeds (incomplete runs excluded)", f"{m} {s} {n}")
m, s, n = cell("L4Q", "4", "TinyStories PPL")
check(n == 3 and abs(m - statistics.mean(p for _, _, p in l4q4)) < 1e-9, "TinyStories PPL column", f"{m}")
m, s, n = cell("L4Q", "4", "Avg")
avgs = [(100 * b + 100 * c) / 2 for b, c, _ in l4q4]
check(abs(m - statistics.mean(avgs)) < 1e-9 and abs(s - statistics.stdev(avgs)) < 1e-9, "Avg = per-run mean of accuracy columns, then over seeds", f"{m}")
m, s, n = cell("QAT-LoRA", "4", "CSQA")
check(n == 2 and abs(m - 35.5) < 1e-9 and abs(s - statistics.stdev([35, 36])) < 1e-9, "CSQA for 2 seeds", f"{m} {s}")
m, s, n = cell("Pre-trained", "fp", "BLiMP")
check(n == 1 and abs(m - 66.0) < 1e-9 and s is None, "single run: no std", f"{m} {s}")
check(cell("L4Q", "4", "Weights MB", "memory_time")[0] == 1.0 and cell("L4Q", "4", "Wall s", "memory_time")[0] == 100.0
      and abs(cell("L4Q", "4", "Tokens/s", "memory_time")[0] - 1001.0) < 1e-9, "memory/time table from the memory group and timestamps", "")

# Markdown: row order, forms, bold best per bit-width, ± cells.
lines = [l for l in md.split("## Main results")[1].split("\n## ")[0].splitlines() if l.startswith("| ") and not l.startswith("| Method")]
labels = [(l.split("|")[1].strip(), l.split("|")[2].strip(), l.split("|")[3].strip()) for l in lines]
check(labels == [("Pre-trained", "fp", "fp32"), ("LoRA", "fp", "fp32"), ("QAT-LoRA", "4", "4&fp"), ("L4Q", "4", "4"),
                 ("QAT-LoRA", "3", "3&fp"), ("L4Q", "3", "3")], "rows: fp first, then 4, then 3; method order; form column", str(labels))
hdr = [h.strip() for h in md.split("## Main results")[1].splitlines()[2].split("|")[1:-1]]
check(hdr == ["Method", "Bits", "Form", "n", "TinyStories PPL", "BLiMP", "CSQA", "Avg"], "columns per task + Avg", str(hdr))
def mdcell(label, bits, col):
    for l in lines:
        c = [x.strip() for x in l.split("|")[1:-1]]
        if c[0] == label and c[1] == bits:
            return c[hdr.index(col)]
l4q_blimp = mdcell("L4Q", "4", "BLiMP")
# These runs carry no per-document evidence: no paired test, so nothing is bold.
check(l4q_blimp == f"{statistics.mean(want):.1f} ± {statistics.stdev(want):.1f}", "L4Q 4-bit BLiMP with ± std", l4q_blimp)
check(mdcell("QAT-LoRA", "3", "TinyStories PPL") == "7.50" and "**" not in md.split("## Main results")[1].split("\n## ")[0],
      "without per-document evidence nothing is bold", mdcell("QAT-LoRA", "3", "TinyStories PPL"))
check("No run holds per-document evidence" in md, "the report says why there is no bold", "")
check("## CSQA per task" in md and "| Hella | PIQA | Avg |" in md, "CSQA group detail table (Tables 13a/13b shape)", md[md.find("## CSQA"):][:300])
inc = md.split("## Incomplete runs")[1] if "## Incomplete runs" in md else ""
check("| l4q_b4_s3_running | running | l4q |" in inc and "| l4q_b4_s4_failed | failed | l4q |" in inc and "| corrupt | unreadable |" in inc and "corrupt/run.h5: " in inc,
      "incomplete, failed and corrupt runs are listed", inc[:400])
check("99.0" not in md.split("## Incomplete runs")[0], "incomplete runs are not averaged in", "")
pngs = sorted(x for x in os.listdir(f"{R}/plots") if x.endswith(".png"))
check({"loss_4bit.png", "loss_3bit.png", "tinystories_ppl_vs_bits.png", "blimp_acc_vs_bits.png"} <= set(pngs)
      and all(open(f"{R}/plots/{x}", "rb").read(8) == b"\x89PNG\r\n\x1a\n" for x in pngs), "PNG plots", str(pngs))
check("![Training loss, 4-bit: moving average over " in md and "](plots/loss_4bit.png)" in md, "report.md links the plots, the caption saying how the curve is smoothed", "")
check("| L4Q | 4 | 4 | 3 |" in p.stdout, "the main table is printed", p.stdout[:300])

run(["report", R, "--format", "tex"])
tex = open(f"{R}/report.tex").read()
check("\\toprule" in tex and "\\bottomrule" in tex and "$\\pm$" in tex and "QAT-LoRA & 4 & 4\\&fp" in tex,
      "LaTeX booktabs", tex[:400])

# Ablation: rank varies within (l4q, 4) → row settings, ablation curve plots.
A = os.path.join(tmp, "abl")
for r in (1, 2, 4, 8):
    for s in (0, 1):
        write_run(f"{A}/r{r}_s{s}", "l4q", "4", bits=4, seed=s, rank=r, blimp=0.5 + r / 100 + s / 1000)
run(["report", A, "--format", "csv", "--plots"])
amd = open(f"{A}/report.md").read()
arows = list(csv.DictReader(open(f"{A}/report.csv")))
labs = [r["label"] for r in arows if r["table"] == "main" and r["column"] == "BLiMP"]
check(labs == ["L4Q (rank=1)", "L4Q (rank=2)", "L4Q (rank=4)", "L4Q (rank=8)"], "rank ablation rows in numeric order", str(labs))
v = [float(r["mean"]) for r in arows if r["table"] == "main" and r["column"] == "BLiMP"]
check(all(abs(a - b) < 1e-9 for a, b in zip(v, [100 * (0.5 + r / 100 + 0.0005) for r in (1, 2, 4, 8)])), "ablation values", str(v))
check("`method.rank`" in amd and os.path.exists(f"{A}/plots/ablation_method_rank_blimp_acc.png"), "ablation curve plot", str(os.listdir(f"{A}/plots")))

# A key the run config leaves out at its default (train.precision: fp32) shows that default
# in the row label, not "-".
P = os.path.join(tmp, "prec")
for s in (0, 1):
    write_run(f"{P}/fp32_s{s}", "l4q", "4", bits=4, seed=s)
    write_run(f"{P}/bf16_s{s}", "l4q", "4", bits=4, seed=s, train_extra="  precision: bf16\n")
run(["report", P, "--format", "csv"])
plabs = sorted({r["label"] for r in csv.DictReader(open(f"{P}/report.csv")) if r["table"] == "main"})
check(plabs == ["L4Q (precision=bf16)", "L4Q (precision=fp32)"], "a default the config omits is shown by name in the row label",
      str(plabs))
# With a plain 3-bit L4Q row beside them (make reproduce's shape), the fp32 rows at 3 and 4
# bits are one line of the metric-vs-bits plot and bf16 its own: two L4Q series.
for s in (0, 1):
    write_run(f"{P}/fp32_b3_s{s}", "l4q", "3", bits=3, seed=s, ppl=6.5)
run(["report", P, "--plots"])
dats = sorted(x for x in os.listdir(f"{P}/plots") if x.startswith("bits_tinystories_ppl_row"))
pts = sorted(len(open(f"{P}/plots/{x}").read().split("\n")) - 1 for x in dats)
check(pts == [1, 2], "metric vs bits: L4Q fp32 joins 3 and 4 bits in one line, bf16 a point of its own", f"{dats} {pts}")

# Errors.
e = run(["report", os.path.join(tmp, "nothing")], check_rc=False)
check(e.returncode == 2 and "not a directory" in e.stderr, "missing dir → exit 2", e.stderr)
os.makedirs(os.path.join(tmp, "empty"))
e = run(["report", os.path.join(tmp, "empty")], check_rc=False)
check(e.returncode == 2 and "no run.h5" in e.stderr, "no runs → exit 2", e.stderr)
e = run(["report", R, "--format", "pdf"], check_rc=False)
check(e.returncode == 2 and "--format" in e.stderr, "bad --format → exit 2", e.stderr)
done()
