// test_cuda_ops.cu — per-op parity of the CUDA kernels (cuda/ops.cuh, cuda/common.cuh)
// against the CPU functions, on the fixtures `make cuda-fixtures` writes (tests/cudafix.h):
// same inputs, the CPU's outputs. Device outputs are NaN-poisoned before each op. Tolerances
// (relative L2 ‖gpu − cpu‖/‖cpu‖; NaN or Inf never passes):
//   element-wise 1e-6; RMSNorm, cross-entropy, L4Q ds/db 1e-5; GEMM-bearing ops and
//   attention 1e-4; bit-exact: L4Q Wq tile and codes, AdamW fp32/bf16 state, NF4/uniform
//   dequant, casts; grad norm 1e-12. bf16 mode (T = bf16 kernels, inputs rounded to bf16):
//   1e-2 against the CPU's fp32.
// Without a device it prints one SKIP line and exits 0.
//
// usage: test_cuda_ops [--fixtures DIR] [--precision fp32|bf16|both]   (default: build/cudafix/ops, both)
//        test_cuda_ops --host   the kernels' element bodies (cuda/quant_elem.cuh, elem.h) on the
//                               CPU against the same fixtures: runs anywhere, no device
// Builds without the CPU library (make cuda-only): only cuda/ objects and headers.
#include "cudafix.h"
#include "ops.cuh"
#include "quant_elem.cuh"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <string>
#include <vector>

static int g_pass, g_fail;
static CuCtx g_ctx;
static CuCtx *C = &g_ctx;
static const char *g_mode = "fp32";

static void pass(const std::string &what, const char *detail) {
    g_pass++;
    printf("PASS: cuda_ops: %s %s%s\n", what.c_str(), g_mode, detail);
}
static void fail(const std::string &what, const char *why) {
    g_fail++;
    printf("FAIL: cuda_ops: %s %s: %s\n", what.c_str(), g_mode, why);
}
// A launcher failed: report it and leave the case.
#define T_CU(...)                                                                     \
    do {                                                                              \
        if ((__VA_ARGS__) != 0) {                                                            \
            fail(cs, cu_last_error());                                                \
            cu_clear_error();                                                         \
            return;                                                                   \
        }                                                                             \
    } while (0)

// ---- fixtures --------------------------------------------------------------------------------
struct Arr {
    std::string name;
    int dtype = 0;
    std::vector<uint8_t> bytes;
    uint64_t count = 0;
};
struct Fix {
    std::string name;
    std::vector<Arr> arrs;
    bool ok = false;
    const Arr *find(const char *n) const {
        for (auto &a : arrs)
            if (a.name == n) return &a;
        return nullptr;
    }
    template <typename V> std::vector<V> get(const char *n) const {
        const Arr *a = find(n);
        std::vector<V> v;
        if (!a || a->bytes.size() != a->count * sizeof(V)) {
            fprintf(stderr, "fixture %s: array %s missing or of the wrong type\n", name.c_str(), n);
            return v;
        }
        v.resize(a->count);
        memcpy(v.data(), a->bytes.data(), a->bytes.size());
        return v;
    }
    int dim(int i) const { return get<int>("dims").at(i); }
    float fpar(int i) const { return get<float>("fpar").at(i); }
};
static std::string g_dir = "build/cudafix/ops";

static Fix load(const char *name) {
    Fix f;
    f.name = name;
    std::string path = g_dir + "/" + name + ".bin";
    FILE *fp = fopen(path.c_str(), "rb");
    if (!fp) {
        g_fail++;
        printf("FAIL: cuda_ops: %s: cannot open %s (run make cuda-fixtures)\n", name, path.c_str());
        return f;
    }
    char magic[8];
    uint32_t hdr[2];
    bool good = fread(magic, 1, 8, fp) == 8 && !memcmp(magic, FIX_MAGIC, 8) && fread(hdr, sizeof hdr, 1, fp) == 1;
    for (uint32_t i = 0; good && i < hdr[0]; i++) {
        char nm[FIX_NAME_LEN + 1] = {0};
        uint32_t dt[2];
        Arr a;
        good = fread(nm, 1, FIX_NAME_LEN, fp) == FIX_NAME_LEN && fread(dt, sizeof dt, 1, fp) == 1 &&
               fread(&a.count, 8, 1, fp) == 1 && dt[0] <= FIX_F64 && a.count < (1ull << 32);
        if (!good) break;
        a.name = nm;
        a.dtype = (int)dt[0];
        a.bytes.resize(a.count * fix_elem_bytes(a.dtype));
        good = fread(a.bytes.data(), 1, a.bytes.size(), fp) == a.bytes.size();
        f.arrs.push_back(std::move(a));
    }
    fclose(fp);
    if (!good) {
        g_fail++;
        printf("FAIL: cuda_ops: %s: %s is not a fixture file (run make cuda-fixtures)\n", name, path.c_str());
        return f;
    }
    f.ok = true;
    return f;
}

// ---- host <-> device -------------------------------------------------------------------------
static float h2f(float x) { return x; }
static float h2f(bf16 x) { return __bfloat162float(x); }
template <typename T> static T f2h(float x);
template <> float f2h<float>(float x) { return x; }
template <> bf16 f2h<bf16>(float x) { return __float2bfloat16_rn(x); }

// Device buffers freed at the end of each case.
struct Dev {
    std::vector<void *> ptrs;
    ~Dev() {
        for (void *p : ptrs) cu_free(C, p);
    }
    // A failed allocation or copy ends the test program (one FAIL line): nothing after it
    // could run meaningfully.
    static void die(const char *what) {
        printf("FAIL: cuda_ops: %s: %s\n", what, cu_last_error());
        exit(1);
    }
    template <typename V> V *alloc(size_t n) {
        void *p = NULL;
        if (cu_malloc(C, &p, n * sizeof(V))) die("allocation"); // exact size: memcheck sees overruns
        ptrs.push_back(p);
        // NaN poison (all ones: NaN for fp32 and bf16, −1 for ints)
        cudaError_t e = cudaMemsetAsync(p, 0xff, n * sizeof(V), C->stream);
        if (e != cudaSuccess) cu_fail("cudaMemsetAsync: %s", cudaGetErrorName(e)), die("poison");
        return (V *)p;
    }
    template <typename V> V *up(const std::vector<V> &h) {
        V *p = alloc<V>(h.size());
        if (cu_upload(C, p, h.data(), h.size() * sizeof(V))) die("upload");
        return p;
    }
    // fp32 host values as T on the device
    template <typename T> T *upT(const std::vector<float> &h) {
        std::vector<T> t(h.size());
        for (size_t i = 0; i < h.size(); i++) t[i] = f2h<T>(h[i]);
        return up(t);
    }
};
template <typename V> static std::vector<V> down(const V *d, size_t n) {
    std::vector<V> h(n);
    if (cu_download(C, h.data(), d, n * sizeof(V))) {
        fprintf(stderr, "download: %s\n", cu_last_error());
        std::fill(h.begin(), h.end(), V());
    }
    return h;
}
template <typename T> static std::vector<float> downF(const T *d, size_t n) {
    std::vector<T> h = down(d, n);
    std::vector<float> f(n);
    for (size_t i = 0; i < n; i++) f[i] = h2f(h[i]);
    return f;
}

