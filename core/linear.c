// linear.c — the seam's shared pieces (core/linear.h): the layer struct's life cycle, the
// memory account, the row-major sgemm helpers every method uses, the row-tiled products on
// a frozen W0 or a deployed form, and the inference-only layers built from a deployed form
// (what `--model FILE.l4qz` runs on):
//
//   DEP_FP32             Y = X·Wᵀ
//   DEP_UNIFORM, DEP_NF4 Y = X·Wqᵀ (+ α·(X·Aᵀ)·Bᵀ when a LoRA side branch is present, "n&fp"),
//                        Wq dequantized a row tile at a time into a small buffer — the fp32
//                        weight never exists whole, so the layer holds only the packed form.
//   DEP_F16, DEP_BF16    the same with W0 widened a tile at a time (w0_tile_rows), "bf16&fp".
//
// An inference layer borrows its Deploy: it belongs to the ModelFile, which outlives the
// Model built from it. backward is an internal error: these layers have nothing to train.
// Building a layer by method name is the registry's (core/methods.c: linear_build).
#include "linear.h"
#include "bf16mm.h"
#include "gemm.h"
#include "half.h"
#include "nf4.h"
#include "quant.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const PROJ_NAMES[N_PROJ] = {"q", "k", "v", "o", "gate", "up", "down", "head"};

void mm_xwt(const float *X, const float *W, float *Y, int N, int in, int out, float beta) {
    gemm_f32('N', 'T', N, out, in, 1.0f, X, in, W, in, beta, Y, out);
}
void mm_dyw(const float *dY, const float *W, float *dX, int N, int out, int in, float beta) {
    gemm_f32('N', 'N', N, in, out, 1.0f, dY, out, W, in, beta, dX, in);
}
// A small dW summed over many tokens (a LoRA factor's gradient, r×in or out×r over N = 8192
// rows; L4Q's 288×288 G tile) has too little output to divide among threads, and splitting
// its reduction instead would make its bits depend on the thread count (OpenBLAS ran these
// at a few GFLOP/s). Such a product is cut here into fixed MM_SPLIT_ROWS-row chunks, each
// chunk's partial product computed single-threaded inside the parallel loop (both gemm_f32
// libraries run serially inside an OpenMP region) and the partials added in chunk order:
// the same bits for any thread count. Measured 5-7x faster on the LoRA factors' shapes.
#define MM_SPLIT_MAX_OUT (1 << 17) // dW elements (288×288 splits: 3-4x): beyond, the output divides well
int mm_split_chunks(int N, size_t n) {
    int nc = (N + MM_SPLIT_ROWS - 1) / MM_SPLIT_ROWS;
    return nc < 2 || n > MM_SPLIT_MAX_OUT ? 0 : nc;
}
void mm_split_sum(float *part, int nc, size_t n, float *dW, float beta) {
    for (int c = 1; c < nc; c++)
        for (size_t i = 0; i < n; i++) part[i] += part[(size_t)c * n + i];
    if (beta == 0.0f) memcpy(dW, part, n * sizeof(float));
    else for (size_t i = 0; i < n; i++) dW[i] = beta * dW[i] + part[i];
}
void mm_dytx_ld(const float *dY, int ldy, const float *X, float *dW, int N, int out, int in, float alpha, float beta) {
    size_t n = (size_t)out * in;
    int nc = mm_split_chunks(N, n);
    if (!nc) {
        gemm_f32('T', 'N', out, in, N, alpha, dY, ldy, X, in, beta, dW, in);
        return;
    }
    float *part = xmalloc((size_t)nc * n * sizeof(float)); // [nc][out×in]
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < nc; c++) {
        int r0 = c * MM_SPLIT_ROWS, rows = N - r0 < MM_SPLIT_ROWS ? N - r0 : MM_SPLIT_ROWS;
        gemm_f32('T', 'N', out, in, rows, alpha, dY + (size_t)r0 * ldy, ldy,
                    X + (size_t)r0 * in, in, 0.0f, part + (size_t)c * n, in);
    }
    mm_split_sum(part, nc, n, dW, beta);
    free(part);
}
void mm_dytx(const float *dY, const float *X, float *dW, int N, int out, int in, float alpha, float beta) {
    mm_dytx_ld(dY, out, X, dW, N, out, in, alpha, beta);
}

