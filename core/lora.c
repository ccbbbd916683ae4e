// lora.c — the LoRA side branch (lora.h) and the `lora` method: a frozen base (fp32 or 16-bit) plus
// the branch, Y = X·W0ᵀ + α·(drop(X)·Aᵀ)·Bᵀ. On an fp32 base it deploys merged, as plain
// fp32; on a 16-bit base as W0 as stored plus the branch ("bf16&fp": merging would need fp32).
#include "lora.h"
#include "bf16mm.h"
#include "gemm.h"
#include "methods.h"
#include "util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void lora_init_AB(Param **A, Param **B, const char *name, int rank, int out, int in, Rng *rng) {
    char nm[96];
    snprintf(nm, sizeof nm, "%s.lora_A", name);
    *A = param_new(nm, rank, in, 1);
    snprintf(nm, sizeof nm, "%s.lora_B", name);
    *B = param_new(nm, out, rank, 1);
    float bound = 1.0f / sqrtf((float)in);
    for (size_t i = 0; i < (*A)->n; i++) (*A)->data[i] = (2.0f * rng_uniform(rng) - 1.0f) * bound;
    param_make_trainable(*A);
    param_make_trainable(*B);
}

void lb_init(LoraBranch *lb, Linear *L, const MethodCfg *m, const char *name, Rng *rng) {
    if (m->rank <= 0) die_input("method.rank: must be positive (got %d)", m->rank);
    if (!isfinite(m->alpha)) die_input("method.alpha: must be finite (got %g)", m->alpha);
    if (m->dropout < 0 || m->dropout >= 1) die_input("method.dropout: must be in [0, 1) (got %g)", m->dropout);
    memset(lb, 0, sizeof *lb);
    lora_init_AB(&lb->A, &lb->B, name, m->rank, L->out, L->in, rng);
    lb->scale = m->alpha / m->rank;
    lb->dropout = m->dropout;
    lb->rng = rng;
    L->params[L->n_params++] = lb->A;
    L->params[L->n_params++] = lb->B;
    size_t tb = (lb->A->n + lb->B->n) * sizeof(float);
    L->mem.trainable_bytes += tb;
    L->mem.grad_opt_bytes += 3 * tb;
}

// Inverted-dropout copy of X drawn from state st (regenerated in backward, not stored).
static float *lb_dropped(LoraBranch *lb, Linear *L, const float *X, int N, Rng st) {
    size_t n = (size_t)N * L->in;
    float keep = 1.0f - lb->dropout, inv = 1.0f / keep;
    float *Xd = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) Xd[i] = rng_uniform(&st) < keep ? X[i] * inv : 0.0f;
    return Xd;
}

// The branch's thin products (rank r) over all N rows ran as multi-threaded oneDNN calls,
// each a pass over an N×in or N×out matrix; without dropout they run here row chunk by row
// chunk instead (mm_split_chunks: nc chunks of MM_SPLIT_ROWS rows, each chunk's products
// single-threaded inside one parallel loop, as mm_dytx's are), so a chunk of X and dY read
// once serves all of its products (the whole branch had taken about 0.1 s of a stories15M
// step). Same bits as the products over all rows: a row's sums do not depend on the chunk,
// the weight gradients' partials are mm_dytx's, added in chunk order (mm_split_sum), and a
// short last chunk takes its rows from products over the last full window of rows
// (chunk_rows), because oneDNN sums a product of only a few rows in another order.

