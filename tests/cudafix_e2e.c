// cudafix_e2e.c — writes the CPU side of the CUDA end-to-end parity check
// (cuda/e2efix.h): `build/tests/cudafix_e2e OUTDIR` trains, on the CPU reference path,
//   s260k_{lora,l4q}.bin  stories260K (the shared data's llama2c file), real text batches
//   s260k_{qlora,rtn_lora,qa_lora,qat_lora,lsq}.bin  the other methods, same model and batches
//   s260k_{l4q,qlora}_deployed.bin  inference (`none`) of those runs' deployed forms
//   s15m_{lora,l4q}.bin   a random stories15M-shape model (dim 288, 6 layers, 6 heads,
//                         hidden 768, vocab 32000, tied head) whose weights are
//                         cuda/randw.h's, random token batches
// for 20 AdamW steps of 4×128 tokens (lora: dropout 0; l4q: 4-bit, group 32, rank 4) and
// records the inputs, the per-step loss and gradient norm, the final trainables and (l4q)
// the deployed codes. cuda/test_e2e.c replays them through the plugin. Not a test itself
// (the name has no test_ prefix): `make cuda-fixtures` runs it.
#include "../cuda/e2efix.h"
#include "baselines/baselines.h"
#include "data.h"
#include "methods.h"
#include "checkpoint.h"
#include "model.h"
#include "optim.h"
#include "tokenizer.h"
#include "util.h"
#include "../cuda/randw.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STEPS = 20, BB = 4, TT = 128 };
static const float LR = 2e-3f, BETA1 = 0.9f, BETA2 = 0.999f, ADAM_EPS = 1e-8f, WD = 0.01f, CLIP = 1.0f;
static const uint64_t RANDW_SEED = 0x15A15A, OPT_SEED = 1234, MODEL_SEED = 42;

static FILE *g_out;
static const char *g_path;
static void rec(const char *name, uint32_t type, const void *data, uint64_t count) {
    char nm[EF_NAME] = {0};
    if (strlen(name) >= EF_NAME) die_internal("record name %s too long", name);
    memcpy(nm, name, strlen(name));
    if (fwrite(nm, 1, EF_NAME, g_out) != EF_NAME || fwrite(&type, 4, 1, g_out) != 1 || fwrite(&count, 8, 1, g_out) != 1 ||
        (count && fwrite(data, ef_size(type), count, g_out) != count))
        die_input("%s: write failed", g_path);
}

