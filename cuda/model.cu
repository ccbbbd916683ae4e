// model.cu — the device model (model.cuh): core/model.c's forward, head and backward over
// device buffers, in the same order of operations and accumulation, so that fp32 mode
// reproduces the CPU to rounding. Activations live in the same per-layer slabs as the
// CPU's (capacity maxB·maxT rows each; rows r = b·T + t); nothing is released in backward
// (device memory is not paged back as the CPU's madvise does).
#include "elem.h"
#include "model.cuh"
#include "ops.cuh"
#include "randw.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { P_Q, P_K, P_V, P_O, P_GATE, P_UP, P_DOWN, NP7 }; // core/linear.h's order

#define LIN(l, p) m->lin[(l) * NP7 + (p)]
#define HEAD_CHUNK_BYTES ((size_t)128 << 20) // model.c's rule for the logits buffer
#define ATT_SCRATCH_MAX ((size_t)256 << 20)

template <typename T> static T *at(void *base, size_t off) { return (T *)base + off; }

// ---- forward ------------------------------------------------------------------------------
template <typename T>
static int forward_t(DevModel *m, int B, int T_) {
    CuCtx *c = &m->c;
    int D = m->D, Hd = m->Hd, KV = m->KV, hs = m->hs, R = B * T_;
    size_t cap = m->cap, lse_l = (size_t)m->maxB * m->d.n_heads * m->maxT;
    float eps = m->d.norm_eps;
    CU_TRY(embedding_fwd<T>(c, (T *)m->x, m->tok, (const T *)m->tok_emb, R, D));
    for (int l = 0; l < m->L; l++) {
        T *x = at<T>(m->x, l * cap * D), *xn1 = at<T>(m->xn1, l * cap * D), *q = at<T>(m->q, l * cap * D);
        T *k = at<T>(m->k, l * cap * KV), *v = at<T>(m->v, l * cap * KV), *ao = at<T>(m->ao, l * cap * D);
        T *xmid = at<T>(m->xmid, l * cap * D), *xn2 = at<T>(m->xn2, l * cap * D);
        T *h1 = at<T>(m->h1, l * cap * Hd), *h3 = at<T>(m->h3, l * cap * Hd), *hg = at<T>(m->hg, l * cap * Hd);
        T *xnext = at<T>(m->x, (l + 1) * cap * D);
        float *r1 = m->r1 + l * cap, *r2 = m->r2 + l * cap, *lse = m->att ? m->att + l * lse_l : NULL;
        CU_TRY(rmsnorm_fwd<T>(c, xn1, r1, x, m->rms_att + (size_t)l * D, R, D, eps));
        CU_TRY(LIN(l, P_Q)->ops->forward(LIN(l, P_Q), xn1, q, R));
        CU_TRY(LIN(l, P_K)->ops->forward(LIN(l, P_K), xn1, k, R));
        CU_TRY(LIN(l, P_V)->ops->forward(LIN(l, P_V), xn1, v, R));
        CU_TRY(rope_fwd<T>(c, q, 0, R, T_, D, hs, m->rope_cos, m->rope_sin));
        CU_TRY(rope_fwd<T>(c, k, 0, R, T_, KV, hs, m->rope_cos, m->rope_sin));
        CU_TRY(attention_fwd<T>(c, ao, lse, q, k, v, B, T_, m->d.n_heads, m->d.n_kv_heads, hs, m->maxT, m->att_scr,
                                m->att_scr_bytes));
        CU_TRY(LIN(l, P_O)->ops->forward(LIN(l, P_O), ao, xmid, R));
        CU_TRY(residual_add<T>(c, xmid, x, (long long)R * D));
        CU_TRY(rmsnorm_fwd<T>(c, xn2, r2, xmid, m->rms_ffn + (size_t)l * D, R, D, eps));
        CU_TRY(LIN(l, P_GATE)->ops->forward(LIN(l, P_GATE), xn2, h1, R));
        CU_TRY(LIN(l, P_UP)->ops->forward(LIN(l, P_UP), xn2, h3, R));
        CU_TRY(swiglu_fwd<T>(c, hg, h1, h3, (long long)R * Hd));
        CU_TRY(LIN(l, P_DOWN)->ops->forward(LIN(l, P_DOWN), hg, xnext, R));
        CU_TRY(residual_add<T>(c, xnext, xmid, (long long)R * D));
    }
    CU_TRY(rmsnorm_fwd<T>(c, (T *)m->xf, m->rf, at<T>(m->x, m->L * cap * D), m->rms_final, R, D, eps));
    if (m->dxf) CU_TRY(cu_zero(c, m->dxf, (size_t)R * D * sizeof(T)));
    return 0;
}