void mem_add(MemAccount *a, const MemAccount *m) {
    a->weight_bytes += m->weight_bytes;
    a->trainable_bytes += m->trainable_bytes;
    a->grad_opt_bytes += m->grad_opt_bytes;
    a->saved_bytes += m->saved_bytes;
    a->pack_bytes += m->pack_bytes;
    if (m->transient_peak > a->transient_peak) a->transient_peak = m->transient_peak;
}

void linear_free(Linear *L) {
    if (!L) return;
    bf16mm_packed_free(L->bf16_packed);
    L->ops->free(L);
}

void *linear_alloc(size_t size, const LinearOps *ops, int out, int in, const char *name) {
    Linear *L = xcalloc(1, size);
    L->ops = ops;
    L->out = out; L->in = in;
    snprintf(L->name, sizeof L->name, "%s", name);
    return L;
}

// ---- products ------------------------------------------------------------------------------

// Rows per dequantized tile: about 64 KiB of floats keeps the tile in L2 while still
// giving sgemm a reasonably wide product.
#define DEP_TILE_FLOATS (16 * 1024)

int deploy_tile_rows(int out, int in) {
    int t = DEP_TILE_FLOATS / in;
    return t < 1 ? 1 : t > out ? out : t;
}

// The row-tile loop every tiled product shares: fill a tile of W (rows(src, r0, t, Wt)),
// then one sgemm with it — forward Y = X·Wᵀ, backward dX += dY·W.
typedef void (*RowSource)(const void *src, int r0, int t, float *Wt);
static void tiled_product(RowSource rows, const void *src, int out, int in, int tile, Linear *L,
                          const float *A, float *C, int N, int backward) {
    float *Wt = xmalloc((size_t)tile * in * sizeof(float));
    mem_transient(&L->mem, (size_t)tile * in * sizeof(float));
    for (int r0 = 0; r0 < out; r0 += tile) {
        int t = out - r0 < tile ? out - r0 : tile;
        rows(src, r0, t, Wt);
        if (!backward) // Y[:, r0:r0+t] = X·Wtᵀ (ldc = out writes the tile's columns in place)
            gemm_f32('N', 'T', N, t, in, 1.0f, A, in, Wt, in, 0.0f, C + r0, out);
        else // dX += dY[:, r0:r0+t]·Wt
            gemm_f32('N', 'N', N, in, t, 1.0f, A + r0, out, Wt, in, 1.0f, C, in);
    }
    free(Wt);
}

static void deploy_rows_src(const void *d, int r0, int t, float *Wt) { deploy_rows(d, r0, t, Wt); }

// A 16-bit form is widened in w0_forward's tall tiles (below): a copy, not a dequantization.
static int form_tile_rows(const Deploy *d) {
    return deploy_is_half(d) ? w0_tile_rows(d->out, d->in) : deploy_tile_rows(d->out, d->in);
}

void deploy_forward(const Deploy *d, Linear *L, const float *X, float *Y, int N) {
    tiled_product(deploy_rows_src, d, d->out, d->in, form_tile_rows(d), L, X, Y, N, 0);
}

void deploy_backward_dx(const Deploy *d, Linear *L, const float *dY, float *dX, int N) {
    tiled_product(deploy_rows_src, d, d->out, d->in, form_tile_rows(d), L, dY, dX, N, 1);
}

// A 16-bit frozen weight is widened in tiles of about 8 MiB of floats: a training batch
// (hundreds of rows) repacks X for every tile, so the tiles are far taller than the
// dequantized ones above (512 rows of a 4096-wide LLaMA-7B projection); a model whose
// weight fits in one tile runs the very sgemm call the fp32 weight would.
#define WIDEN_TILE_FLOATS ((size_t)2 << 20)
int w0_tile_rows(int out, int in) {
    size_t t = WIDEN_TILE_FLOATS / (size_t)in;
    return t < 1 ? 1 : t > (size_t)out ? out : (int)t;
}
static void param_rows_src(const void *W, int r0, int t, float *Wt) { param_rows(W, r0, t, Wt); }

