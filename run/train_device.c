// train_device.c — see train_device.h.
#include "train_device.h"
#include "dist.h"
#include "half.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

struct TrainDev {
    const DeviceOps *ops;
    DevModel *m;
    DevModelDesc desc;
    int state_dtype; // the AdamW moments' dtype on both sides
};

#define WHAT "train.device: cuda"

// A failed device call is the device's report (out of memory, a CUDA error): one line, exit 2.
static void check(int rc, const char *err, const char *call) {
    if (rc) die_input(WHAT ": %s: %s", call, err && *err ? err : "failed without a message");
}

TrainDev *train_dev_open(const RunConfig *cfg) {
    if (dist_size() > 1)
        die_input(WHAT ": data-parallel training (%d ranks) does not run on the device; start one process", dist_size());
    // The device's AdamW has one learning rate (core/device.h); a second group would be
    // silently ignored there.
    if (cfg->method.quant_lr > 0 && cfg->method.quant_lr != cfg->train.lr)
        die_input(WHAT ": method.quant_lr (%g, a second AdamW group) is not available on the device yet; "
                  "leave it out or train on the CPU", cfg->method.quant_lr);
    const DeviceOps *ops = device_open(WHAT);
    char err[512] = "";
    int prec = cfg->train.precision == PREC_BF16 ? DEVPREC_BF16 : DEVPREC_FP32;
    if (!ops->supports(cfg->method.name, prec, err, sizeof err)) // nonzero: implemented (device.h)
        die_input(WHAT ": method %s%s is not available on the device%s%s", cfg->method.name,
                  prec == DEVPREC_BF16 ? " (train.precision: bf16)" : "", *err ? ": " : "", err);
    TrainDev *d = xcalloc(1, sizeof *d);
    d->ops = ops;
    d->state_dtype = cfg->train.optim_state;
    return d;
}

static DevTensor tensor_of(const Param *p) {
    DevTensor t = {0};
    if (!p || !p->n) return t;
    t.name = p->name;
    t.dtype = p->data ? DT_F32 : p->dtype;
    t.f32 = p->data;
    t.half = p->data ? NULL : p->half;
    t.n = p->n;
    t.rows = p->shape[0];
    t.cols = p->shape[1];
    t.decay = p->decay;
    return t;
}

// Projection i (or the head, i = L·7) of M: its frozen base and trainables.
static void proj_of(DevProj *pj, Linear *L, const Param *w0, const Deploy *file_dep) {
    memset(pj, 0, sizeof *pj);
    pj->out = L->out;
    pj->in = L->in;
    if (file_dep) pj->base = file_dep;           // a deployed file: its own form, side branch included
    else if (L->frozen_base) pj->base = L->frozen_base;
    else pj->w0 = tensor_of(w0);
    if (L->n_params > (int)(sizeof pj->params / sizeof *pj->params))
        die_internal("%s: %d trainable tensors, DevProj holds %zu", L->name, L->n_params, sizeof pj->params / sizeof *pj->params);
    pj->n_params = L->n_params;
    for (int j = 0; j < L->n_params; j++) pj->params[j] = tensor_of(L->params[j]);
}

void dev_desc_fill(DevModelDesc *d, Model *M, const RunConfig *cfg, int B, int T) {
    memset(d, 0, sizeof *d);
    const Config *c = &M->c;
    d->dim = c->dim; d->hidden_dim = c->hidden_dim; d->n_layers = c->n_layers; d->n_heads = c->n_heads;
    d->n_kv_heads = c->n_kv_heads; d->vocab_size = c->vocab_size; d->seq_len = c->seq_len;
    d->shared_classifier = c->shared_classifier;
    d->norm_eps = c->norm_eps;
    d->rope_cos = M->rope_cos; // (maxT, head_size/2): the tables the host model uses
    d->rope_sin = M->rope_sin;
    d->tok_emb = tensor_of(&M->tok_emb);
    d->rms_att = tensor_of(&M->rms_att);
    d->rms_ffn = tensor_of(&M->rms_ffn);
    d->rms_final = tensor_of(&M->rms_final);
    if (!c->shared_classifier) d->wcls = tensor_of(&M->wcls);
    int n = c->n_layers * N_LAYER_PROJ;
    d->head_is_proj = M->head->n_params > 0;
    d->proj = xcalloc((size_t)n + 1, sizeof *d->proj);
    for (int i = 0; i < n; i++)
        proj_of(&d->proj[i], M->lin[i], &M->wp[i], M->mf && M->mf->dep ? M->mf->dep[i] : NULL);
    if (d->head_is_proj) proj_of(&d->proj[n], M->head, c->shared_classifier ? &M->tok_emb : &M->wcls, NULL);
    const MethodCfg *m = &M->method;
    snprintf(d->method.name, sizeof d->method.name, "%s", m->name[0] ? m->name : "none");
    d->method.rank = m->rank;
    d->method.alpha = m->alpha;
    d->method.dropout = m->dropout;
    d->method.targets = m->targets;
    d->method.bits = m->bits;
    d->method.group_size = m->group_size;
    d->method.lsq_grad_scale = m->lsq_grad_scale;
    d->method.tile_rows = m->tile_rows;
    d->maxB = B;
    d->maxT = T;
    d->precision = cfg->train.precision == PREC_BF16 ? DEVPREC_BF16 : DEVPREC_FP32;
    d->training = 1;
    d->beta1 = cfg->train.beta1; d->beta2 = cfg->train.beta2; d->eps = cfg->train.eps;
    d->weight_decay = cfg->train.weight_decay;
    d->optim_state = cfg->train.optim_state;
    d->optim_seed = cfg->train.seed ^ 0xada3bf16ULL; // train.c's adamw_new seed
    d->seed = cfg->train.seed;
}

