# test_baselines.py — baselines/ against independent PyTorch implementations written from the
# algorithm descriptions (baselines/README.md, core/nf4.c). The C side is
# build/tests/test_baselines (driver modes grad / gptq / nf4).
#   * NF4: the 16-value table regenerated with bitsandbytes' create_normal_map recipe
#     (torch ndtri), the signed 8-bit dynamic map with create_dynamic_map's, block absmax,
#     nearest-by-midpoints codes, nibble order and the double-quantized absmax — bit-exact.
#   * GPTQ: an unblocked column-by-column float64 implementation (no lazy batching).
#   * Layers with a custom backward (qlora, qa_lora, peqa; plus rtn_lora and loftq, which
#     share the quantized-base layer): forward and all gradients vs autograd, ≤ 1e-5.
import os, sys, tempfile
import numpy as np
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ROOT, check, done
import subprocess

BIN = os.environ.get("L4Q_BASELINES_BIN", os.path.join(ROOT, "build", "tests", "test_baselines"))
torch.set_default_dtype(torch.float64)


def driver(mode, *extra):
    d = tempfile.mkdtemp(prefix="test_baselines_")
    args = [BIN, mode] + ([extra[0], d] if mode == "grad" else [d] + list(extra))
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {p.stderr}")
    meta = {}
    mp = os.path.join(d, "meta.txt")
    if os.path.exists(mp):
        for line in open(mp):
            k, *v = line.split()
            meta.setdefault(k, []).append(v)
    return d, meta


def arr(d, name, dtype=np.float32, shape=None):
    a = np.fromfile(os.path.join(d, name), dtype=dtype)
    return a.reshape(shape) if shape else a


def mi(meta, k):
    return int(meta[k][0][0])


# ---- NF4 ------------------------------------------------------------------------------------

def normal_map(offset=0.9677083):
    # bitsandbytes create_normal_map(use_extra_value=True), norm.ppf → torch ndtri (float64)
    v1 = torch.special.ndtri(torch.linspace(offset, 0.5, 9, dtype=torch.float32)[:-1].double()).tolist()
    v3 = (-torch.special.ndtri(torch.linspace(offset, 0.5, 8, dtype=torch.float32)[:-1].double())).tolist()
    values = torch.tensor(v1 + [0] * (256 - 15) + v3, dtype=torch.float32).sort().values
    values /= values.max()
    return values


def dynamic_map():
    # bitsandbytes create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)
    data = []
    for i in range(7):
        frac = 2 ** i + 1
        bnd = torch.linspace(0.1, 1, frac, dtype=torch.float32)
        means = (bnd[:-1] + bnd[1:]) / 2.0
        data += ((10 ** (-6 + i)) * means).tolist()
        data += (-(10 ** (-6 + i)) * means).tolist()
    data += [0, 1.0]
    data.sort()
    return torch.tensor(data, dtype=torch.float32)


def nearest(x, code):
    mids = (code[:-1] + code[1:]) / 2
    return torch.bucketize(x, mids, right=False)  # count of midpoints < x: ties go down


