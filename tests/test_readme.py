# test_readme.py — the README's commands work as written. Runs every ```sh runnable block in
# order in one bash session from the repository root (the "settings" block replaced by a
# small random Llama-style Hugging Face directory written here — bf16 safetensors, Llama-2's
# tokenizer.model — and STEPS=3), then checks that the files the llama.cpp commands (not run
# here: no llama.cpp tools) refer to were written by the runnable ones, and that every docs/
# page the README links exists. The README's "settings" are its only variables.
import os, re, shutil, subprocess, sys, tempfile, time
from testlib import ROOT, check, data, done

readme = open(os.path.join(ROOT, "README.md")).read()
blocks = re.findall(r"```(sh[^\n]*)\n(.*?)```", readme, re.S)
runnable = [b for tag, b in blocks if tag.split()[1:] == ["runnable"]]
settings = [b for tag, b in blocks if tag.split()[1:] == ["settings"]]
other = [b for tag, b in blocks if tag.strip() == "sh"]
check(len(runnable) >= 5 and len(settings) == 1, "README: runnable blocks and one settings block", f"{len(runnable)} {len(settings)}")
check(len(readme.splitlines()) <= 300, f"README is short ({len(readme.splitlines())} lines)")

try:
    import torch_hf as th
except Exception as e:  # torch missing: the worked example cannot be given a model
    print(f"SKIP: README commands: tests/torch_hf.py needs torch ({e})"); done()
tmp = tempfile.mkdtemp(prefix="l4q_readme_")
hf = os.path.join(tmp, "Llama-tiny-hf")
cfg, t = th.random_model("llama", dim=128, hidden=256, layers=2, heads=4, kv_heads=2, vocab=32000, seq=512, seed=3,
                         bos_token_id=1, eos_token_id=2)
th.write_dir(hf, cfg, t, "BF16")
shutil.copy(data("tokenizers", "llama2_tokenizer.model"), os.path.join(hf, "tokenizer.model"))

made = ["runs/quickstart", "runs/mine", "runs/mine_l4q", "runs/mine_rtn_lora", "runs/mine_l4q.yaml",
        "runs/mine-l4q.gguf", "runs/mine-rtn-lora.gguf", "runs/mine-rtn-lora.lora.gguf"]
def clean():
    for m in made:
        p = os.path.join(ROOT, m)
        if os.path.isdir(p): shutil.rmtree(p)
        elif os.path.exists(p): os.remove(p)
clean()
script = "set -e\nset -o pipefail\n" + f"MODEL={hf}\nSTEPS=3\n"
for i, b in enumerate(runnable):
    script += f"echo \"=== README block {i + 1} (at $SECONDS s)\" >&2\n" + b.replace("| head -5", "| sed -n 1,5p") + "\n"
t0 = time.time()
p = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True,
                   env=dict(os.environ, L4Q_THREADS=os.environ.get("L4Q_THREADS", "2")), timeout=600)
dt = time.time() - t0
print("\n".join(l for l in p.stderr.splitlines() if l.startswith("=== README block")))
last = [l for l in p.stderr.splitlines() if l.startswith("=== README block")]
check(p.returncode == 0, f"every runnable README block succeeds ({len(runnable)} blocks, {dt:.0f} s)",
      f"stopped in {last[-1] if last else '?'}: {p.stderr[-1500:]}")
check("validation set (data.val" in p.stdout and "tinystories ppl: " in p.stdout, "the quick start prints both named perplexities", p.stdout[-500:])
# The llama.cpp blocks name files; each must be one the runnable blocks wrote.
named = sorted(set(re.findall(r"runs/[\w./-]+\.gguf", "".join(other))))
missing = [n for n in named if not os.path.exists(os.path.join(ROOT, n))]
check(named and not missing, f"the llama.cpp commands' files exist ({', '.join(named)})", str(missing))
check(os.path.exists(os.path.join(ROOT, "runs/mine/report.md")) and os.path.isdir(os.path.join(ROOT, "runs/mine/plots")),
      "the worked example's report and plots exist")
# Re-running the training command into its finished run is refused, as the README says.
q = subprocess.run([os.path.join(ROOT, "build/l4q"), "train", "experiments/configs/l4q_4bit.yaml", "--out", "runs/quickstart"],
                   cwd=ROOT, capture_output=True, text=True)
check(q.returncode == 2 and "holds a complete run" in q.stderr, "re-running the quick start is refused (README)", q.stderr)
clean(); shutil.rmtree(tmp)
for link in sorted(set(re.findall(r"\]\((docs/[\w.-]+\.md)", readme))):
    if os.path.exists(os.path.join(ROOT, link)): continue
    if link in ("docs/gpu.md", "docs/cpu-speed.md", "docs/studies.md"):
        print(f"SKIP: README link {link}: written by another change, not in this tree yet")
    else:
        check(False, f"README link {link} exists")
done()
