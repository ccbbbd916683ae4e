#!/usr/bin/env python3
"""peft_step.py — the PyTorch peers of bench/gpu_table1 (issue 24 §2), one case per process:

  --case lora   HF LlamaForCausalLM + PEFT LoRA (r16, alpha 32, dropout 0, q,k,v,o,gate,up,down)
  --case l4q    the same model with every targeted nn.Linear replaced by a PyTorch L4Q layer
                (L4QFunction below: merge W0 + (alpha/r)·B·A, fake-quantize group-wise with
                learnable s, b, and in backward recompute the merged weight instead of saving it,
                as the paper's layer does)

The model: LlamaConfig of LLaMA-7B's shape (32 layers, 4096, 11008, 32 heads, vocab 32000, untied
head, 2048 positions) built under torch.device('cuda') in bf16, attn_implementation="sdpa", no
gradient checkpointing, use_cache False; torch AdamW (fused=True where torch has it) over the
trainables, fp32 moments (torch keeps moments in the parameters' dtype). One step = zero_grad,
forward with labels (HF's shifted cross-entropy), backward, clip_grad_norm_(1.0), AdamW; 3 warm-up
and 10 timed steps, each between two torch.cuda.Events; the median. Memory:
torch.cuda.max_memory_allocated / max_memory_reserved over the steps (weights included) and
cudaMemGetInfo's used bytes (context included, comparable with gpu_table1's peak).

Prints one JSON line. `--device cpu --tiny` runs a tiny shape on the CPU (timed with the host
clock) so the script can be tested without a GPU (tests/test_peft_step.py).
"""
import argparse, inspect, json, math, os, statistics, sys, time

import torch

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


# ---- the L4Q layer ------------------------------------------------------------------------------
def grid(bits):
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def safe_scale(s):
    """quant.h quant_safe_scale: |s| ≥ 1e-8, sign kept (0 counts as positive)."""
    mag = s.abs().clamp_min(1e-8)
    return torch.where(s < 0, -mag, mag)


def expand(p, gs, inn):
    """out×ng group parameters → out×in (the last group may be partial)."""
    return p.repeat_interleave(gs, dim=1)[:, :inn]


def group_sum(x, gs):
    """out×in → out×ng sums over groups of gs input columns (a partial last group padded with 0)."""
    out, inn = x.shape
    ng = (inn + gs - 1) // gs
    if ng * gs != inn:
        x = torch.nn.functional.pad(x, (0, ng * gs - inn))
    return x.view(out, ng, gs).sum(dim=2)


def merged(W0, A, B, scale):
    """W0 + scale·B·A in the trainables' precision (a bf16 W0 is widened exactly)."""
    return torch.addmm(W0.to(A.dtype), B, A, alpha=scale)


def fake_quant(W, s, b, bits, gs):
    """quant.h: v = (W − b)/s, w̃ = rint(clamp(v, Q_N, Q_P)), Wq = s·w̃ + b; also returns v and
    the clamped value c (the backward's mask and ds factor come from them)."""
    qn, qp = grid(bits)
    S, Bo = expand(safe_scale(s), gs, W.shape[1]), expand(b, gs, W.shape[1])
    v = (W - Bo) / S
    c = v.clamp(qn, qp)
    return S * torch.round(c) + Bo, v, c   # torch.round: half to even, as rintf