// ---- the head (model_head over all rows) ----------------------------------------------------
template <typename T>
static int head_t(DevModel *m, int R, int have_w, int want_lp, int want_gr, int backward, float loss_scale) {
    CuCtx *c = &m->c;
    int D = m->D, V = m->V;
    const T *W = (const T *)m->wcls;
    CU_TRY(cu_zero(c, m->nll, sizeof(double)));
    for (int c0 = 0; c0 < R; c0 += m->chunk) {
        int n = R - c0 < m->chunk ? R - c0 : m->chunk;
        const T *X = (const T *)m->xf + (size_t)c0 * D;
        CU_TRY((gemm_xwt<T, float>(c, X, D, W, D, m->logits, V, n, D, V, 1.0f, 0.0f)));
        T *dl = backward ? (T *)m->dlogits : NULL;
        CU_TRY(classifier_rows<T>(c, m->logits, dl, m->tgt + c0, have_w ? m->w + c0 : NULL, n, V, loss_scale,
                                  want_lp ? m->logprob + c0 : NULL, want_gr ? m->greedy + c0 : NULL, m->nll,
                                  m->rowscr));
        if (backward) CU_TRY((gemm_dyw<T, T>(c, dl, V, W, D, (T *)m->dxf + (size_t)c0 * D, D, n, V, D, 1.0f, 1.0f)));
    }
    return 0;
}

