# bench/torch_step.py — the PyTorch peer of bench/memtime.c: one LLaMA-shape training step
# (random weights, frozen base, 32×256 tokens by default) with LoRA or L4Q adapters, timed
# the way a performance-aware CPU user runs PyTorch: torch.set_num_threads(cores), jemalloc
# with memory retained (bench/cpu_speed.sh preloads it), the same OpenBLAS kernels
# (OPENBLAS_CORETYPE from the caller), and --precision bf16 as torch.autocast("cpu", bfloat16).
# L4Q here is its published form written in PyTorch: Wq = fake_quant(W0 + α·B·A) with a
# learnable scale and offset per group of `group` weights and a straight-through round.
#   python3 bench/torch_step.py METHOD --dim D --hidden H --layers L --heads N --kv-heads K
#       --vocab V [--tokens T] [--batch B] [--rank r] [--group g] [--bits n] [--steps S]
#       [--precision fp32|bf16] [--threads n]
# Prints one JSON line: median step seconds over S steps after one warm-up, tokens/s, minor
# page faults per step, peak RSS.
import argparse, json, math, os, resource, statistics, time
import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("method", choices=["lora", "l4q"])
for k, v in dict(dim=288, hidden=768, layers=6, heads=6, kv_heads=6, vocab=32000, tokens=256, batch=32, rank=8,
                 group=32, bits=4, steps=2, threads=os.cpu_count()).items():
    ap.add_argument("--" + k.replace("_", "-"), type=int, default=v)
ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
D, Hd, L, NH, KV, V, T, B = a.dim, a.hidden, a.layers, a.heads, a.kv_heads, a.vocab, a.tokens, a.batch
hs = D // NH
qmax = 2 ** a.bits - 1


class Adapted(torch.nn.Module):
    """Frozen W0 (out×in) with a LoRA branch, or L4Q's quantized merge of both."""
    def __init__(self, out, inp):
        super().__init__()
        self.W0 = torch.nn.Parameter(torch.randn(out, inp) * 0.02, requires_grad=False)
        self.A = torch.nn.Parameter(torch.randn(a.rank, inp) / math.sqrt(inp))
        self.B = torch.nn.Parameter(torch.zeros(out, a.rank))
        self.scale = 2.0  # alpha / rank with alpha = 2·rank
        if a.method == "l4q":
            g = self.W0.view(-1, a.group)
            lo, hi = g.min(1, keepdim=True).values, g.max(1, keepdim=True).values
            self.s = torch.nn.Parameter((hi - lo) / qmax)
            self.b = torch.nn.Parameter(lo.clone())

    def forward(self, x):
        if a.method == "lora":
            return F.linear(x, self.W0) + self.scale * F.linear(F.linear(x, self.A), self.B)
        W = (self.W0 + self.scale * self.B @ self.A).view(-1, a.group)
        z = (W - self.b) / self.s
        q = torch.clamp(z + (torch.round(z) - z).detach(), 0, qmax)  # straight-through round
        return F.linear(x, (q * self.s + self.b).view_as(self.W0))


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Parameter(torch.randn(V, D) * 0.02, requires_grad=False)  # tied head, frozen
        kv = hs * KV
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            m = torch.nn.Module()
            m.q, m.k, m.v, m.o = Adapted(D, D), Adapted(kv, D), Adapted(kv, D), Adapted(D, D)
            m.gate, m.up, m.down = Adapted(Hd, D), Adapted(Hd, D), Adapted(D, Hd)
            m.n1 = torch.nn.Parameter(torch.ones(D), requires_grad=False)
            m.n2 = torch.nn.Parameter(torch.ones(D), requires_grad=False)
            self.layers.append(m)
        self.nf = torch.nn.Parameter(torch.ones(D), requires_grad=False)
        f = 1.0 / (10000 ** (torch.arange(0, hs, 2).float() / hs))
        ang = torch.outer(torch.arange(T).float(), f)
        self.register_buffer("cos", ang.cos()[None, :, None, :])
        self.register_buffer("sin", ang.sin()[None, :, None, :])
        self.register_buffer("mask", torch.full((T, T), float("-inf")).triu(1))

    def rope(self, x):
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x1 * self.cos - x2 * self.sin, x1 * self.sin + x2 * self.cos), -1).flatten(-2)

    def forward(self, tok):
        x = self.emb[tok]
        for m in self.layers:
            h = rmsnorm(x, m.n1)
            q = self.rope(m.q(h).view(B, T, NH, hs)).transpose(1, 2)
            k = self.rope(m.k(h).view(B, T, KV, hs)).repeat_interleave(NH // KV, 2).transpose(1, 2)
            v = m.v(h).view(B, T, KV, hs).repeat_interleave(NH // KV, 2).transpose(1, 2)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hs) + self.mask, -1)
            x = x + m.o((att @ v).transpose(1, 2).reshape(B, T, D))
            h = rmsnorm(x, m.n2)
            x = x + m.down(F.silu(m.gate(h)) * m.up(h))
        return F.linear(rmsnorm(x, self.nf), self.emb)


model = Model()
params = [p for p in model.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.0)
g = torch.Generator().manual_seed(7)
tok = torch.randint(0, V, (B, T), generator=g)
tgt = torch.randint(0, V, (B, T), generator=g)
times, faults = [], []
for s in range(a.steps + 1):
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=False)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
        logits = model(tok)
    loss = F.cross_entropy(logits.float().view(-1, V), tgt.view(-1))
    loss.backward()
    opt.step()
    if s > 0:
        times.append(time.perf_counter() - t0)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
st = statistics.median(times)
print(json.dumps(dict(method=a.method, precision=a.precision, peer="pytorch " + torch.__version__, threads=a.threads,
                      dim=D, layers=L, vocab=V, tokens=T, batch=B, step_seconds=round(st, 4), tokens_per_s=round(B * T / st, 1),
                      minor_faults_per_step=statistics.median(faults), loss=round(loss.item(), 4),
                      peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)))
