# test_evals_render.py — prompts of `l4q eval --render` against lm-eval's templates,
# few-shot selection, task-file/data errors and the unknown-task message.
#
# Expected prompts are built here from the raw data files following lm-eval's task YAMLs
# (lm-evaluation-harness task YAMLs; README "Evaluation"), independently of the C preprocessing; doc 0 of several tasks is also
# spelled out literally.
import os, sys, json, csv, random, tempfile, re, subprocess
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib
from testlib import check, run, data, done
testlib.L4Q = os.environ.get("L4Q_BIN", testlib.L4Q)
N = 20


def render(tasks, *extra, n=N):
    return json.loads(run(["eval", "--tasks", tasks, "--render", str(n)] + list(extra)).stdout)["tasks"]


def reqs(ctx, conts):
    return [[ctx, c] for c in conts]


def arc_parse(rec):
    ins = rec["instruction"]
    q = ins[len("Please choose the correct answer to the question: "):ins.index("\n\nAnswer1: ")]
    body = ins[ins.index("\n\nAnswer1: ") + 2:ins.index("\n\nAnswer format: ")]
    choices = [c.strip() for c in re.split(r"(?:^| )Answer\d+: ", body)[1:]]
    return q, choices, int(rec["answer"][len("answer"):]) - 1


def hs_pre(t):
    t = t.strip().replace(" [title]", ". ")
    t = re.sub("\\[.*?\\]", "", t)
    return t.replace("  ", " ")


def expected(task, i):
    """(requests, gold) for document i of a task, per lm-eval's templates."""
    if task == "hellaswag":
        L = open(data("hellaswag", "hellaswag_val_full.txt")).read().split("\n")
        ctx, gold, ends = L[6 * i], int(L[6 * i + 1]), L[6 * i + 2:6 * i + 6]
        head, _, tail = ctx.rpartition(". ")
        if head and tail[:1].islower():  # ctx_b.capitalize()
            ctx = head + ". " + tail.capitalize()
        return reqs(hs_pre(ctx), [" " + hs_pre(e) for e in ends]), gold
    if task == "piqa":
        d = [json.loads(l) for l in open(data("piqa", "valid.jsonl"))][i]
        lab = int(open(data("piqa", "valid-labels.lst")).read().split()[i])
        return reqs(f"Question: {d['goal']}\nAnswer:", [" " + d["sol1"], " " + d["sol2"]]), lab
    if task in ("arc_easy", "arc_challenge"):
        f = "ARC-Easy" if task == "arc_easy" else "ARC-Challenge"
        q, ch, g = arc_parse(json.load(open(data("arc", f + "_test_llm_adapters.json")))[i])
        return reqs(f"Question: {q}\nAnswer:", [" " + c for c in ch]), g
    if task == "boolq":
        d = [json.loads(l) for l in open(data("boolq", "boolq_dev_mosaic.jsonl"))][i]
        passage, _, question = d["query"][len("Passage: "):].rpartition("\nQuestion: ")
        return reqs(f"{passage}\nQuestion: {question.rstrip('?')}?\nAnswer:", [" no", " yes"]), d["gold"]
    if task == "openbookqa":
        d = [json.loads(l) for l in open(data("openbookqa", "openbookqa_test_mosaic.jsonl"))][i]
        return reqs(d["query"], [" " + c for c in d["choices"]]), d["gold"]
    if task == "winogrande":
        d = [json.loads(l) for l in open(data("winogrande", "winogrande_dev_mosaic.jsonl"))][i]
        return [[c, " " + d["continuation"]] for c in d["context_options"]], d["gold"]
    if task.startswith("mmlu_"):
        subj = task[5:]
        rows = list(csv.reader(open(data("mmlu", "test", subj + "_test.csv"))))[1:]
        q, a, b, c, dd, ans = rows[i]
        desc = f"The following are multiple choice questions (with answers) about {subj.replace('_', ' ')}.\n\n"
        return reqs(desc + f"{q.strip()}\nA. {a}\nB. {b}\nC. {c}\nD. {dd}\nAnswer:", [" A", " B", " C", " D"]), int(ans)
    if task == "lambada":
        d = [json.loads(l) for l in open(data("lambada", "lambada_openai_mosaic.jsonl"))][i]
        return [[d["context"], " " + d["continuation"]]], -1
    if task.startswith("blimp_"):
        d = [json.loads(l) for l in open(data("blimp", task[6:] + ".jsonl"))][i]
        return [["", d["sentence_good"]], ["", d["sentence_bad"]]], 0
    raise KeyError(task)


