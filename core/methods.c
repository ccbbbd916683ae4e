// methods.c — the method registry behind the seam (building a layer by method name, the
// quantizer inits it resolves) and the two plain methods: `none` (frozen fp32 or 16-bit)
// and `full` (the weight itself trains).
#include "methods.h"
#include "bf16mm.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

// ---- none: frozen weight (fp32, or 16-bit widened a tile at a time; deployed as held) -
typedef struct { Linear base; const Param *W; } FrozenLinear;

static void frozen_forward(Linear *L, const float *X, float *Y, int N) {
    w0_forward(((FrozenLinear *)L)->W, L, X, Y, N);
}
static void frozen_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    (void)X;
    if (dX) w0_backward_dx(((FrozenLinear *)L)->W, L, dY, dX, N);
}
static void frozen_backward_dx_bf16(Linear *L, const uint16_t *dYb, float *dX, int N) {
    bf16mm_dyw_rounded(dYb, param_bf16(((FrozenLinear *)L)->W), L->bf16_packed, dX, N, L->out, L->in);
}
static void frozen_deploy(Linear *L, Deploy *d) {
    FrozenLinear *f = (FrozenLinear *)L;
    if (f->W->dtype != DT_F32) { deploy_half(d, L->out, L->in, f->W->dtype, f->W->half); return; } // borrowed
    memset(d, 0, sizeof *d);
    d->kind = DEP_FP32; d->out = L->out; d->in = L->in;
    d->w = xmalloc((size_t)L->out * L->in * sizeof(float));
    param_rows(f->W, 0, L->out, d->w);
}
static void plain_free(Linear *L) { free(L); }
static const LinearOps FROZEN_OPS = {
    .name = "none",
    .forward = frozen_forward,
    .backward = frozen_backward,
    .deploy = frozen_deploy,
    .free = plain_free,
    .backward_dx_bf16 = frozen_backward_dx_bf16,
};

static Linear *frozen_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    (void)m; (void)rng;
    FrozenLinear *f = linear_alloc(sizeof *f, &FROZEN_OPS, W->shape[0], W->shape[1], name);
    f->base.form = W->dtype == DT_F32 ? "fp32" : dtype_name(W->dtype); // as deployed: "bf16", "f16"
    f->W = W;
    w0_account(&f->base.mem, W);
    return &f->base;
}

// ---- full: the weight is the trainable parameter ----------------------------------
typedef struct { Linear base; Param *W; } FullLinear;
static void full_forward(Linear *L, const float *X, float *Y, int N) {
    mm_xwt(X, ((FullLinear *)L)->W->data, Y, N, L->in, L->out, 0.0f);
}
static void full_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    Param *W = ((FullLinear *)L)->W;
    mm_dytx(dY, X, W->grad, N, L->out, L->in, 1.0f, 1.0f);
    if (dX) mm_dyw(dY, W->data, dX, N, L->out, L->in, 1.0f);
}
static void full_deploy(Linear *L, Deploy *d) {
    deploy_fp32_copy(d, L->out, L->in, ((FullLinear *)L)->W->data);
}
static const LinearOps FULL_OPS = {.name = "full", .forward = full_forward, .backward = full_backward, .deploy = full_deploy, .free = plain_free};

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
static const MethodEntry NONE_METHOD = {.name = "none", .build = frozen_build, .takes_w0_16bit = 1};
static const MethodEntry FULL_METHOD = {.name = "full", .build = full_build, .takes_w0_16bit = 1};

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
const MethodEntry *method_lookup(const char *name) {
    const MethodEntry *e = method_find(name);
    if (e) return e;
    char list[512] = ""; size_t o = 0;
    for (int i = 0; i < g_nmethods; i++) o += snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", g_methods[i]->name);
    die_input("unknown method '%s' (valid: %s)", name, list);
}

