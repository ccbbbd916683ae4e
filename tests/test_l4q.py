# test_l4q.py — l4q / qat_lora / lsq layers against PyTorch autograd (the oracle), quantizer
# inits against numpy, config validation and l4qz file validation. The C side is
# build/tests/test_l4q_layer (see its header for the modes).
import os, struct, subprocess, sys, tempfile
import numpy as np
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ROOT, check, done

BIN = os.environ.get("L4Q_LAYER_BIN", os.path.join(ROOT, "build", "tests", "test_l4q_layer"))
METHODS = {"l4q": 0, "qat_lora": 1, "lsq": 2}
TMP = tempfile.mkdtemp(prefix="test_l4q_")


def grid(bits):
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def expand(p, gs, inn):
    """out×ng group parameters → out×in (the last group may be partial)."""
    return p.repeat_interleave(gs, dim=1)[:, :inn]


def quantize_t(W, s, b, bits, gs):
    """The composite expression with a straight-through round, in torch (float64)."""
    qn, qp = grid(bits)
    S, Bo = expand(s, gs, W.shape[1]), expand(b, gs, W.shape[1])
    v = (W - Bo) / S
    vc = torch.clamp(v, qn, qp)
    wt = vc + (torch.round(vc) - vc).detach()   # torch.round: half to even, like rintf
    return wt * S + Bo, v


def make_case(method, bits, out=24, inn=40, gs=16, r=4, N=8, alpha=2.0, seed=0):
    """Random layer whose v stays ≥1e-4 away from rounding ties and clip bounds, so float32
    (C) and float64 (oracle) agree on every discrete decision; ~10 % of entries clipped."""
    qn, qp = grid(bits)
    ng = (inn + gs - 1) // gs
    for k in range(200):
        rs = np.random.RandomState(seed * 1000 + k)
        W0 = (rs.randn(out, inn) * 0.1).astype(np.float32)
        A = (rs.uniform(-1, 1, (r, inn)) / np.sqrt(inn)).astype(np.float32)
        B = (rs.randn(out, r) * 0.05).astype(np.float32)
        Wm = W0 if method != "l4q" else (W0.astype(np.float64) + alpha * B.astype(np.float64) @ A.astype(np.float64))
        s = np.zeros((out, ng)); b = np.zeros((out, ng))
        for g in range(ng):
            blk = Wm[:, g * gs:(g + 1) * gs]
            s[:, g] = np.maximum(np.abs(blk.min(1) / qn), np.abs(blk.max(1) / qp))
        s = (s * 0.8).astype(np.float32)                       # shrink: force clipping
        b = (rs.randn(out, ng) * 0.1 * s).astype(np.float32)    # b ≠ 0: b must reach dX
        v = (Wm - np.repeat(b, gs, 1)[:, :inn]) / np.repeat(s, gs, 1)[:, :inn]
        frac = np.mean((v < qn) | (v > qp))
        tie = np.min(np.abs(v - np.floor(v) - 0.5))
        edge = min(np.min(np.abs(v - qn)), np.min(np.abs(v - qp)))
        if 0.04 <= frac <= 0.2 and tie > 1e-4 and edge > 1e-4:
            X = rs.randn(N, inn).astype(np.float32)
            dY = (rs.randn(N, out) * 0.1).astype(np.float32)
            return dict(W0=W0, A=A, B=B, s=s, b=b, X=X, dY=dY, bits=bits, gs=gs, r=r, N=N,
                        alpha=alpha, out=out, inn=inn, ng=ng, clipped=frac)
    raise RuntimeError("no suitable random case")


