# test_device.py — the CUDA plugin's loader and refusal paths (core/device.c, run/train_device.c),
# on a machine without a GPU: `l4q train` with train.device: cuda exits 2 with one line naming
# what is missing, before the model loads and before anything is written, for each way a
# plugin can be wrong (stand-ins built from tests/plugins/fake_cuda.c with -D options);
# build/l4q links no CUDA library.
import os, subprocess, tempfile
from testlib import check, run, data, fake_cuda_plugin, ROOT, L4Q, done

tmp = tempfile.mkdtemp(prefix="l4q_device_")
garbage = os.path.join(tmp, "garbage.bin")  # exists, is no model: loading it would fail differently
open(garbage, "wb").write(os.urandom(4096))

def config(model, method="lora", extra=""):
    p = os.path.join(tmp, f"c_{method}.yaml")
    open(p, "w").write(f"""model: {model}
tokenizer: {data('models/stories260K/tok512.bin')}
data: {{format: text, train: {data('tinystories/tinystories_train_excerpt.txt')}}}
method: {{name: {method}}}
train: {{device: cuda, steps: 2, micro_batch: 1, seq_len: 16{extra}}}
""")
    return p

def refused(name, plugin, want, method="lora", extra=""):
    out = os.path.join(tmp, "out_" + name)
    env = {"L4Q_CUDA_PLUGIN": plugin} if plugin else {"L4Q_CUDA_PLUGIN": ""}
    p = run(["train", config(garbage, method, extra), "--out", out], check_rc=False, env=env)
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(lines) == 1 and want in lines[0] and lines[0].startswith("l4q: error: train.device: cuda: "),
          f"device: {name}: exit 2, one line", f"rc {p.returncode}, stderr {p.stderr!r}")
    check(not os.path.exists(out), f"device: {name}: nothing written", out)
    return lines[0] if lines else ""

# No plugin where one is looked for.
refused("no plugin ($L4Q_CUDA_PLUGIN)", os.path.join(tmp, "missing.so"),
        f"{tmp}/missing.so not found: run make cuda (needs nvcc)")
refused("not a shared object", garbage, "cannot load the CUDA plugin")
refused("no l4q_cuda_ops", fake_cuda_plugin(os.path.join(tmp, "nosym.so"), "FAKE_NO_SYMBOL"), "exports no l4q_cuda_ops")
refused("version mismatch", fake_cuda_plugin(os.path.join(tmp, "ver.so"), "FAKE_VERSION=99"),
        "CUDA plugin interface version 99, this build wants 1: rebuild it with make cuda")
refused("table size mismatch", fake_cuda_plugin(os.path.join(tmp, "size.so"), "FAKE_SIZE_DELTA=8"),
        "CUDA plugin table is")
refused("NULL function", fake_cuda_plugin(os.path.join(tmp, "null.so"), "FAKE_NULL_FN"), "leaves a function NULL")
msg = "cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version"
refused("no device (init fails)", fake_cuda_plugin(os.path.join(tmp, "nodev.so"), f'FAKE_INIT_FAIL="{msg}"'),
        f"train.device: cuda: no CUDA device ({msg})")
good = fake_cuda_plugin(os.path.join(tmp, "good.so"))
refused("method the plugin lacks", good, "method qat_lora is not available on the device: the fake plugin has no qat_lora",
        method="qat_lora")

# The working stand-in passes every check: what fails next is the model (the garbage file),
# so the device was opened first.
p = run(["train", config(garbage), "--out", os.path.join(tmp, "out_good")], check_rc=False, env={"L4Q_CUDA_PLUGIN": good})
check(p.returncode == 2 and "not a recognised checkpoint" in p.stderr and "train.device" not in p.stderr,
      "device: a good plugin opens, then the model loads", p.stderr)

# This build's own plugin path (beside build/l4q): absent without nvcc, present but with no
# device on a machine without a GPU.
so = os.path.join(os.path.dirname(L4Q), "libl4q_cuda.so")
if not os.path.exists(so):
    refused("build/libl4q_cuda.so absent", None, "build/libl4q_cuda.so not found: run make cuda (needs nvcc)")
else:
    has_gpu = subprocess.run(["sh", "-c", "nvidia-smi -L 2>/dev/null | grep -q GPU"]).returncode == 0
    if has_gpu:
        print("SKIP: device: build/libl4q_cuda.so without a device: this machine has a GPU")
    else:
        refused("build/libl4q_cuda.so, no GPU", None, "train.device: cuda: no CUDA device (")

# build/l4q never links CUDA.
ldd = subprocess.run(["ldd", L4Q], capture_output=True, text=True).stdout
check("cuda" not in ldd.lower() and "cublas" not in ldd.lower(), "device: build/l4q links no CUDA library", ldd)
done()
