// deploy.c — everything about the deployed form (core/deploy.h) that is not a quantizer:
// its life cycle, dequantization, the LoRA merge, the row-tiled products (also those of a
// 16-bit frozen W0: w0_forward) and the inference-only layers built from it (what `--model FILE.l4qz` runs on):
//
//   DEP_FP32             Y = X·Wᵀ
//   DEP_UNIFORM, DEP_NF4 Y = X·Wqᵀ (+ α·(X·Aᵀ)·Bᵀ when a LoRA side branch is present, "n&fp"),
//                        Wq dequantized a row tile at a time into a small buffer — the fp32
//                        weight never exists whole, so the layer holds only the packed form.
//   DEP_F16, DEP_BF16    the same with W0 widened a tile at a time (w0_tile_rows), "bf16&fp".
//
// An inference layer borrows its Deploy: it belongs to the ModelFile, which outlives the
// Model built from it. backward is an internal error: these layers have nothing to train.
#include "bf16mm.h"
#include "linear.h"
#include "half.h"
#include "nf4.h"
#include "quant.h"
#include "util.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- life cycle ----------------------------------------------------------------------------

void deploy_fp32(Deploy *d, int out, int in, float *w) {
    memset(d, 0, sizeof *d);
    d->kind = DEP_FP32; d->out = out; d->in = in;
    d->w = w;
}
void deploy_fp32_copy(Deploy *d, int out, int in, const float *w) {
    size_t n = (size_t)out * in * sizeof(float);
    deploy_fp32(d, out, in, memcpy(xmalloc(n), w, n));
}

void deploy_half(Deploy *d, int out, int in, int dtype, const uint16_t *h) {
    memset(d, 0, sizeof *d);
    d->kind = dtype == DT_BF16 ? DEP_BF16 : DEP_F16; d->out = out; d->in = in;
    d->h = h;
}

void deploy_free(Deploy *d) {
    if (!d) return;
    free(d->h_own); free(d->w); free(d->codes); free(d->scale); free(d->offset);
    free(d->absmax_q); free(d->absmax_scale); free(d->lora_A); free(d->lora_B);
    memset(d, 0, sizeof *d);
}

static void *dup_bytes(const void *p, size_t n) { return p ? memcpy(xmalloc(n), p, n) : NULL; }

void deploy_copy(Deploy *dst, const Deploy *s) {
    *dst = *s;
    size_t n = (size_t)s->out * s->in, F = sizeof(float);
    dst->w = dup_bytes(s->w, n * F);
    dst->h = dst->h_own = deploy_is_half(s) ? dup_bytes(s->h, n * sizeof(uint16_t)) : NULL;
    dst->codes = dup_bytes(s->codes, s->codes_bytes);
    if (s->kind == DEP_UNIFORM) {
        dst->scale = dup_bytes(s->scale, deploy_nparams(s) * F);
        dst->offset = dup_bytes(s->offset, deploy_nparams(s) * F);
    } else {
        dst->scale = dst->offset = NULL;
    }
    dst->absmax_q = s->kind == DEP_NF4 ? dup_bytes(s->absmax_q, nf4_blocks(n)) : NULL;
    dst->absmax_scale = s->kind == DEP_NF4 ? dup_bytes(s->absmax_scale, nf4_scales(n) * F) : NULL;
    dst->lora_A = s->rank > 0 ? dup_bytes(s->lora_A, (size_t)s->rank * s->in * F) : NULL;
    dst->lora_B = s->rank > 0 ? dup_bytes(s->lora_B, (size_t)s->out * s->rank * F) : NULL;
}

size_t deploy_bytes(const Deploy *d) {
    size_t n = (size_t)d->out * d->in;
    if (d->kind == DEP_FP32) return n * sizeof(float);
    if (deploy_is_half(d)) return n * sizeof(uint16_t);
    if (d->kind == DEP_NF4) return d->codes_bytes + nf4_blocks(n) + nf4_scales(n) * sizeof(float) + sizeof(float);
    return d->codes_bytes + 2 * deploy_nparams(d) * sizeof(float);
}