def run_c(method, c, lsq_scale=0, tile=5):
    fin, fout = os.path.join(TMP, "in.bin"), os.path.join(TMP, "out.bin")
    hdr = struct.pack("<10i", METHODS[method], c["bits"], c["gs"], c["out"], c["inn"], c["r"], c["N"], lsq_scale, tile, 0)
    with open(fin, "wb") as f:
        f.write(hdr + struct.pack("<f", c["alpha"]))
        for k in ("W0", "A", "B", "s", "b", "X", "dY"):
            f.write(np.ascontiguousarray(c[k], dtype=np.float32).tobytes())
    p = subprocess.run([BIN, "grad", fin, fout], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"test_l4q_layer grad failed: {p.stderr}")
    raw = open(fout, "rb").read()
    saved, peak = struct.unpack("<2q", raw[:16])
    a = np.frombuffer(raw[16:], dtype=np.float32)
    o, i, r, N, ng = c["out"], c["inn"], c["r"], c["N"], c["ng"]
    res, off = {}, 0
    for k, n in (("Y", N * o), ("dX", N * i), ("dA", r * i), ("dB", o * r), ("ds", o * ng), ("db", o * ng), ("dW", o * i)):
        res[k] = a[off:off + n]; off += n
    assert off == a.size
    return res, saved, peak


def oracle(method, c, lsq_scale=0):
    t = {k: torch.tensor(c[k], dtype=torch.float64) for k in ("W0", "A", "B", "s", "b", "X", "dY")}
    for k in ("A", "B", "s", "b", "X"):
        t[k].requires_grad_(True)
    W = t["W0"].clone().requires_grad_(method == "lsq")
    al = c["alpha"]
    if method == "l4q":
        Wq, _ = quantize_t(W + al * t["B"] @ t["A"], t["s"], t["b"], c["bits"], c["gs"])
        Y = t["X"] @ Wq.T
    elif method == "qat_lora":
        Wq, _ = quantize_t(W, t["s"], t["b"], c["bits"], c["gs"])
        Y = t["X"] @ Wq.T + al * (t["X"] @ t["A"].T) @ t["B"].T
    else:
        Wq, _ = quantize_t(W, t["s"], t["b"], c["bits"], c["gs"])
        Y = t["X"] @ Wq.T
    (Y * t["dY"]).sum().backward()
    res = {"Y": Y.detach().numpy().ravel(), "dX": t["X"].grad.numpy().ravel(),
           "ds": t["s"].grad.numpy().copy(), "db": t["b"].grad.numpy().copy()}
    if method == "lsq":
        res["dW"] = W.grad.numpy().ravel()
    else:
        res["dA"] = t["A"].grad.numpy().ravel(); res["dB"] = t["B"].grad.numpy().ravel()
    if lsq_scale:   # LSQ gradient scale 1/sqrt(n_g·Q_P), n_g = elements of group g
        qp = grid(c["bits"])[1]
        n_g = np.array([min(c["gs"], c["inn"] - g * c["gs"]) for g in range(c["ng"])])
        gsc = 1.0 / np.sqrt(n_g * qp)
        res["ds"] = res["ds"] * gsc; res["db"] = res["db"] * gsc
    res["ds"] = res["ds"].ravel(); res["db"] = res["db"].ravel()
    return res


def test_gradients():
    for method in ("l4q", "qat_lora", "lsq"):
        for bits in (4, 3):
            for lsq_scale in ((0, 1) if bits == 4 else (0,)):
                c = make_case(method, bits, seed=bits * 10 + METHODS[method])
                got, saved, peak = run_c(method, c, lsq_scale)
                ref = oracle(method, c, lsq_scale)
                keys = ["Y", "dX", "ds", "db"] + (["dW"] if method == "lsq" else ["dA", "dB"])
                worst = max((float(np.max(np.abs(got[k] - ref[k]))), k) for k in keys)
                mags = {k: float(np.max(np.abs(ref[k]))) for k in keys}
                nz = all(mags[k] > 1e-3 for k in keys)
                tag = f"{method} {bits}-bit in={c['inn']} gs={c['gs']} clipped={c['clipped']:.0%}" + (" lsq-scale" if lsq_scale else "")
                check(worst[0] <= 1e-5 and nz, f"{tag}: Y, dX, ds, db, " + ("dW" if method == "lsq" else "dA, dB") + " match torch autograd",
                      f"max |diff| {worst[0]:.3g} in {worst[1]}; magnitudes {mags}")
                print(f"  {tag}: max |C - torch| = {worst[0]:.2e} ({worst[1]})")
                if method == "l4q" and not lsq_scale:
                    nth = int(os.environ.get("L4Q_THREADS", os.cpu_count()))
                    bound = (5 * max(c["inn"], c["out"]) + nth * 8 * c["inn"]) * 4   # one tile + 8 rows per thread
                    check(saved == 0 and 0 < peak <= bound, f"l4q {bits}-bit: nothing saved, transient <= one tile + 8 rows per thread",
                          f"saved {saved}, peak {peak} (bound {bound})")
                if method == "qat_lora" and not lsq_scale:
                    check(saved >= c["out"] * c["inn"] * 4, f"qat_lora {bits}-bit: saved_bytes >= out x in x 4",
                          f"saved {saved}")


