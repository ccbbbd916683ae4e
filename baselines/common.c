// common.c — the packed-base helpers and the GPTQ records shared by the baseline layers
// (see common.h).
#include "common.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// The tiled dequantize-then-sgemm loops (deploy_rows/deploy_forward/deploy_backward_dx)
// live in core/deployed.c, shared with the deployed inference layers.

size_t qb_bytes(const Deploy *d) {
    if (d->kind == DEP_NF4) {
        size_t n = (size_t)d->out * d->in, blocks = (n + NF4_BLOCK - 1) / NF4_BLOCK;
        return d->codes_bytes + blocks + ((blocks + NF4_DQ_BLOCK - 1) / NF4_DQ_BLOCK) * sizeof(float) + sizeof(float);
    }
    int gs = d->group_size == -1 ? d->in : d->group_size;
    size_t np = (size_t)d->out * ((d->in + gs - 1) / gs);
    return d->codes_bytes + 2 * np * sizeof(float);
}


// deploy_copy lives in core/deployed.c (linear.h).

void qb_rtn(Deploy *d, const float *W, int out, int in, int bits, int group_size) {
    QuantSpec q;
    quant_spec(&q, bits, group_size, out, in);
    quant_deploy_alloc(&q, d);
    quant_rtn(&q, W, d->scale, d->offset, d->codes);
}

// The LoRA side branch (lb_*) lives in core/lora.c.

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
    int n = mf->c.n_layers * 7;
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

// Per-method defaults on top of method_defaults' shared ones (documented in README.md).
void baselines_method_defaults(MethodCfg *m) {
    if (!strcmp(m->name, "qa_lora")) {
        // Twice L4Q's rank for the same LoRA parameter budget (the paper's protocol); alpha
        // doubled with it so alpha/rank = 2 like the other LoRA methods.
        m->rank = 8;
        m->alpha = 16;
        snprintf(m->base, sizeof m->base, "gptq");
    } else if (!strcmp(m->name, "qlora_uniform")) {
        snprintf(m->base, sizeof m->base, "gptq"); // the paper's QLoRA* is GPTQ + LoRA
    }
}
