// fake_cuda.c — a stand-in for build/libl4q_cuda.so, for the host-side tests of the device
// path on machines without a GPU (tests/test_device.py). Built by the test with cc:
//   cc -std=c11 -fopenmp -shared -fPIC -Icore tests/plugins/fake_cuda.c -o fake.so -lm [-D...]
// (testlib.py fake_cuda_plugin)
// The -D options make the broken plugins the loader must refuse: FAKE_VERSION=N,
// FAKE_SIZE_DELTA=N, FAKE_NO_SYMBOL, FAKE_NULL_FN, FAKE_INIT_FAIL="message".
//
// The working one is a real DeviceOps over a model with a known answer: it checks the
// DevModelDesc it gets against the host model's invariants (one base per projection,
// shapes, trainables present), keeps its own copy of the trainables, and defines
//   NLL per target token = 1 + Q,  Q = ½·Σ (p − c)² / P  (P: all trainable values, c = 0.05
//   so that tensors starting at zero, LoRA's B, move too),
// so the gradient of loss_scale·Σ NLL is loss_scale·cnt·(p − c)/P; grad_clip and AdamW are the
// CPU's formulas (AdamW through core/elem.h). The test replays the same quadratic with
// torch.optim.AdamW. A model described for inference (training 0: ppl/eval/generate
// --device cuda) predicts uniformly instead: log p(target) = −log(vocab_size) for every row,
// so `ppl --device cuda` must report exactly ppl = vocab_size over the CPU path's windows and
// token counts (tests/test_score_device.py); its logits_row (generation) is 1 at the id after
// the row's input token (mod vocab_size), 0 elsewhere, so greedy decoding counts up by one. Every call is logged, one line each, to $FAKE_CUDA_LOG; with
// $FAKE_CUDA_DUMP the trainables as uploaded by model_new are written there (index + data).
#include "device.h"
#include "elem.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAKE_C 0.05f

#ifndef FAKE_VERSION
#define FAKE_VERSION DEVICE_OPS_VERSION
#endif
#ifndef FAKE_SIZE_DELTA
#define FAKE_SIZE_DELTA 0
#endif

