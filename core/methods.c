// methods.c — the method registry behind the seam, the shared sgemm helpers, and the
// two plain methods: `none` (frozen fp32) and `full` (the weight itself trains).
#include "methods.h"
#include "util.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

const char *const PROJ_NAMES[N_PROJ] = {"q", "k", "v", "o", "gate", "up", "down", "head"};

void mm_xwt(const float *X, const float *W, float *Y, int N, int in, int out, float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, in, 1.0f, X, in, W, in, beta, Y, out);
}
void mm_dyw(const float *dY, const float *W, float *dX, int N, int out, int in, float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, out, 1.0f, dY, out, W, in, beta, dX, in);
}
void mm_dytx(const float *dY, const float *X, float *dW, int N, int out, int in, float beta) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, N, 1.0f, dY, out, X, in, beta, dW, in);
}

void mem_add(MemAccount *a, const MemAccount *m) {
    a->weight_bytes += m->weight_bytes;
    a->trainable_bytes += m->trainable_bytes;
    a->grad_opt_bytes += m->grad_opt_bytes;
    a->saved_bytes += m->saved_bytes;
    if (m->transient_peak > a->transient_peak) a->transient_peak = m->transient_peak;
}

// ---- none: frozen weight (fp32, or 16-bit widened a tile at a time) ----------------
typedef struct { Linear base; const Param *W; } FrozenLinear;

static void frozen_forward(Linear *L, const float *X, float *Y, int N) {
    w0_forward(((FrozenLinear *)L)->W, L, X, Y, N);
}
static void frozen_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    (void)X;
    if (dX) w0_backward_dx(((FrozenLinear *)L)->W, L, dY, dX, N);
}
static void frozen_deploy(Linear *L, Deploy *d) {
    FrozenLinear *f = (FrozenLinear *)L;
    memset(d, 0, sizeof *d);
    d->kind = DEP_FP32; d->out = L->out; d->in = L->in;
    d->w = xmalloc((size_t)L->out * L->in * sizeof(float));
    param_rows(f->W, 0, L->out, d->w);
}
static void plain_free(Linear *L) { free(L); }
static const LinearOps FROZEN_OPS = {"none", frozen_forward, frozen_backward, frozen_deploy, plain_free};

static Linear *frozen_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    (void)m; (void)rng;
    FrozenLinear *f = linear_alloc(sizeof *f, &FROZEN_OPS, W->shape[0], W->shape[1], name);
    f->base.form = "fp32";
    f->W = W;
    f->base.mem.weight_bytes = param_bytes(W);
    return &f->base;
}

// ---- full: the weight is the trainable parameter ----------------------------------
typedef struct { Linear base; Param *W; } FullLinear;
static void full_forward(Linear *L, const float *X, float *Y, int N) {
    mm_xwt(X, ((FullLinear *)L)->W->data, Y, N, L->in, L->out, 0.0f);
}
static void full_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    Param *W = ((FullLinear *)L)->W;
    mm_dytx(dY, X, W->grad, N, L->out, L->in, 1.0f);
    if (dX) mm_dyw(dY, W->data, dX, N, L->out, L->in, 1.0f);
}
static void full_deploy(Linear *L, Deploy *d) {
    deploy_fp32_copy(d, L->out, L->in, ((FullLinear *)L)->W->data);
}
static const LinearOps FULL_OPS = {"full", full_forward, full_backward, full_deploy, plain_free};

static Linear *full_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    (void)m; (void)rng;
    FullLinear *f = linear_alloc(sizeof *f, &FULL_OPS, W->shape[0], W->shape[1], name);
    f->base.form = "fp32";
    // A tied head shares its Param with the embedding: count it once (the embedding).
    int tied = W->grad != NULL;
    param_make_trainable(W);
    f->W = W;
    f->base.params[f->base.n_params++] = W;
    if (!tied) {
        f->base.mem.trainable_bytes = W->n * sizeof(float);
        f->base.mem.grad_opt_bytes = 3 * W->n * sizeof(float);
    }
    return &f->base;
}

// ---- registry -----------------------------------------------------------------------
static const MethodEntry NONE_METHOD = {"none", frozen_build, 0, NULL, NULL, NULL};
static const MethodEntry FULL_METHOD = {"full", full_build, 0, NULL, NULL, NULL};

#define MAX_METHODS 64
static const MethodEntry *g_methods[MAX_METHODS] = {&NONE_METHOD, &FULL_METHOD, &LORA_METHOD,
                                                    &L4Q_METHOD, &QAT_LORA_METHOD, &LSQ_METHOD};
static int g_nmethods = 6;

const char *const METHOD_KEY_NAMES[MK_COUNT] = {
#define MK_NAME_(id, s) s,
    METHOD_KEY_LIST(MK_NAME_)
#undef MK_NAME_
};