def test_nf4():
    d, _ = driver("nf4")
    table = arr(d, "table")
    nm = normal_map().numpy()
    nz = np.concatenate([nm[:7], [0.0], nm[-8:]]).astype(np.float32)  # the 15 values + the exact zero
    check(np.array_equal(table.view(np.uint32), nz.view(np.uint32)), "nf4 table == bitsandbytes' create_normal_map (bit-exact)",
          f"{table} vs {nz}")
    dq = arr(d, "dqmap")
    ref = dynamic_map().numpy()
    # The C side builds the map in float32 with a scalar linspace; torch's vectorized linspace
    # rounds some points 1-2 ulp differently (44 of 256 entries here). The map is this
    # harness's format constant (files store indices), so ≤ 2 ulp is the contract.
    ulps = np.abs(dq.view(np.int32).astype(np.int64) - ref.view(np.int32).astype(np.int64)).max()
    print(f"  dynamic map vs create_dynamic_map: {np.sum(dq != ref)} of 256 entries differ, max {ulps} ulp")
    check(ulps <= 2 and np.all(np.diff(dq) > 0), "8-bit dynamic map == create_dynamic_map(signed) within 2 ulp",
          f"{ulps} ulp")
    W = torch.from_numpy(arr(d, "W")).float()
    n = W.numel()
    nb = (n + 63) // 64
    blocks = torch.nn.functional.pad(W, (0, nb * 64 - n)).reshape(nb, 64)
    absmax = blocks.abs().max(1).values
    scaled = torch.clamp(blocks / absmax[:, None], -1, 1).reshape(-1)[:n]
    q = nearest(scaled, torch.from_numpy(table)).to(torch.uint8).numpy()
    q = np.concatenate([q, np.zeros(n % 2, np.uint8)])
    packed = (q[0::2] << 4) | q[1::2]
    check(np.array_equal(packed, arr(d, "codes", np.uint8)), "nf4 codes and nibble order == torch reference (bit-exact)",
          f"{np.sum(packed != arr(d, 'codes', np.uint8))} bytes differ")
    mean = absmax.mean()
    c = absmax - mean
    ns = (nb + 255) // 256
    cb = torch.nn.functional.pad(c, (0, ns * 256 - nb)).reshape(ns, 256)
    a2 = cb.abs().max(1).values
    qa = nearest(torch.clamp(cb / a2[:, None], -1, 1).reshape(-1)[:nb], torch.from_numpy(ref)).to(torch.uint8).numpy()
    ok = (np.array_equal(qa, arr(d, "absmax_q", np.uint8)) and np.array_equal(a2.numpy(), arr(d, "absmax_scale"))
          # the mean: torch's float32 reduction order vs the C side's double sum — an ulp or two
          and abs(float(mean) - float(arr(d, "absmax_mean")[0])) <= 1e-6 * float(mean))
    check(ok, "nf4 double quantization (mean, 8-bit codes, per-256 scales) == torch reference",
          f"q diff {np.sum(qa != arr(d, 'absmax_q', np.uint8))}, mean {float(mean)} vs {arr(d, 'absmax_mean')[0]}")
    deq_absmax = torch.from_numpy(ref)[torch.from_numpy(qa).long()] * a2.repeat_interleave(256)[:nb] + mean
    Wd = (torch.from_numpy(table)[torch.from_numpy(q[:n]).long()] * deq_absmax.repeat_interleave(64)[:n]).numpy()
    check(np.abs(Wd - arr(d, "Wd")).max() <= 1e-7, "nf4 dequantization == torch reference", f"{np.abs(Wd - arr(d, 'Wd')).max()}")


# ---- GPTQ -----------------------------------------------------------------------------------

def minmax(w, bits):
    qn, qp = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    hi, lo = w.max(1).values, w.min(1).values
    s = (hi - lo) / (qp - qn)
    return s, hi - s * qp


