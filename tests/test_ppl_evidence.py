# test_ppl_evidence.py — one run, one perplexity per figure, each saying what it stands on.
# eval.limit (a per-document cap for scored tasks) leaves the tinystories perplexity task
# whole: its PPL, windows and tokens in run.h5 equal `l4q ppl` of the exported model on the
# whole validation text (an independent evaluation in another process); a limits entry
# naming the task caps its windows explicitly. The console names the validation-set figure
# apart from the task's and prints the task's windows/tokens; report.md says both.
import os, json, math, re, shutil, tempfile
import h5py
from testlib import check, run, done, data, STORIES

tmp = tempfile.mkdtemp(prefix="l4q_pplev_")
T = 64
cfg = os.path.join(tmp, "cfg.yaml")
open(cfg, "w").write(f"""{STORIES}method: {{ name: l4q, rank: 2, bits: 4, group_size: 32 }}
train: {{ steps: 3, micro_batch: 2, seq_len: {T} }}
eval: {{ every: 0, val_batches: 2, tasks: [tinystories, blimp], limit: 3 }}
""")
d = os.path.join(tmp, "run")
p = run(["train", cfg, "--out", d], check_rc=False)
check(p.returncode == 0, "train with eval.limit 3", p.stderr[-300:])
with h5py.File(os.path.join(d, "run.h5"), "r") as f:
    ppl, win, tok = (float(f[f"eval/tinystories/{k}"][-1]) for k in ("ppl", "windows", "tokens"))
    vtok = float(f["eval/val_tokens"][-1])
    nblimp = len(f["docs/blimp_adjunct_island/acc"])
ref = json.loads(run(["ppl", "--model", os.path.join(d, "final.l4qz"), "--tokenizer", data("models/stories260K/tok512.bin"),
                      "--data", data("tinystories/tinystories_valid_excerpt.txt"), "--seq-len", str(T), "--json"]).stdout)
check(win == ref["windows"] and tok == ref["predicted"] and win > 3,
      f"eval.limit does not shrink the perplexity task: {win:.0f} windows, {tok:.0f} tokens = l4q ppl's", f"{win} {tok} vs {ref}")
check(abs(ppl - ref["ppl"]) <= 1e-6 * ref["ppl"], "run.h5 tinystories ppl = l4q ppl of final.l4qz", f"{ppl} vs {ref['ppl']}")
check(nblimp == 3, "eval.limit still caps the scored tasks (3 BLiMP pairs per paradigm)", str(nblimp))
m = re.search(r"validation set \(data\.val, (\d+) batches, (\d+) tokens\): val_loss [\d.]+  val_ppl [\d.]+", p.stdout)
check(m is not None and int(m.group(2)) == vtok, "console: the validation figure is named as the validation set, with its tokens",
      p.stdout[-800:])
check(f"tinystories ppl: {win:.0f} windows of {T} tokens, {tok:.0f} predicted tokens" in p.stdout,
      "console: the task's PPL with its windows and tokens", p.stdout[-800:])
run(["report", d])
md = open(os.path.join(d, "report.md")).read()
check(f"the `tinystories` task, exp(mean NLL) over {win:.0f} windows, {tok:.0f} predicted tokens per run" in md
      and "not the `val_ppl` that `train` prints" in md, "report.md: the task's PPL says its windows and tokens", md[:1500])
# An explicit cap is honoured and says so.
d2 = os.path.join(tmp, "capped")
p = run(["train", cfg, "--out", d2, "--set", "eval.limits={tinystories: 7}"], check_rc=False)
with h5py.File(os.path.join(d2, "run.h5"), "r") as f:
    w2 = float(f["eval/tinystories/windows"][-1])
check(p.returncode == 0 and w2 == 7 and f"tinystories ppl: 7 windows of {T} tokens" in p.stdout,
      "eval.limits {tinystories: 7}: 7 windows, printed", p.stdout[-500:] + p.stderr[-300:])
# l4q eval --limit, the same rule; --json carries windows.
e = json.loads(run(["eval", "--model", os.path.join(d, "final.l4qz"), "--tokenizer", data("models/stories260K/tok512.bin"),
                    "--tasks", "tinystories", "--limit", "2", "--seq-len", str(T), "--json", "--no-progress"]).stdout)
t = e["results"]["tinystories"] if "results" in e else e
check(json.dumps(t).count('"windows": %d' % win) >= 1, "eval --limit 2: tinystories whole, windows in --json", json.dumps(t)[:400])
# eval --windows caps a perplexity task explicitly: the first 4 windows of 64 are the run's
# validation set here (val_batches 2 × micro_batch 2; same text), so its loss = run.h5 val_loss.
e = json.loads(run(["eval", "--model", os.path.join(d, "final.l4qz"), "--tokenizer", data("models/stories260K/tok512.bin"),
                    "--tasks", "tinystories", "--windows", "4", "--seq-len", str(T), "--json", "--no-progress"]).stdout)
t = e["results"]["tinystories"]
with h5py.File(os.path.join(d, "run.h5"), "r") as f:
    vl = float(f["eval/val_loss"][-1])
lv = t["loss"]["value"] if isinstance(t["loss"], dict) else t["loss"]
check(json.dumps(t).count('"windows": 4') >= 1 and abs(lv - vl) <= 1e-6 * abs(vl),
      "eval --windows 4: 4 windows, their loss = the run's val_loss on the same windows", f"{json.dumps(t)[:300]} vs {vl}")
shutil.rmtree(tmp)
done()