void method_register(const MethodEntry *e) {
    if (method_find(e->name)) die_internal("method '%s' registered twice", e->name);
    if (g_nmethods == MAX_METHODS) die_internal("more than %d methods registered", MAX_METHODS);
    g_methods[g_nmethods++] = e;
}

const char *const *method_names(void) {
    static const char *names[MAX_METHODS + 1];
    for (int i = 0; i < g_nmethods; i++) names[i] = g_methods[i]->name;
    names[g_nmethods] = NULL;
    return names;
}
const MethodEntry *method_find(const char *name) {
    for (int i = 0; i < g_nmethods; i++) if (!strcmp(g_methods[i]->name, name)) return g_methods[i];
    return NULL;
}
static const MethodEntry *find_or_die(const char *name) {
    const MethodEntry *e = method_find(name);
    if (e) return e;
    char list[512] = ""; size_t o = 0;
    for (int i = 0; i < g_nmethods; i++) o += snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", g_methods[i]->name);
    die_input("unknown method '%s' (valid: %s)", name, list);
}

void method_defaults(MethodCfg *m, const char *name) {
    const MethodEntry *e = find_or_die(name);
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    m->rank = 4;
    m->alpha = 8;
    m->targets = (1u << P_HEAD) - 1; // the seven projections
    m->bits = 4;
    m->group_size = 32;
    snprintf(m->init, sizeof m->init, "l4q");
    m->lsq_grad_scale = 0;
    m->tile_rows = 256; // L4Q tile (one buffer): tile_rows × the widest projection side, floats
    snprintf(m->base, sizeof m->base, "rtn");
    m->loftq_iters = 5;
    m->damp = 0.01f;
    m->calib_windows = 128;
    if (e->defaults) e->defaults(m); // per-method overrides (qa_lora's doubled rank, ...)
}

const char *method_bad_key(const MethodCfg *m) {
    unsigned bad = m->set & ~find_or_die(m->name)->keys;
    for (int i = 0; i < MK_COUNT; i++)
        if (bad & (1u << i)) return METHOD_KEY_NAMES[i];
    return NULL;
}

int method_key_index(const char *key) {
    for (int i = 0; i < MK_COUNT; i++) if (!strcmp(METHOD_KEY_NAMES[i], key)) return i;
    return -1;
}

int method_takes(const char *name, const char *key) {
    const MethodEntry *e = method_find(name);
    int i = method_key_index(key);
    return !e || i < 0 || (e->keys & (1u << i));
}

#define MAX_INIT_PASSES 8
static const QuantInitPass *g_init_passes[MAX_INIT_PASSES];
static int g_ninit_passes;
void quant_init_pass_register(const QuantInitPass *p) {
    if (quant_init_pass_find(p->init)) die_internal("quantizer init '%s' registered twice", p->init);
    if (g_ninit_passes == MAX_INIT_PASSES) die_internal("more than %d quantizer init passes", MAX_INIT_PASSES);
    g_init_passes[g_ninit_passes++] = p;
}
const QuantInitPass *quant_init_pass_find(const char *init) {
    for (int i = 0; i < g_ninit_passes; i++) if (!strcmp(g_init_passes[i]->init, init)) return g_init_passes[i];
    return NULL;
}

int method_prepare(ModelFile *mf, const MethodCfg *m, const Tokenizer *tok, int seq_len) {
    const MethodEntry *e = find_or_die(m->name);
    return e->prepare ? e->prepare(mf, m, tok, seq_len) : 0;
}
void method_release(const ModelFile *mf, const MethodCfg *m) {
    const MethodEntry *e = find_or_die(m->name);
    if (e->release) e->release(mf);
}

// Methods that read a frozen W0 through w0_forward/param_rows (or train it, which widens it
// in param_make_trainable) take a 16-bit weight as it is; the quantized-base baselines read
// W->data whole while they build, so a 16-bit weight is widened to fp32 for them first.
static int takes_16bit(const char *name) {
    static const char *const ok[] = {"none", "full", "lora", "l4q", "qat_lora", "lsq"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) if (!strcmp(ok[i], name)) return 1;
    return 0;
}

Linear *linear_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    const MethodEntry *e = find_or_die(m->name);
    if (W->dtype != DT_F32 && !takes_16bit(e->name)) param_widen(W);
    return e->build(m, W, name, rng);
}
void linear_free(Linear *L) { if (L) L->ops->free(L); }

void *linear_alloc(size_t size, const LinearOps *ops, int out, int in, const char *name) {
    Linear *L = xcalloc(1, size);
    L->ops = ops;
    L->out = out; L->in = in;
    snprintf(L->name, sizeof L->name, "%s", name);
    return L;
}
