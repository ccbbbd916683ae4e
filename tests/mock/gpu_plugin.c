// mock/gpu_plugin.c — a CPU stand-in for build/libl4q_cuda.so, for tests/test_gpu_table1.py
// only: it exports `l4q_cuda_ops` so bench/gpu_table1's whole row path (open, supports,
// model_new, steps, phases, memory, free) runs without a GPU. model_new checks the
// description the way the real plugin must read it (projection shapes, each method's
// trainables in Linear.params order with their shapes, random frozen weights, RoPE tables)
// and refuses with the first mismatch; a step returns the NLL of a uniform prediction.
// `supports` says yes to lora and l4q only, as the plugin does today.
#include "device.h"
#include "half.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct DevModel { int T, V; size_t bytes; };

static int m_init(int index, char *name, size_t nl, char *err, size_t el) {
    (void)err; (void)el;
    snprintf(name, nl, "Mock GPU %d (sm_0, 80.0 GiB)", index);
    return 0;
}
static int m_supports(const char *method, int precision, char *err, size_t el) {
    if ((!strcmp(method, "lora") || !strcmp(method, "l4q")) && precision == DEVPREC_BF16) return 1;
    snprintf(err, el, "method %s has no CUDA implementation yet (mock)", method);
    return 0;
}
#define NEED(c, ...) do { if (!(c)) { snprintf(err, el, __VA_ARGS__); return NULL; } } while (0)
static int shape_is(const DevTensor *t, int r, int c) {
    return t->dtype == DT_F32 && t->f32 && t->rows == r && t->cols == c && t->n == (size_t)r * c;
}
static DevModel *m_new(const DevModelDesc *d, char *err, size_t el) {
    int kv = d->dim / d->n_heads * d->n_kv_heads, r = d->method.rank, gs = d->method.group_size;
    NEED(d->random_weights && d->rope_cos && d->rope_sin && d->training && d->maxB == 1, "desc: setup");
    NEED(!d->tok_emb.f32 && !d->tok_emb.half && d->tok_emb.n == (size_t)d->vocab_size * d->dim, "desc: tok_emb");
    size_t bytes = 0;
    for (int i = 0; i < d->n_layers * 7; i++) {
        const DevProj *p = &d->proj[i];
        int k = i % 7, o = k == 1 || k == 2 ? kv : k == 4 || k == 5 ? d->hidden_dim : d->dim, in = k == 6 ? d->hidden_dim : d->dim;
        NEED(p->out == o && p->in == in, "projection %d is %dx%d, expected %dx%d", i, p->out, p->in, o, in);
        NEED(!p->base && p->w0.dtype == DT_BF16 && !p->w0.f32 && !p->w0.half && p->w0.n == (size_t)o * in,
             "projection %d: w0 must be random bf16", i);
        int l4q = !strcmp(d->method.name, "l4q"), ng = (in + gs - 1) / gs;
        NEED(p->n_params == (l4q ? 4 : 2), "projection %d: %d trainables", i, p->n_params);
        NEED(shape_is(&p->params[0], r, in) && shape_is(&p->params[1], o, r), "projection %d: A, B shapes", i);
        NEED(!l4q || (shape_is(&p->params[2], o, ng) && shape_is(&p->params[3], o, ng) && p->params[2].f32[0] > 0),
             "projection %d: s, b shapes", i);
        bytes += (size_t)o * in * 2;
        for (int j = 0; j < p->n_params; j++) bytes += p->params[j].n * 16;
    }
    DevModel *m = calloc(1, sizeof *m);
    m->T = d->maxT; m->V = d->vocab_size; m->bytes = bytes;
    return m;
}
static void m_free(DevModel *m) { free(m); }
static int m_step(DevModel *m, const int *tok, const int *tg, const float *w, int B, int T, float *lp, int *gr, int bw,
                  float ls, double *nll, char *err, size_t el) {
    (void)tok; (void)w; (void)lp; (void)gr; (void)bw; (void)ls; (void)err; (void)el;
    *nll = 0;
    for (int i = 0; i < B * T; i++) if (tg[i] >= 0) *nll += log((double)m->V);
    return 0;
}
static int m_logits(DevModel *m, int row, float *out, char *err, size_t el) { (void)m; (void)row; (void)out; (void)err; (void)el; return 0; }
static void m_zero(DevModel *m) { (void)m; }
static double m_clip(DevModel *m, float x) { (void)m; (void)x; return 1.0; }
static void m_adamw(DevModel *m, float lr) { (void)m; (void)lr; }
static int m_ntr(DevModel *m) { (void)m; return 0; }
static int m_xfer(DevModel *m, int i, int wh, void *h, size_t b, char *err, size_t el) {
    (void)m; (void)i; (void)wh; (void)h; (void)b; snprintf(err, el, "mock"); return 1;
}
static int m_xfer_c(DevModel *m, int i, int wh, const void *h, size_t b, char *err, size_t el) {
    return m_xfer(m, i, wh, (void *)h, b, err, el);
}
static long m_t(DevModel *m, long set) { (void)m; (void)set; return 0; }
static void m_mem(DevModel *m, DevMemory *o) {
    o->tracked_cur = m->bytes; o->tracked_peak = m->bytes + ((size_t)1 << 30);
    o->workspace = (size_t)32 << 20; o->device_used = m->bytes + ((size_t)600 << 20); o->device_total = (size_t)80 << 30;
}
static int m_sync(DevModel *m, char *err, size_t el) { (void)m; (void)err; (void)el; return 0; }

const DeviceOps l4q_cuda_ops = {DEVICE_OPS_VERSION, sizeof(DeviceOps), m_init, m_supports, m_new, m_free, m_step,
                                m_logits, m_zero, m_clip, m_adamw, m_ntr, m_xfer, m_xfer_c, m_t, m_mem, m_sync};