// ---- comparisons -----------------------------------------------------------------------------
static double rel_l2(const std::vector<float> &g, const std::vector<float> &c) {
    if (g.size() != c.size() || c.empty()) return INFINITY;
    double num = 0, den = 0;
    for (size_t i = 0; i < c.size(); i++) {
        if (!isfinite(g[i]) && isfinite(c[i])) return INFINITY;
        double d = (double)g[i] - c[i];
        num += d * d;
        den += (double)c[i] * c[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}
static void check_rel(const std::string &what, const std::vector<float> &g, const std::vector<float> &c, double tol) {
    double e = rel_l2(g, c);
    char buf[96];
    snprintf(buf, sizeof buf, " (rel L2 %.3g, tol %.0e, n %zu)", e, tol, c.size());
    if (e <= tol) pass(what, buf);
    else fail(what, buf + 1);
}
// Bit-exact (NaN matches NaN when nan_any: payloads may differ between converters).
template <typename V>
static void check_bits(const std::string &what, const std::vector<V> &g, const std::vector<V> &c, bool nan_any = false) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < c.size() && g.size() == c.size(); i++) {
        bool same = !memcmp(&g[i], &c[i], sizeof(V));
        if (!same && nan_any && sizeof(V) == 4) {
            float a, b;
            memcpy(&a, &g[i], 4);
            memcpy(&b, &c[i], 4);
            same = isnan(a) && isnan(b);
        }
        if (!same && bad++ == 0) first = i;
    }
    char buf[96];
    if (g.size() != c.size()) snprintf(buf, sizeof buf, "size %zu vs %zu", g.size(), c.size()), fail(what, buf);
    else if (bad) snprintf(buf, sizeof buf, "%zu of %zu differ (first at %zu)", bad, c.size(), first), fail(what, buf);
    else snprintf(buf, sizeof buf, " (bit-exact, n %zu)", c.size()), pass(what, buf);
}
template <typename T> static double tol_of(double fp32_tol) { return sizeof(T) == 2 ? 1e-2 : fp32_tol; }

// ---- cases -------------------------------------------------------------------------------------
template <typename TA> static void t_gemm() {
    std::string cs = "gemm";
    Fix f = load("gemm");
    if (!f.ok) return;
    int N = f.dim(0), in = f.dim(1), out = f.dim(2);
    float beta = f.fpar(0);
    Dev d;
    TA *X = d.upT<TA>(f.get<float>("X")), *W = d.upT<TA>(f.get<float>("W")), *dY = d.upT<TA>(f.get<float>("dY"));
    float *Y = d.up(f.get<float>("Y0")), *dX = d.up(f.get<float>("dX0")), *dW = d.up(f.get<float>("dW0"));
    T_CU(gemm_xwt<TA, float>(C, X, in, W, in, Y, out, N, in, out, 1.0f, beta));
    T_CU(gemm_dyw<TA, float>(C, dY, out, W, in, dX, in, N, out, in, 1.0f, 1.0f));
    T_CU(gemm_dytx<TA, float>(C, dY, out, X, in, dW, in, N, out, in, 1.0f, 1.0f));
    double tol = tol_of<TA>(1e-4);
    check_rel("gemm xwt", down(Y, (size_t)N * out), f.get<float>("Y"), tol);
    check_rel("gemm dyw", down(dX, (size_t)N * in), f.get<float>("dX"), tol);
    check_rel("gemm dytx", down(dW, (size_t)out * in), f.get<float>("dW"), tol);
    // Column tiles (ldc = out, column offset) and row tiles of W accumulating into dX, as L4Q does.
    float *Y2 = d.up(f.get<float>("Y0")), *dX2 = d.up(f.get<float>("dX0"));
    int c0 = out / 3;
    T_CU(gemm_xwt<TA, float>(C, X, in, W, in, Y2, out, N, in, c0, 1.0f, beta));
    T_CU(gemm_xwt<TA, float>(C, X, in, W + (size_t)c0 * in, in, Y2 + c0, out, N, in, out - c0, 1.0f, beta));
    T_CU(gemm_dyw<TA, float>(C, dY, out, W, in, dX2, in, N, c0, in, 1.0f, 1.0f));
    T_CU(gemm_dyw<TA, float>(C, dY + c0, out, W + (size_t)c0 * in, in, dX2, in, N, out - c0, in, 1.0f, 1.0f));
    check_rel("gemm xwt column tiles", down(Y2, (size_t)N * out), f.get<float>("Y"), tol);
    check_rel("gemm dyw row tiles", down(dX2, (size_t)N * in), f.get<float>("dX"), tol);
    if (sizeof(TA) == 2) { // bf16 output (the activations of the speed mode)
        bf16 *Y3 = d.upT<bf16>(f.get<float>("Y0"));
        T_CU(gemm_xwt<bf16, bf16>(C, (const bf16 *)X, in, (const bf16 *)W, in, Y3, out, N, in, out, 1.0f, beta));
        check_rel("gemm xwt, bf16 output", downF(Y3, (size_t)N * out), f.get<float>("Y"), tol);
    }
}

template <typename T> static void t_embedding() {
    std::string cs = "embedding";
    Fix f = load("embedding");
    if (!f.ok) return;
    int V = f.dim(0), dim = f.dim(1), R = f.dim(2);
    Dev d;
    int *tok = d.up(f.get<int>("tok"));
    T *emb = d.upT<T>(f.get<float>("emb")), *out = d.alloc<T>((size_t)R * dim), *dout = d.upT<T>(f.get<float>("dout"));
    float *demb = d.up(f.get<float>("demb0"));
    T_CU(embedding_fwd<T>(C, out, tok, emb, R, dim));
    T_CU(embedding_bwd<T>(C, demb, dout, tok, R, dim));
    check_rel("embedding fwd", downF(out, (size_t)R * dim), f.get<float>("out"), tol_of<T>(1e-6));
    check_rel("embedding bwd", down(demb, (size_t)V * dim), f.get<float>("demb"), tol_of<T>(1e-6));
}