// Rows r0 .. r0+rows−1 of C = alpha·Z·op(W) (Z: N×k; op(W) = Wᵀ of an n×k W for tw 'T',
// the k×n W itself for 'N') into Cc. A short last chunk's: from the product over rows
// N−S .. N−1 (S = MM_SPLIT_ROWS < N), left in win (S×n) for the caller.
static void chunk_rows(char tw, const float *Z, int N, int k, const float *W, int n, float alpha, int r0, int rows,
                       float *Cc, float *win) {
    const int S = MM_SPLIT_ROWS;
    int ldw = tw == 'T' ? k : n;
    if (rows == S) { gemm_f32('N', tw, S, n, k, alpha, Z + (size_t)r0 * k, k, W, ldw, 0.0f, Cc, n); return; }
    gemm_f32('N', tw, S, n, k, alpha, Z + (size_t)(N - S) * k, k, W, ldw, 0.0f, win, n);
    memcpy(Cc, win + (size_t)(S - rows) * n, (size_t)rows * n * sizeof(float));
}

// Rows r0 .. r0+rows−1 of C += alpha·Z·op(W) (Z: N×k, its chunk at row r0), added into Cc.
// A short last chunk's rows come from its S-row window Zw (S×k, chunk_rows' win): the
// window's product, then its last rows added, as a full chunk's product with beta 1 adds C
// after scaling. Holds S×n floats while a short chunk's runs.
static void chunk_rows_add(char tw, const float *Z, const float *Zw, int k, const float *W, int n, float alpha, int r0,
                           int rows, float *Cc) {
    const int S = MM_SPLIT_ROWS;
    int ldw = tw == 'T' ? k : n;
    if (rows == S) { gemm_f32('N', tw, S, n, k, alpha, Z + (size_t)r0 * k, k, W, ldw, 1.0f, Cc, n); return; }
    float *t = xmalloc((size_t)S * n * sizeof(float));
    gemm_f32('N', tw, S, n, k, alpha, Zw, k, W, ldw, 0.0f, t, n);
    const float *u = t + (size_t)(S - rows) * n;
    for (size_t i = 0; i < (size_t)rows * n; i++) Cc[i] += u[i];
    free(t);
}

// Y += scale·(X·Aᵀ)·Bᵀ by row chunks: U first, then the update. With W0 (the bf16 mode, for
// lb_forward_w0), the pass that reads a chunk of X for U also rounds it, and the base product
// Y = bf16(X)·W0ᵀ runs between the two loops, so X is read once for both (not again by the
// product's own rounding).
static void lb_forward_chunked(LoraBranch *lb, Linear *L, const Param *W0, const float *X, float *Y, int N, int nc) {
    const int S = MM_SPLIT_ROWS;
    int r = lb->A->shape[0], in = L->in, out = L->out;
    size_t bytes = ((size_t)N * r + (size_t)S * r) * sizeof(float), xb = W0 ? (size_t)N * in * sizeof(uint16_t) : 0;
    float *U = xmalloc(bytes), *win = U + (size_t)N * r; // win: a short chunk's window of U
    uint16_t *Xb = W0 ? bf16mm_act_buf((size_t)N * in) : NULL;
    mem_transient(&L->mem, bytes + xb + (N % S ? (size_t)S * out * sizeof(float) : 0));
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < nc; c++) {
        int r0 = c * S, rows = N - r0 < S ? N - r0 : S;
        chunk_rows('T', X, N, in, lb->A->data, r, 1.0f, r0, rows, U + (size_t)r0 * r, win);
        if (Xb) bf16mm_round(X + (size_t)r0 * in, Xb + (size_t)r0 * in, (size_t)rows * in);
    }
    if (W0) bf16mm_xwt_rounded(Xb, param_bf16(W0), L->bf16_packed, Y, N, in, out);
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < nc; c++) {
        int r0 = c * S, rows = N - r0 < S ? N - r0 : S;
        chunk_rows_add('T', U, win, r, lb->B->data, out, lb->scale, r0, rows, Y + (size_t)r0 * out);
    }
    free(U);
}

// The chunked branch applies: no dropout, and rows enough to split.
static int lb_fwd_chunks(const LoraBranch *lb, const Linear *L, int N) {
    return lb->dropout > 0 && L->training ? 0 : mm_split_chunks(N, 0);
}

