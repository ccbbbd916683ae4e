// test_gpu_memory.c — bench/gpu_memory.h's closed-form account equals model_memory() of
// real CPU models, field by field, for every method of the GPU Table 1 (gptq_lora through
// rtn_lora: the same stored uniform form, only the codes' values differ), with fp32 and
// 16-bit frozen weights, untied head, GQA, two batch shapes. bench/gpu_table1 prints this
// formula's prediction for a row that does not fit on the device, so it must be the CPU's.
#include "bench/gpu_memory.h"
#include "baselines/baselines.h"
#include "half.h"
#include "methods.h"
#include "model.h"
#include "modelfile.h"
#include "testlib.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

static void check(const char *name, int w16, int B, int T) {
    Config c = {.dim = 64, .hidden_dim = 176, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 96,
                .seq_len = 32, .shared_classifier = 0, .norm_eps = 1e-5f, .rope_theta = 10000};
    ModelFile *mf = model_file_random(&c, 0.05f, 3);
    uint16_t *h16[64] = {0};
    int np = c.n_layers * N_LAYER_PROJ;
    if (w16) // 16-bit projections and head, as a bf16 checkpoint holds them (embedding fp32)
        for (int i = 0; i <= np; i++) {
            int out = c.vocab_size, in = c.dim;
            if (i < np) proj_dims(&c, i % N_LAYER_PROJ, &out, &in);
            h16[i] = xmalloc((size_t)out * in * 2);
            f32_to_half(DT_BF16, i < np ? mf->w[i] : mf->wcls, h16[i], (size_t)out * in);
            if (i < np) { mf_set_w16(mf, i, DT_BF16, h16[i]); mf->w[i] = NULL; }
            else { mf->wcls16 = h16[i]; mf->wcls_dt = DT_BF16; mf->wcls = NULL; }
        }
    MethodCfg m;
    method_defaults(&m, name);
    m.rank = 4; m.alpha = 8; m.targets = 0x7f; m.dropout = 0;
    if (strcmp(name, "qlora")) { m.bits = 3; m.group_size = 16; }
    if (!strcmp(name, "qa_lora")) strcpy(m.base, "rtn");
    Model *M = model_build(mf, &m, B, T, 1);
    int tok[B * T + 1];
    for (int i = 0; i <= B * T; i++) tok[i] = (i * 7 + 3) % c.vocab_size;
    model_zero_grad(M);
    model_forward(M, tok, B, T, 0); // qa_lora sizes its saved U in forward
    model_head(M, tok + 1, NULL, 0, B * T, NULL, NULL, 1, 1.0f / (B * T));
    model_backward(M, tok, B, T);
    MemAccount acc;
    model_memory(M, &acc);
    GmShape s = {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, 1};
    GmMethod g = {name, m.rank, m.bits, m.group_size, m.targets, m.tile_rows};
    GmAccount a;
    gm_account(&s, &g, w16 ? 2 : 4, 4, B, T, &a);
    char what[160];
    snprintf(what, sizeof what, "%s, %s W0, %dx%d: weight, trainable, grad+opt, saved, activations = model_memory()", name,
             w16 ? "bf16" : "fp32", B, T);
    CHECK(a.weight_bytes == acc.weight_bytes && a.trainable_bytes == acc.trainable_bytes &&
              a.grad_opt_bytes == acc.grad_opt_bytes && a.saved_bytes == acc.saved_bytes && a.act_bytes == M->act_bytes,
          what, "closed form %zu %zu %zu %zu (act %zu) vs CPU %zu %zu %zu %zu (act %zu)", a.weight_bytes, a.trainable_bytes,
          a.grad_opt_bytes, a.saved_bytes, a.act_bytes, acc.weight_bytes, acc.trainable_bytes, acc.grad_opt_bytes,
          acc.saved_bytes, M->act_bytes);
    model_free(M);
    model_file_free(mf);
    for (int i = 0; i <= np; i++) free(h16[i]);
}

int main(void) {
    baselines_register();
    const char *ms[] = {"lora", "l4q", "qlora", "rtn_lora", "qa_lora", "qat_lora", "lsq"};
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
        for (int w16 = 0; w16 < 2; w16++) {
            check(ms[i], w16, 2, 16);
            check(ms[i], w16, 1, 32);
        }
    T_EXIT();
}