// A method that does not declare takes_w0_16bit reads W->data whole while it builds (the
// quantized-base baselines), so a 16-bit weight is widened to fp32 for it first.
Linear *linear_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    const MethodEntry *e = method_lookup(m->name);
    if (W->dtype != DT_F32 && !e->takes_w0_16bit) param_widen(W);
    return e->build(m, W, name, rng);
}

void method_defaults(MethodCfg *m, const char *name) {
    const MethodEntry *e = method_lookup(name);
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
    unsigned bad = m->set & ~method_lookup(m->name)->keys;
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

void quant_params_build(const MethodCfg *m, const char *name, const Param *W0, int out, int in,
                        QuantSpec *q, Param **s, Param **b) {
    float *tmp; // a 16-bit W0 is widened whole for the init only (build time, one layer)
    const float *W = param_f32(W0, &tmp);
    quant_spec(q, m->bits, m->group_size, out, in);
    QuantInit init = quant_init_parse(m->init);
    char nm[96];
    snprintf(nm, sizeof nm, "%s.qscale", name);
    *s = param_new(nm, out, q->ng, 0);
    snprintf(nm, sizeof nm, "%s.qoffset", name);
    *b = param_new(nm, out, q->ng, 0);
    if (init == QINIT_GPTQ) { // the grid the pass recorded for this projection (MethodCfg.prep)
        const Deploy *d = method_prep_find(m->prep, name);
        if (!d)
            die_internal("%s: method.init %s needs its model-level pass: call method_prepare and pass its records to "
                         "model_build in MethodCfg.prep", name, m->init);
        if (d->kind != DEP_UNIFORM || d->bits != q->bits || d->group_size != q->gs || d->out != out || d->in != in)
            die_internal("%s: the %s grid is for %d bits / group %d, the method asks %d / %d", name, m->init, d->bits,
                         d->group_size, q->bits, q->gs);
        memcpy((*s)->data, d->scale, quant_nparams(q) * sizeof(float));
        memcpy((*b)->data, d->offset, quant_nparams(q) * sizeof(float));
    } else {
        quant_init_params(q, W, init, (*s)->data, (*b)->data);
    }
    free(tmp);
    param_make_trainable(*s);
    param_make_trainable(*b);
    (*s)->group = (*b)->group = PG_QUANT; // method.quant_lr
}

MethodPrep *method_prepare(ModelFile *mf, const MethodCfg *m, const Tokenizer *tok, int seq_len) {
    const MethodEntry *e = method_lookup(m->name);
    return e->prepare ? e->prepare(mf, m, tok, seq_len) : NULL;
}

// ---- a model-level pass's records (core/methods.h) ----------------------------------
// A small array: one entry per projection of the prepared model (≤ a few hundred), looked
// up once per layer at build time.
struct MethodPrep {
    struct { char name[48]; Deploy d; } *rec; // name: sized as Linear.name
    int n, cap;
};
MethodPrep *method_prep_new(void) { return xcalloc(1, sizeof(MethodPrep)); }

void method_prep_put(MethodPrep *p, const char *name, Deploy *d) {
    int i = 0;
    while (i < p->n && strcmp(p->rec[i].name, name)) i++;
    if (i < p->n) {
        deploy_free(&p->rec[i].d);
    } else {
        if (p->n == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 64;
            p->rec = xrealloc(p->rec, (size_t)p->cap * sizeof *p->rec);
        }
        snprintf(p->rec[p->n++].name, sizeof p->rec[0].name, "%s", name);
    }
    p->rec[i].d = *d;
    memset(d, 0, sizeof *d);
}
const Deploy *method_prep_find(const MethodPrep *p, const char *name) {
    for (int i = 0; p && i < p->n; i++) if (!strcmp(p->rec[i].name, name)) return &p->rec[i].d;
    return NULL;
}
void method_prep_free(MethodPrep *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) deploy_free(&p->rec[i].d);
    free(p->rec);
    free(p);
}