void lb_forward_w0(LoraBranch *lb, Linear *L, const Param *W0, const float *X, float *Y, int N) {
    int nc = bf16mm_on() ? lb_fwd_chunks(lb, L, N) : 0;
    if (nc) { lb_forward_chunked(lb, L, W0, X, Y, N, nc); return; }
    w0_forward(W0, L, X, Y, N);
    lb_forward(lb, L, X, Y, N);
}

void lb_forward(LoraBranch *lb, Linear *L, const float *X, float *Y, int N) {
    int r = lb->A->shape[0], in = L->in, out = L->out;
    int nc = lb_fwd_chunks(lb, L, N);
    if (nc) { lb_forward_chunked(lb, L, NULL, X, Y, N, nc); return; }
    float *Xd = NULL;
    if (lb->dropout > 0 && L->training) {
        rng_seed(&lb->drop_state, rng_u64(lb->rng)); // one draw per call keeps streams cheap
        Xd = lb_dropped(lb, L, X, N, lb->drop_state);
    }
    float *U = xmalloc((size_t)N * r * sizeof(float));
    mem_transient(&L->mem, ((size_t)N * r + (Xd ? (size_t)N * in : 0)) * sizeof(float));
    mm_xwt(Xd ? Xd : X, lb->A->data, U, N, in, r, 0.0f);
    free(Xd);
    gemm_f32('N', 'T', N, out, r, lb->scale, U, r, lb->B->data, r, 1.0f, Y, out);
    free(U);
}

// dB += scale·dYᵀ·U, dA += dUᵀ·X (dU = scale·dY·B), then dX += dU·A, by row chunks. With W0
// (the bf16 mode, lb_backward_w0) the first loop also rounds dY and the base product
// dX += bf16(dY)·W0 runs before the second, which keeps dX's order of addition (base, then
// branch) while dY is read once for both.
static void lb_backward_chunked(LoraBranch *lb, Linear *L, const Param *W0, const float *X, const float *dY, float *dX,
                                int N, int nc) {
    const int S = MM_SPLIT_ROWS;
    int r = lb->A->shape[0], in = L->in, out = L->out;
    size_t nB = (size_t)out * r, nA = (size_t)r * in, db = W0 && dX ? (size_t)N * out * sizeof(uint16_t) : 0;
    size_t bytes = ((size_t)2 * N * r + (size_t)nc * (nA + nB) + (size_t)2 * S * r) * sizeof(float);
    float *U = xmalloc(bytes), *dU = U + (size_t)N * r, *pB = dU + (size_t)N * r, *pA = pB + (size_t)nc * nB;
    float *win = pA + (size_t)nc * nA; // [2][S×r]: a short chunk's windows of U and dU
    uint16_t *dYb = db ? bf16mm_act_buf((size_t)N * out) : NULL;
    mem_transient(&L->mem, bytes + db + (dX && N % S ? (size_t)S * in * sizeof(float) : 0));
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < nc; c++) {
        int r0 = c * S, rows = N - r0 < S ? N - r0 : S;
        const float *Xc = X + (size_t)r0 * in, *dYc = dY + (size_t)r0 * out;
        float *Uc = U + (size_t)r0 * r, *dUc = dU + (size_t)r0 * r;
        chunk_rows('T', X, N, in, lb->A->data, r, 1.0f, r0, rows, Uc, win); // U = X·Aᵀ
        chunk_rows('N', dY, N, out, lb->B->data, r, lb->scale, r0, rows, dUc, win + (size_t)S * r);
        gemm_f32('T', 'N', out, r, rows, lb->scale, dYc, out, Uc, r, 0.0f, pB + c * nB, r); // scale·dYᵀ·U
        gemm_f32('T', 'N', r, in, rows, 1.0f, dUc, r, Xc, in, 0.0f, pA + c * nA, in); // dUᵀ·X
        if (dYb) bf16mm_round(dYc, dYb + (size_t)r0 * out, (size_t)rows * out);
    }
    mm_split_sum(pB, nc, nB, lb->B->grad, 1.0f);
    mm_split_sum(pA, nc, nA, lb->A->grad, 1.0f);
    if (dYb) bf16mm_dyw_rounded(dYb, param_bf16(W0), L->bf16_packed, dX, N, out, in);
    if (dX) {
        #pragma omp parallel for schedule(static)
        for (int c = 0; c < nc; c++) {
            int r0 = c * S, rows = N - r0 < S ? N - r0 : S;
            chunk_rows_add('N', dU, win + (size_t)S * r, r, lb->A->data, in, 1.0f, r0, rows, dX + (size_t)r0 * in);
        }
    }
    free(U);
}

