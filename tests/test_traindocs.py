# test_traindocs.py — data.train as a list of text / jsonl / json files (core/traindocs.c)
# against Python's json and re on the shared TinyStories samples: the documents, the ones
# removed because a paragraph (≥ 64 bytes, whitespace-normalized) also is a line of the
# validation excerpt, and the joined text byte for byte (C side: build/tests/test_traindocs
# assemble). Then the config: lists resolve and reload to the same run id, and every bad key
# or file is one line naming it, exit 2.
import json, os, re, subprocess, tempfile
from testlib import ROOT, check, data, done, run

DRIVER = os.path.join(ROOT, "build", "tests", "test_traindocs")
tmp = tempfile.mkdtemp(prefix="l4q_traindocs_")
T = lambda n: data("tinystories", n)
VAL = T("tinystories_valid_excerpt.txt")
FILES = [(T("tinystories_train_prefix.txt"), "text", None), (T("tinystories_train_excerpt.txt"), "text", None),
         (T("tinystories_gpt4clean_5k.jsonl"), "jsonl", "text"), (T("tinystories_3000.json"), "json", "texts"),
         (T("tinystoriesV2_gpt4_train_prefix.txt"), "text", None)]

norm = lambda s: " ".join(s.split())
def docs_of(path, fmt, key):
    raw = open(path, "rb").read().decode("utf-8")
    if fmt == "jsonl":
        return [json.loads(l)[key] for l in raw.split("\n") if l.strip()]
    if fmt == "json":
        o = json.loads(raw)
        return o[key] if isinstance(o, dict) else o
    out, cur = [], []
    for line in raw.split("\n"):  # a blank or <|endoftext|> line ends a document
        if not line.strip() or line.strip() == "<|endoftext|>":
            if cur: out.append("\n".join(cur) + "\n")
            cur = []
        else:
            cur.append(line)
    if cur: out.append("\n".join(cur) + ("\n" if raw.endswith("\n") else ""))
    return out
val_lines = {norm(l) for l in open(VAL, encoding="utf-8").read().split("\n") if len(norm(l)) >= 64}
docs, kept = 0, []
for p, fmt, key in FILES:
    for d in docs_of(p, fmt, key):
        if not d.strip(): continue
        docs += 1
        if not any(len(norm(l)) >= 64 and norm(l) in val_lines for l in d.split("\n")):
            kept.append(d)
want = "\n\n".join(kept).encode()
outp = os.path.join(tmp, "joined.txt")
args = [DRIVER, "assemble", VAL] + [f"{p}:{fmt}" + (f":{key}" if key else "") for p, fmt, key in FILES]
r = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, OUT=outp))
got = open(outp, "rb").read() if r.returncode == 0 else b""
m = re.match(r"docs (\d+) removed (\d+)", r.stdout)
check(m and int(m.group(1)) == docs and int(m.group(2)) == docs - len(kept) == 3,
      "shared samples: documents and contaminated ones (3: the 5k JSONL's row 4239, the 3000 JSON's 1456 and 2599) = Python's",
      f"{r.stdout!r} vs docs {docs} removed {docs - len(kept)}")
check(got == want, "joined training text = Python's, byte for byte", f"{len(got)} vs {len(want)} bytes")

# ---- config
MODEL, TOK = data("models/stories260K/stories260K.bin"), data("models/stories260K/tok512.bin")
def cfg(train, method="{name: l4q}", extra=""):
    p = os.path.join(tmp, f"c{abs(hash((train, method, extra)))}.yaml")
    open(p, "w").write(f"model: {MODEL}\ntokenizer: {TOK}\ndata:\n  val: {VAL}\n  train: {train}\n{extra}"
                       f"method: {method}\ntrain: {{steps: 2, micro_batch: 2, seq_len: 32}}\n")
    return p
good = cfg(f"[{T('tinystories_train_excerpt.txt')}, {{path: {T('tinystories_3000.json')}, text_key: texts}}, "
           f"{T('tinystories_gpt4clean_5k.jsonl')}]")
d1 = run(["train", good, "--dry-run"]).stdout
again = os.path.join(tmp, "again.yaml")
open(again, "w").write(d1)
d2 = run(["train", again, "--dry-run"]).stdout
check(d1 == d2 and "format: json\n" in d1 and "text_key: texts" in d1 and "format: jsonl" in d1 and d1.count("text_key") == 1,
      "a list resolves (formats from extensions) and its dump reloads to the same config", d1[:600])
bad = [
    (cfg(f"[{{path: {T('tinystories_train_excerpt.txt')}, format: alpaca}}]"), "data.train[0].format: alpaca data is one file"),
    (cfg(f"[{{path: {T('tinystories_train_excerpt.txt')}, format: csv}}]"), "data.train[0].format: unknown value 'csv'"),
    (cfg(f"[{T('tinystories_train_excerpt.txt')}, nope.jsonl]"), "data.train[1].path: file not found: nope.jsonl"),
    (cfg(f"[{{path: {T('tinystories_train_excerpt.txt')}, text_key: x}}]"), "data.train[0].text_key: only used with format jsonl or json"),
    (cfg(f"[{{path: {T('tinystories_3000.json')}, shape: 2}}]"), "shape"),
    (cfg("[]"), "data.train: empty list"),
    (cfg(f"{{path: {T('tinystories_train_excerpt.txt')}}}"), "data.train: expected a file or a list of files"),
    (cfg(f"[{T('tinystories_train_excerpt.txt')}]", extra="  format: alpaca\n"), "data.train: a list of files needs data.format text"),
    (cfg(T("tinystories_train_excerpt.txt"), extra="  text_key: \"\"\n"), "data.text_key: expected a non-empty key"),
    (cfg(T("tinystories_train_excerpt.txt"), "{name: l4q, quant_lr: -1}"), "method.quant_lr: must be > 0"),
    (cfg(T("tinystories_train_excerpt.txt"), "{name: gptq_lora, quant_lr: 1.0e-4}"), "method.quant_lr: not used by method 'gptq_lora'"),
    (cfg(T("tinystories_train_excerpt.txt"), "{name: lsq, init: gptq}"), "method.init: gptq is only for method l4q"),
    (cfg(T("tinystories_train_excerpt.txt"), "{name: l4q, damp: 0.1}"), "method.damp: only used with method.init: gptq"),
]
for path, want_msg in bad:
    p = run(["train", path, "--dry-run"], check_rc=False)
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(lines) == 1 and want_msg in lines[0] and path in lines[0],
          f"config error, one line, exit 2: {want_msg}", f"rc {p.returncode}: {p.stderr}")
# A corrupted file in the list fails the run before training, naming the file and line.
broken = os.path.join(tmp, "broken.jsonl")
open(broken, "w").write('{"text": "fine"}\n{"text": "cut\n')
p = run(["train", cfg(f"[{T('tinystories_train_excerpt.txt')}, {broken}]"), "--out", os.path.join(tmp, "r")], check_rc=False)
check(p.returncode == 2 and f"{broken}: line 2: invalid JSON" in p.stderr and p.stderr.strip().count("\n") == 0,
      "a truncated JSONL file in the list: one line naming file and line, exit 2", p.stderr[-300:])
done()