// The bf16 mode (bf16mm.h): the whole W0 as bf16 (a 16-bit W0's own storage, else a copy
// rounded once), X rounded per call; fp32 accumulation.
static void bf16_transient(Linear *L, size_t b) { mem_transient(&L->mem, b); }

void w0_account(MemAccount *m, const Param *W) {
    m->weight_bytes = param_bytes(W) + (bf16mm_on() && W->dtype != DT_BF16 ? W->n * sizeof(uint16_t) : 0);
    m->pack_bytes = bf16mm_on() ? bf16mm_pack_bytes(W->shape[0], W->shape[1]) : 0;
}

void w0_forward(const Param *W, Linear *L, const float *X, float *Y, int N) {
    if (bf16mm_on()) { size_t b; bf16mm_xwt(X, param_bf16(W), L->bf16_packed, Y, N, L->in, L->out, &b); bf16_transient(L, b); return; }
    if (W->dtype == DT_F32) { mm_xwt(X, W->data, Y, N, L->in, L->out, 0.0f); return; }
    tiled_product(param_rows_src, W, L->out, L->in, w0_tile_rows(L->out, L->in), L, X, Y, N, 0);
}

void w0_backward_dx(const Param *W, Linear *L, const float *dY, float *dX, int N) {
    if (bf16mm_on()) { size_t b; bf16mm_dyw(dY, param_bf16(W), L->bf16_packed, dX, N, L->out, L->in, &b); bf16_transient(L, b); return; }
    if (W->dtype == DT_F32) { mm_dyw(dY, W->data, dX, N, L->out, L->in, 1.0f); return; }
    tiled_product(param_rows_src, W, L->out, L->in, w0_tile_rows(L->out, L->in), L, dY, dX, N, 1);
}

void deploy_branch_forward(const Deploy *d, Linear *L, const float *X, float *Y, int N) {
    if (d->rank <= 0) return;
    int r = d->rank, in = L->in, out = L->out;
    float *U = xmalloc((size_t)N * r * sizeof(float));
    mem_transient(&L->mem, (size_t)N * r * sizeof(float));
    mm_xwt(X, d->lora_A, U, N, in, r, 0.0f);
    gemm_f32('N', 'T', N, out, r, d->lora_scale, U, r, d->lora_B, r, 1.0f, Y, out);
    free(U);
}

// ---- inference layers ----------------------------------------------------------------------

typedef struct {
    Linear base;
    const Deploy *d;
    uint16_t *wb; // the bf16 mode's copy of an fp32 deployed weight, made on first use
} DeployedLinear;

static void dep_fp32_forward(Linear *L, const float *X, float *Y, int N) {
    DeployedLinear *l = (DeployedLinear *)L;
    if (bf16mm_on()) {
        size_t n = (size_t)L->out * L->in, b;
        if (!l->wb) f32_to_half(DT_BF16, l->d->w, l->wb = xmalloc(n * sizeof(uint16_t)), n);
        bf16mm_xwt(X, l->wb, L->bf16_packed, Y, N, L->in, L->out, &b);
        bf16_transient(L, b);
        return;
    }
    mm_xwt(X, l->d->w, Y, N, L->in, L->out, 0.0f);
}
// Uniform and NF4: the tiled product plus the side branch.
static void dep_packed_forward(Linear *L, const float *X, float *Y, int N) {
    const Deploy *d = ((DeployedLinear *)L)->d;
    deploy_forward(d, L, X, Y, N);
    deploy_branch_forward(d, L, X, Y, N);
}
static void dep_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    (void)X; (void)dY; (void)dX; (void)N;
    die_internal("%s: deployed (inference-only) layer has no backward", L->name);
}
static void dep_free(Linear *L) { free(((DeployedLinear *)L)->wb); free(L); }
// Re-exporting a deployed model hands out a copy of the form it was loaded with.
static void dep_deploy(Linear *L, Deploy *out) { deploy_copy(out, ((DeployedLinear *)L)->d); }