// The chunked backward applies: no dropout, and both factors' gradients small enough to split.
static int lb_bwd_chunks(const LoraBranch *lb, const Linear *L, int N) {
    int r = lb->A->shape[0];
    return lb->dropout > 0 && L->training ? 0 : mm_split_chunks(N, (size_t)r * (L->out > L->in ? L->out : L->in));
}

void lb_backward_w0(LoraBranch *lb, Linear *L, const Param *W0, const float *X, const float *dY, float *dX, int N) {
    int nc = bf16mm_on() ? lb_bwd_chunks(lb, L, N) : 0;
    if (nc) { lb_backward_chunked(lb, L, W0, X, dY, dX, N, nc); return; }
    if (dX) w0_backward_dx(W0, L, dY, dX, N);
    lb_backward(lb, L, X, dY, dX, N);
}

void lb_backward(LoraBranch *lb, Linear *L, const float *X, const float *dY, float *dX, int N) {
    int r = lb->A->shape[0], in = L->in, out = L->out;
    int nc = lb_bwd_chunks(lb, L, N);
    if (nc) { lb_backward_chunked(lb, L, NULL, X, dY, dX, N, nc); return; }
    float *Xd = (lb->dropout > 0 && L->training) ? lb_dropped(lb, L, X, N, lb->drop_state) : NULL;
    // U = drop(X)·Aᵀ again (N×r: cheaper to recompute than to keep per layer);
    // dB += scale·dYᵀ·U ; dU = scale·dY·B ; dA += dUᵀ·drop(X) ; dX += dU·A (through the mask)
    float *U = xmalloc((size_t)2 * N * r * sizeof(float)), *dU = U + (size_t)N * r;
    mem_transient(&L->mem, ((size_t)2 * N * r + (Xd ? (size_t)2 * N * in : 0)) * sizeof(float));
    mm_xwt(Xd ? Xd : X, lb->A->data, U, N, in, r, 0.0f);
    mm_dytx(dY, U, lb->B->grad, N, out, r, lb->scale, 1.0f);
    gemm_f32('N', 'N', N, r, out, lb->scale, dY, out, lb->B->data, r, 0.0f, dU, r);
    mm_dytx(dU, Xd ? Xd : X, lb->A->grad, N, r, in, 1.0f, 1.0f);
    if (dX) {
        if (Xd) {
            float *t = xmalloc((size_t)N * in * sizeof(float));
            mm_dyw(dU, lb->A->data, t, N, r, in, 0.0f);
            float keep = 1.0f - lb->dropout;
            Rng st = lb->drop_state;
            for (size_t i = 0; i < (size_t)N * in; i++) if (rng_uniform(&st) < keep) dX[i] += t[i] / keep;
            free(t);
        } else {
            mm_dyw(dU, lb->A->data, dX, N, r, in, 1.0f);
        }
    }
    free(U);
    free(Xd);
}

void lb_free(LoraBranch *lb) {
    param_free(lb->A); param_free(lb->B);
    free(lb->A); free(lb->B);
    memset(lb, 0, sizeof *lb);
}

void lb_deploy(const LoraBranch *lb, Deploy *d) {
    d->rank = lb->A->shape[0];
    d->lora_scale = lb->scale;
    d->lora_A = memcpy(xmalloc(lb->A->n * sizeof(float)), lb->A->data, lb->A->n * sizeof(float));
    d->lora_B = memcpy(xmalloc(lb->B->n * sizeof(float)), lb->B->data, lb->B->n * sizeof(float));
}