def test_lora_branch_chunks():
    # qat_lora's LoRA branch (core/lora.c) runs by 512-row chunks from 513 rows on, with a
    # short last chunk taken from the last full window: tall batches against autograd.
    for N in (1024, 1100, 1600):
        c = make_case("qat_lora", 4, N=N, seed=70 + N % 97)
        got, _, _ = run_c("qat_lora", c)
        ref = oracle("qat_lora", c)
        keys = ["Y", "dX", "dA", "dB", "ds", "db"]
        rel = max((float(np.max(np.abs(got[k] - ref[k])) / max(1.0, float(np.max(np.abs(ref[k]))))), k) for k in keys)
        check(rel[0] <= 1e-5, f"qat_lora at {N} rows ({(N + 511) // 512} row chunks, last {N % 512 or 512} rows): "
              "Y, dX, dA, dB, ds, db match torch autograd", f"max relative |diff| {rel[0]:.3g} in {rel[1]}")


def test_inits():
    names = ["l4q", "minmax", "absmax", "lsq+"]
    rs = np.random.RandomState(5)
    out, inn = 7, 40
    W = (rs.randn(out, inn) * 0.2 + 0.03).astype(np.float32)
    for bits in (2, 3, 4, 8):
        qn, qp = grid(bits)
        for gs in (16, -1, 40):
            g_ = inn if gs == -1 else gs
            ng = (inn + g_ - 1) // g_
            for ii, nm in enumerate(names):
                fin, fout = os.path.join(TMP, "init.bin"), os.path.join(TMP, "init.out")
                with open(fin, "wb") as f:
                    f.write(struct.pack("<5i", bits, gs, ii, out, inn) + W.tobytes())
                p = subprocess.run([BIN, "init", fin, fout], capture_output=True, text=True)
                if p.returncode:
                    check(False, f"init {nm}", p.stderr); continue
                a = np.frombuffer(open(fout, "rb").read(), dtype=np.float32)
                s_c, b_c = a[:out * ng].reshape(out, ng), a[out * ng:].reshape(out, ng)
                s_r, b_r = np.zeros((out, ng)), np.zeros((out, ng))
                for g in range(ng):
                    blk = W[:, g * g_:(g + 1) * g_].astype(np.float64)
                    lo, hi = blk.min(1), blk.max(1)
                    if nm == "l4q":
                        s_r[:, g] = np.maximum(np.abs(lo / qn), np.abs(hi / qp))
                    elif nm == "minmax":
                        s_r[:, g] = (hi - lo) / (qp - qn); b_r[:, g] = hi - s_r[:, g] * qp
                    elif nm == "absmax":
                        s_r[:, g] = np.maximum(np.abs(lo), np.abs(hi)) / 2 ** (bits - 1)
                    else:
                        mu, sd = blk.mean(1), blk.std(1)
                        s_r[:, g] = np.maximum(np.abs(mu - 3 * sd), np.abs(mu + 3 * sd)) / 2 ** (bits - 1)
                ds = np.max(np.abs(s_c - s_r) / np.abs(s_r)); db = np.max(np.abs(b_c - b_r))
                check(ds <= 1e-5 and db <= 1e-6, f"init {nm} {bits}-bit gs={gs} matches the docs/design.md formula",
                      f"rel s diff {ds:.3g}, b diff {db:.3g}")