static const LinearOps DEP_FP32_OPS = {
    .name = "deployed-fp32",
    .forward = dep_fp32_forward,
    .backward = dep_backward,
    .deploy = dep_deploy,
    .free = dep_free,
};
static const LinearOps DEP_UNIFORM_OPS = {
    .name = "deployed-uniform",
    .forward = dep_packed_forward,
    .backward = dep_backward,
    .deploy = dep_deploy,
    .free = dep_free,
};
static const LinearOps DEP_NF4_OPS = {.name = "deployed-nf4", .forward = dep_packed_forward, .backward = dep_backward, .free = dep_free};
static const LinearOps DEP_HALF_OPS = {
    .name = "deployed-16bit",
    .forward = dep_packed_forward,
    .backward = dep_backward,
    .deploy = dep_deploy,
    .free = dep_free,
};

// Checks the packed arrays, then the side branch; returns the layer's inference form label.
static const char *check_packed(const Deploy *d, const char *name) {
    int mixed = d->rank > 0;
    const char *form;
    if (deploy_is_half(d)) {
        if (!d->h) die_input("%s: 16-bit deployed weight has no data", name);
        form = d->kind == DEP_BF16 ? (mixed ? "bf16&fp" : "bf16") : (mixed ? "f16&fp" : "f16");
    } else if (d->kind == DEP_NF4) {
        size_t n = (size_t)d->out * d->in;
        if (!d->codes || d->codes_bytes != nf4_codes_bytes(n) || !d->absmax_q || !d->absmax_scale)
            die_input("%s: NF4 deployed weight is incomplete (%zu code bytes, expected %zu)", name, d->codes_bytes,
                      nf4_codes_bytes(n));
        if (!isfinite(d->absmax_mean)) die_input("%s: NF4 absmax mean is not finite", name);
        nf4_dq_code(); // builds the shared 8-bit map once, before parallel forwards read it
        form = mixed ? "nf4&fp" : "nf4";
    } else {
        // Validates bits and group size the same way training does (die_input on nonsense).
        QuantSpec q;
        quant_spec(&q, d->bits, d->group_size, d->out, d->in);
        if (!d->codes || !d->scale || !d->offset || d->codes_bytes != quant_codes_bytes(&q))
            die_input("%s: %d-bit deployed weight: codes hold %zu bytes, expected %zu", name, d->bits,
                      d->codes_bytes, quant_codes_bytes(&q));
        form = quant_form_name(d->bits, mixed);
    }
    if (d->rank < 0 || (mixed && (!d->lora_A || !d->lora_B)))
        die_input("%s: LoRA side branch of rank %d has no factors", name, d->rank);
    return form;
}

Linear *linear_from_deploy(const Deploy *d, const char *name) {
    if (d->kind != DEP_FP32 && d->kind != DEP_UNIFORM && d->kind != DEP_NF4 && !deploy_is_half(d))
        die_input("%s: unknown deployed weight kind %d", name, (int)d->kind);
    if (d->out <= 0 || d->in <= 0) die_input("%s: deployed weight has shape %d x %d", name, d->out, d->in);
    if (d->kind == DEP_FP32 && !d->w) die_input("%s: fp32 deployed weight has no data", name);
    const char *form = d->kind == DEP_FP32 ? "fp32" : check_packed(d, name);
    const LinearOps *ops = d->kind == DEP_FP32 ? &DEP_FP32_OPS : d->kind == DEP_UNIFORM ? &DEP_UNIFORM_OPS
                           : d->kind == DEP_NF4 ? &DEP_NF4_OPS : &DEP_HALF_OPS;
    DeployedLinear *l = linear_alloc(sizeof *l, ops, d->out, d->in, name);
    l->d = d;
    l->base.form = form;
    l->base.mem.weight_bytes = deploy_bytes(d)
        + (d->kind != DEP_FP32 && d->rank > 0 ? (size_t)d->rank * (d->in + d->out) * sizeof(float) : 0)
        + (d->kind == DEP_FP32 && bf16mm_on() ? (size_t)d->out * d->in * sizeof(uint16_t) : 0); // dep_fp32_forward's copy
    l->base.mem.pack_bytes = d->kind == DEP_FP32 && bf16mm_on() ? bf16mm_pack_bytes(d->out, d->in) : 0;
    return &l->base;
}
