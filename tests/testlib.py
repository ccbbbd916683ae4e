# testlib.py — shared helpers for the Python oracle tests (PASS/FAIL lines, running l4q).
import os, subprocess, sys, json
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("L4Q_DATA", os.path.join(ROOT, "..", "shared", "data"))
L4Q = os.path.join(ROOT, "build", "l4q")
fails = 0

def check(cond, name, detail=""):
    global fails
    if cond:
        print(f"PASS: {name}")
    else:
        fails += 1
        print(f"FAIL: {name}: {detail}")
    sys.stdout.flush()

def run(args, check_rc=True, env=None, **kw):
    e = dict(os.environ); e.update(env or {})
    p = subprocess.run([L4Q] + args, capture_output=True, text=True, env=e, **kw)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"l4q {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p

def run_json(args):
    return json.loads(run(args + ["--json"]).stdout)

def data(*p):
    return os.path.join(DATA, *p)

# The config lines every stories260K training test starts with (model, tokenizer, TinyStories).
STORIES = (f"model: {data('models/stories260K/stories260K.bin')}\ntokenizer: {data('models/stories260K/tok512.bin')}\n"
           f"data: {{ format: text, train: {data('tinystories/tinystories_train_excerpt.txt')}, "
           f"val: {data('tinystories/tinystories_valid_excerpt.txt')} }}\n")


# A stand-in CUDA plugin (tests/plugins/fake_cuda.c) built into path with the given -D options.
def fake_cuda_plugin(path, *defines):
    src = os.path.join(ROOT, "tests", "plugins", "fake_cuda.c")
    subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fopenmp", "-O1", "-shared", "-fPIC",
                    "-I", os.path.join(ROOT, "core"), src, "-o", path, "-lm"] + [f"-D{d}" for d in defines], check=True)
    return path


def done():
    sys.exit(1 if fails else 0)