static void logf_(const char *fmt, ...) {
    const char *p = getenv("FAKE_CUDA_LOG");
    if (!p || !*p) return;
    FILE *f = fopen(p, "a");
    if (!f) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

typedef struct { float *p, *g; void *m, *v; size_t n; int decay; char name[64]; } Tr;
struct DevModel {
    int n;
    Tr *t;
    long step;
    int state_dtype;
    float beta1, beta2, eps, wd;
    uint64_t seed;
    double total;
    int training, vocab;
    int *tokens; // the last step's inputs (inference): logits_row reads them
    int maxBT, rows;
};

static int init(int index, char *name, size_t namelen, char *err, size_t errlen) {
    logf_("init %d", index);
#ifdef FAKE_INIT_FAIL
    (void)name; (void)namelen;
    snprintf(err, errlen, "%s", FAKE_INIT_FAIL);
    return 1;
#else
    (void)err; (void)errlen;
    snprintf(name, namelen, "Fake CUDA device (test plugin)");
    return 0;
#endif
}

static int supports(const char *method, int precision, char *err, size_t errlen) {
    logf_("supports %s %d", method, precision);
    static const char *const ok[] = {"lora", "l4q", "qlora", "rtn_lora", "gptq_lora", "qa_lora", "none"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!strcmp(method, ok[i])) return 1; // nonzero: implemented (device.h, as cuda/plugin.cu)
    snprintf(err, errlen, "the fake plugin has no %s", method);
    return 0;
}

static int bad(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return 1;
}

// The host model's invariants the device relies on.
static int check_desc(const DevModelDesc *d, char *err, size_t errlen) {
    int np = d->n_layers * 7 + (d->head_is_proj ? 1 : 0), kv = d->dim / d->n_heads * d->n_kv_heads;
    if (!d->tok_emb.n || d->tok_emb.n != (size_t)d->vocab_size * d->dim) return bad(err, errlen, "tok_emb has %zu values", d->tok_emb.n);
    if (d->rms_att.n != (size_t)d->n_layers * d->dim || !d->rms_att.f32) return bad(err, errlen, "rms_att");
    if (!d->shared_classifier && d->wcls.n != (size_t)d->vocab_size * d->dim) return bad(err, errlen, "wcls");
    if (!d->rope_cos || !d->rope_sin || d->maxT <= 0 || d->maxB <= 0) return bad(err, errlen, "rope tables / capacity");
    for (int i = 0; i < np; i++) {
        const DevProj *p = &d->proj[i];
        int q = i % 7, out = d->dim, in = d->dim;
        if (i == d->n_layers * 7) { out = d->vocab_size; in = d->dim; }
        else if (q == 1 || q == 2) out = kv;
        else if (q == 4 || q == 5) out = d->hidden_dim;
        else if (q == 6) in = d->hidden_dim;
        if (p->out != out || p->in != in) return bad(err, errlen, "proj %d is %dx%d, want %dx%d", i, p->out, p->in, out, in);
        if ((p->w0.n != 0) == (p->base != NULL)) return bad(err, errlen, "proj %d: not exactly one of w0 and base", i);
        if (p->w0.n && (p->w0.n != (size_t)out * in || (p->w0.dtype == DT_F32 ? !p->w0.f32 : !p->w0.half)))
            return bad(err, errlen, "proj %d: w0 %zu values", i, p->w0.n);
        if (p->base && (p->base->out != out || p->base->in != in)) return bad(err, errlen, "proj %d: base shape", i);
        for (int j = 0; j < p->n_params; j++)
            if (!p->params[j].f32 || p->params[j].n != (size_t)p->params[j].rows * p->params[j].cols || !p->params[j].name)
                return bad(err, errlen, "proj %d param %d", i, j);
        logf_("proj %d %dx%d %s kind=%d bits=%d params=%d%s%s group=%d rank=%d", i, out, in, p->base ? "base" : "w0",
              p->base ? (int)p->base->kind : -1, p->base ? p->base->bits : 0, p->n_params, p->n_params ? " first=" : "",
              p->n_params ? p->params[0].name : "", p->base ? p->base->group_size : 0,
              p->base && p->base->lora_A ? p->base->rank : 0);
    }
    return 0;
}

static DevModel *model_new(const DevModelDesc *d, char *err, size_t errlen) {
    logf_("model_new %s precision=%d optim_state=%d maxB=%d maxT=%d training=%d", d->method.name, d->precision, d->optim_state,
          d->maxB, d->maxT, d->training);
    if (check_desc(d, err, errlen)) return NULL;
    DevModel *m = calloc(1, sizeof *m);
    m->training = d->training;
    m->vocab = d->vocab_size;
    m->maxBT = d->maxB * d->maxT;
    m->tokens = calloc((size_t)m->maxBT, sizeof *m->tokens);
    int np = d->n_layers * 7 + (d->head_is_proj ? 1 : 0);
    for (int i = 0; i < np; i++) m->n += d->proj[i].n_params;
    m->t = calloc((size_t)m->n + 1, sizeof *m->t);
    m->state_dtype = d->optim_state;
    m->beta1 = d->beta1; m->beta2 = d->beta2; m->eps = d->eps; m->wd = d->weight_decay;
    m->seed = d->optim_seed;
    size_t es = d->optim_state == DT_BF16 ? 2 : 4;
    const char *dump = getenv("FAKE_CUDA_DUMP");
    FILE *ix = NULL, *bin = NULL;
    if (dump && *dump) {
        char p[4096];
        snprintf(p, sizeof p, "%s.idx", dump);
        ix = fopen(p, "w");
        snprintf(p, sizeof p, "%s.bin", dump);
        bin = fopen(p, "wb");
    }
    int k = 0;
    for (int i = 0; i < np; i++)
        for (int j = 0; j < d->proj[i].n_params; j++, k++) {
            const DevTensor *s = &d->proj[i].params[j];
            Tr *t = &m->t[k];
            t->n = s->n;
            t->decay = s->decay;
            snprintf(t->name, sizeof t->name, "%s", s->name);
            t->p = malloc(s->n * 4); t->g = calloc(s->n, 4);
            t->m = calloc(s->n, es); t->v = calloc(s->n, es);
            memcpy(t->p, s->f32, s->n * 4);
            m->total += (double)s->n;
            if (ix) fprintf(ix, "%s %zu %d\n", s->name, s->n, s->decay);
            if (bin) fwrite(s->f32, 4, s->n, bin);
        }
    if (ix) fclose(ix);
    if (bin) fclose(bin);
    logf_("trainables %d values %.0f", m->n, m->total);
    return m;
}

static void model_free(DevModel *m) {
    logf_("model_free");
    for (int i = 0; i < m->n; i++) { free(m->t[i].p); free(m->t[i].g); free(m->t[i].m); free(m->t[i].v); }
    free(m->t);
    free(m->tokens);
    free(m);
}

static int step(DevModel *m, const int *tokens, const int *targets, const float *w, int B, int T, float *logprob, int *greedy,
                int backward, float loss_scale, double *nll, char *err, size_t errlen) {
    logf_("step %d %d backward=%d", B, T, backward);
    if (!m->training) { // uniform prediction: every target costs log V
        if (backward) return bad(err, errlen, "backward on a model built for inference");
        if (B * T > m->maxBT) return bad(err, errlen, "%d×%d rows exceed the capacity %d", B, T, m->maxBT);
        memcpy(m->tokens, tokens, (size_t)B * T * sizeof *tokens);
        m->rows = B * T; // logits_row may read these rows of this step
        double lv = log((double)m->vocab), cnt = 0;
        for (int r = 0; r < B * T; r++) {
            if (targets[r] < 0) continue;
            cnt += w ? w[r] : 1.0;
            if (logprob) logprob[r] = (float)-lv;
            if (greedy) greedy[r] = targets[r] == 0; // all logits tie: the argmax is id 0
        }
        *nll = cnt * lv;
        return 0;
    }
    double q = 0, cnt = 0;
    for (int i = 0; i < m->n; i++)
        for (size_t j = 0; j < m->t[i].n; j++) {
            float e = m->t[i].p[j] - FAKE_C;
            q += (double)e * e;
        }
    q = 0.5 * q / m->total;
    for (int r = 0; r < B * T; r++) {
        if (targets[r] < 0) continue;
        cnt += w ? w[r] : 1.0;
        if (logprob) logprob[r] = (float)-(1 + q);
        if (greedy) greedy[r] = 0;
    }
    *nll = cnt * (1 + q);
    if (backward) {
        const float s = (float)((double)loss_scale * cnt / m->total);
        for (int i = 0; i < m->n; i++)
            for (size_t j = 0; j < m->t[i].n; j++) m->t[i].g[j] += s * (m->t[i].p[j] - FAKE_C);
    }
    return 0;
}

static int logits_row(DevModel *m, int row, float *out, char *err, size_t errlen) {
    logf_("logits_row %d", row);
    if (m->training) return bad(err, errlen, "the fake plugin has no logits in training");
    if (row < 0 || row >= m->rows) return bad(err, errlen, "row %d of a step of %d rows", row, m->rows);
    memset(out, 0, (size_t)m->vocab * sizeof *out);
    out[(m->tokens[row] + 1) % m->vocab] = 1.0f;
    return 0;
}

static void zero_grad(DevModel *m) {
    logf_("zero_grad");
    for (int i = 0; i < m->n; i++) memset(m->t[i].g, 0, m->t[i].n * 4);
}

__attribute__((unused)) static double grad_clip(DevModel *m, float max_norm) {
    double s = 0;
    for (int i = 0; i < m->n; i++)
        for (size_t j = 0; j < m->t[i].n; j++) s += (double)m->t[i].g[j] * m->t[i].g[j];
    double norm = sqrt(s);
    logf_("grad_clip %g", (double)max_norm);
    if (max_norm > 0 && isfinite(norm)) {
        double coef = (double)max_norm / (norm + 1e-6);
        if (coef < 1.0)
            for (int i = 0; i < m->n; i++)
                for (size_t j = 0; j < m->t[i].n; j++) m->t[i].g[j] *= (float)coef;
    }
    return norm;
}

static void adamw_step(DevModel *m, float lr) {
    m->step++;
    logf_("adamw_step t=%ld", m->step);
    AdamCoef k = adam_coef(lr, m->step, m->beta1, m->beta2, m->eps, m->wd);
    for (int i = 0; i < m->n; i++) {
        Tr *t = &m->t[i];
        k.decay = t->decay && m->wd != 0.0f;
        if (m->state_dtype == DT_F32) {
            float *mm = t->m, *vv = t->v;
            for (size_t j = 0; j < t->n; j++) t->p[j] = adam_elem(t->p[j], t->g[j], &mm[j], &vv[j], &k);
        } else {
            uint16_t *mm = t->m, *vv = t->v;
            uint64_t key = adam_bf16_key(m->seed, m->step, i);
            for (size_t j = 0; j < t->n; j++) t->p[j] = adam_elem_bf16(t->p[j], t->g[j], &mm[j], &vv[j], &k, key, j);
        }
    }
}

static int n_trainables(DevModel *m) { return m->n; }

static void *slot(DevModel *m, int i, int which, size_t bytes, char *err, size_t errlen) {
    if (i < 0 || i >= m->n) { snprintf(err, errlen, "no trainable %d", i); return NULL; }
    size_t es = which >= 2 ? (m->state_dtype == DT_BF16 ? 2 : 4) : 4;
    if (bytes != m->t[i].n * es) { snprintf(err, errlen, "%s: %zu bytes, holds %zu", m->t[i].name, bytes, m->t[i].n * es); return NULL; }
    return which == 0 ? (void *)m->t[i].p : which == 1 ? (void *)m->t[i].g : which == 2 ? m->t[i].m : m->t[i].v;
}
static int download(DevModel *m, int i, int which, void *host, size_t bytes, char *err, size_t errlen) {
    logf_("download %d %d", i, which);
    void *s = slot(m, i, which, bytes, err, errlen);
    if (!s) return 1;
    memcpy(host, s, bytes);
    return 0;
}
static int upload(DevModel *m, int i, int which, const void *host, size_t bytes, char *err, size_t errlen) {
    logf_("upload %d %d", i, which);
    void *s = slot(m, i, which, bytes, err, errlen);
    if (!s) return 1;
    memcpy(s, host, bytes);
    return 0;
}
static long adamw_t(DevModel *m, long set) {
    if (set >= 0) { m->step = set; logf_("adamw_t set %ld", set); }
    return m->step;
}
static void memory(DevModel *m, DevMemory *out) {
    memset(out, 0, sizeof *out);
    out->tracked_cur = out->tracked_peak = (size_t)m->total * 16;
    out->device_total = (size_t)1 << 30;
}
static int sync_(DevModel *m, char *err, size_t errlen) { (void)m; (void)err; (void)errlen; logf_("sync"); return 0; }

#ifdef FAKE_NO_SYMBOL
#define EXPORT_NAME l4q_cuda_ops_misspelt
#else
#define EXPORT_NAME l4q_cuda_ops
#endif
__attribute__((visibility("default"))) const DeviceOps EXPORT_NAME = {
    .version = FAKE_VERSION,
    .struct_size = sizeof(DeviceOps) + FAKE_SIZE_DELTA,
    .init = init, .supports = supports, .model_new = model_new, .model_free = model_free, .step = step,
    .logits_row = logits_row, .zero_grad = zero_grad,
#ifndef FAKE_NULL_FN
    .grad_clip = grad_clip,
#endif
    .adamw_step = adamw_step, .n_trainables = n_trainables, .download = download, .upload = upload,
    .adamw_t = adamw_t, .memory = memory, .sync = sync_,
};