// ---- backward -----------------------------------------------------------------------------
template <typename T>
static int backward_t(DevModel *m, int B, int T_) {
    CuCtx *c = &m->c;
    int D = m->D, Hd = m->Hd, KV = m->KV, hs = m->hs, R = B * T_;
    size_t cap = m->cap, lse_l = (size_t)m->maxB * m->d.n_heads * m->maxT, e = sizeof(T);
    T *dx = (T *)m->dx, *dxn = (T *)m->dxn, *dq = (T *)m->dq, *dk = (T *)m->dk, *dv = (T *)m->dv;
    T *dao = (T *)m->dao, *dh1 = (T *)m->dh1, *dh3 = (T *)m->dh3, *dhg = (T *)m->dhg;
    CU_TRY(cu_zero(c, dx, (size_t)R * D * e));
    CU_TRY(rmsnorm_bwd<T>(c, dx, NULL, (const T *)m->dxf, at<T>(m->x, m->L * cap * D), m->rms_final, m->rf, R, D));
    for (int l = m->L - 1; l >= 0; l--) {
        T *x = at<T>(m->x, l * cap * D), *xn1 = at<T>(m->xn1, l * cap * D), *q = at<T>(m->q, l * cap * D);
        T *k = at<T>(m->k, l * cap * KV), *v = at<T>(m->v, l * cap * KV), *ao = at<T>(m->ao, l * cap * D);
        T *xmid = at<T>(m->xmid, l * cap * D), *xn2 = at<T>(m->xn2, l * cap * D);
        T *h1 = at<T>(m->h1, l * cap * Hd), *h3 = at<T>(m->h3, l * cap * Hd), *hg = at<T>(m->hg, l * cap * Hd);
        float *r1 = m->r1 + l * cap, *r2 = m->r2 + l * cap, *lse = m->att + l * lse_l;
        // x_{l+1} = xmid + down(hg): dx carries on as d xmid.
        CU_TRY(cu_zero(c, dhg, (size_t)R * Hd * e));
        CU_TRY(LIN(l, P_DOWN)->ops->backward(LIN(l, P_DOWN), hg, dx, dhg, R));
        CU_TRY(cu_zero(c, dh1, (size_t)R * Hd * e));
        CU_TRY(cu_zero(c, dh3, (size_t)R * Hd * e));
        CU_TRY(swiglu_bwd<T>(c, dh1, dh3, dhg, h1, h3, (long long)R * Hd));
        CU_TRY(cu_zero(c, dxn, (size_t)R * D * e));
        CU_TRY(LIN(l, P_GATE)->ops->backward(LIN(l, P_GATE), xn2, dh1, dxn, R));
        CU_TRY(LIN(l, P_UP)->ops->backward(LIN(l, P_UP), xn2, dh3, dxn, R));
        CU_TRY(rmsnorm_bwd<T>(c, dx, NULL, dxn, xmid, m->rms_ffn + (size_t)l * D, r2, R, D));
        // xmid = x + o(ao): dx carries on as d x.
        CU_TRY(cu_zero(c, dao, (size_t)R * D * e));
        CU_TRY(LIN(l, P_O)->ops->backward(LIN(l, P_O), ao, dx, dao, R));
        CU_TRY(cu_zero(c, dq, (size_t)R * D * e));
        CU_TRY(cu_zero(c, dk, (size_t)R * KV * e));
        CU_TRY(cu_zero(c, dv, (size_t)R * KV * e));
        CU_TRY(attention_bwd<T>(c, dq, dk, dv, dao, ao, lse, q, k, v, B, T_, m->d.n_heads, m->d.n_kv_heads, hs,
                                m->maxT, m->att_scr, m->att_scr_bytes));
        CU_TRY(rope_bwd<T>(c, dq, 0, R, T_, D, hs, m->rope_cos, m->rope_sin));
        CU_TRY(rope_bwd<T>(c, dk, 0, R, T_, KV, hs, m->rope_cos, m->rope_sin));
        CU_TRY(cu_zero(c, dxn, (size_t)R * D * e));
        CU_TRY(LIN(l, P_Q)->ops->backward(LIN(l, P_Q), xn1, dq, dxn, R));
        CU_TRY(LIN(l, P_K)->ops->backward(LIN(l, P_K), xn1, dk, dxn, R));
        CU_TRY(LIN(l, P_V)->ops->backward(LIN(l, P_V), xn1, dv, dxn, R));
        CU_TRY(rmsnorm_bwd<T>(c, dx, NULL, dxn, x, m->rms_att + (size_t)l * D, r1, R, D));
    }
    return 0;
}

// ---- the entry points -----------------------------------------------------------------------
int dm_step(DevModel *m, const int *tokens, const int *targets, const float *w, int B, int T_, float *logprob,
            int *greedy, int backward, float loss_scale, double *nll) {
    CuCtx *c = &m->c;
    CU_REQUIRE(B >= 1 && T_ >= 1 && B <= m->maxB && T_ <= m->maxT, "step: %dx%d exceeds the capacity %dx%d", B, T_,
               m->maxB, m->maxT);
    CU_REQUIRE(!backward || m->training, "step: backward on a model built for inference (or with nothing to train)");
    int R = B * T_;
    for (int r = 0; r < R; r++)
        CU_REQUIRE(tokens[r] >= 0 && tokens[r] < m->V, "token id %d out of range [0, %d)", tokens[r], m->V);
    for (int r = 0; r < R; r++)
        CU_REQUIRE(targets[r] < m->V, "target id %d out of range [0, %d)", targets[r], m->V);
    CU_TRY(cu_upload(c, m->tok, tokens, (size_t)R * sizeof(int)));
    CU_TRY(cu_upload(c, m->tgt, targets, (size_t)R * sizeof(int)));
    if (w) CU_TRY(cu_upload(c, m->w, w, (size_t)R * sizeof(float)));
    m->lastB = B; m->lastT = T_;
    if (m->bf16) {
        CU_TRY(forward_t<bf16>(m, B, T_));
        CU_TRY(head_t<bf16>(m, R, w != NULL, logprob != NULL, greedy != NULL, backward, loss_scale));
    } else {
        CU_TRY(forward_t<float>(m, B, T_));
        CU_TRY(head_t<float>(m, R, w != NULL, logprob != NULL, greedy != NULL, backward, loss_scale));
    }
    CU_TRY(cu_download(c, nll, m->nll, sizeof(double)));
    if (logprob) CU_TRY(cu_download(c, logprob, m->logprob, (size_t)R * sizeof(float)));
    if (greedy) CU_TRY(cu_download(c, greedy, m->greedy, (size_t)R * sizeof(int)));
    if (backward) CU_TRY(m->bf16 ? backward_t<bf16>(m, B, T_) : backward_t<float>(m, B, T_));
    return 0;
}