template <typename T> static void t_rmsnorm() {
    std::string cs = "rmsnorm";
    Fix f = load("rmsnorm");
    if (!f.ok) return;
    int R = f.dim(0), dim = f.dim(1);
    size_t n = (size_t)R * dim;
    Dev d;
    T *x = d.upT<T>(f.get<float>("x")), *out = d.alloc<T>(n), *dout = d.upT<T>(f.get<float>("dout"));
    T *dx = d.upT<T>(f.get<float>("dx0"));
    float *w = d.up(f.get<float>("w")), *rstd = d.alloc<float>(R), *dw = d.up(f.get<float>("dw0"));
    T_CU(rmsnorm_fwd<T>(C, out, rstd, x, w, R, dim, f.fpar(0)));
    check_rel("rmsnorm fwd", downF(out, n), f.get<float>("out"), tol_of<T>(1e-5));
    check_rel("rmsnorm rstd", down(rstd, R), f.get<float>("rstd"), tol_of<T>(1e-5));
    float *rc = d.up(f.get<float>("rstd")); // backward from the CPU's saved rstd
    T_CU(rmsnorm_bwd<T>(C, dx, dw, dout, x, w, rc, R, dim));
    check_rel("rmsnorm bwd dx", downF(dx, n), f.get<float>("dx"), tol_of<T>(1e-5));
    check_rel("rmsnorm bwd dw", down(dw, dim), f.get<float>("dw"), tol_of<T>(1e-5));
}

template <typename T> static void t_rope() {
    std::string cs = "rope";
    Fix f = load("rope");
    if (!f.ok) return;
    int B = f.dim(0), Tn = f.dim(1), cols = f.dim(2), hs = f.dim(3), r0 = f.dim(4);
    size_t n = (size_t)B * Tn * cols;
    Dev d;
    float *ct = d.up(f.get<float>("cos")), *st = d.up(f.get<float>("sin"));
    T *x = d.upT<T>(f.get<float>("x0")), *dx = d.upT<T>(f.get<float>("dx0"));
    T_CU(rope_fwd<T>(C, x, r0, B * Tn, Tn, cols, hs, ct, st));
    T_CU(rope_bwd<T>(C, dx, r0, B * Tn, Tn, cols, hs, ct, st));
    check_rel("rope fwd", downF(x, n), f.get<float>("x"), tol_of<T>(1e-6));
    check_rel("rope bwd", downF(dx, n), f.get<float>("dx"), tol_of<T>(1e-6));
}

template <typename T> static void t_attention(const char *name) {
    std::string cs = name;
    Fix f = load(name);
    if (!f.ok) return;
    int B = f.dim(0), Tn = f.dim(1), H = f.dim(2), KVH = f.dim(3), hs = f.dim(4);
    size_t nq = (size_t)B * Tn * H * hs, nk = (size_t)B * Tn * KVH * hs, nl = (size_t)B * H * Tn;
    const int bf = sizeof(T) == 2;
    Dev d;
    T *q = d.upT<T>(f.get<float>("q")), *k = d.upT<T>(f.get<float>("k")), *v = d.upT<T>(f.get<float>("v"));
    T *out = d.alloc<T>(nq);
    float *lse = d.alloc<float>(nl);
    size_t sb = attention_scratch_bytes(Tn, KVH, bf, 1);
    void *scratch = d.alloc<uint8_t>(sb);
    double tol = tol_of<T>(1e-4);
    T_CU(attention_fwd<T>(C, out, lse, q, k, v, B, Tn, H, KVH, hs, Tn, scratch, sb));
    check_rel(cs + " fwd out", downF(out, nq), f.get<float>("out"), tol);
    check_rel(cs + " fwd lse", down(lse, nl), f.get<float>("lse"), tol);
    // One head per call (the scratch for exactly one): the chunked path.
    T *out1 = d.alloc<T>(nq);
    T_CU(attention_fwd<T>(C, out1, NULL, q, k, v, B, Tn, H, KVH, hs, Tn, scratch,
                          attention_scratch_bytes(Tn, 1, bf, 0)));
    check_rel(cs + " fwd out, one head per call", downF(out1, nq), f.get<float>("out"), tol);
    // Backward from the CPU's forward (out, lse), accumulating into dq0, dk0, dv0.
    T *co = d.upT<T>(f.get<float>("out")), *dout = d.upT<T>(f.get<float>("dout"));
    float *cl = d.up(f.get<float>("lse"));
    // fp32: accumulating onto dq0, dk0, dv0; bf16: onto zeros (a bf16 sum onto N(0,1) starting
    // values would lose more to rounding than the band allows). The accumulated part alone
    // is compared: a sum dominated by dq0 would hide errors in the gradient itself.
    auto dq0 = f.get<float>("dq0"), dk0 = f.get<float>("dk0"), dv0 = f.get<float>("dv0");
    if (bf)
        for (auto *a : {&dq0, &dk0, &dv0}) std::fill(a->begin(), a->end(), 0.0f);
    T *dq = d.upT<T>(dq0), *dk = d.upT<T>(dk0), *dv = d.upT<T>(dv0);
    T_CU(attention_bwd<T>(C, dq, dk, dv, dout, co, cl, q, k, v, B, Tn, H, KVH, hs, Tn, scratch, sb));
    auto delta = [&](const std::vector<float> &a, const std::vector<float> &a0) {
        std::vector<float> r(a.size());
        for (size_t i = 0; i < a.size(); i++) r[i] = a[i] - a0[i];
        return r;
    };
    check_rel(cs + " bwd dq", delta(downF(dq, nq), dq0), delta(f.get<float>("dq"), f.get<float>("dq0")), tol);
    check_rel(cs + " bwd dk", delta(downF(dk, nk), dk0), delta(f.get<float>("dk"), f.get<float>("dk0")), tol);
    check_rel(cs + " bwd dv", delta(downF(dv, nk), dv0), delta(f.get<float>("dv"), f.get<float>("dv0")), tol);
}

