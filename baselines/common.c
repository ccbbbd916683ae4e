// common.c — what the baseline layers share (see common.h): the GPTQ records, the LoRA
// config check, the choice of uniform base, and baselines_register.
#include "common.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- GPTQ records ----------------------------------------------------------------------------
// A small array: one entry per quantized projection of the prepared model (≤ a few hundred).
typedef struct { const float *w; Deploy d; } Prepared;
static Prepared *g_prep;
static int g_nprep, g_capprep;

const Deploy *prepared_lookup(const float *w) {
    for (int i = 0; i < g_nprep; i++) if (g_prep[i].w == w) return &g_prep[i].d;
    return NULL;
}

void prepared_put(const float *w, const Deploy *d) {
    for (int i = 0; i < g_nprep; i++)
        if (g_prep[i].w == w) { deploy_free(&g_prep[i].d); g_prep[i].d = *d; return; }
    if (g_nprep == g_capprep) {
        g_capprep = g_capprep ? 2 * g_capprep : 64;
        g_prep = xrealloc(g_prep, (size_t)g_capprep * sizeof *g_prep);
    }
    g_prep[g_nprep].w = w;
    g_prep[g_nprep].d = *d;
    g_nprep++;
}

void baselines_release(const ModelFile *mf) {
    int n = mf->c.n_layers * N_LAYER_PROJ;
    for (int i = 0; i < g_nprep;) {
        const float *w = g_prep[i].w;
        int mine = w == mf->tok_emb || (mf->wcls && w == mf->wcls);
        for (int k = 0; k < n && !mine; k++) mine = mf->w && w == mf->w[k];
        if (mine) {
            deploy_free(&g_prep[i].d);
            g_prep[i] = g_prep[--g_nprep];
        } else {
            i++;
        }
    }
    if (!g_nprep) { free(g_prep); g_prep = NULL; g_capprep = 0; }
}

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
    static const QuantInitPass GPTQ_INIT = {"gptq", gptq_prepare, baselines_release, prepared_lookup};
    quant_init_pass_register(&GPTQ_INIT);
}