class L4QFunction(torch.autograd.Function):
    """Y = X·Q(W0 + scale·B·A)ᵀ. Saves X and references to the parameters only; backward rebuilds
    the merged weight (nothing of out×in size lives between forward and backward).
    Gradients (STE on round, M = [Q_N ≤ v ≤ Q_P], G = dYᵀX over all tokens):
      dX = dY·Wq, dA = scale·Bᵀ(M⊙G), dB = scale·(M⊙G)Aᵀ,
      ds_g = Σ_g G·(M ? w̃ − v : the clamp bound), db_g = Σ_g G·(1 − M)   (core/quant.h)."""

    @staticmethod
    def forward(ctx, x, W0, A, B, s, b, scale, bits, gs):
        Wq, _, _ = fake_quant(merged(W0, A, B, scale), s, b, bits, gs)
        ctx.save_for_backward(x, W0, A, B, s, b)
        ctx.cfg = (scale, bits, gs)
        return x @ Wq.to(x.dtype).t()

    @staticmethod
    def backward(ctx, dy):
        x, W0, A, B, s, b = ctx.saved_tensors
        scale, bits, gs = ctx.cfg
        qn, qp = grid(bits)
        Wq, v, c = fake_quant(merged(W0, A, B, scale), s, b, bits, gs)
        dx = dy @ Wq.to(dy.dtype)
        del Wq
        out, inn = W0.shape
        G = (dy.reshape(-1, out).t() @ x.reshape(-1, inn)).to(A.dtype)
        inside = (v >= qn) & (v <= qp)
        dsf = torch.where(inside, torch.round(c) - v, c)
        del v, c
        ds = group_sum(G * dsf, gs)
        del dsf
        MG = torch.where(inside, G, torch.zeros((), dtype=G.dtype, device=G.device))
        db = group_sum(G - MG, gs)
        del G, inside
        dA = scale * (B.t() @ MG)
        dB = scale * (MG @ A.t())
        return dx, None, dA, dB, ds, db, None, None, None


class L4QLinear(torch.nn.Module):
    """A frozen nn.Linear's weight W0 (kept in its dtype) with L4Q's trainables: A (rank×in,
    kaiming-uniform ±1/sqrt(in) as core/lora.c), B = 0 (out×rank), s, b (out×ng, L4Q init:
    s = max(|min/Q_N|, |max/Q_P|) per group of W0, b = 0), all fp32."""

    def __init__(self, lin, rank, alpha, bits, gs):
        super().__init__()
        W0 = lin.weight.detach()
        out, inn = W0.shape
        self.register_buffer("W0", W0, persistent=False)
        dev = W0.device
        self.A = torch.nn.Parameter((torch.rand(rank, inn, device=dev) * 2 - 1) / math.sqrt(inn))
        self.B = torch.nn.Parameter(torch.zeros(out, rank, device=dev))
        qn, qp = grid(bits)
        ng = (inn + gs - 1) // gs
        Wf = W0.float()
        if ng * gs != inn:   # pad the partial last group with its own first value: min/max unchanged
            k = (ng - 1) * gs
            Wf = torch.cat([Wf, Wf[:, k:k + 1].expand(out, ng * gs - inn)], dim=1)
        g = Wf.view(out, ng, gs)
        s = torch.maximum((g.amin(2) / qn).abs(), (g.amax(2) / qp).abs()).clamp_min(1e-8)
        self.s = torch.nn.Parameter(s)
        self.b = torch.nn.Parameter(torch.zeros(out, ng, device=dev))
        self.scale, self.bits, self.gs = alpha / rank, bits, gs

    def forward(self, x):
        return L4QFunction.apply(x, self.W0, self.A, self.B, self.s, self.b, self.scale, self.bits, self.gs)


def replace_linears(model, names, make):
    """Replace every nn.Linear child whose attribute name is in names by make(linear); returns the count."""
    todo = [(mod, n) for mod in model.modules() for n, ch in mod.named_children()
            if n in names and isinstance(ch, torch.nn.Linear)]
    for mod, n in todo:
        setattr(mod, n, make(getattr(mod, n)))
    return len(todo)