def gptq_ref(W, H, bits, gs, damp, act_order):
    """Column-by-column GPTQ in float64 straight from the description (no blocking)."""
    W = W.clone(); H = H.clone()
    out, inn = W.shape
    qn, qp = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    ng = (inn + gs - 1) // gs
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    S = torch.zeros(out, ng); Bo = torch.zeros(out, ng)
    perm = torch.arange(inn)
    if act_order:
        perm = torch.tensor(sorted(range(inn), key=lambda i: -float(H[i, i])))  # stable
        for g in range(ng):
            S[:, g], Bo[:, g] = minmax(W[:, g * gs:(g + 1) * gs], bits)
    W = W[:, perm]
    H = H[perm][:, perm]
    H += damp * torch.mean(torch.diag(H)) * torch.eye(inn)
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    codes = torch.zeros(out, inn, dtype=torch.long)
    loss = 0.0
    for i in range(inn):
        if not act_order and i % gs == 0:
            S[:, i // gs], Bo[:, i // gs] = minmax(W[:, i:i + gs], bits)
        j = int(perm[i]); g = j // gs
        w = W[:, i]
        c = torch.round(torch.clamp((w - Bo[:, g]) / S[:, g], qn, qp))
        q = S[:, g] * c + Bo[:, g]
        e = (w - q) / U[i, i]
        loss += float((e ** 2).sum()) / 2
        W[:, i:] -= e[:, None] * U[i, i:][None, :]
        W[:, i] = q
        codes[:, j] = c.long() - qn
    Wq = torch.empty_like(W)
    Wq[:, perm] = W
    return Wq, S, Bo, codes, loss


def test_gptq(act):
    d, meta = driver("gptq", str(act))
    out, inn, gs, bits = mi(meta, "out"), mi(meta, "in"), mi(meta, "gs"), mi(meta, "bits")
    W = torch.from_numpy(arr(d, "W", shape=(out, inn))).double()
    H = torch.from_numpy(arr(d, "H", np.float64, (inn, inn)))
    Wq, S, Bo, codes, loss = gptq_ref(W, H, bits, gs, 0.01, act)
    cc = arr(d, "codes", np.uint8, (out, inn))
    agree = float(np.mean(cc == codes.numpy()))
    same_rows = np.all(cc == codes.numpy(), axis=1)
    wq_c = arr(d, "Wq", shape=(out, inn))
    dw = np.abs(wq_c - Wq.numpy())[same_rows].max() if same_rows.any() else np.inf
    ng = (inn + gs - 1) // gs
    ds = np.abs(arr(d, "s", shape=(out, ng)) - S.numpy()).max() / S.abs().max().item()
    lc = float(meta["loss"][0][0])
    tag = f"{bits}-bit g{gs}{' act-order' if act else ''}, {out}x{inn}, two 128-column blocks"
    print(f"  GPTQ vs torch ({tag}): codes agree {agree:.4f}, rows identical {same_rows.sum()}/{out}, "
          f"max |dWq| on those {dw:.2e}, max rel |ds| {ds:.2e}, loss {lc:.6g} vs {loss:.6g}")
    check(agree >= 0.99 and same_rows.sum() >= out * 3 // 4 and dw < 1e-5 and ds < 1e-4 and abs(lc - loss) <= 0.01 * loss,
          f"gptq == unblocked float64 torch GPTQ ({tag})", f"agree {agree} rows {same_rows.sum()} dw {dw} ds {ds} loss {lc} vs {loss}")


# ---- layer gradients ------------------------------------------------------------------------

def test_grad(method):
    d, meta = driver("grad", method)
    out, inn, N, gs, r, bits = mi(meta, "out"), mi(meta, "in"), mi(meta, "N"), mi(meta, "gs"), mi(meta, "rank"), mi(meta, "bits")
    scale = float(meta["scale"][0][0])
    t = lambda name, shape: torch.from_numpy(arr(d, name, shape=shape)).double()
    X = t("X", (N, inn)).requires_grad_(True)
    dY = t("dY", (N, out))
    Wq = t("Wq", (out, inn))
    grads = {}
    if method == "peqa":
        qn, qp = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        ng = (inn + gs - 1) // gs
        W0 = arr(d, "W0", shape=(out, inn))
        # RTN in float32 exactly as the C side: s0 = (max−min)/(Q_P−Q_N), b0 = max − s0·Q_P, z = −b0/s0
        s0 = np.zeros((out, ng), np.float32); b0 = np.zeros((out, ng), np.float32)
        for g in range(ng):
            blk = W0[:, g * gs:(g + 1) * gs]
            s0[:, g] = (blk.max(1) - blk.min(1)) / np.float32(qp - qn)
            b0[:, g] = blk.max(1) - s0[:, g] * np.float32(qp)
        v = (W0 - np.repeat(b0, gs, 1)[:, :inn]) / np.repeat(s0, gs, 1)[:, :inn]
        wt = np.rint(np.clip(v, qn, qp))
        check(np.array_equal(wt.astype(np.int64), arr(d, "codes", np.uint8, (out, inn)).astype(np.int64) + qn),
              "peqa: frozen codes == min-max RTN of W0", "codes differ")
        z = torch.from_numpy(-b0 / s0).double()
        s = t("p_qscale", (out, ng)).requires_grad_(True)
        Wp = torch.repeat_interleave(s, gs, 1)[:, :inn] * (torch.from_numpy(wt) - torch.repeat_interleave(z, gs, 1)[:, :inn])
        Y = X @ Wp.T
        leaves = {"qscale": s}
    else:
        A = t("p_lora_A", None); B = t("p_lora_B", (out, r))
        A = A.reshape(r, -1).requires_grad_(True); B.requires_grad_(True)
        if method == "qa_lora":
            ng = A.shape[1]
            Xp = torch.stack([X[:, g * gs:min((g + 1) * gs, inn)].mean(1) for g in range(ng)], 1)
            Y = X @ Wq.T + scale * (Xp @ A.T) @ B.T
        else:
            Y = X @ Wq.T + scale * (X @ A.T) @ B.T
        leaves = {"lora_A": A, "lora_B": B}
    if method == "qa_lora":  # the deployed (merged) base: offsets + scale·(B·A)/|g|, same codes
        ng = A.shape[1]
        lens = torch.tensor([min((g + 1) * gs, inn) - g * gs for g in range(ng)], dtype=torch.float64)
        delta = torch.repeat_interleave(scale * (B.detach() @ A.detach()) / lens, gs, 1)[:, :inn]
        err = np.abs(arr(d, "Wdeploy", shape=(out, inn)) - (Wq + delta).numpy()).max()
        check(err <= 1e-6, "qa_lora deploy == base + scale*(B.A)/|g| per group (fully quantized fold)", f"{err}")
    Y.backward(dY)
    errs = {"Y": np.abs(Y.detach().numpy() - arr(d, "Y", shape=(N, out))).max(),
            "dX": np.abs(X.grad.numpy() - arr(d, "dX", shape=(N, inn))).max()}
    for k, p in leaves.items():
        errs["d" + k] = np.abs(p.grad.numpy().reshape(-1) - arr(d, "g_" + k)).max()
    worst = max(errs.values())
    print(f"  {method}: max abs error vs torch autograd " + ", ".join(f"{k} {v:.2e}" for k, v in errs.items()))
    check(worst <= 1e-5, f"{method}: forward, dX and parameter grads == torch autograd (<= 1e-5)", str(errs))
    return d, meta


def test_qlora_base():
    """qlora's frozen base is the NF4 quantization of W0 (torch reference, incl. DQ)."""
    d, meta = driver("grad", "qlora")
    out, inn = mi(meta, "out"), mi(meta, "in")
    W = torch.from_numpy(arr(d, "W0")).float()
    table = torch.from_numpy(np.array(normal_map().numpy()[[0, 1, 2, 3, 4, 5, 6]].tolist() + [0.0] + normal_map().numpy()[-8:].tolist(), np.float32))
    n = W.numel(); nb = (n + 63) // 64
    blocks = torch.nn.functional.pad(W, (0, nb * 64 - n)).reshape(nb, 64)
    absmax = blocks.abs().max(1).values
    q = nearest(torch.clamp(blocks / absmax[:, None], -1, 1).reshape(-1)[:n], table)
    mean = absmax.mean(); c = absmax - mean
    ns = (nb + 255) // 256
    cb = torch.nn.functional.pad(c, (0, ns * 256 - nb)).reshape(ns, 256)
    a2 = cb.abs().max(1).values
    dm = dynamic_map()
    qa = nearest(torch.clamp(cb / a2[:, None], -1, 1).reshape(-1)[:nb], dm)
    am = dm[qa] * a2.repeat_interleave(256)[:nb] + mean
    Wd = (table[q] * am.repeat_interleave(64)[:n]).numpy()
    err = np.abs(Wd - arr(d, "Wq")).max()
    check(err <= 1e-7, "qlora layer's frozen base == torch NF4+DQ of W0", f"{err}")


test_nf4()
test_qlora_base()
test_gptq(0)
test_gptq(1)
for m in ["qlora", "qa_lora", "peqa", "rtn_lora", "loftq"]:
    test_grad(m)
done()