template <typename T> static void t_swiglu_residual() {
    std::string cs = "swiglu";
    Fix f = load("swiglu");
    if (f.ok) {
        int n = f.dim(0);
        Dev d;
        T *h1 = d.upT<T>(f.get<float>("h1")), *h3 = d.upT<T>(f.get<float>("h3")), *g = d.alloc<T>(n);
        T *dg = d.upT<T>(f.get<float>("dg")), *dh1 = d.upT<T>(f.get<float>("dh10")), *dh3 = d.upT<T>(f.get<float>("dh30"));
        T_CU(swiglu_fwd<T>(C, g, h1, h3, n));
        T_CU(swiglu_bwd<T>(C, dh1, dh3, dg, h1, h3, n));
        check_rel("swiglu fwd", downF(g, n), f.get<float>("g"), tol_of<T>(1e-6));
        check_rel("swiglu bwd dh1", downF(dh1, n), f.get<float>("dh1"), tol_of<T>(1e-6));
        check_rel("swiglu bwd dh3", downF(dh3, n), f.get<float>("dh3"), tol_of<T>(1e-6));
    }
    cs = "residual";
    Fix r = load("residual");
    if (!r.ok) return;
    int n = r.dim(0);
    Dev d;
    T *y = d.upT<T>(r.get<float>("y0")), *x = d.upT<T>(r.get<float>("x"));
    T_CU(residual_add<T>(C, y, x, n));
    check_rel("residual add", downF(y, n), r.get<float>("y"), tol_of<T>(1e-6));
}

template <typename T> static void t_classifier() {
    std::string cs = "classifier";
    Fix f = load("classifier");
    if (!f.ok) return;
    int m = f.dim(0), V = f.dim(1);
    size_t n = (size_t)m * V;
    Dev d;
    float *lg = d.up(f.get<float>("logits")), *w = d.up(f.get<float>("w")), *lp = d.alloc<float>(m);
    int *tg = d.up(f.get<int>("targets")), *gr = d.alloc<int>(m);
    double *nll = d.alloc<double>(1), *rows = d.alloc<double>(m);
    T_CU(cu_zero(C, nll, sizeof(double)));
    // fp32: dlogits in place over the logits (as the model runs it); bf16: a bf16 copy.
    T *dl = sizeof(T) == 4 ? (T *)lg : d.alloc<T>(n);
    T_CU(classifier_rows<T>(C, lg, dl, tg, w, m, V, f.fpar(0), lp, gr, nll, rows));
    double tol = tol_of<T>(1e-5);
    check_rel("classifier logprob", down(lp, m), f.get<float>("lp"), tol);
    check_bits("classifier greedy", down(gr, m), f.get<int>("greedy"));
    check_rel("classifier dlogits", downF(dl, n), f.get<float>("dl"), tol);
    std::vector<double> g = down(nll, 1), c = f.get<double>("nll");
    check_rel("classifier loss (double sum)", {(float)g.at(0)}, {(float)c.at(0)}, tol);
    // Without weights (w NULL: 1 per row with a target), onto a running sum: the loss is the
    // previous total plus Σ −lp, and dlogits the weighted ones divided by their weight.
    float *lg2 = d.up(f.get<float>("logits"));
    T *dl2 = sizeof(T) == 4 ? (T *)lg2 : d.alloc<T>(n);
    T_CU(classifier_rows<T>(C, lg2, dl2, tg, NULL, m, V, f.fpar(0), NULL, NULL, nll, rows));
    auto lpc = f.get<float>("lp"), wc = f.get<float>("w"), dlc = f.get<float>("dl");
    auto tgc = f.get<int>("targets");
    double want = c.at(0);
    for (int i = 0; i < m; i++) {
        if (tgc[i] >= 0) want += -(double)lpc[i];
        for (int j = 0; j < V; j++) dlc[(size_t)i * V + j] = tgc[i] >= 0 ? dlc[(size_t)i * V + j] / wc[i] : 0.0f;
    }
    check_rel("classifier dlogits, no weights", downF(dl2, n), dlc, tol);
    check_rel("classifier loss, no weights, accumulated", {(float)down(nll, 1).at(0)}, {(float)want}, tol);
}

static void t_adamw(bool bf) {
    std::string cs = bf ? "adamw bf16 state" : "adamw fp32 state";
    Fix f = load(bf ? "adamw_bf16" : "adamw_f32");
    if (!f.ok) return;
    int n[2] = {f.dim(0), f.dim(1)}, steps = f.dim(2);
    float lr = f.fpar(0), b1 = f.fpar(1), b2 = f.fpar(2), eps = f.fpar(3), wd = f.fpar(4);
    uint64_t seed;
    memcpy(&seed, f.get<uint16_t>("seed").data(), 8);
    Dev d;
    float *x[2], *g[2];
    void *m[2], *v[2];
    for (int i = 0; i < 2; i++) {
        x[i] = d.up(f.get<float>(i ? "x0_1" : "x0_0"));
        g[i] = d.alloc<float>(n[i]);
        m[i] = d.alloc<float>(n[i]);
        v[i] = d.alloc<float>(n[i]);
        T_CU(cu_zero(C, m[i], n[i] * 4));
        T_CU(cu_zero(C, v[i], n[i] * 4));
    }
    for (int t = 1; t <= steps; t++)
        for (int i = 0; i < 2; i++) {
            char nm[16];
            snprintf(nm, sizeof nm, "g%d_%d", t - 1, i);
            std::vector<float> gh = f.get<float>(nm);
            T_CU(cu_upload(C, g[i], gh.data(), gh.size() * 4));
            AdamCoef k = adam_coef(lr, t, b1, b2, eps, wd);
            k.decay = f.dim(3 + i) && wd != 0.0f;
            if (bf) T_CU(adamw_bf16(C, x[i], g[i], (uint16_t *)m[i], (uint16_t *)v[i], n[i], k, adam_bf16_key(seed, t, i)));
            else T_CU(adamw_f32(C, x[i], g[i], (float *)m[i], (float *)v[i], n[i], k));
        }
    for (int i = 0; i < 2; i++) {
        std::string p = i ? " p1" : " p0";
        check_bits(cs + p + " x", down(x[i], n[i]), f.get<float>(i ? "x1" : "x0"));
        if (bf) {
            check_bits(cs + p + " m", down((uint16_t *)m[i], n[i]), f.get<uint16_t>(i ? "m1" : "m0"));
            check_bits(cs + p + " v", down((uint16_t *)v[i], n[i]), f.get<uint16_t>(i ? "v1" : "v0"));
        } else {
            check_bits(cs + p + " m", down((float *)m[i], n[i]), f.get<float>(i ? "m1" : "m0"));
            check_bits(cs + p + " v", down((float *)v[i], n[i]), f.get<float>(i ? "v1" : "v0"));
        }
    }
}

