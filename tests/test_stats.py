# test_stats.py — results/stats.c against scipy and numpy on synthetic data with known
# answers (C side: build/tests/test_stats FILE, which prints "est lo hi p exact" per sample):
#   - exact sign-flip p-values (≤ 20 nonzero units) = scipy.stats.permutation_test (exact);
#   - binary/equal-magnitude differences = scipy.stats.binomtest (McNemar), large n too;
#   - Monte Carlo p-values agree with scipy's Monte Carlo permutation test within 4 SE;
#   - bootstrap intervals = numpy percentile bootstrap with the same stratified ratio-of-sums
#     resampling (within 0.25 bootstrap SD, about 4 Monte Carlo SE), and = scipy.stats.bootstrap
#     (percentile) for a plain mean; a stratified sample with constant strata has width 0;
#   - calibration: 95% intervals cover the true difference in 91.5–98.5% of 400 datasets,
#     and p < 0.05 in 2–8% of 400 null datasets.
import os, subprocess, tempfile
import numpy as np
from scipy import stats as sps
from testlib import ROOT, check, done

DRIVER = os.path.join(ROOT, "build", "tests", "test_stats")
tmp = tempfile.mkdtemp(prefix="l4q_stats_")

def run_samples(samples):
    """samples: list of (a, b, stratum, W, B, seed) → list of (est, lo, hi, p, exact)."""
    path = os.path.join(tmp, "samples.txt")
    with open(path, "w") as f:
        for a, b, st, W, B, seed in samples:
            f.write(f"sample {len(a)} {len(W)} {B} {seed}\n")
            f.write(" ".join(repr(float(w)) for w in W) + "\n")
            for x, y, s in zip(a, b, st):
                f.write(f"{float(x)!r} {float(y)!r} {int(s)}\n")
    out = subprocess.run([DRIVER, path], capture_output=True, text=True, check=True).stdout.split("\n")
    return [tuple(float(v) for v in l.split()) for l in out if l.strip()]

def one(a, b=None, st=None, W=(1.0,), B=2000, seed=1):
    b = np.ones(len(a)) if b is None else b
    st = np.zeros(len(a), int) if st is None else st
    return run_samples([(a, b, st, W, B, seed)])[0]

def estimate(a, b, st, W):
    return sum(W[k] * a[st == k].sum() / b[st == k].sum() for k in range(len(W)))

rng = np.random.default_rng(20261129)
SUM = lambda x, y, axis=-1: np.sum(x - y, axis=axis)

# ---- exact sign flip vs scipy.stats.permutation_test (exact enumeration)
ok = True
for trial in range(6):
    n = 6 + 2 * trial
    d = rng.normal(0.3, 1.0, n)
    est, lo, hi, p, exact = one(d)
    ref = sps.permutation_test((d, np.zeros(n)), SUM, permutation_type="samples",
                               n_resamples=np.inf, vectorized=True, alternative="two-sided").pvalue
    ok &= exact == 1 and abs(p - ref) < 1e-12 and abs(est - d.mean()) < 1e-12
    if not ok:
        print(n, p, ref, exact); break
check(ok, "exact sign-flip p = scipy permutation_test (exact, n = 6..16)")

# Weighted strata: the statistic is Σ_k W_k Σa/Σb, flips of a with b fixed = flips of e_u.
n = 14
a = rng.normal(0.2, 1.0, n); b = rng.integers(50, 200, n).astype(float); st = np.array([0] * 6 + [1] * 8); W = [0.3, 0.7]
e = np.array([W[s] * a[i] / b[st == s].sum() for i, s in enumerate(st)])
est, lo, hi, p, exact = one(a, b, st, W)
ref = sps.permutation_test((e, np.zeros(n)), SUM, permutation_type="samples",
                           n_resamples=np.inf, vectorized=True).pvalue
check(exact == 1 and abs(p - ref) < 1e-12 and abs(est - estimate(a, b, st, W)) < 1e-12,
      "weighted ratio-of-sums statistic and its exact p", f"{p} {ref}")

# ---- McNemar (binary paired differences) vs scipy.stats.binomtest
ok = True
for (nb, nc, n0) in [(3, 12, 30), (40, 61, 400), (480, 560, 9000), (7, 7, 20), (0, 9, 5), (2000, 2150, 60000)]:
    d = np.array([1.0] * nb + [-1.0] * nc + [0.0] * n0)
    rng.shuffle(d)
    est, lo, hi, p, exact = one(d, B=200)
    ref = sps.binomtest(nb, nb + nc, 0.5).pvalue
    ok &= exact == 1 and abs(p - ref) <= 1e-9 * max(ref, 1e-300) + 1e-300
    if not ok:
        print(nb, nc, p, ref); break
check(ok, "binary differences: p = scipy binomtest (exact McNemar), up to 10^4 discordant pairs")

# Equal strata with equal weights (BLiMP's paradigms): still the exact binomial.
d = rng.choice([-1.0, 0.0, 1.0], size=600, p=[0.1, 0.75, 0.15]); st = np.repeat(np.arange(6), 100)
est, lo, hi, p, exact = one(d, None, st, [1 / 6] * 6, B=200)
ref = sps.binomtest(int((d > 0).sum()), int((d != 0).sum()), 0.5).pvalue
check(exact == 1 and abs(p - ref) < 1e-9 * ref and abs(est - d.mean()) < 1e-12, "equal strata: exact binomial", f"{p} {ref}")