void dev_desc_free(DevModelDesc *d) {
    free(d->proj);
    d->proj = NULL;
}

void train_dev_attach(TrainDev *d, Model *M, int np, const RunConfig *cfg, int B, int T) {
    dev_desc_fill(&d->desc, M, cfg, B, T);
    char err[512] = "";
    d->m = d->ops->model_new(&d->desc, err, sizeof err);
    if (!d->m) check(1, err, "building the model");
    int k = d->ops->n_trainables(d->m);
    if (k != np) die_internal(WHAT ": the device model has %d trainable tensors, the host %d", k, np);
}

double train_dev_step(TrainDev *d, const int *tokens, const int *targets, int B, int T, int backward, float loss_scale) {
    char err[512] = "";
    double nll = 0;
    check(d->ops->step(d->m, tokens, targets, NULL, B, T, NULL, NULL, backward, loss_scale, &nll, err, sizeof err), err,
          backward ? "training step" : "validation step");
    return nll;
}

void train_dev_zero_grad(TrainDev *d) { d->ops->zero_grad(d->m); }
double train_dev_clip(TrainDev *d, float max_norm) { return d->ops->grad_clip(d->m, max_norm); }
void train_dev_adamw(TrainDev *d, float lr) { d->ops->adamw_step(d->m, lr); }

// Tensor i's data (which 0) or moments (2, 3) between host and device.
static void xfer(TrainDev *d, int up, int i, int which, void *host, size_t bytes) {
    char err[512] = "";
    int rc = up ? d->ops->upload(d->m, i, which, host, bytes, err, sizeof err)
                : d->ops->download(d->m, i, which, host, bytes, err, sizeof err);
    check(rc, err, up ? "upload" : "download");
}

static void moments(TrainDev *d, int up, Param **ps, int np, const AdamW *opt) {
    if (opt->state_dtype != d->state_dtype) die_internal(WHAT ": AdamW state dtype changed");
    size_t es = dtype_bytes(opt->state_dtype);
    for (int i = 0; i < np; i++) {
        if (!opt->m[i]) continue;
        xfer(d, up, i, 2, opt->m[i], ps[i]->n * es);
        xfer(d, up, i, 3, opt->v[i], ps[i]->n * es);
    }
}

void train_dev_download(TrainDev *d, Param **ps, int np, AdamW *opt) {
    char err[512] = "";
    check(d->ops->sync(d->m, err, sizeof err), err, "sync");
    for (int i = 0; i < np; i++) xfer(d, 0, i, 0, ps[i]->data, ps[i]->n * sizeof(float));
    if (!opt) return;
    moments(d, 0, ps, np, opt);
    opt->t = d->ops->adamw_t(d->m, -1);
}

void train_dev_upload(TrainDev *d, Param **ps, int np, const AdamW *opt) {
    for (int i = 0; i < np; i++) xfer(d, 1, i, 0, ps[i]->data, ps[i]->n * sizeof(float));
    moments(d, 1, ps, np, opt);
    d->ops->adamw_t(d->m, opt->t);
    char err[512] = "";
    check(d->ops->sync(d->m, err, sizeof err), err, "sync");
}

const char *train_dev_name(const TrainDev *d) { (void)d; return device_name(); }
void train_dev_memory(TrainDev *d, DevMemory *m) {
    memset(m, 0, sizeof *m);
    d->ops->memory(d->m, m);
}

void train_dev_free(TrainDev *d) {
    if (!d) return;
    if (d->m) d->ops->model_free(d->m);
    dev_desc_free(&d->desc);
    free(d);
}