static void t_gradnorm() {
    std::string cs = "grad norm";
    Fix f = load("gradnorm");
    if (!f.ok) return;
    int n[2] = {f.dim(0), f.dim(1)};
    float max_norm = f.fpar(0);
    Dev d;
    float *g[2] = {d.up(f.get<float>("g0")), d.up(f.get<float>("g1"))};
    double *part = d.alloc<double>((n[0] > n[1] ? n[0] : n[1]) / CU_NORM_BLOCK + 1), *total = d.alloc<double>(1);
    T_CU(cu_zero(C, total, 8));
    for (int i = 0; i < 2; i++) T_CU(grad_sumsq_add(C, g[i], n[i], part, total));
    double norm = sqrt(down(total, 1).at(0)), cpu = f.get<double>("norm").at(0);
    double e = fabs(norm - cpu) / cpu;
    char buf[96];
    snprintf(buf, sizeof buf, " (%.17g vs %.17g, rel %.2g, tol 1e-12)", norm, cpu, e);
    if (e <= 1e-12) pass("grad norm", buf);
    else fail("grad norm", buf + 1);
    double coef = (double)max_norm / (norm + 1e-6); // grad_clip's clip factor
    if (coef < 1.0)
        for (int i = 0; i < 2; i++) T_CU(grad_scale(C, g[i], n[i], (float)coef));
    check_rel("grad clip scaled p0", down(g[0], n[0]), f.get<float>("c0"), 1e-6);
    check_rel("grad clip scaled p1", down(g[1], n[1]), f.get<float>("c1"), 1e-6);
}

static void t_casts() {
    std::string cs = "casts";
    Fix f = load("casts");
    if (!f.ok) return;
    int n = f.dim(0);
    Dev d;
    float *src = d.up(f.get<float>("f")), *bw = d.alloc<float>(n), *hw = d.alloc<float>(n);
    uint16_t *bf = d.alloc<uint16_t>(n), *bits = d.up(f.get<uint16_t>("bits")), *hb = d.alloc<uint16_t>(n);
    T_CU(cast_f32_bf16(C, bf, src, n));
    T_CU(cast_bf16_f32(C, bw, bits, n));
    T_CU(cast_f16_f32(C, hw, bits, n));
    T_CU(cast_f16_bf16(C, hb, bits, n));
    check_bits("cast f32->bf16 (RNE, ties, NaN, Inf)", down(bf, n), f.get<uint16_t>("bf"));
    check_bits("cast bf16->f32", down(bw, n), f.get<float>("bf_w"));
    check_bits("cast f16->f32", down(hw, n), f.get<float>("f16_w"), true);
    // NaN inputs may carry different payloads through the two converters: compare NaN-ness.
    std::vector<uint16_t> g = down(hb, n), c = f.get<uint16_t>("f16_bf");
    for (size_t i = 0; i < c.size(); i++)
        if ((g[i] & 0x7fff) > 0x7f80 && (c[i] & 0x7fff) > 0x7f80) g[i] = c[i];
    check_bits("cast f16->bf16", g, c);
}

template <typename T> static void t_nf4() {
    std::string cs = "nf4 dequant";
    Fix f = load("nf4");
    if (!f.ok) return;
    int in = f.dim(1), r0 = f.dim(2), t = f.dim(3);
    Dev d;
    uint8_t *codes = d.up(f.get<uint8_t>("codes")), *aq = d.up(f.get<uint8_t>("absmax_q"));
    float *as = d.up(f.get<float>("absmax_scale")), *dq = d.up(f.get<float>("dq_code"));
    T *tile = d.alloc<T>((size_t)t * in);
    T_CU(nf4_dequant<T>(C, tile, codes, aq, as, f.fpar(0), dq, in, r0, t));
    if (sizeof(T) == 4) check_bits("nf4 dequant tile", down((float *)tile, (size_t)t * in), f.get<float>("tile"));
    else check_rel("nf4 dequant tile", downF(tile, (size_t)t * in), f.get<float>("tile"), 1e-2);
}

template <typename T> static void t_uniform(int bits) {
    char name[32];
    snprintf(name, sizeof name, "uniform_b%d", bits);
    std::string cs = std::string("uniform dequant ") + std::to_string(bits) + "-bit";
    Fix f = load(name);
    if (!f.ok) return;
    int in = f.dim(1), gs = f.dim(3), r0 = f.dim(4), t = f.dim(5);
    Dev d;
    uint8_t *codes = d.up(f.get<uint8_t>("codes"));
    float *s = d.up(f.get<float>("scale")), *b = d.up(f.get<float>("offset"));
    T *tile = d.alloc<T>((size_t)t * in);
    T_CU(uniform_dequant<T>(C, tile, codes, s, b, bits, gs, in, r0, t));
    if (sizeof(T) == 4) check_bits(cs + " tile", down((float *)tile, (size_t)t * in), f.get<float>("tile"));
    else check_rel(cs + " tile", downF(tile, (size_t)t * in), f.get<float>("tile"), 1e-2);
}