void lb_merge(const LoraBranch *lb, float *W, int out, int in) {
    int r = lb->A->shape[0];
    gemm_f32('N', 'N', out, in, r, lb->scale, lb->B->data, r, lb->A->data, in, 1.0f, W, in);
}

// ---- the `lora` method ------------------------------------------------------------------
typedef struct { Linear base; const Param *W0; LoraBranch lb; } LoraLinear;

// W0 + scale·B·A, freshly allocated (out×in).
static float *lora_merged(LoraLinear *l) {
    size_t n = (size_t)l->base.out * l->base.in;
    float *W = xmalloc(n * sizeof(float));
    param_rows(l->W0, 0, l->base.out, W);
    lb_merge(&l->lb, W, l->base.out, l->base.in);
    return W;
}

// When the batch has at least as many rows as the weight has rows and columns, one
// product with the merged weight is cheaper than the base product plus the rank-r update
// of Y (forward) and dX (backward): each update reads and writes an N×out or N×in matrix
// with only r multiply-adds per element, while merging costs out·in·r once. Not with
// dropout in training, where the branch sees a different input than the base. Nor in the
// bf16 mode (bf16mm.h), whose products with the frozen W0 run bf16 at about twice the fp32
// rate: a merged weight holds trainable values and stays fp32.
static int lora_merge_pays(const LoraLinear *l, int N) {
    return !bf16mm_on() && (l->lb.dropout == 0 || !l->base.training) && l->base.out <= N && l->base.in <= N;
}

static void lora_forward(Linear *L, const float *X, float *Y, int N) {
    LoraLinear *l = (LoraLinear *)L;
    if (lora_merge_pays(l, N)) {
        float *W = lora_merged(l);
        mem_transient(&L->mem, (size_t)L->out * L->in * sizeof(float));
        mm_xwt(X, W, Y, N, L->in, L->out, 0.0f);
        free(W);
        return;
    }
    lb_forward_w0(&l->lb, L, l->W0, X, Y, N);
}
static void lora_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    LoraLinear *l = (LoraLinear *)L;
    if (lora_merge_pays(l, N)) {
        if (dX) {
            float *W = lora_merged(l);
            mm_dyw(dY, W, dX, N, L->out, L->in, 1.0f);
            free(W);
        }
        lb_backward(&l->lb, L, X, dY, NULL, N); // dA, dB
        return;
    }
    lb_backward_w0(&l->lb, L, l->W0, X, dY, dX, N);
}
static void lora_deploy(Linear *L, Deploy *d) {
    LoraLinear *l = (LoraLinear *)L;
    if (l->W0->dtype == DT_F32) { deploy_fp32(d, L->out, L->in, lora_merged(l)); return; }
    deploy_half(d, L->out, L->in, l->W0->dtype, l->W0->half); // borrowed: the base is frozen
    lb_deploy(&l->lb, d);
}
static void lora_free(Linear *L) {
    LoraLinear *l = (LoraLinear *)L;
    lb_free(&l->lb);
    free(l);
}
static const LinearOps LORA_OPS = {.name = "lora", .forward = lora_forward, .backward = lora_backward, .deploy = lora_deploy, .free = lora_free};

static Linear *lora_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    LoraLinear *l = linear_alloc(sizeof *l, &LORA_OPS, W->shape[0], W->shape[1], name);
    l->base.form = W->dtype == DT_BF16 ? "bf16&fp" : W->dtype == DT_F16 ? "f16&fp" : "fp32";
    l->W0 = W;
    w0_account(&l->base.mem, W);
    lb_init(&l->lb, &l->base, m, name, rng);
    return &l->base;
}

const MethodEntry LORA_METHOD = {.name = "lora", .build = lora_build, .keys = LORA_KEYS, .takes_w0_16bit = 1};