int dm_logits_row(DevModel *m, int row, float *out) {
    CU_REQUIRE(m->lastB > 0 && row >= 0 && row < m->lastB * m->lastT, "logits_row: row %d of a %dx%d forward", row,
               m->lastB, m->lastT);
    CuCtx *c = &m->c;
    if (m->bf16)
        CU_TRY((gemm_xwt<bf16, float>(c, (const bf16 *)m->xf + (size_t)row * m->D, m->D, (const bf16 *)m->wcls, m->D,
                                      m->logits, m->V, 1, m->D, m->V, 1.0f, 0.0f)));
    else
        CU_TRY((gemm_xwt<float, float>(c, (const float *)m->xf + (size_t)row * m->D, m->D, (const float *)m->wcls, m->D,
                                       m->logits, m->V, 1, m->D, m->V, 1.0f, 0.0f)));
    return cu_download(c, out, m->logits, (size_t)m->V * sizeof(float));
}

int dm_zero_grad(DevModel *m) {
    for (int i = 0; i < m->np; i++)
        if (m->params[i].g) CU_TRY(cu_zero(&m->c, m->params[i].g, (size_t)m->params[i].n * sizeof(float)));
    return 0;
}

// optim.c grad_clip: per tensor, blocks of 4096 summed in double, tensors in order; the
// clip coefficient in double, applied as a float.
int dm_grad_clip(DevModel *m, float max_norm, double *norm) {
    CuCtx *c = &m->c;
    CU_TRY(cu_zero(c, m->norm_total, sizeof(double)));
    for (int i = 0; i < m->np; i++)
        if (m->params[i].g) CU_TRY(grad_sumsq_add(c, m->params[i].g, m->params[i].n, m->norm_part, m->norm_total));
    double total;
    CU_TRY(cu_download(c, &total, m->norm_total, sizeof total));
    *norm = sqrt(total);
    if (max_norm > 0 && isfinite(*norm)) {
        double coef = (double)max_norm / (*norm + 1e-6);
        if (coef < 1.0)
            for (int i = 0; i < m->np; i++)
                if (m->params[i].g) CU_TRY(grad_scale(c, m->params[i].g, m->params[i].n, (float)coef));
    }
    return 0;
}

int dm_adamw(DevModel *m, float lr) {
    CuCtx *c = &m->c;
    m->t++;
    for (int i = 0; i < m->np; i++) {
        DevParam *p = &m->params[i];
        if (!p->g) continue;
        CuAdamCoef k = cu_adam_coef(lr, m->d.beta1, m->d.beta2, m->d.eps, m->d.weight_decay, m->t,
                                    p->decay && m->d.weight_decay != 0.0f);
        if (m->d.optim_state == DT_BF16)
            CU_TRY(adamw_bf16(c, p->x, p->g, (uint16_t *)p->m, (uint16_t *)p->v, p->n, k,
                              cu_adam_key(m->d.optim_seed, m->t, i)));
        else
            CU_TRY(adamw_f32(c, p->x, p->g, (float *)p->m, (float *)p->v, p->n, k));
        CU_TRY(devparam_refresh(c, p));
    }
    return 0;
}

int dm_transfer(DevModel *m, int i, int which, void *host, size_t bytes, int upload) {
    CU_REQUIRE(i >= 0 && i < m->np, "trainable %d of %d", i, m->np);
    CU_REQUIRE(which >= 0 && which <= 3, "which %d (0 param, 1 grad, 2 m, 3 v)", which);
    DevParam *p = &m->params[i];
    void *dev = which == 0 ? (void *)p->x : which == 1 ? (void *)p->g : which == 2 ? p->m : p->v;
    CU_REQUIRE(dev != NULL, "trainable %d has no %s on a model built for inference", i,
               which == 1 ? "gradient" : "optimizer state");
    size_t es = which >= 2 && m->d.optim_state == DT_BF16 ? 2 : 4;
    CU_REQUIRE(bytes == (size_t)p->n * es, "trainable %d: %zu bytes, expected %zu", i, bytes, (size_t)p->n * es);
    if (!upload) return cu_download(&m->c, host, dev, bytes);
    CU_TRY(cu_upload(&m->c, dev, host, bytes));
    return which == 0 ? devparam_refresh(&m->c, p) : 0;
}