// One L4Q layer, forward and backward, from the kernels and products the method twin uses:
// Wq tile (merge+quantize), Y = X·Wqᵀ, dX += dY·Wq, G = dYᵀ·X → STE (ds, db, M⊙G),
// dB = α·(M⊙G)·Aᵀ, dA = α·Bᵀ·(M⊙G).
template <typename T, typename TW> static void t_l4q_w(const Fix &f, const std::string &cs, TW *W0, Dev &d) {
    int out = f.dim(0), in = f.dim(1), r = f.dim(2), N = f.dim(6);
    CuL4q q;
    q.out = out; q.in = in; q.rank = r; q.bits = f.dim(3); q.gs = f.dim(4); q.ng = f.dim(5);
    q.qn = -(1 << (q.bits - 1)); q.qp = (1 << (q.bits - 1)) - 1; q.lsq_scale = f.dim(7); q.alpha = f.fpar(0);
    size_t nw = (size_t)out * in, ngs = (size_t)out * q.ng;
    float *A = d.up(f.get<float>("A")), *B = d.up(f.get<float>("B")), *s = d.up(f.get<float>("s")), *b = d.up(f.get<float>("b"));
    T *Wq = d.alloc<T>(nw);
    uint8_t *u = d.alloc<uint8_t>(nw);
    // Two row tiles (r0 > 0 exercises the offsets), the second with codes.
    int t0 = out / 2 + 1;
    T_CU(l4q_merge_quant<TW, T>(C, Wq, NULL, W0, A, B, s, b, &q, 0, t0));
    T_CU(l4q_merge_quant<TW, T>(C, Wq + (size_t)t0 * in, u + (size_t)t0 * in, W0, A, B, s, b, &q, t0, out - t0));
    T_CU(l4q_merge_quant<TW, T>(C, Wq, u, W0, A, B, s, b, &q, 0, t0)); // codes of the first tile too
    std::vector<float> wq_cpu = f.get<float>("Wq");
    if (sizeof(T) == 4) check_bits(cs + " Wq tile", down((float *)Wq, nw), wq_cpu);
    else check_rel(cs + " Wq tile", downF(Wq, nw), wq_cpu, 1e-2);
    check_bits(cs + " codes", down(u, nw), f.get<uint8_t>("u"));
    double tol = tol_of<T>(1e-4);
    T *X = d.upT<T>(f.get<float>("X")), *dY = d.upT<T>(f.get<float>("dY"));
    float *Y = d.alloc<float>((size_t)N * out), *dX = d.up(f.get<float>("dX0")), *G = d.alloc<float>(nw);
    T_CU(gemm_xwt<T, float>(C, X, in, Wq, in, Y, out, N, in, out, 1.0f, 0.0f));
    check_rel(cs + " forward Y", down(Y, (size_t)N * out), f.get<float>("Y"), tol);
    T_CU(gemm_dyw<T, float>(C, dY, out, Wq, in, dX, in, N, out, in, 1.0f, 1.0f));
    check_rel(cs + " backward dX", down(dX, (size_t)N * in), f.get<float>("dX"), tol);
    T_CU(gemm_dytx<T, float>(C, dY, out, X, in, G, in, N, out, in, 1.0f, 0.0f));
    float *ds = d.alloc<float>(ngs), *db = d.alloc<float>(ngs), *dA = d.alloc<float>((size_t)r * in);
    float *dB = d.alloc<float>((size_t)out * r);
    T_CU(cu_zero(C, ds, ngs * 4));
    T_CU(cu_zero(C, db, ngs * 4));
    // Two tiles again: G rows of each tile, ds/db of their groups.
    T_CU(l4q_ste_bwd<TW>(C, G, ds, db, W0, A, B, s, b, &q, 0, t0));
    T_CU(l4q_ste_bwd<TW>(C, G + (size_t)t0 * in, ds, db, W0, A, B, s, b, &q, t0, out - t0));
    check_rel(cs + " ds", down(ds, ngs), f.get<float>("ds"), tol_of<T>(1e-5));
    check_rel(cs + " db", down(db, ngs), f.get<float>("db"), tol_of<T>(1e-5));
    T_CU(gemm_xwt<float, float>(C, G, in, A, in, dB, r, out, in, r, q.alpha, 0.0f));
    T_CU(gemm_dytx<float, float>(C, B, r, G, in, dA, in, out, r, in, q.alpha, 0.0f));
    check_rel(cs + " dB", down(dB, (size_t)out * r), f.get<float>("dB"), tol);
    check_rel(cs + " dA", down(dA, (size_t)r * in), f.get<float>("dA"), tol);
}
template <typename T> static void t_l4q(const char *name) {
    std::string cs = name;
    Fix f = load(name);
    if (!f.ok) return;
    Dev d;
    int dt = f.dim(8); // DT_F32 0, DT_F16 1, DT_BF16 2 (core/half.h)
    if (dt == 0) {
        float *W0 = d.up(f.get<float>("W0"));
        if (W0) t_l4q_w<T, float>(f, cs, W0, d);
    } else {
        std::vector<uint16_t> h = f.get<uint16_t>("W0h");
        uint16_t *W0 = d.up(h);
        if (!W0) return fail(cs, cu_last_error());
        if (dt == 2) t_l4q_w<T, bf16>(f, cs, (bf16 *)W0, d);
        else t_l4q_w<T, __half>(f, cs, (__half *)W0, d);
    }
}

// Dropout has no CPU twin (the plugin draws its own masks): its contract instead — the kept
// fraction is 1 − p within 5σ, kept values are in·1/(1−p) exactly, dropped ones 0, and the
// same seed gives the same mask (backward reapplies it).
static void t_dropout() {
    std::string cs = "dropout";
    const long long n = 200000;
    const float p = 0.1f, scale = 1.0f / (1.0f - p);
    std::vector<float> in(n);
    for (long long i = 0; i < n; i++) in[i] = 0.5f + (float)(i % 97) * 0.01f;
    Dev d;
    float *x = d.up(in), *y = d.alloc<float>(n), *y2 = d.alloc<float>(n);
    T_CU(dropout_apply<float>(C, y, x, n, p, 77));
    T_CU(dropout_apply<float>(C, y2, x, n, p, 77));
    std::vector<float> a = down(y, n), b = down(y2, n);
    long long kept = 0, bad = 0;
    for (long long i = 0; i < n; i++) {
        if (a[i] != 0.0f) kept++;
        if (!(a[i] == 0.0f || a[i] == in[i] * scale)) bad++;
    }
    double frac = (double)kept / n, sd = sqrt(p * (1 - p) / n);
    char buf[128];
    snprintf(buf, sizeof buf, "kept %.4f (expected %.4f ± %.4f), %lld values not in·1/(1−p) or 0", frac, 1 - p, 5 * sd,
             bad);
    if (fabs(frac - (1 - p)) <= 5 * sd && bad == 0) pass("dropout mask", (std::string(" (") + buf + ")").c_str());
    else fail("dropout mask", buf);
    check_bits("dropout same seed, same mask", a, b);
}