TASKS = ["hellaswag", "piqa", "arc_easy", "arc_challenge", "boolq", "openbookqa", "winogrande",
         "mmlu_abstract_algebra", "mmlu_high_school_us_history", "lambada", "blimp_adjunct_island"]
got = render(",".join(TASKS))
for t in TASKS:
    bad = []
    for d in got[t]:
        want, gold = expected(t, d["doc"])
        if d["requests"] != want or d["gold"] != gold:
            bad.append((d["doc"], d["requests"][:1], want[:1]))
    check(len(got[t]) == N and not bad, f"render {t}: {N} documents equal lm-eval's prompts", str(bad[:1]))

# Literal doc 0 strings (written from lm-eval's templates by hand).
check(got["hellaswag"][0]["requests"][3] == ["Roof shingle removal: A man is sitting on a roof. He", " starts pulling up roofing on a roof."],
      "render hellaswag doc 0 literal (ctx_b capitalized)")
check(got["piqa"][0]["requests"][0][0] == "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:", "render piqa doc 0 literal")
check(got["arc_easy"][0]["requests"][0] == ["Question: Which statement best explains why photosynthesis is the foundation of most food webs?\nAnswer:",
                                            " Sunlight is the source of energy for nearly all ecosystems."], "render arc_easy doc 0 literal")
check(got["winogrande"][0]["requests"] == [["Sarah was a much better surgeon than Maria so Sarah", " always got the easier cases."],
                                           ["Sarah was a much better surgeon than Maria so Maria", " always got the easier cases."]]
      and got["winogrande"][0]["gold"] == 1, "render winogrande doc 0 literal (partial scoring)")
check(got["mmlu_abstract_algebra"][0]["requests"][1] ==
      ["The following are multiple choice questions (with answers) about abstract algebra.\n\n"
       "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:", " B"],
      "render mmlu doc 0 literal (subject header)")
check(got["boolq"][0]["requests"][1][0].endswith("\nQuestion: does ethanol take more energy make that produces?\nAnswer:")
      and got["boolq"][0]["requests"][1][1] == " yes", "render boolq doc 0 literal")

# Few-shot: lm-eval's stream random.Random(1234).sample, consumed document by document;
# from the evaluated split n+1 are drawn and the evaluated document removed.
K = 3
wg = render("winogrande", "--shots", str(K), n=60)["winogrande"]
rnd = random.Random(1234)
ok_seq, ok_excl = True, True
for d in wg:
    draw = [x for x in rnd.sample(range(1267), K + 1) if x != d["doc"]][:K]
    ok_seq &= d["shots"] == draw
    ok_excl &= d["doc"] not in d["shots"] and len(d["shots"]) == K
check(ok_seq, "few-shot: winogrande shots equal Python random.Random(1234).sample stream")
check(ok_excl, "few-shot: the evaluated document is never a shot (60 docs)")
again = render("winogrande", "--shots", str(K), n=60)["winogrande"]
check([d["shots"] for d in again] == [d["shots"] for d in wg], "few-shot: deterministic across runs")
arc = render("arc_easy", "--shots", "2", n=5)["arc_easy"]
rnd = random.Random(1234)
check(all(d["shots"] == rnd.sample(range(2251), 2) for d in arc), "few-shot: arc_easy draws 2 from train (separate pool, no +1)")
q0, ch0, g0 = arc_parse(json.load(open(data("arc", "ARC-Easy_train_llm_adapters.json")))[arc[0]["shots"][0]])
check(arc[0]["requests"][0][0].startswith(f"Question: {q0}\nAnswer: {ch0[g0]}\n\n"), "few-shot: shot = question + ' ' + gold choice + '\\n\\n'")
mm = render("mmlu_anatomy", "--shots", "5", n=2)["mmlu_anatomy"]
dev = list(csv.reader(open(data("mmlu", "dev", "anatomy_dev.csv"))))[1:]
shots = "".join(f"{r[0].strip()}\nA. {r[1]}\nB. {r[2]}\nC. {r[3]}\nD. {r[4]}\nAnswer: {'ABCD'[int(r[5])]}\n\n" for r in dev)
want, _ = expected("mmlu_anatomy", 0)
hdr = "The following are multiple choice questions (with answers) about anatomy.\n\n"
check(mm[0]["shots"] == [0, 1, 2, 3, 4] and mm[0]["requests"][0][0] == hdr + shots + want[0][0][len(hdr):],
      "few-shot: mmlu 5-shot = header + first 5 dev questions + test question")