# ---- the timed steps ----------------------------------------------------------------------------
def make_adamw(params, device):
    kw = dict(lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    fused = device == "cuda" and "fused" in inspect.signature(torch.optim.AdamW).parameters
    if fused:
        kw["fused"] = True
    return torch.optim.AdamW(params, **kw), fused


def timed_steps(loss_fn, params, opt, device, warmup, steps):
    """warmup + steps full steps (zero_grad, loss, backward, clip 1.0, AdamW): returns the timed
    steps' milliseconds and every step's loss."""
    ms, losses = [], []
    for i in range(warmup + steps):
        if device == "cuda":
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
        else:
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if device == "cuda":
            e1.record()
            torch.cuda.synchronize()
            t = e0.elapsed_time(e1)
        else:
            t = 1e3 * (time.perf_counter() - t0)
        losses.append(float(loss.detach()))
        if i >= warmup:
            ms.append(t)
    return ms, losses


def build_model(args, dtype):
    from transformers import LlamaConfig, LlamaForCausalLM
    shape = dict(hidden_size=64, intermediate_size=176, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=4, vocab_size=128) if args.tiny else \
        dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
             num_key_value_heads=32, vocab_size=32000)
    cfg = LlamaConfig(**shape, max_position_embeddings=args.tokens, tie_word_embeddings=False, rms_norm_eps=1e-5,
                      use_cache=False, attn_implementation="sdpa")
    torch.set_default_dtype(dtype)
    with torch.device(args.device):
        model = LlamaForCausalLM(cfg)
    torch.set_default_dtype(torch.float32)
    model.config.use_cache = False
    return model, shape


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", choices=["lora", "l4q"], required=True)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--tiny", action="store_true", help="a tiny shape (tests)")
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    if args.tiny:
        args.tokens = min(args.tokens, 32)
    rank, alpha, bits, gs = 16, 32.0, 4, (32 if args.tiny else 128)
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    res = {"kind": "row", "impl": "torch", "method": args.case, "moments": "fp32", "tokens": args.tokens,
           "torch": torch.__version__}
    try:
        import transformers
        res["transformers"] = transformers.__version__
        model, shape = build_model(args, dtype)
        model.requires_grad_(False)
        if args.case == "lora":
            import peft
            res["peft"] = peft.__version__
            lc = peft.LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=TARGETS, bias="none",
                                 task_type="CAUSAL_LM")
            model = peft.get_peft_model(model, lc)
            res["impl_detail"] = "HF LlamaForCausalLM sdpa + PEFT LoRA"
        else:
            n = replace_linears(model, set(TARGETS), lambda lin: L4QLinear(lin, rank, alpha, bits, gs))
            res["impl_detail"] = f"HF LlamaForCausalLM sdpa + torch L4Q autograd layer on {n} projections"
        params = [p for p in model.parameters() if p.requires_grad]
        res["trainable"] = sum(p.numel() for p in params)
        res["trainable_dtype"] = str(params[0].dtype).replace("torch.", "")
        opt, res["fused_adamw"] = make_adamw(params, args.device)
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, shape["vocab_size"], (1, args.tokens), generator=g).to(args.device)
        loss_fn = lambda: model(input_ids=ids, labels=ids, use_cache=False).loss
        if args.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        ms, losses = timed_steps(loss_fn, params, opt, args.device, args.warmup, args.steps)
        res.update(status="ok", ms=statistics.median(ms), ms_min=min(ms), ms_max=max(ms),
                   tok_s=args.tokens / (statistics.median(ms) / 1e3), loss_first=losses[0], loss_last=losses[-1],
                   timing="torch.cuda.Event" if args.device == "cuda" else "host perf_counter")
        if not all(math.isfinite(x) for x in losses):
            res.update(status="error", reason="non-finite loss")
        if args.device == "cuda":
            free, total = torch.cuda.mem_get_info()
            res.update(device=torch.cuda.get_device_name(0), peak_gib=torch.cuda.max_memory_allocated() / 2 ** 30,
                       reserved_gib=torch.cuda.max_memory_reserved() / 2 ** 30, used_gib=(total - free) / 2 ** 30,
                       total_gib=total / 2 ** 30)
    except Exception as e:   # one JSON line whatever happened (OOM, a missing package)
        res.update(status="error", reason=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300])
    print(json.dumps(res), flush=True)
    return 0 if res.get("status") == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