// QAT-LoRA / LSQ quantizer with saved intermediates: Wq, dsf, mask bit-exact (fp32), ds/db
// 1e-5, dW += M⊙G exact; bf16 mode: Wq stored bf16 (1e-2), the rest as fp32.
template <typename T> static void t_qsaved(const char *name) {
    std::string cs = name;
    Fix f = load(name);
    if (!f.ok) return;
    CuL4q q = {};
    q.out = f.dim(0); q.in = f.dim(1); q.bits = f.dim(2); q.gs = f.dim(3); q.ng = f.dim(4); q.lsq_scale = f.dim(5);
    q.qn = -(1 << (q.bits - 1)); q.qp = (1 << (q.bits - 1)) - 1;
    size_t n = (size_t)q.out * q.in, ng = (size_t)q.out * q.ng;
    Dev d;
    float *W = d.up(f.get<float>("W")), *s = d.up(f.get<float>("s")), *b = d.up(f.get<float>("b"));
    T *Wq = d.alloc<T>(n);
    float *dsf = d.alloc<float>(n), *G = d.up(f.get<float>("G"));
    float *ds = d.up(f.get<float>("ds0")), *db = d.up(f.get<float>("db0")), *dW = d.up(f.get<float>("dW0"));
    uint8_t *mask = d.alloc<uint8_t>(n);
    T_CU(quant_fwd_saved<float, T>(C, W, s, b, &q, Wq, dsf, mask));
    T_CU(quant_bwd_saved(C, G, dsf, mask, &q, ds, db, dW));
    if (sizeof(T) == 4) check_bits(cs + " Wq", down((float *)Wq, n), f.get<float>("Wq"));
    else check_rel(cs + " Wq", downF(Wq, n), f.get<float>("Wq"), 1e-2);
    check_bits(cs + " dsf", down(dsf, n), f.get<float>("dsf"));
    check_bits(cs + " mask", down(mask, n), f.get<uint8_t>("mask"));
    check_rel(cs + " ds", down(ds, ng), f.get<float>("ds"), 1e-5);
    check_rel(cs + " db", down(db, ng), f.get<float>("db"), 1e-5);
    check_bits(cs + " dW += M*G", down(dW, n), f.get<float>("dW"));
}

template <typename T> static void run_all() {
    t_gemm<T>();
    t_embedding<T>();
    t_rmsnorm<T>();
    t_rope<T>();
    for (const char *a : {"att_mha", "att_gqa", "att_mha512", "att_gqa100"}) t_attention<T>(a);
    t_swiglu_residual<T>();
    t_classifier<T>();
    t_nf4<T>();
    for (int bits : {2, 3, 4, 8}) t_uniform<T>(bits);
    for (const char *l : {"l4q_f32", "l4q_bf16", "l4q_f16_lsq"}) t_l4q<T>(l);
    for (const char *l : {"qsaved_b4", "qsaved_b2_lsq"}) t_qsaved<T>(l);
}

