// common.c — what the baseline layers share (see common.h): the LoRA config check, the
// choice of uniform base, and baselines_register.
#include "common.h"
#include <math.h>
#include <string.h>

void check_lora_cfg(const MethodCfg *m) {
    if (m->rank <= 0) die_input("method.rank: must be positive (got %d)", m->rank);
    if (!isfinite(m->alpha)) die_input("method.alpha: must be finite (got %g)", m->alpha);
    if (m->dropout < 0 || m->dropout >= 1) die_input("method.dropout: must be in [0, 1) (got %g)", m->dropout);
}

int base_is_gptq(const MethodCfg *m) {
    if (!strcmp(m->name, "gptq") || !strcmp(m->name, "gptq_lora")) return 1;
    if (!strcmp(m->name, "rtn") || !strcmp(m->name, "rtn_lora") || !strcmp(m->name, "peqa")) return 0;
    if (!strcmp(m->base, "gptq")) return 1;
    if (!strcmp(m->base, "rtn")) return 0;
    die_input("method.base: '%s' is not a uniform base for method %s (valid: rtn, gptq)", m->base, m->name);
}

void baselines_register(void) {
    static int done;
    if (done) return;
    done = 1;
    static const MethodEntry *const ALL[] = {&RTN_METHOD, &GPTQ_METHOD, &RTN_LORA_METHOD, &GPTQ_LORA_METHOD,
                                             &QLORA_UNIFORM_METHOD, &QLORA_METHOD, &QA_LORA_METHOD,
                                             &PEQA_METHOD, &LOFTQ_METHOD};
    for (size_t i = 0; i < sizeof ALL / sizeof ALL[0]; i++) method_register(ALL[i]);
    // l4q's method.init: gptq — GPTQ's scales and offsets become L4Q's trainable s and b.
    static const QuantInitPass GPTQ_INIT = {.init = "gptq", .prepare = gptq_prepare};
    quant_init_pass_register(&GPTQ_INIT);
}