# ---- Monte Carlo p vs scipy's Monte Carlo permutation test
def mc_ok(e_eff, p):
    ref = sps.permutation_test((e_eff, np.zeros(len(e_eff))), SUM, permutation_type="samples",
                               n_resamples=10000, vectorized=True, random_state=7).pvalue
    se = np.sqrt(ref * (1 - ref) / 10000) * np.sqrt(2)
    return abs(p - ref) <= 4 * se + 2e-4, ref

d = rng.normal(0.09, 1.0, 300)                       # continuous: windows' NLL differences
est, lo, hi, p, exact = one(d)
good, ref = mc_ok(d, p)
check(exact == 0 and good and 0.001 < ref < 0.98, "continuous differences: Monte Carlo p ≈ scipy's", f"{p} vs {ref}")
d = rng.choice([-3, -2, -1, 0, 1, 2, 3], size=600, p=[.03, .04, .07, .68, .09, .05, .04]).astype(float)  # 3 seeds pooled
est, lo, hi, p, exact = one(d, np.full(600, 3.0))
good, ref = mc_ok(d, p)
check(exact == 0 and good and 0.001 < ref < 0.98, "integer differences (3 seeds pooled): popcount draws ≈ scipy", f"{p} vs {ref}")

# ---- bootstrap vs numpy percentile bootstrap with the same stratified ratio-of-sums scheme
def np_boot(a, b, st, W, B=20000):
    reps = np.zeros(B)
    for k in range(len(W)):
        ak, bk = a[st == k], b[st == k]
        idx = rng.integers(0, len(ak), (B, len(ak)))
        reps += W[k] * ak[idx].sum(1) / bk[idx].sum(1)
    return np.percentile(reps, 2.5), np.percentile(reps, 97.5), reps.std()

ok = True
cases = []
a = rng.normal(0.1, 1, 250); cases.append((a, np.ones(250), np.zeros(250, int), [1.0]))
ntok = rng.integers(20, 129, 180).astype(float); a = rng.normal(0.02, 0.3, 180) * ntok   # windows: Δnll, ntok
cases.append((a, ntok, np.zeros(180, int), [1.0]))
a = rng.choice([-1.0, 0, 1], 700, p=[.12, .7, .18]); st = np.repeat(np.arange(7), 100)     # csqa-like, 7 strata
cases.append((a, np.ones(700), st, [1 / 7] * 7))
st = np.array([0] * 50 + [1] * 150); a = rng.normal(0, 1, 200) + st; cases.append((a, np.ones(200), st, [0.5, 0.5]))
res = run_samples([(a_, b_, s_, W_, 2000, 11 + i) for i, (a_, b_, s_, W_) in enumerate(cases)])
for (a_, b_, s_, W_), (est, lo, hi, p, ex) in zip(cases, res):
    nlo, nhi, sd = np_boot(np.asarray(a_), np.asarray(b_), np.asarray(s_), W_)
    good = abs(lo - nlo) < 0.25 * sd and abs(hi - nhi) < 0.25 * sd and abs(est - estimate(np.asarray(a_), np.asarray(b_), np.asarray(s_), W_)) < 1e-12
    if not good:
        print("bootstrap", lo, nlo, hi, nhi, sd)
    ok &= good
check(ok, "bootstrap CI = numpy percentile bootstrap, same stratified ratio-of-sums scheme (4 cases)")

a = rng.exponential(1.0, 120)
est, lo, hi, p, exact = one(a)
sb = sps.bootstrap((a,), np.mean, method="percentile", n_resamples=20000, random_state=3)
sd = sb.standard_error
check(abs(lo - sb.confidence_interval.low) < 0.25 * sd and abs(hi - sb.confidence_interval.high) < 0.25 * sd,
      "bootstrap CI = scipy.stats.bootstrap (percentile) for a mean", f"{lo} {hi} vs {sb.confidence_interval}")

st = np.array([0] * 40 + [1] * 60); a = st.astype(float)   # constant strata: resampling within strata cannot move T
est, lo, hi, p, exact = one(a, None, st, [0.5, 0.5])
check(abs(lo - 0.5) < 1e-12 and abs(hi - 0.5) < 1e-12, "stratified resampling: constant strata give a zero-width interval", f"{lo} {hi}")

# ---- calibration: coverage under a known difference, p-values under the null
samples, truth = [], 0.05
for i in range(400):
    d = rng.choice([1.0, -1.0, 0.0], 300, p=[0.20, 0.15, 0.65])
    samples.append((d, np.ones(300), np.zeros(300, int), [1.0], 1000, 100 + i))
res = run_samples(samples)
cover = np.mean([lo <= truth <= hi for _, lo, hi, _, _ in res])
check(0.915 <= cover <= 0.985, "95% bootstrap CI covers the true paired difference", f"coverage {cover:.3f}")
samples = []
for i in range(400):
    ntok = rng.integers(30, 129, 80).astype(float)
    d = rng.standard_t(4, 80) * ntok * 0.05                    # heavy-tailed, symmetric: the null holds
    samples.append((d, ntok, np.zeros(80, int), [1.0], 200, 900 + i))
res = run_samples(samples)
rej = np.mean([p < 0.05 for *_, p, _ in res])
check(0.02 <= rej <= 0.08, "sign-flip test holds its level under the null (heavy tails)", f"rejection rate {rej:.3f}")
done()
