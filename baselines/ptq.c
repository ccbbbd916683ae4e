// ptq.c — frozen quantized base layers: the PTQ baselines `rtn` and `gptq` (nothing
// trains; fully quantized "n") and LoRA on such a base, `rtn_lora`, `gptq_lora` and
// `qlora_uniform` (the paper's QLoRA*: its base is method.base, GPTQ by default; mixed
// "n&fp"). The same layer type carries qlora's NF4 base and loftq (baselines/nf4.c,
// baselines/loftq.c).
//
//   Y = X·Q(W0)ᵀ [+ scale·(drop(X)·Aᵀ)·Bᵀ]
//
// The base is held only in its packed deployed form and dequantized a row tile at a time
// in forward and backward (deploy_forward / deploy_backward_dx), so weight_bytes is the packed
// size and transient memory is one tile. RTN codes are computed here from W0 (per-group
// asymmetric min-max, quant_rtn); GPTQ codes come from the model-level pass
// (baselines_prepare), whose records model_build hands over in MethodCfg.prep.
#include "common.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    Linear base;
    Deploy q;          // frozen quantized base (owned), no side branch
    LoraBranch lb;     // used when has_lora
    int has_lora;
} QLayer;

static void ql_forward(Linear *L, const float *X, float *Y, int N) {
    QLayer *l = (QLayer *)L;
    deploy_forward(&l->q, L, X, Y, N);
    if (l->has_lora) lb_forward(&l->lb, L, X, Y, N);
}

static void ql_backward(Linear *L, const float *X, const float *dY, float *dX, int N) {
    QLayer *l = (QLayer *)L;
    if (l->has_lora) lb_backward(&l->lb, L, X, dY, dX, N);
    if (dX) deploy_backward_dx(&l->q, L, dY, dX, N);
}

// The deployed form is the base itself, plus the fp32 side branch when LoRA trained.
static void ql_deploy(Linear *L, Deploy *d) {
    QLayer *l = (QLayer *)L;
    deploy_copy(d, &l->q);
    if (l->has_lora) lb_deploy(&l->lb, d);
}

static void ql_free(Linear *L) {
    QLayer *l = (QLayer *)L;
    deploy_free(&l->q);
    if (l->has_lora) lb_free(&l->lb);
    free(l);
}
static const LinearOps QPTQ_OPS = {.name = "ptq", .forward = ql_forward, .backward = ql_backward, .deploy = ql_deploy, .free = ql_free};
static const LinearOps QLORA_OPS = {.name = "qbase_lora", .forward = ql_forward, .backward = ql_backward, .deploy = ql_deploy, .free = ql_free};

Linear *qlayer_new(Deploy *base, const MethodCfg *lora_m, const char *name, Rng *rng, LoraBranch **lb_out) {
    QLayer *l = linear_alloc(sizeof *l, lora_m ? &QLORA_OPS : &QPTQ_OPS, base->out, base->in, name);
    l->q = *base;
    memset(base, 0, sizeof *base);
    l->base.frozen_base = &l->q;
    l->base.mem.weight_bytes = deploy_bytes(&l->q);
    if (lora_m) {
        l->has_lora = 1;
        lb_init(&l->lb, &l->base, lora_m, name, rng);
    }
    if (l->q.kind == DEP_NF4) l->base.form = lora_m ? "nf4&fp" : "nf4";
    else l->base.form = quant_form_name(l->q.bits, lora_m != NULL);
    if (lb_out) *lb_out = lora_m ? &l->lb : NULL;
    return &l->base;
}

// The uniform base of projection W for method m: GPTQ's recorded result or RTN.
static void uniform_base(const MethodCfg *m, Param *W, const char *name, Deploy *d) {
    int out = W->shape[0], in = W->shape[1];
    if (base_is_gptq(m)) gptq_base(m, name, in, d);
    else quant_deploy_rtn(d, W->data, out, in, m->bits, m->group_size);
}

// rtn, gptq: post-training quantization only.
static Linear *ptq_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    Deploy d;
    uniform_base(m, W, name, &d);
    return qlayer_new(&d, NULL, name, rng, NULL);
}

// rtn_lora, gptq_lora, qlora_uniform: LoRA (A kaiming-uniform, B = 0) on the frozen base.
static Linear *ptq_lora_build(const MethodCfg *m, Param *W, const char *name, Rng *rng) {
    check_lora_cfg(m);
    Deploy d;
    uniform_base(m, W, name, &d);
    return qlayer_new(&d, m, name, rng, NULL);
}

// The paper's QLoRA* is GPTQ + LoRA: qlora_uniform's base defaults to gptq.
static void qlora_uniform_defaults(MethodCfg *m) { snprintf(m->base, sizeof m->base, "gptq"); }

const MethodEntry RTN_METHOD = {.name = "rtn", .build = ptq_build, .keys = UQ_KEYS | MK_TARGETS};
const MethodEntry GPTQ_METHOD = {
    .name = "gptq",
    .build = ptq_build,
    .keys = UQ_KEYS | MK_TARGETS | GPTQ_KEYS,
    .prepare = gptq_prepare,
};
const MethodEntry RTN_LORA_METHOD = {.name = "rtn_lora", .build = ptq_lora_build, .keys = LORA_KEYS | UQ_KEYS};
const MethodEntry GPTQ_LORA_METHOD = {
    .name = "gptq_lora",
    .build = ptq_lora_build,
    .keys = LORA_KEYS | UQ_KEYS | GPTQ_KEYS,
    .prepare = gptq_prepare,
};
const MethodEntry QLORA_UNIFORM_METHOD = {
    .name = "qlora_uniform",
    .build = ptq_lora_build,
    .keys = LORA_KEYS | UQ_KEYS | MK_BASE | GPTQ_KEYS,
    .defaults = qlora_uniform_defaults,
    .prepare = gptq_prepare,
};
