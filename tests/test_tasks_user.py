# test_tasks_user.py — evaluation as an lm-evaluation-harness user expects it:
# --log-samples writes every scored document's rendered requests, log-likelihoods and
# outcome as JSONL, equal to --render's requests and to --out's per-document scores;
# --tasks takes a path to a task YAML; an unknown task name points at --tasks PATH and
# --task-dir; a misspelled task key is reported as unknown with the likely intended one.
import os, json, shutil, tempfile
import h5py, numpy as np
from testlib import check, run, done, data

tmp = tempfile.mkdtemp(prefix="l4q_tasks_")
M = ["--model", data("models/stories260K/stories260K.bin"), "--tokenizer", data("models/stories260K/tok512.bin")]
S = os.path.join(tmp, "s.jsonl"); H = os.path.join(tmp, "s.h5")
p = run(["eval", *M, "--tasks", "piqa,blimp_anaphor_gender_agreement,lambada", "--limit", "4", "--shots", "1",
         "--log-samples", S, "--out", H, "--json", "--no-progress"], check_rc=False)
check(p.returncode == 0 and os.path.exists(S), "--log-samples writes its file", p.stderr[-300:])
rows = [json.loads(l) for l in open(S)]
res = json.loads(p.stdout)
rend = json.loads(run(["eval", "--tasks", "piqa,blimp_anaphor_gender_agreement,lambada", "--limit", "4", "--shots", "1",
                       "--render", "4"]).stdout)["tasks"]
by = {}
for r in rows: by.setdefault(r["task"], []).append(r)
check(sorted(by) == ["blimp_anaphor_gender_agreement", "lambada", "piqa"] and all(len(v) == 4 for v in by.values()),
      "one line per scored document of each task", str({k: len(v) for k, v in by.items()}))
same = all([list(map(list, x["requests"])) for x in rend[t]] == [r["arguments"] for r in by[t]] for t in by)
check(same, "the logged prompts/continuations equal --render's requests (shots included)")
with h5py.File(H, "r") as f:
    ok = True
    for t, v in by.items():
        ll = np.array(f[f"tasks/{t}/ll"]); acc = np.array(f[f"tasks/{t}/acc"])
        for i, r in enumerate(v):
            ok &= np.allclose(ll[i, :len(r["loglikelihoods"])], r["loglikelihoods"], rtol=1e-6, atol=0) and acc[i] == r["acc"]
check(ok, "logged log-likelihoods and acc equal --out's per-document scores")
def metric(task, m):
    x = res["results"][task]
    return x[m] if isinstance(x.get(m), (int, float)) else x[m]["value"] if isinstance(x.get(m), dict) else None
mean_acc = np.mean([r["acc"] for r in by["piqa"]])
check(abs(mean_acc - (metric("piqa", "acc") or -1)) < 1e-12, "mean of logged acc = the reported piqa acc", f"{mean_acc} {res['results']['piqa']}")
check(all(r["shots"] == 1 for r in by["piqa"]) and all(len(r["arguments"]) == 2 for r in by["piqa"])
      and all(len(r["arguments"]) == 1 and r["target"] == -1 for r in by["lambada"]), "shots, choices and targets as rendered")

# --tasks with a path: the task's own name, its data found relative to it or L4Q_DATA.
mine = os.path.join(tmp, "my", "mypiqa.yaml"); os.makedirs(os.path.dirname(mine))
src = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "evals", "tasks", "piqa.yaml")).read()
open(mine, "w").write(src.replace("task: piqa", "task: mypiqa"))
a = json.loads(run(["eval", *M, "--tasks", mine, "--limit", "4", "--json", "--no-progress"]).stdout)["results"]
check("mypiqa" in a and json.dumps(a["mypiqa"]) == json.dumps(res["results"]["piqa"]).replace("piqa", "mypiqa") or
      ("mypiqa" in a and abs((a["mypiqa"]["acc"] if isinstance(a["mypiqa"]["acc"], float) else a["mypiqa"]["acc"]["value"]) - metric("piqa", "acc")) < 1e-12),
      "--tasks path/to/mypiqa.yaml runs the file's task (same scores as piqa)", str(a)[:300])
p = run(["eval", *M, "--tasks", os.path.join(tmp, "nope.yaml")], check_rc=False)
check(p.returncode == 2 and "nope.yaml: no such task file" in p.stderr, "--tasks with a missing file: one line, exit 2", p.stderr)

# An unknown name points at --tasks PATH and --task-dir.
p = run(["eval", *M, "--tasks", "mypiqa"], check_rc=False)
check(p.returncode == 2 and "unknown task 'mypiqa'" in p.stderr and "--task-dir" in p.stderr and "--tasks path/to/task.yaml" in p.stderr,
      "unknown task: the error names --tasks PATH and --task-dir", p.stderr)
# A misspelled key: unknown, with the intended one — not "required key missing".
for bad, want in [("doc_to_choice", "doc_to_choices"), ("doc_to_text", "doc_to_txt"), ("output_type", "outputtype")]:
    open(mine, "w").write(src.replace("task: piqa", "task: mypiqa").replace(bad + ":", want + ":"))
    p = run(["eval", *M, "--tasks", mine], check_rc=False)
    check(p.returncode == 2 and f"unknown key '{want}' in 'task file' (did you mean '{bad}'?)" in p.stderr
          and "missing required" not in p.stderr and f"{mine}:" in p.stderr, f"misspelled {want}: unknown key, did you mean '{bad}'", p.stderr)
open(mine, "w").write(src.replace("task: piqa", "task: mypiqa").replace("labels:", "label:"))
p = run(["eval", *M, "--tasks", mine], check_rc=False)
check(p.returncode == 2 and "unknown key 'label' in 'data' (did you mean 'labels'?)" in p.stderr, "misspelled data key", p.stderr)
open(mine, "w").write(src.replace("task: piqa", "task: mypiqa").replace("metrics:", "zzzz_unrelated:"))
p = run(["eval", *M, "--tasks", mine], check_rc=False)
check(p.returncode == 2 and "unknown key 'zzzz_unrelated' in 'task file'" in p.stderr and "did you mean" not in p.stderr,
      "an unrelated unknown key: no guess", p.stderr)
shutil.rmtree(tmp)
done()
