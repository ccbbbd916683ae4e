// deploy.c — the deployed form (core/deploy.h): its life cycle, dequantization (a row tile
// at a time, for the products in core/linear.c, or whole for fp32 exports), the LoRA merge,
// and the constructors of the quantized kinds around the element-level quantizers
// (core/quant.c, core/nf4.c). Nothing here knows a layer.
#include "deploy.h"
#include "gemm.h"
#include "half.h"
#include "util.h"
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
        gemm_f32('N', 'N', d->out, d->in, d->rank, d->lora_scale, d->lora_B,
                    d->rank, d->lora_A, d->in, 1.0f, W, d->in);
    return W;
}

void deploy_merge_lora(Deploy *d) {
    if (d->rank <= 0 || !d->lora_A || !d->lora_B) return;
    int out = d->out, in = d->in, r = d->rank;
    float *W = d->kind == DEP_FP32 ? d->w : xmalloc((size_t)out * in * sizeof(float)); // export-time only
    if (d->kind != DEP_FP32) deploy_rows(d, 0, out, W);
    gemm_f32('N', 'N', out, in, r, d->lora_scale, d->lora_B, r, d->lora_A, in, 1.0f, W, in);
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

// ---- the quantized kinds ---------------------------------------------------------------------

void quant_deploy_alloc(const QuantSpec *q, Deploy *d) {
    memset(d, 0, sizeof *d);
    d->kind = DEP_UNIFORM; d->out = q->out; d->in = q->in;
    d->bits = q->bits; d->group_size = q->gs;
    d->codes_bytes = quant_codes_bytes(q);
    d->codes = xmalloc(d->codes_bytes);
    d->scale = xmalloc(quant_nparams(q) * sizeof(float));
    d->offset = xmalloc(quant_nparams(q) * sizeof(float));
}

void quant_deploy(const QuantSpec *q, const float *W, const float *s, const float *b, Deploy *d) {
    quant_deploy_alloc(q, d);
    size_t np = quant_nparams(q);
    for (size_t k = 0; k < np; k++) d->scale[k] = quant_safe_scale(s[k]);
    memcpy(d->offset, b, np * sizeof(float));
    quant_encode(q, W, d->scale, d->offset, d->codes);
}

void quant_deploy_rtn(Deploy *d, const float *W, int out, int in, int bits, int group_size) {
    QuantSpec q;
    quant_spec(&q, bits, group_size, out, in);
    quant_deploy_alloc(&q, d);
    quant_rtn(&q, W, d->scale, d->offset, d->codes);
}

void nf4_quantize(const float *W, int out, int in, Deploy *d) {
    size_t n = (size_t)out * in;
    memset(d, 0, sizeof *d);
    d->kind = DEP_NF4; d->out = out; d->in = in; d->bits = 4;
    d->codes_bytes = nf4_codes_bytes(n);
    d->codes = xcalloc(d->codes_bytes, 1);
    d->absmax_q = xmalloc(nf4_blocks(n));
    d->absmax_scale = xmalloc(nf4_scales(n) * sizeof(float));
    d->absmax_mean = nf4_encode(W, n, d->codes, d->absmax_q, d->absmax_scale);
}

void nf4_dequant_rows(const Deploy *d, int r0, int nrows, float *out) {
    nf4_decode(d->codes, d->absmax_q, d->absmax_scale, d->absmax_mean, (size_t)r0 * d->in, (size_t)nrows * d->in, out);
}

double nf4_bits_per_weight(const Deploy *d) {
    size_t n = (size_t)d->out * d->in;
    return (double)(8 * d->codes_bytes + 8 * nf4_blocks(n) + 32 * nf4_scales(n) + 32) / (double)n;
}