// ---- construction -----------------------------------------------------------------------------
static int alloc_act(DevModel *m, void **p, size_t elems, size_t es) { return cu_malloc(&m->c, p, elems * es); }

static int upload_param(DevModel *m, DevParam *p, const DevTensor *t, int index) {
    CuCtx *c = &m->c;
    CU_REQUIRE(t->dtype == DT_F32 && t->f32 && t->n > 0, "projection %d: trainable %s must be fp32 host data", index,
               t->name ? t->name : "?");
    CU_REQUIRE((size_t)t->rows * t->cols == t->n, "projection %d: trainable %s is %dx%d but holds %zu", index,
               t->name ? t->name : "?", t->rows, t->cols, t->n);
    p->n = (long long)t->n; p->rows = t->rows; p->cols = t->cols; p->decay = t->decay;
    CU_TRY(cu_malloc_upload(c, (void **)&p->x, t->f32, t->n * sizeof(float)));
    if (m->training) {
        size_t es = m->d.optim_state == DT_BF16 ? 2 : 4;
        CU_TRY(cu_malloc(c, (void **)&p->g, t->n * sizeof(float)));
        CU_TRY(cu_malloc(c, &p->m, t->n * es));
        CU_TRY(cu_malloc(c, &p->v, t->n * es));
        CU_TRY(cu_zero(c, p->g, t->n * sizeof(float)));
        CU_TRY(cu_zero(c, p->m, t->n * es));
        CU_TRY(cu_zero(c, p->v, t->n * es));
    }
    return 0; // the bf16 copy, where a layer reads one, comes with glora_bind
}

// A frozen fp32 vector (norm weights): the host's, or ones under random_weights.
static int upload_norm(DevModel *m, float **out, const DevTensor *t, long long n) {
    CuCtx *c = &m->c;
    CU_TRY(cu_malloc(c, (void **)out, (size_t)n * sizeof(float)));
    if (!t->f32 && !t->half) {
        CU_REQUIRE(m->d.random_weights, "%s: no host data (and random_weights is 0)", t->name ? t->name : "norm");
        return fill_const<float>(c, *out, n, 1.0f);
    }
    CU_REQUIRE(t->dtype == DT_F32 && t->f32 && (long long)t->n == n, "%s: norms must be %lld fp32 values",
               t->name ? t->name : "norm", n);
    return cu_upload(c, *out, t->f32, (size_t)n * sizeof(float));
}

