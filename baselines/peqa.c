// peqa.c — PEQA (Kim et al., NeurIPS 2023): RTN-quantize W0, freeze the integer codes and
// the zero-points, train only the per-group scales. Fully quantized ("n").
//
// PEQA's form is Wq = s·(w̃ − z): the zero-point z lives on the integer grid and the scale
// multiplies the whole bracket, so the trained scale moves every level of the group,
// offset included. The harness's RTN (per-group asymmetric min-max, quant_rtn) gives
// Wq = s0·w̃ + b0 with a real offset, hence z = −b0/s0 (real-valued, frozen) and at
// initialization s0·(w̃ − z) = s0·w̃ + b0. (Freezing b instead would leave the offset
// behind when s changes; that is not PEQA.) Trainable: s (out×ng, no weight decay).
//
//   forward:  Y = X·Wqᵀ with Wq rows dequantized a tile at a time, offset = −s·z
//   backward: G = dYᵀ·X per row tile;  ds_g += Σ_{j∈g} G_j·(w̃_j − z_g);  dX += dY·Wq
// No straight-through estimator is involved: the codes are constants. deploy: DEP_UNIFORM
// with scale s and offset −s·z. Saved for backward: nothing beyond X.
#include "common.h"
#include "gemm.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    Linear base;
    QuantSpec q;
    uint8_t *codes;   // packed, frozen
    float *z;         // out×ng frozen zero-points
    Param *s;         // out×ng trained scales
    float *off;       // scratch out×ng: −s·z for the current s
} PeqaLinear;

static void peqa_offsets(PeqaLinear *l) {
    size_t np = quant_nparams(&l->q);
    for (size_t k = 0; k < np; k++) l->off[k] = -l->s->data[k] * l->z[k];
}

static void peqa_forward(Linear *L, const float *X, float *Y, int N) {
    PeqaLinear *l = (PeqaLinear *)L;
    int in = L->in, out = L->out, tile = deploy_tile_rows(out, in);
    peqa_offsets(l);
    float *Wt = xmalloc((size_t)tile * in * sizeof(float));
    mem_transient(&L->mem, (size_t)tile * in * sizeof(float));
    for (int r0 = 0; r0 < out; r0 += tile) {
        int t = out - r0 < tile ? out - r0 : tile;
        quant_dequant_rows(l->codes, l->s->data, l->off, l->q.bits, l->q.gs, in, r0, t, Wt);
        gemm_f32('N', 'T', N, t, in, 1.0f, X, in, Wt, in, 0.0f, Y + r0, out);
    }
    free(Wt);
}

static void peqa_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    PeqaLinear *l = (PeqaLinear *)L;
    int in = L->in, out = L->out, tile = deploy_tile_rows(out, in), ng = l->q.ng, gs = l->q.gs;
    size_t rb = deploy_row_bytes(l->q.bits, in);
    peqa_offsets(l);
    float *Wt = xmalloc((size_t)tile * in * sizeof(float)), *Gt = xmalloc((size_t)tile * in * sizeof(float));
    uint8_t *u = xmalloc((size_t)tile * in);
    mem_transient(&L->mem, (size_t)tile * in * (2 * sizeof(float) + 1));
    for (int r0 = 0; r0 < out; r0 += tile) {
        int t = out - r0 < tile ? out - r0 : tile;
        // G_tile = dY[:, r0:r0+t]ᵀ·X over all N tokens
        mm_dytx_ld(dY + r0, out, X, Gt, N, t, in, 1.0f, 0.0f);
        quant_unpack(l->codes + (size_t)r0 * rb, t, in, l->q.bits, u);
        #pragma omp parallel for schedule(static)
        for (int i = 0; i < t; i++) {
            int r = r0 + i;
            for (int g = 0; g < ng; g++) {
                size_t k = (size_t)r * ng + g;
                int j0 = g * gs, j1 = j0 + quant_group_len(&l->q, g);
                double acc = 0;
                for (int j = j0; j < j1; j++)
                    acc += (double)Gt[(size_t)i * in + j] * ((float)((int)u[(size_t)i * in + j] + l->q.qn) - l->z[k]);
                l->s->grad[k] += (float)acc;
            }
        }
        if (dX) {
            quant_dequant_rows(l->codes, l->s->data, l->off, l->q.bits, gs, in, r0, t, Wt);
            gemm_f32('N', 'N', N, in, t, 1.0f, dY + r0, out, Wt, in, 1.0f, dX, in);
        }
    }
    free(Wt); free(Gt); free(u);
}

static void peqa_deploy(Linear *L, Deploy *d) {
    PeqaLinear *l = (PeqaLinear *)L;
    size_t np = quant_nparams(&l->q);
    peqa_offsets(l);
    memset(d, 0, sizeof *d);
    d->kind = DEP_UNIFORM; d->out = L->out; d->in = L->in;
    d->bits = l->q.bits; d->group_size = l->q.gs;
    d->codes_bytes = quant_codes_bytes(&l->q);
    d->codes = xmalloc(d->codes_bytes);
    memcpy(d->codes, l->codes, d->codes_bytes);
    d->scale = xmalloc(np * sizeof(float));
    d->offset = xmalloc(np * sizeof(float));
    memcpy(d->scale, l->s->data, np * sizeof(float));
    memcpy(d->offset, l->off, np * sizeof(float));
}

static void peqa_free(Linear *L) {
    PeqaLinear *l = (PeqaLinear *)L;
    param_free(l->s); free(l->s);
    free(l->codes); free(l->z); free(l->off);
    free(l);
}
static const LinearOps PEQA_OPS = {.name = "peqa", .forward = peqa_forward, .backward = peqa_backward, .deploy = peqa_deploy, .free = peqa_free};

static Linear *peqa_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    (void)rng;
    int out = W->shape[0], in = W->shape[1];
    PeqaLinear *l = linear_alloc(sizeof *l, &PEQA_OPS, out, in, name);
    quant_spec(&l->q, m->bits, m->group_size, out, in);
    size_t np = quant_nparams(&l->q);
    char nm[96];
    snprintf(nm, sizeof nm, "%s.qscale", name);
    l->s = param_new(nm, out, l->q.ng, 0);
    l->z = xmalloc(np * sizeof(float));
    l->off = xmalloc(np * sizeof(float));
    l->codes = xmalloc(quant_codes_bytes(&l->q));
    quant_rtn(&l->q, W->data, l->s->data, l->off, l->codes);
    for (size_t k = 0; k < np; k++) l->z[k] = -l->off[k] / l->s->data[k]; // s ≥ QUANT_S_MIN > 0
    param_make_trainable(l->s);
    l->s->group = PG_QUANT; // method.quant_lr
    l->base.params[l->base.n_params++] = l->s;
    l->base.mem.weight_bytes = quant_codes_bytes(&l->q) + np * sizeof(float); // codes + z
    l->base.mem.trainable_bytes = np * sizeof(float);
    l->base.mem.grad_opt_bytes = 3 * np * sizeof(float);
    l->base.form = quant_form_name(l->q.bits, 0);
    return &l->base;
}

const MethodEntry PEQA_METHOD = {.name = "peqa", .build = peqa_build, .keys = UQ_KEYS | MK_TARGETS | MK_QUANT_LR};
