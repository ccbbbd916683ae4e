// methods.c — the method registry behind the seam, the shared sgemm helpers, and the
// two plain methods: `none` (frozen fp32) and `full` (the weight itself trains).
#include "linear.h"
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
    FrozenLinear *f = xcalloc(1, sizeof *f);
    f->base.ops = &FROZEN_OPS;
    f->base.out = W->shape[0]; f->base.in = W->shape[1];
    f->base.form = "fp32";
    f->W = W;
    f->base.mem.weight_bytes = param_bytes(W);
    snprintf(f->base.name, sizeof f->base.name, "%s", name);
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
    FullLinear *f = (FullLinear *)L;
    memset(d, 0, sizeof *d);
    d->kind = DEP_FP32; d->out = L->out; d->in = L->in;
    d->w = xmalloc(f->W->n * sizeof(float));
    memcpy(d->w, f->W->data, f->W->n * sizeof(float));
}
static const LinearOps FULL_OPS = {"full", full_forward, full_backward, full_deploy, plain_free};

static Linear *full_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    (void)m; (void)rng;
    FullLinear *f = xcalloc(1, sizeof *f);
    f->base.ops = &FULL_OPS;
    f->base.out = W->shape[0]; f->base.in = W->shape[1];
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
    snprintf(f->base.name, sizeof f->base.name, "%s", name);
    return &f->base;
}

// ---- registry -----------------------------------------------------------------------
// Each method: its constructor, the method keys it accepts (others are config errors),
// and its defaults. Baselines and L4Q register here too.
Linear *lora_build(const MethodCfg *m, Param *W, const char *name, Rng *rng);
Linear *l4q_build(const MethodCfg *m, Param *W, const char *name, Rng *rng);
Linear *qat_lora_build(const MethodCfg *m, Param *W, const char *name, Rng *rng);
Linear *lsq_build(const MethodCfg *m, Param *W, const char *name, Rng *rng);
// Baselines (baselines/, SPEC §5; hyper-parameters in baselines/README.md).
Linear *ptq_build(const MethodCfg *m, Param *W, const char *name, Rng *rng);
Linear *ptq_lora_build(const MethodCfg *m, Param *W, const char *name, Rng *rng);
Linear *qlora_build(const MethodCfg *m, Param *W, const char *name, Rng *rng);
Linear *qa_lora_build(const MethodCfg *m, Param *W, const char *name, Rng *rng);
Linear *peqa_build(const MethodCfg *m, Param *W, const char *name, Rng *rng);
Linear *loftq_build(const MethodCfg *m, Param *W, const char *name, Rng *rng);
void baselines_method_defaults(MethodCfg *m);

typedef struct {
    const char *name;
    Linear *(*build)(const MethodCfg *, Param *, const char *, Rng *);
    unsigned keys;
} MethodEntry;

#define LORA_KEYS (MK_RANK | MK_ALPHA | MK_DROPOUT | MK_TARGETS)
#define QUANT_KEYS (MK_BITS | MK_GROUP | MK_INIT | MK_LSQ_SCALE)
static const MethodEntry METHODS[] = {
    {"none", frozen_build, 0},
    {"full", full_build, 0},
    {"lora", lora_build, LORA_KEYS},
    // Quantizer-trained methods (core/quant.c). No LoRA dropout: the paper's code applies it
    // to the whole fused layer input, which is not what a LoRA dropout means, so it is left out.
    {"l4q", l4q_build, QUANT_KEYS | MK_RANK | MK_ALPHA | MK_TARGETS | MK_TILE},
    {"qat_lora", qat_lora_build, QUANT_KEYS | MK_RANK | MK_ALPHA | MK_TARGETS},
    {"lsq", lsq_build, QUANT_KEYS | MK_TARGETS},
#define UQ_KEYS (MK_BITS | MK_GROUP)
#define GPTQ_KEYS (MK_ACT_ORDER | MK_DAMP | MK_CALIB)
    {"rtn", ptq_build, UQ_KEYS | MK_TARGETS},
    {"gptq", ptq_build, UQ_KEYS | MK_TARGETS | GPTQ_KEYS},
    {"rtn_lora", ptq_lora_build, LORA_KEYS | UQ_KEYS},
    {"gptq_lora", ptq_lora_build, LORA_KEYS | UQ_KEYS | GPTQ_KEYS},
    {"qlora_uniform", ptq_lora_build, LORA_KEYS | UQ_KEYS | MK_BASE | GPTQ_KEYS},
    {"qlora", qlora_build, LORA_KEYS | MK_BITS},
    {"qa_lora", qa_lora_build, MK_RANK | MK_ALPHA | MK_TARGETS | UQ_KEYS | MK_BASE | GPTQ_KEYS},
    {"peqa", peqa_build, UQ_KEYS | MK_TARGETS},
    {"loftq", loftq_build, LORA_KEYS | UQ_KEYS | MK_BASE | MK_LOFTQ_ITERS},
};
#define NMETHODS (int)(sizeof METHODS / sizeof METHODS[0])

const char *const *method_names(void) {
    static const char *names[NMETHODS + 1];
    for (int i = 0; i < NMETHODS; i++) names[i] = METHODS[i].name;
    return names;
}
static const MethodEntry *find_method(const char *name) {
    for (int i = 0; i < NMETHODS; i++) if (!strcmp(METHODS[i].name, name)) return &METHODS[i];
    return NULL;
}
static _Noreturn void unknown_method(const char *name) {
    char list[512] = ""; size_t o = 0;
    for (int i = 0; i < NMETHODS; i++) o += snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", METHODS[i].name);
    die_input("unknown method '%s' (valid: %s)", name, list);
}

void method_defaults(MethodCfg *m, const char *name) {
    if (!find_method(name)) unknown_method(name);
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
    baselines_method_defaults(m); // per-method overrides (qa_lora's doubled rank, ...)
}

// Which MK_* key bit names a key (for error messages).
static const char *const MK_NAMES[] = {"rank", "alpha", "dropout", "targets", "bits", "group_size",
                                       "init", "lsq_grad_scale", "tile_rows", "base", "loftq_iters",
                                       "act_order", "damp", "calib_windows"};
const char *method_bad_key(const MethodCfg *m) {
    const MethodEntry *e = find_method(m->name);
    if (!e) unknown_method(m->name);
    unsigned bad = m->set & ~e->keys;
    for (int i = 0; i < (int)(sizeof MK_NAMES / sizeof MK_NAMES[0]); i++)
        if (bad & (1u << i)) return MK_NAMES[i];
    return NULL;
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
    const MethodEntry *e = find_method(m->name);
    if (!e) unknown_method(m->name);
    if (W->dtype != DT_F32 && !takes_16bit(e->name)) param_widen(W);
    return e->build(m, W, name, rng);
}
void linear_free(Linear *L) { if (L) L->ops->free(L); }

void deploy_free(Deploy *d) {
    if (!d) return;
    free(d->w); free(d->codes); free(d->scale); free(d->offset);
    free(d->absmax_q); free(d->absmax_scale); free(d->lora_A); free(d->lora_B);
    memset(d, 0, sizeof *d);
}