def test_bad_config():
    cases = [("l4q", 4, 0, None, "method.group_size"), ("l4q", 4, 41, None, "method.group_size"),
             ("qat_lora", 4, -2, None, "method.group_size"), ("l4q", 5, 16, None, "method.bits"),
             ("lsq", 1, 16, None, "method.bits"), ("l4q", 4, 16, "foo", "method.init")]
    for m, bits, gs, init, key in cases:
        args = [BIN, "build", m, str(bits), str(gs)] + ([init] if init else [])
        p = subprocess.run(args, capture_output=True, text=True)
        err = p.stderr.strip()
        check(p.returncode == 2 and key in err and len(err.splitlines()) == 1,
              f"{m} bits={bits} group_size={gs} init={init or 'l4q'} → exit 2 naming {key}",
              f"rc {p.returncode}, stderr {err!r}")
    p = subprocess.run([BIN, "build", "l4q", "3", "-1"], capture_output=True, text=True)
    check(p.returncode == 0 and "form 3" in p.stdout, "group_size -1 (one group per row) is accepted", p.stderr)
    p = subprocess.run([BIN, "build", "lsq", "2", "40"], capture_output=True, text=True)
    check(p.returncode == 0, "group_size = row length is accepted", p.stderr)


def test_l4qz_file():
    path = os.path.join(TMP, "m.l4qz")
    for method in ("l4q", "qat_lora"):
        p = subprocess.run([BIN, "l4qz-write", path, method], capture_output=True, text=True)
        check(p.returncode == 0 and os.path.exists(path) and not os.path.exists(path + ".tmp"),
              f"l4qz-write {method} leaves only the final file", p.stderr)
        p = subprocess.run([BIN, "l4qz-load", path], capture_output=True, text=True)
        check(p.returncode == 0 and f"method {method}" in p.stdout, f"l4qz-load {method} file", p.stdout + p.stderr)
    good = open(path, "rb").read()

    def bad(data, what, needle):
        fn = os.path.join(TMP, "bad.l4qz")
        open(fn, "wb").write(data)
        p = subprocess.run([BIN, "l4qz-load", fn], capture_output=True, text=True)
        err = p.stderr.strip()
        check(p.returncode == 2 and needle in err and fn in err and len(err.splitlines()) == 1,
              f"l4qz {what} → exit 2 ({needle})", f"rc {p.returncode}, stderr {err!r}")

    bad(good[:-100], "truncated", "truncated")
    bad(good[:20], "truncated to 20 bytes", "truncated")
    bad(good + b"\0" * 8, "extra bytes", "extra")
    bad(b"L4QZ" + struct.pack("<I", 7) + good[8:], "wrong version", "version")
    mid = len(good) // 2
    bad(good[:mid] + bytes([good[mid] ^ 0x40]) + good[mid + 1:], "flipped byte", "checksum")
    # A wrong magic is not an L4QZ file at all: the loader must still reject it cleanly.
    fn = os.path.join(TMP, "badmagic.l4qz")
    open(fn, "wb").write(b"L4QX" + good[4:])
    p = subprocess.run([BIN, "l4qz-load", fn], capture_output=True, text=True)
    check(p.returncode == 2 and fn in p.stderr, "l4qz with a wrong magic → exit 2 naming the file",
          f"rc {p.returncode}, stderr {p.stderr.strip()!r}")


if __name__ == "__main__":   # tests/test_peft_step.py imports the case builder and the C driver
    if not os.path.exists(BIN):
        check(False, "test_l4q_layer binary", f"{BIN} is missing (run make)")
        done()
    torch.set_num_threads(1)
    test_gradients()
    test_lora_branch_chunks()
    test_inits()
    test_bad_config()
    test_l4qz_file()
    done()