void deploy_rows(const Deploy *d, int r0, int t, float *Wt) {
    if (d->kind == DEP_FP32)
        memcpy(Wt, d->w + (size_t)r0 * d->in, (size_t)t * d->in * sizeof(float));
    else if (deploy_is_half(d))
        half_to_f32(deploy_half_dtype(d), d->h + (size_t)r0 * d->in, Wt, (size_t)t * d->in);
    else if (d->kind == DEP_UNIFORM)
        quant_dequant_rows(d->codes, d->scale, d->offset, d->bits, deploy_group(d), d->in, r0, t, Wt);
    else
        nf4_dequant_rows(d, r0, t, Wt);
}

float *deploy_dequant(const Deploy *d) {
    size_t n = (size_t)d->out * d->in;
    float *W = xmalloc(n * sizeof(float));
    deploy_rows(d, 0, d->out, W);
    if (d->rank > 0) // fold the side branch: W += scale·B·A
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d->out, d->in, d->rank, d->lora_scale, d->lora_B,
                    d->rank, d->lora_A, d->in, 1.0f, W, d->in);
    return W;
}

void deploy_merge_lora(Deploy *d) {
    if (d->rank <= 0 || !d->lora_A || !d->lora_B) return;
    int out = d->out, in = d->in, r = d->rank;
    float *W = d->kind == DEP_FP32 ? d->w : xmalloc((size_t)out * in * sizeof(float)); // export-time only
    if (d->kind != DEP_FP32) deploy_rows(d, 0, out, W);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, in, r, d->lora_scale, d->lora_B, r, d->lora_A, in, 1.0f, W, in);
    free(d->lora_A); free(d->lora_B);
    d->lora_A = d->lora_B = NULL;
    d->rank = 0;
    d->lora_scale = 0;
    if (d->kind == DEP_FP32) return;
    Deploy nd;
    if (deploy_is_half(d)) { // the same 16-bit type, rounded to nearest even; owned from now on
        uint16_t *h = xmalloc((size_t)out * in * sizeof(uint16_t));
        f32_to_half(deploy_half_dtype(d), W, h, (size_t)out * in);
        deploy_half(&nd, out, in, deploy_half_dtype(d), h);
        nd.h_own = h;
    } else if (d->kind == DEP_NF4) nf4_quantize(W, out, in, &nd);
    else quant_deploy_rtn(&nd, W, out, in, d->bits, d->group_size);
    free(W);
    deploy_free(d);
    *d = nd;
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
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, t, in, 1.0f, A, in, Wt, in, 0.0f, C + r0, out);
        else // dX += dY[:, r0:r0+t]·Wt
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, t, 1.0f, A + r0, out, Wt, in, 1.0f, C, in);
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

void w0_forward(const Param *W, Linear *L, const float *X, float *Y, int N) {
    if (bf16mm_on()) { size_t b; bf16mm_xwt(X, param_bf16(W), Y, N, L->in, L->out, &b); bf16_transient(L, b); return; }
    if (W->dtype == DT_F32) { mm_xwt(X, W->data, Y, N, L->in, L->out, 0.0f); return; }
    tiled_product(param_rows_src, W, L->out, L->in, w0_tile_rows(L->out, L->in), L, X, Y, N, 0);
}

void w0_backward_dx(const Param *W, Linear *L, const float *dY, float *dX, int N) {
    if (bf16mm_on()) { size_t b; bf16mm_dyw(dY, param_bf16(W), dX, N, L->out, L->in, &b); bf16_transient(L, b); return; }
    if (W->dtype == DT_F32) { mm_dyw(dY, W->data, dX, N, L->out, L->in, 1.0f); return; }
    tiled_product(param_rows_src, W, L->out, L->in, w0_tile_rows(L->out, L->in), L, dY, dX, N, 1);
}

void deploy_branch_forward(const Deploy *d, Linear *L, const float *X, float *Y, int N) {
    if (d->rank <= 0) return;
    int r = d->rank, in = L->in, out = L->out;
    float *U = xmalloc((size_t)N * r * sizeof(float));
    mem_transient(&L->mem, (size_t)N * r * sizeof(float));
    mm_xwt(X, d->lora_A, U, N, in, r, 0.0f);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, r, d->lora_scale, U, r, d->lora_B, r, 1.0f, Y, out);
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
        bf16mm_xwt(X, l->wb, Y, N, L->in, L->out, &b);
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
        + (d->kind != DEP_FP32 && d->rank > 0 ? (size_t)d->rank * (d->in + d->out) * sizeof(float) : 0);
    return &l->base;
}