static int build(DevModel *m, const DevModelDesc *d) {
    CuCtx *c = &m->c;
    m->d = *d;
    m->bf16 = d->precision == DEVPREC_BF16;
    m->L = d->n_layers; m->D = d->dim; m->Hd = d->hidden_dim; m->V = d->vocab_size;
    CU_REQUIRE(d->dim > 0 && d->n_heads > 0 && d->n_kv_heads > 0 && d->dim % d->n_heads == 0 &&
               d->n_heads % d->n_kv_heads == 0 && d->n_layers > 0 && d->vocab_size > 0 && d->hidden_dim > 0,
               "model shape: dim %d, heads %d/%d, layers %d, vocab %d, hidden %d", d->dim, d->n_heads, d->n_kv_heads,
               d->n_layers, d->vocab_size, d->hidden_dim);
    m->hs = d->dim / d->n_heads;
    m->KV = m->hs * d->n_kv_heads;
    m->maxB = d->maxB; m->maxT = d->maxT;
    CU_REQUIRE(d->maxB >= 1 && d->maxT >= 1 && d->maxT <= d->seq_len, "capacity %dx%d (seq_len %d)", d->maxB, d->maxT,
               d->seq_len);
    CU_REQUIRE(!d->head_is_proj, "a method on the head (targets with head) has no CUDA implementation yet");
    CU_REQUIRE(d->rope_cos && d->rope_sin, "no RoPE tables");
    char why[200];
    CU_REQUIRE(glin_supports(d->method.name, d->precision, why, sizeof why), "%s", why);
    m->cap = (size_t)m->maxB * m->maxT;
    int n_proj = m->L * NP7;
    int np = 0;
    for (int i = 0; i < n_proj; i++) np += d->proj[i].n_params;
    m->training = d->training && np > 0;
    // Frozen tensors.
    long long VD = (long long)m->V * m->D;
    CU_TRY(devw_make(c, d, &d->tok_emb, VD, m->D, RANDW_TOK_EMB, m->bf16, &m->tok_emb));
    m->head_shared = d->shared_classifier;
    if (d->shared_classifier) m->wcls = m->tok_emb;
    else CU_TRY(devw_make(c, d, &d->wcls, VD, m->D, RANDW_WCLS, m->bf16, &m->wcls));
    CU_TRY(upload_norm(m, &m->rms_att, &d->rms_att, (long long)m->L * m->D));
    CU_TRY(upload_norm(m, &m->rms_ffn, &d->rms_ffn, (long long)m->L * m->D));
    CU_TRY(upload_norm(m, &m->rms_final, &d->rms_final, m->D));
    size_t nrope = (size_t)m->maxT * (m->hs / 2) * sizeof(float);
    CU_TRY(cu_malloc_upload(c, (void **)&m->rope_cos, d->rope_cos, nrope));
    CU_TRY(cu_malloc_upload(c, (void **)&m->rope_sin, d->rope_sin, nrope));
    // Trainables, then the projections over them.
    m->np = np;
    m->params = (DevParam *)calloc(np ? np : 1, sizeof(DevParam));
    m->lin = (GLin **)calloc(n_proj, sizeof(GLin *));
    CU_REQUIRE(m->params && m->lin, "out of host memory");
    long long maxn = 1;
    for (int i = 0, k = 0; i < n_proj; i++) {
        const DevProj *p = &d->proj[i];
        int o, in;
        int pp = i % NP7;
        o = pp == P_K || pp == P_V ? m->KV : pp == P_GATE || pp == P_UP ? m->Hd : m->D;
        in = pp == P_DOWN ? m->Hd : m->D;
        CU_REQUIRE(p->out == o && p->in == in, "projection %d is %dx%d, expected %dx%d", i, p->out, p->in, o, in);
        CU_REQUIRE(p->n_params >= 0 && p->n_params <= 8, "projection %d: %d trainables", i, p->n_params);
        for (int j = 0; j < p->n_params; j++) {
            CU_TRY(upload_param(m, &m->params[k + j], &p->params[j], i));
            if (m->params[k + j].n > maxn) maxn = m->params[k + j].n;
        }
        GLinArgs a = {c, d, p, i, p->n_params > 0 || (d->method.targets >> pp & 1u), &m->params[k]};
        m->lin[i] = glin_build(&a);
        if (!m->lin[i]) return -1;
        m->lin[i]->training = m->training;
        k += p->n_params;
    }
    // Activations (model_build's slabs).
    size_t R = m->cap, D = m->D, KV = m->KV, H = m->Hd, es = m->bf16 ? 2 : 4, L = m->L;
    CU_TRY(alloc_act(m, &m->x, (L + 1) * R * D, es));
    CU_TRY(alloc_act(m, &m->xn1, L * R * D, es));
    CU_TRY(alloc_act(m, &m->q, L * R * D, es));
    CU_TRY(alloc_act(m, &m->k, L * R * KV, es));
    CU_TRY(alloc_act(m, &m->v, L * R * KV, es));
    CU_TRY(alloc_act(m, &m->ao, L * R * D, es));
    CU_TRY(alloc_act(m, &m->xmid, L * R * D, es));
    CU_TRY(alloc_act(m, &m->xn2, L * R * D, es));
    CU_TRY(alloc_act(m, &m->h1, L * R * H, es));
    CU_TRY(alloc_act(m, &m->h3, L * R * H, es));
    CU_TRY(alloc_act(m, &m->hg, L * R * H, es));
    CU_TRY(alloc_act(m, &m->xf, R * D, es));
    CU_TRY(alloc_act(m, (void **)&m->r1, L * R, 4));
    CU_TRY(alloc_act(m, (void **)&m->r2, L * R, 4));
    CU_TRY(alloc_act(m, (void **)&m->rf, R, 4));
    long long chunk = (long long)(HEAD_CHUNK_BYTES / ((size_t)m->V * sizeof(float)));
    if (chunk > 1024) chunk = 1024;
    if (chunk < 64) chunk = 64;
    if ((size_t)chunk > R) chunk = (long long)R;
    m->chunk = (int)chunk;
    CU_TRY(alloc_act(m, (void **)&m->logits, (size_t)chunk * m->V, 4));
    CU_TRY(alloc_act(m, (void **)&m->rowscr, (size_t)chunk, 8));
    CU_TRY(alloc_act(m, (void **)&m->nll, 1, 8));
    CU_TRY(alloc_act(m, (void **)&m->logprob, R, 4));
    CU_TRY(alloc_act(m, (void **)&m->w, R, 4));
    CU_TRY(alloc_act(m, (void **)&m->greedy, R, 4));
    CU_TRY(alloc_act(m, (void **)&m->tok, R, 4));
    CU_TRY(alloc_act(m, (void **)&m->tgt, R, 4));
    if (m->training) {
        CU_TRY(alloc_act(m, &m->dx, R * D, es));
        CU_TRY(alloc_act(m, &m->dxf, R * D, es));
        CU_TRY(alloc_act(m, &m->dxn, R * D, es));
        CU_TRY(alloc_act(m, &m->dq, R * D, es));
        CU_TRY(alloc_act(m, &m->dk, R * KV, es));
        CU_TRY(alloc_act(m, &m->dv, R * KV, es));
        CU_TRY(alloc_act(m, &m->dao, R * D, es));
        CU_TRY(alloc_act(m, &m->dh1, R * H, es));
        CU_TRY(alloc_act(m, &m->dh3, R * H, es));
        CU_TRY(alloc_act(m, &m->dhg, R * H, es));
        CU_TRY(alloc_act(m, (void **)&m->att, L * (size_t)m->maxB * d->n_heads * m->maxT, 4));
        // The classifier's gradient: in place over the fp32 logits, a bf16 buffer otherwise.
        if (m->bf16) CU_TRY(alloc_act(m, &m->dlogits, (size_t)chunk * m->V, 2));
        else m->dlogits = m->logits;
        CU_TRY(alloc_act(m, (void **)&m->norm_part, (size_t)((maxn + CU_NORM_BLOCK - 1) / CU_NORM_BLOCK), 8));
        CU_TRY(alloc_act(m, (void **)&m->norm_total, 1, 8));
    }
    // Attention scratch: as many heads per call as fit in ATT_SCRATCH_MAX (at least one).
    int heads = d->n_heads;
    while (heads > 1 && attention_scratch_bytes(m->maxT, heads, m->bf16, m->training) > ATT_SCRATCH_MAX) heads /= 2;
    m->att_scr_bytes = attention_scratch_bytes(m->maxT, heads, m->bf16, m->training);
    CU_TRY(cu_malloc(c, &m->att_scr, m->att_scr_bytes));
    return cu_sync(c);
}

int dm_new(DevModel **out, const DevModelDesc *d) {
    *out = NULL;
    DevModel *m = (DevModel *)calloc(1, sizeof *m);
    if (!m) return cu_fail("out of host memory");
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) dev = 0;
    if (cu_ctx_init(&m->c, dev)) { free(m); return -1; }
    if (build(m, d)) {
        // The message is in cu_last_error(); dm_free releases what was built.
        dm_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void dm_free(DevModel *m) {
    if (!m) return;
    if (m->lin)
        for (int i = 0; i < m->L * NP7; i++)
            if (m->lin[i]) m->lin[i]->ops->free(m->lin[i]);
    glin_scratch_release(&m->c);
    free(m->lin);
    free(m->params);
    cu_ctx_free(&m->c); // frees every tracked allocation still held (activations, trainables)
    free(m);
}
