// model.cuh — the device model: core/model.c's model_forward / model_head / model_backward
// line for line over cuda-kernels' launchers (ops.cuh) and the method twins (lin.cuh),
// templated over the activation type (float: parity, bf16: speed). plugin.cu wraps these
// into the DeviceOps table. Every function returning int returns 0, or -1 with one line in
// cu_last_error().
#pragma once
#include "lin.cuh"

struct DevModel {
    CuCtx c;
    DevModelDesc d;            // the description (its host pointers are not used after dm_new)
    int bf16, training, head_shared;
    int L, D, Hd, KV, hs, V, maxB, maxT;
    size_t cap;                // maxB·maxT rows per activation slab
    void *tok_emb, *wcls;      // V×D in the model's type; wcls == tok_emb when tied
    float *rms_att, *rms_ffn, *rms_final;
    GLin **lin;                // [L·7]
    DevParam *params;          // every trainable, in host order (proj[*].params)
    int np;
    // Activations (core/model.h's, same slabs and offsets; fp32 r*, rf, att).
    void *x, *xn1, *q, *k, *v, *ao, *xmid, *xn2, *h1, *h3, *hg, *xf;
    float *r1, *r2, *rf, *att;
    // Backward scratch (training only).
    void *dx, *dxf, *dxn, *dq, *dk, *dv, *dao, *dh1, *dh3, *dhg;
    // The head in row chunks (model.c's rule): fp32 logits, their gradient in the model's type.
    int chunk;
    float *logits;
    void *dlogits;
    double *rowscr, *nll;
    float *logprob, *w;
    int *greedy, *tok, *tgt;
    float *rope_cos, *rope_sin;
    void *att_scr;
    size_t att_scr_bytes;
    double *norm_part, *norm_total;
    long t;                    // AdamW steps taken
    int lastB, lastT;          // the last forward's shape
    char err[512];             // first error of a void entry point (grad_clip, adamw_step, zero_grad)
};

int dm_new(DevModel **out, const DevModelDesc *d);
void dm_free(DevModel *m);
int dm_step(DevModel *m, const int *tokens, const int *targets, const float *w, int B, int T, float *logprob,
            int *greedy, int backward, float loss_scale, double *nll);
int dm_logits_row(DevModel *m, int row, float *out);
int dm_zero_grad(DevModel *m);
int dm_grad_clip(DevModel *m, float max_norm, double *norm);
int dm_adamw(DevModel *m, float lr);
// which: 0 param, 1 grad, 2 AdamW m, 3 AdamW v (core/device.h).
int dm_transfer(DevModel *m, int i, int which, void *host, size_t bytes, int upload);