// ---- --host: the kernels' element bodies (quant_elem.cuh, elem.h) run on the CPU ------------
// No device needed: checks the indexing and arithmetic the kernels share with these functions
// against the same fixtures, bit for bit where the device check is bit-exact.
template <typename TW> static void h_l4q_w(const Fix &f, const std::string &cs, const TW *W0) {
    int out = f.dim(0), in = f.dim(1), r = f.dim(2), N = f.dim(6);
    CuL4q q;
    q.out = out; q.in = in; q.rank = r; q.bits = f.dim(3); q.gs = f.dim(4); q.ng = f.dim(5);
    q.qn = -(1 << (q.bits - 1)); q.qp = (1 << (q.bits - 1)) - 1; q.lsq_scale = f.dim(7); q.alpha = f.fpar(0);
    auto A = f.get<float>("A"), B = f.get<float>("B"), s = f.get<float>("s"), b = f.get<float>("b");
    auto X = f.get<float>("X"), dY = f.get<float>("dY");
    std::vector<float> Wq((size_t)out * in), ds((size_t)out * q.ng, 0.0f), db((size_t)out * q.ng, 0.0f);
    std::vector<uint8_t> u((size_t)out * in);
    for (int i0 = 0; i0 < out; i0 += L4Q_RPT) // the kernel's blocks of rows
        for (int j = 0; j < in; j++) {
            int nr = out - i0 < L4Q_RPT ? out - i0 : L4Q_RPT;
            float w[L4Q_RPT];
            l4q_merge_block(w, W0, A.data(), B.data(), &q, i0, nr, j);
            for (int ii = 0; ii < nr; ii++) {
                unsigned c;
                Wq[(size_t)(i0 + ii) * in + j] = l4q_quant_elem(w[ii], s.data(), b.data(), &q, i0 + ii, j, &c);
                u[(size_t)(i0 + ii) * in + j] = (uint8_t)c;
            }
        }
    check_bits(cs + " Wq tile", Wq, f.get<float>("Wq"));
    check_bits(cs + " codes", u, f.get<uint8_t>("u"));
    for (int R = 0; R < out; R++) // G = dYᵀX in double (the device's comes from cuBLAS)
        for (int g = 0; g < q.ng; g++) {
            int j0 = g * q.gs, len = in - j0 < q.gs ? in - j0 : q.gs;
            double as = 0, ab = 0;
            for (int j = j0; j < j0 + len; j++) {
                double G = 0;
                for (int n = 0; n < N; n++) G += (double)dY[(size_t)n * out + R] * X[(size_t)n * in + j];
                float w;
                l4q_merge_block(&w, W0, A.data(), B.data(), &q, R, 1, j);
                (void)l4q_ste_term(w, (float)G, s.data(), b.data(), &q, R, g, &as, &ab);
            }
            l4q_ste_finish(ds.data(), db.data(), &q, (size_t)R * q.ng + g, len, as, ab);
        }
    check_rel(cs + " ds", ds, f.get<float>("ds"), 1e-5);
    check_rel(cs + " db", db, f.get<float>("db"), 1e-5);
}
static void host_checks() {
    g_mode = "host";
    for (const char *name : {"l4q_f32", "l4q_bf16", "l4q_f16_lsq"}) {
        Fix f = load(name);
        if (!f.ok) continue;
        int dt = f.dim(8);
        if (dt == 0) h_l4q_w<float>(f, name, f.get<float>("W0").data());
        else {
            std::vector<uint16_t> h = f.get<uint16_t>("W0h");
            if (dt == 2) h_l4q_w<bf16>(f, name, (const bf16 *)h.data());
            else h_l4q_w<__half>(f, name, (const __half *)h.data());
        }
    }
    Fix f = load("nf4");
    if (f.ok) {
        int in = f.dim(1), r0 = f.dim(2), t = f.dim(3);
        auto codes = f.get<uint8_t>("codes"), aq = f.get<uint8_t>("absmax_q");
        auto as = f.get<float>("absmax_scale"), dq = f.get<float>("dq_code");
        std::vector<float> tile((size_t)t * in);
        for (size_t k = 0; k < tile.size(); k++)
            tile[k] = nf4_at(codes.data(), aq.data(), as.data(), f.fpar(0), dq.data(), (size_t)r0 * in + k);
        check_bits("nf4 dequant tile", tile, f.get<float>("tile"));
    }
    for (int bits : {2, 3, 4, 8}) {
        char name[32];
        snprintf(name, sizeof name, "uniform_b%d", bits);
        Fix u = load(name);
        if (!u.ok) continue;
        int in = u.dim(1), gs = u.dim(3), r0 = u.dim(4), t = u.dim(5), ng = (in + gs - 1) / gs;
        auto codes = u.get<uint8_t>("codes");
        auto sc = u.get<float>("scale"), of = u.get<float>("offset");
        std::vector<float> tile((size_t)t * in);
        size_t rb = deploy_row_bytes(bits, in);
        for (int i = 0; i < t; i++)
            for (int j = 0; j < in; j++) {
                size_t g = (size_t)(r0 + i) * ng + j / gs;
                tile[(size_t)i * in + j] = quant_dequant_elem(uniform_code_at(codes.data() + (size_t)(r0 + i) * rb, j, bits),
                                                              sc[g], of[g], -(1 << (bits - 1)));
            }
        check_bits(std::string("uniform dequant ") + std::to_string(bits) + "-bit tile", tile, u.get<float>("tile"));
    }
    for (const char *name : {"qsaved_b4", "qsaved_b2_lsq"}) { // the saved quantizer's backward terms
        Fix a = load(name);
        if (!a.ok) continue;
        CuL4q q = {};
        q.out = a.dim(0); q.in = a.dim(1); q.bits = a.dim(2); q.gs = a.dim(3); q.ng = a.dim(4); q.lsq_scale = a.dim(5);
        q.qn = -(1 << (q.bits - 1)); q.qp = (1 << (q.bits - 1)) - 1;
        auto G = a.get<float>("G"), dsf = a.get<float>("dsf"), ds = a.get<float>("ds0"), db = a.get<float>("db0");
        auto dW = a.get<float>("dW0");
        auto mask = a.get<uint8_t>("mask");
        for (int r = 0; r < q.out; r++)
            for (int g = 0; g < q.ng; g++) {
                int j0 = g * q.gs, len = q.in - j0 < q.gs ? q.in - j0 : q.gs;
                double as = 0, ab = 0;
                for (int j = j0; j < j0 + len; j++)
                    qsaved_bwd_term(G.data(), dsf.data(), mask.data(), dW.data(), (size_t)r * q.in + j, &as, &ab);
                l4q_ste_finish(ds.data(), db.data(), &q, (size_t)r * q.ng + g, len, as, ab);
            }
        check_rel(std::string(name) + " ds", ds, a.get<float>("ds"), 1e-5);
        check_rel(std::string(name) + " db", db, a.get<float>("db"), 1e-5);
        check_bits(std::string(name) + " dW += M*G", dW, a.get<float>("dW"));
    }
    for (int bf = 0; bf < 2; bf++) { // the AdamW kernels' loop on the host: coefficients, keys, steps
        Fix a = load(bf ? "adamw_bf16" : "adamw_f32");
        if (!a.ok) continue;
        std::string cs = bf ? "adamw bf16 state" : "adamw fp32 state";
        uint64_t seed;
        memcpy(&seed, a.get<uint16_t>("seed").data(), 8);
        for (int i = 0; i < 2; i++) {
            int n = a.dim(i);
            auto x = a.get<float>(i ? "x0_1" : "x0_0");
            std::vector<float> m(n, 0.0f), v(n, 0.0f);
            std::vector<uint16_t> m16(n, 0), v16(n, 0);
            for (int t = 1; t <= a.dim(2); t++) {
                char nm[16];
                snprintf(nm, sizeof nm, "g%d_%d", t - 1, i);
                auto g = a.get<float>(nm);
                AdamCoef k = adam_coef(a.fpar(0), t, a.fpar(1), a.fpar(2), a.fpar(3), a.fpar(4));
                k.decay = a.dim(3 + i) && a.fpar(4) != 0.0f;
                uint64_t key = adam_bf16_key(seed, t, i);
                for (int j = 0; j < n; j++)
                    x[j] = bf ? adam_elem_bf16(x[j], g[j], &m16[j], &v16[j], &k, key, (uint64_t)j)
                              : adam_elem(x[j], g[j], &m[j], &v[j], &k);
            }
            std::string p = i ? " p1" : " p0";
            check_bits(cs + p + " x", x, a.get<float>(i ? "x1" : "x0"));
            if (bf) check_bits(cs + p + " m", m16, a.get<uint16_t>(i ? "m1" : "m0"));
            else check_bits(cs + p + " m", m, a.get<float>(i ? "m1" : "m0"));
        }
    }
}

int main(int argc, char **argv) {
    const char *prec = "both";
    int host = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--fixtures") && i + 1 < argc) g_dir = argv[++i];
        else if (!strcmp(argv[i], "--host")) host = 1;
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) prec = argv[++i];
        else {
            fprintf(stderr, "usage: test_cuda_ops [--fixtures DIR] [--precision fp32|bf16|both] [--host]\n");
            return 2;
        }
    }
    if (host) {
        host_checks();
        printf("cuda_ops host: %d passed, %d failed\n", g_pass, g_fail);
        return g_fail ? 1 : 0;
    }
    int n = 0;
    if (cu_probe(&n)) {
        printf("SKIP: cuda_ops: no CUDA device (%s)\n", cu_last_error());
        return 0;
    }
    if (cu_ctx_init(C, 0)) {
        printf("FAIL: cuda_ops: context: %s\n", cu_last_error());
        return 1;
    }
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, 0) == cudaSuccess) printf("device: %s (sm_%d%d)\n", p.name, p.major, p.minor);
    if (strcmp(prec, "bf16")) {
        g_mode = "fp32";
        run_all<float>();
        t_adamw(false);
        t_adamw(true);
        t_gradnorm();
        t_casts();
        t_dropout();
    }
    if (strcmp(prec, "fp32")) {
        g_mode = "bf16";
        run_all<bf16>();
    }
    // A fault inside any kernel surfaces here at the latest.
    if (cu_sync(C)) printf("FAIL: cuda_ops: device error: %s\n", cu_last_error()), g_fail++;
    printf("cuda_ops: %d passed, %d failed (tracked peak %.1f MB)\n", g_pass, g_fail, C->tracked_peak / 1e6);
    cu_ctx_free(C);
    return g_fail ? 1 : 0;
}