bl = render("blimp_adjunct_island", "--shots", "3", n=2)["blimp_adjunct_island"]
check(bl[0]["shots"] == [] and bl[0]["requests"][0][0] == "", "few-shot: minimal pairs never get shots")

# Errors: exit 2, one line naming the file and line.
with tempfile.TemporaryDirectory() as td:
    def write(name, text):
        with open(os.path.join(td, name), "w") as f:
            f.write(text)
    p = run(["eval", "--tasks", "no_such_task", "--render", "1"], check_rc=False)
    check(p.returncode == 2 and "unknown task 'no_such_task'" in p.stderr and "csqa" in p.stderr and "hellaswag" in p.stderr
          and "mmlu" in p.stderr, "unknown task: exit 2 with the available tasks", p.stderr)
    write("bad.yaml", "task: bad\ndata: {path: x.jsonl}\ndoc_to_text: \"{{q}}\"\ndoc_to_choice: [a, b]\ndoc_to_target: \"0\"\nbogus_key: 1\n")
    p = run(["eval", "--tasks", "bad", "--render", "1", "--task-dir", td], check_rc=False)
    check(p.returncode == 2 and "bad.yaml:6" in p.stderr and "bogus_key" in p.stderr, "malformed task YAML: unknown key → file:line, exit 2", p.stderr)
    os.remove(os.path.join(td, "bad.yaml"))
    write("bad2.yaml", "task: bad2\ndata: {path: x.jsonl}\ndoc_to_text: \"{{q|shout}}\"\ndoc_to_choice: [a, b]\ndoc_to_target: \"0\"\n")
    p = run(["eval", "--tasks", "bad2", "--render", "1", "--task-dir", td], check_rc=False)
    check(p.returncode == 2 and "bad2.yaml:3" in p.stderr and "shout" in p.stderr, "malformed template → file:line, exit 2", p.stderr)
    os.remove(os.path.join(td, "bad2.yaml"))
    write("rows.jsonl", '{"q": "one", "g": 0}\n{"q": "two", "g": 1\n')
    write("mine.yaml", "task: mine\ndata: {path: rows.jsonl}\ndoc_to_text: \"Q: {{q}}\"\ndoc_to_choice: [no, yes]\ndoc_to_target: \"{{g}}\"\n")
    p = run(["eval", "--tasks", "mine", "--render", "1", "--task-dir", td], check_rc=False)
    check(p.returncode == 2 and "rows.jsonl:2" in p.stderr, "malformed data row → file:line, exit 2", p.stderr)
    write("rows.jsonl", '{"q": "one", "g": 0}\n{"q": "two", "g": 7}\n')
    p = run(["eval", "--tasks", "mine", "--render", "2", "--task-dir", td], check_rc=False)
    check(p.returncode == 2 and "rows.jsonl:2" in p.stderr and "out of range" in p.stderr, "bad target in a data row → file:line, exit 2", p.stderr)
    write("rows.jsonl", '{"q": "one", "g": 0}\n{"q": "two", "g": 1}\n')
    r = json.loads(run(["eval", "--tasks", "mine", "--render", "2", "--task-dir", td]).stdout)["tasks"]["mine"]
    check(r[1]["requests"] == [["Q: two", " no"], ["Q: two", " yes"]] and r[1]["gold"] == 1,
          "a task added by a YAML file alone (--task-dir)")
done()