// The random stories15M-shape model: randw.h weights, norms 1, tied head.
static ModelFile *random_15m(void) {
    Config c = {.dim = 288, .hidden_dim = 768, .n_layers = 6, .n_heads = 6, .n_kv_heads = 6, .vocab_size = 32000,
                .seq_len = 256, .shared_classifier = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    ModelFile *mf = xcalloc(1, sizeof *mf);
    mf->c = c;
    snprintf(mf->path, sizeof mf->path, "random-stories15M");
    snprintf(mf->format, sizeof mf->format, "memory");
    int L = c.n_layers, D = c.dim;
    mf->tok_emb = xmalloc((size_t)c.vocab_size * D * sizeof(float));
    float bd = randw_bound(D);
    for (size_t i = 0; i < (size_t)c.vocab_size * D; i++) mf->tok_emb[i] = randw_value(RANDW_SEED, RANDW_TOK_EMB, i, bd);
    mf->rms_att = xmalloc((size_t)(2 * L + 1) * D * sizeof(float));
    for (int i = 0; i < (2 * L + 1) * D; i++) mf->rms_att[i] = 1.0f;
    mf->rms_ffn = mf->rms_att + (size_t)L * D;
    mf->rms_final = mf->rms_ffn + (size_t)L * D;
    mf->w = xcalloc((size_t)L * N_LAYER_PROJ, sizeof(float *));
    for (int i = 0; i < L * N_LAYER_PROJ; i++) {
        int o, in;
        proj_dims(&c, i % N_LAYER_PROJ, &o, &in);
        mf->w[i] = xmalloc((size_t)o * in * sizeof(float));
        float b = randw_bound(in);
        for (size_t k = 0; k < (size_t)o * in; k++) mf->w[i][k] = randw_value(RANDW_SEED, RANDW_PROJ + i, k, b);
    }
    return mf;
}

// A deployed form as records p<i>.base, p<i>.codes, ... (cuda/e2efix.h); with_side: also
// its LoRA side branch (p<i>.side {rank}, p<i>.sideA, p<i>.sideB, p<i>.sidescale).
static void write_deploy(const Deploy *d, int i, int with_side) {
    char nm[EF_NAME];
    int32_t hdr[3] = {(int32_t)d->kind, d->bits, d->group_size};
    snprintf(nm, sizeof nm, "p%d.base", i);
    rec(nm, EF_I32, hdr, 3);
    snprintf(nm, sizeof nm, "p%d.codes", i);
    rec(nm, EF_U8, d->codes, d->codes_bytes);
    size_t n = (size_t)d->out * d->in;
    if (d->kind == DEP_UNIFORM) {
        snprintf(nm, sizeof nm, "p%d.scale", i);
        rec(nm, EF_F32, d->scale, deploy_nparams(d));
        snprintf(nm, sizeof nm, "p%d.offset", i);
        rec(nm, EF_F32, d->offset, deploy_nparams(d));
    } else if (d->kind == DEP_NF4) {
        snprintf(nm, sizeof nm, "p%d.absq", i);
        rec(nm, EF_U8, d->absmax_q, nf4_blocks(n));
        snprintf(nm, sizeof nm, "p%d.abss", i);
        rec(nm, EF_F32, d->absmax_scale, nf4_scales(n));
        snprintf(nm, sizeof nm, "p%d.absmean", i);
        rec(nm, EF_F32, &d->absmax_mean, 1);
    } else {
        die_internal("projection %d: deployed kind %d", i, (int)d->kind);
    }
    if (with_side && d->rank > 0) {
        int32_t r = d->rank;
        snprintf(nm, sizeof nm, "p%d.side", i);
        rec(nm, EF_I32, &r, 1);
        snprintf(nm, sizeof nm, "p%d.sideA", i);
        rec(nm, EF_F32, d->lora_A, (size_t)d->rank * d->in);
        snprintf(nm, sizeof nm, "p%d.sideB", i);
        rec(nm, EF_F32, d->lora_B, (size_t)d->out * d->rank);
        snprintf(nm, sizeof nm, "p%d.sidescale", i);
        rec(nm, EF_F32, &d->lora_scale, 1);
    }
}

// The frozen quantized base of a qlora / rtn_lora / qa_lora layer, as the host hands it to
// the device (DevProj.base): its deployed form before training (B = 0, so qa_lora's folded
// offsets are the base's own), without the side branch.
static void write_base(Linear *lin, int i) {
    Deploy d;
    lin->ops->deploy(lin, &d);
    write_deploy(&d, i, 0);
    deploy_free(&d);
}

// Inference of the trained model's deployed file (`none` on DevProj.base): every method
// layer exported (l4q: uniform codes; qlora: NF4 + its LoRA side branch, "nf4&fp"), the CPU
// inference model built from those forms (linear_from_deploy), and its log p(target) on the
// first batch. <tag>_<method>_deployed.bin: config steps 1, method none, records p<i>.w0
// for untouched projections and the deployed forms, then lp (f32 per row) and loss.
static void write_deployed(const char *outdir, const char *tag, const char *method, Model *M, ModelFile *mf,
                           const int *tokens, const int *targets, const MethodCfg *m) {
    const Config *c = &mf->c;
    int L = c->n_layers, nproj = L * N_LAYER_PROJ, R = BB * TT;
    Deploy *deps = xcalloc((size_t)nproj, sizeof *deps);
    Deploy **dp = xcalloc((size_t)nproj, sizeof *dp);
    for (int i = 0; i < nproj; i++)
        if (M->lin[i]->n_params) { M->lin[i]->ops->deploy(M->lin[i], &deps[i]); dp[i] = &deps[i]; }
    ModelFile mf2 = *mf; // the same file with the deployed forms (shallow: nothing of it is freed)
    mf2.dep = dp;
    Model *I = model_build(&mf2, NULL, BB, TT, MODEL_SEED);
    model_forward(I, tokens, BB, TT, 0);
    float *lp = xmalloc((size_t)R * sizeof(float));
    double loss = model_head(I, targets, NULL, 0, R, lp, NULL, 0, 1.0f) / R;

    char path[1200];
    snprintf(path, sizeof path, "%s/%s_%s_deployed.bin", outdir, tag, method);
    g_path = path;
    g_out = fopen(path, "wb");
    if (!g_out) die_input("%s: cannot create", path);
    int32_t cfg[EFC_COUNT] = {c->dim, c->hidden_dim, L, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len,
                              c->shared_classifier, BB, TT, 1, m->rank, m->bits, m->group_size, 0, 0, nproj, 0};
    rec("config", EF_I32, cfg, EFC_COUNT);
    rec("method", EF_U8, "none", 4);
    float hy[EFH_COUNT] = {c->norm_eps, m->alpha, 0, 0, BETA1, BETA2, ADAM_EPS, WD, CLIP};
    rec("hyper", EF_F32, hy, EFH_COUNT);
    uint64_t seeds[2] = {0, OPT_SEED};
    rec("seeds", EF_U64, seeds, 2);
    size_t nr = (size_t)TT * (c->dim / c->n_heads / 2);
    rec("rope_cos", EF_F32, I->rope_cos, nr);
    rec("rope_sin", EF_F32, I->rope_sin, nr);
    size_t D = c->dim;
    rec("tok_emb", EF_F32, mf->tok_emb, (uint64_t)c->vocab_size * D);
    rec("rms_att", EF_F32, mf->rms_att, (uint64_t)L * D);
    rec("rms_ffn", EF_F32, mf->rms_ffn, (uint64_t)L * D);
    rec("rms_final", EF_F32, mf->rms_final, D);
    rec("wcls", EF_F32, mf->wcls, c->shared_classifier ? 0 : (uint64_t)c->vocab_size * D);
    for (int i = 0; i < nproj; i++) {
        char nm[EF_NAME];
        int o, in;
        proj_dims(c, i % N_LAYER_PROJ, &o, &in);
        int32_t sh[3] = {o, in, 0};
        snprintf(nm, sizeof nm, "p%d.shape", i);
        rec(nm, EF_I32, sh, 3);
        snprintf(nm, sizeof nm, "p%d.w0", i);
        rec(nm, EF_F32, mf->w[i], dp[i] ? 0 : (uint64_t)o * in);
        if (dp[i]) write_deploy(dp[i], i, 1);
    }
    rec("tokens", EF_I32, tokens, (uint64_t)R);
    rec("targets", EF_I32, targets, (uint64_t)R);
    rec("lp", EF_F32, lp, (uint64_t)R);
    rec("loss", EF_F64, &loss, 1);
    if (fclose(g_out)) die_input("%s: write failed", path);
    printf("%s %s deployed: loss %.6f\nwrote %s\n", tag, method, loss, path);
    model_free(I);
    for (int i = 0; i < nproj; i++) deploy_free(&deps[i]);
    free(deps);
    free(dp);
    free(lp);
}

static void write_case(const char *outdir, const char *tag, ModelFile *mf, int random, const char *method,
                       const int *tokens, const int *targets) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s_%s.bin", outdir, tag, method);
    const Config *c = &mf->c;
    MethodCfg m;
    method_defaults(&m, method);
    m.dropout = 0;
    if (!strcmp(method, "qa_lora")) snprintf(m.base, sizeof m.base, "rtn"); // GPTQ's calibration is CPU-only
    int qbase = !strcmp(method, "qlora") || !strcmp(method, "rtn_lora") || !strcmp(method, "qa_lora");
    Model *M = model_build(mf, &m, BB, TT, MODEL_SEED);
    Param *ps[4096];
    int np = model_params(M, ps, 4096);
    int L = c->n_layers, nproj = L * N_LAYER_PROJ;
    if (M->head->n_params) die_internal("the parity cases do not train the head");

    g_path = path;
    g_out = fopen(path, "wb");
    if (!g_out) die_input("%s: cannot create", path);
    int32_t cfg[EFC_COUNT] = {c->dim, c->hidden_dim, L, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len,
                              c->shared_classifier, BB, TT, STEPS, m.rank, m.bits, m.group_size, m.lsq_grad_scale,
                              (int32_t)m.targets, nproj, random};
    rec("config", EF_I32, cfg, EFC_COUNT);
    rec("method", EF_U8, method, strlen(method));
    float hy[EFH_COUNT] = {c->norm_eps, m.alpha, m.dropout, LR, BETA1, BETA2, ADAM_EPS, WD, CLIP};
    rec("hyper", EF_F32, hy, EFH_COUNT);
    uint64_t seeds[2] = {random ? RANDW_SEED : 0, OPT_SEED};
    rec("seeds", EF_U64, seeds, 2);
    size_t nr = (size_t)TT * (c->dim / c->n_heads / 2);
    rec("rope_cos", EF_F32, M->rope_cos, nr);
    rec("rope_sin", EF_F32, M->rope_sin, nr);
    size_t D = c->dim;
    rec("tok_emb", EF_F32, mf->tok_emb, random ? 0 : (uint64_t)c->vocab_size * D);
    rec("rms_att", EF_F32, mf->rms_att, random ? 0 : (uint64_t)L * D);
    rec("rms_ffn", EF_F32, mf->rms_ffn, random ? 0 : (uint64_t)L * D);
    rec("rms_final", EF_F32, mf->rms_final, random ? 0 : D);
    rec("wcls", EF_F32, mf->wcls, random || c->shared_classifier ? 0 : (uint64_t)c->vocab_size * D);
    for (int i = 0; i < nproj; i++) {
        Linear *lin = M->lin[i];
        char nm[EF_NAME];
        int32_t sh[3] = {lin->out, lin->in, lin->n_params};
        snprintf(nm, sizeof nm, "p%d.shape", i);
        rec(nm, EF_I32, sh, 3);
        snprintf(nm, sizeof nm, "p%d.w0", i);
        if (M->wp[i].dtype != DT_F32) die_internal("the parity models are fp32");
        int has_base = qbase && lin->n_params > 0;
        rec(nm, EF_F32, M->wp[i].data, random || has_base ? 0 : (uint64_t)lin->out * lin->in);
        if (has_base) write_base(lin, i);
        for (int j = 0; j < lin->n_params; j++) {
            Param *p = lin->params[j];
            snprintf(nm, sizeof nm, "p%d.t%d", i, j);
            rec(nm, EF_F32, p->data, p->n);
            int32_t meta[3] = {p->shape[0], p->shape[1], p->decay};
            snprintf(nm, sizeof nm, "p%d.t%d.m", i, j);
            rec(nm, EF_I32, meta, 3);
        }
    }
    rec("tokens", EF_I32, tokens, (uint64_t)STEPS * BB * TT);
    rec("targets", EF_I32, targets, (uint64_t)STEPS * BB * TT);

    // The step the device test replays: mean NLL, backward, clip at CLIP, AdamW at LR.
    AdamW *opt = adamw_new(ps, np, BETA1, BETA2, ADAM_EPS, WD, DT_F32, OPT_SEED);
    double loss[STEPS], gnorm[STEPS];
    float lrs[STEPS];
    int R = BB * TT;
    for (int s = 0; s < STEPS; s++) {
        const int *in = tokens + (size_t)s * R, *tg = targets + (size_t)s * R;
        model_zero_grad(M);
        model_forward(M, in, BB, TT, 0);
        loss[s] = model_head(M, tg, NULL, 0, R, NULL, NULL, 1, 1.0f / R) / R;
        model_backward(M, in, BB, TT);
        gnorm[s] = grad_clip(ps, np, CLIP);
        lrs[s] = LR;
        adamw_step(opt, ps, np, LR);
        printf("%s %s step %2d: loss %.6f  grad norm %.6f\n", tag, method, s + 1, loss[s], gnorm[s]);
    }
    rec("loss", EF_F64, loss, STEPS);
    rec("gnorm", EF_F64, gnorm, STEPS);
    rec("lr", EF_F32, lrs, STEPS);
    size_t nf = 0;
    for (int i = 0; i < np; i++) nf += ps[i]->n;
    float *fin = xmalloc(nf * sizeof(float));
    for (int i = 0, o = 0; i < np; i++) { memcpy(fin + o, ps[i]->data, ps[i]->n * sizeof(float)); o += (int)ps[i]->n; }
    rec("final", EF_F32, fin, nf);
    free(fin);
    if (!strcmp(method, "l4q")) {
        // The deployed codes (quant_encode of the training-time merge): what the device's
        // final trainables must reproduce.
        size_t total = 0, cap = 0;
        uint8_t *codes = NULL;
        int32_t *which = xmalloc((size_t)nproj * sizeof(int32_t));
        int nw = 0;
        for (int i = 0; i < nproj; i++) {
            Linear *lin = M->lin[i];
            if (!lin->n_params) continue;
            Deploy d;
            lin->ops->deploy(lin, &d);
            if (total + d.codes_bytes > cap) { cap = 2 * (total + d.codes_bytes); codes = realloc(codes, cap); }
            if (!codes) die_internal("out of memory");
            memcpy(codes + total, d.codes, d.codes_bytes);
            total += d.codes_bytes;
            which[nw++] = i;
            deploy_free(&d);
        }
        rec("codes", EF_U8, codes, total);
        rec("codes.proj", EF_I32, which, nw);
        free(codes);
        free(which);
    }
    if (fclose(g_out)) die_input("%s: write failed", path);
    printf("wrote %s\n", path);
    if (!random && (!strcmp(method, "l4q") || !strcmp(method, "qlora")))
        write_deployed(outdir, tag, method, M, mf, tokens, targets, &m);
    adamw_free(opt);
    model_free(M);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s OUTDIR\n", argv[0]); return 2; }
    const char *outdir = argv[1];
    baselines_register();
    size_t R = (size_t)STEPS * BB * TT;
    int *tok = xmalloc(R * sizeof(int)), *tg = xmalloc(R * sizeof(int));
    Rng rng;

    // stories260K on real text.
    char mp[1024], tp[1024], xp[1024];
    resolve_path("models/stories260K/stories260K.bin", NULL, mp, sizeof mp);
    resolve_path("models/stories260K/tok512.bin", NULL, tp, sizeof tp);
    resolve_path("tinystories/tinystories_valid_excerpt.txt", NULL, xp, sizeof xp);
    ModelFile *mf = model_file_load(mp);
    Tokenizer *tk = tok_load(tp, mf->c.vocab_size);
    Dataset *ds = data_text(tk, xp);
    rng_seed(&rng, 7);
    for (int s = 0; s < STEPS; s++) data_batch(ds, &rng, BB, TT, tok + (size_t)s * BB * TT, tg + (size_t)s * BB * TT);
    // lora and l4q are the parity cases; the other methods of the paper's tables ride
    // along on the small model (gptq_lora's base differs from rtn_lora's only in content).
    const char *small[] = {"lora", "l4q", "qlora", "rtn_lora", "qa_lora", "qat_lora", "lsq"};
    for (size_t i = 0; i < sizeof small / sizeof *small; i++) write_case(outdir, "s260k", mf, 0, small[i], tok, tg);
    data_free(ds);
    model_file_free(mf);

    // The random stories15M shape on random tokens.
    ModelFile *m15 = random_15m();
    rng_seed(&rng, 11);
    for (size_t i = 0; i < R; i++) {
        tok[i] = (int)(rng_u64(&rng) % (uint64_t)m15->c.vocab_size);
        tg[i] = (int)(rng_u64(&rng) % (uint64_t)m15->c.vocab_size);
    }
    write_case(outdir, "s15m", m15, 1, "lora", tok, tg);
    write_case(outdir, "s15m", m15, 1, "l4q", tok, tg);
    free(tok);
    free(tg);
    return 0;
}
