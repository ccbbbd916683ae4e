# test_info.py — `l4q info` end to end: --json fields for every stories260K format, the
# text form, --system, and the error contract (exit 2, one stderr line naming the file).
import os, json, tempfile
from testlib import check, run, data, done

M = lambda f: data("models", "stories260K", f)
want = dict(dim=64, hidden_dim=172, n_layers=5, n_heads=8, n_kv_heads=4, vocab_size=512,
            shared_classifier=True, norm_eps=1e-5, rope_theta=10000)
for f, fmt, seq in [("stories260K.bin", "llama2c-v0", 512), ("stories260K_v1.bin", "llama2c-v1", 512),
                    ("stories260K.gguf", "gguf-v3 f32", 2048), ("stories260K_q8_v2.bin", "llama2c-v2", 512)]:
    p = run(["info", M(f), "--json"])
    try:
        j = json.loads(p.stdout)
    except ValueError as e:
        check(False, f"info --json {f}: one JSON object", str(e)); continue
    c = j["config"]
    check(all(c[k] == v for k, v in want.items()) and c["seq_len"] == seq, f"info --json {f}: config", str(c))
    check(j["format"].startswith(fmt) and j["file_bytes"] == os.path.getsize(M(f)), f"info --json {f}: format and size",
          f"{j['format']} {j['file_bytes']}")
    check(j["params"] == 260032 and len(j["tensors"]) == 4 + 5 * 7, f"info --json {f}: params and tensor table",
          f"{j['params']} {len(j['tensors'])}")
    t = {x["name"]: x for x in j["tensors"]}
    check(t["layers.4.k"]["shape"] == [32, 64] and t["layers.0.down"]["shape"] == [64, 172]
          and t["tok_emb"]["bytes"] == 512 * 64 * 4, f"info --json {f}: tensor shapes", str(t["layers.4.k"]))
    check(j["embedded_tokenizer"] == f.endswith(".gguf"), f"info --json {f}: embedded tokenizer flag", str(j["embedded_tokenizer"]))

p = run(["info", M("stories260K.bin")])
check("llama2c-v0" in p.stdout and "dim 64" in p.stdout and "layers.4.down" in p.stdout, "info text form", p.stdout[:300])

p = run(["info", "--system", "--json"])
j = json.loads(p.stdout)
check(j["cores"] >= 1 and j["threads"] >= 1 and j["openblas_core"] and j["sgemm_gflops"] > 0,
      "info --system --json", p.stdout)

# bf16 dot products: what the kernel says the CPU has (/proc/cpuinfo's avx512_bf16 flag);
# L4Q_CPU_NO_BF16=1 (the tests' stand-in for an older CPU) says no.
flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
k = json.loads(run(["info", "--system", "--json"], env={"L4Q_CPU_NO_BF16": "1"}).stdout)
check(j["bf16_dot"] == ("avx512_bf16" in flags) and k["bf16_dot"] is False,
      "info --system: bf16 dot products as /proc/cpuinfo says, none under L4Q_CPU_NO_BF16=1", f"{j['bf16_dot']} {k['bf16_dot']}")
p = run(["info", "--system"])
check(("bf16 dot products  yes" if j["bf16_dot"] else "bf16 dot products  no") in p.stdout, "info --system text: the bf16 line", p.stdout)

# An OPENBLAS_CORETYPE older than the CPU's best core is kept, measured beside the best
# core's rate, and named in one notice line by the commands that compute.
best = j["openblas_best_core"]
if best in ("SkylakeX", "Haswell"):
    old = "Sandybridge" if best == "Haswell" else "Haswell"
    p = run(["info", "--system", "--json"], env={"OPENBLAS_CORETYPE": old})
    k = json.loads(p.stdout)
    check(k["openblas_core"].lower() == old.lower() and k["openblas_core_pinned_older"] and k["sgemm_gflops"] > 0
          and k["sgemm_gflops_best_core"] > 0, f"info --system: OPENBLAS_CORETYPE={old} kept, both sgemm rates", p.stdout)
    ppl = ["ppl", "--model", M("stories260K.bin"), "--tokenizer", M("tok512.bin"), "--seq-len", "64",
           "--data", data("tinystories", "tinystories_valid_excerpt.txt"), "--json"]
    notes = lambda p: [l for l in p.stderr.splitlines() if "OPENBLAS_CORETYPE" in l]
    p = run(ppl, env={"OPENBLAS_CORETYPE": old})
    q = run(ppl, env={"OPENBLAS_CORETYPE": best})
    check(len(notes(p)) == 1 and old in notes(p)[0] and best in notes(p)[0] and not notes(q)
          and json.loads(p.stdout)["loss"] > 0, f"ppl: one notice line under OPENBLAS_CORETYPE={old}, none under {best}",
          p.stderr + "|" + q.stderr)
    k = json.loads(run(["info", "--system", "--json"], env={"OPENBLAS_CORETYPE": best}).stdout)
    check(not k["openblas_core_pinned_older"] and "sgemm_gflops_best_core" not in k, f"info --system: {best} is not older", str(k))
else:
    print(f"SKIP: info --system pinned core: no AVX2/AVX-512 on this CPU ({best!r})")

with tempfile.TemporaryDirectory() as d:
    bad = os.path.join(d, "cut.bin")
    with open(M("stories260K.bin"), "rb") as f:
        open(bad, "wb").write(f.read()[:5000])
    p = run(["info", bad], check_rc=False)
    lines = [l for l in p.stderr.splitlines() if l.startswith("l4q: error")]
    check(p.returncode == 2 and len(lines) == 1 and bad in lines[0] and "truncated" in lines[0] and p.stdout == "",
          "info on a truncated file: exit 2, one error line", f"{p.returncode} {p.stderr!r}")
p = run(["info"], check_rc=False)
check(p.returncode == 2, "info without FILE: exit 2", str(p.returncode))
done()
