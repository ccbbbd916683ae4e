// memtime.c — memory and time per training step of one method on a model shape
// (stories260K from its file, or random weights of any LLaMA shape, e.g. one decoder block
// of LLaMA-7B). One method per process, so peak RSS belongs to that method alone.
//
//   build/bench/memtime METHOD [--model F | --dim D --hidden H --layers L --heads N
//       --kv-heads K --vocab V [--tied 0|1] [--dtype bf16|f16]] [--tokens T] [--batch B] [--bits n]
//       [--group g] [--rank r] [--steps S] [--tile ROWS] [--optim-state fp32|bf16] [--predict LAYERS]
//       [--precision fp32|bf16]
// Prints one JSON line: step time (median of S steps after one warm-up; S = 0: the one
// first step, cold caches included), minor page faults per step (median, getrusage), whether the
// model releases memory between steps (model_plan_memory: L4Q_MEM_LIMIT or physical RAM
// against the memory account), peak RSS, the RSS at the end of each phase of the
// last step (after forward, head, backward, optimizer), and the seam's memory account
// with the peak it predicts (mem_step_peak). --optim-state: AdamW's m, v (optim.h). --dtype: the random weights (projections, embeddings) are held
// 16-bit. --predict LAYERS: no step; the memory account of the random model with LAYERS
// layers, extrapolated from a one-layer build (for shapes that do not fit in memory).
#include "baselines/baselines.h"
#include "bf16mm.h"
#include "checkpoint.h"
#include "model.h"
#include "methods.h"
#include "optim.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static long minor_faults(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_minflt; }

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

// Re-holds the projections and embeddings of a random mf as 16-bit dt (rounded). The fp32
// blob stays allocated, so such a model is for the memory account, not for peak RSS (a
// 16-bit checkpoint file is: bench/big.sh).
static void hold_16bit(ModelFile *mf, int dt) {
    int nt = mf_tensor_count(&mf->c);
    MfTensor *t = xmalloc(sizeof *t * nt);
    mf_tensors(mf, t, nt);
    size_t total = 0;
    for (int k = 0; k < nt; k++) if (strncmp(t[k].name, "rms", 3)) total += (size_t)t[k].rows * t[k].cols;
    uint16_t *cur = mf->blob16 = xmalloc(total * 2);
    for (int k = 0, i = 0; k < nt; k++) {
        if (!strncmp(t[k].name, "rms", 3)) continue;
        size_t n = (size_t)t[k].rows * t[k].cols;
        f32_to_half(dt, t[k].data, cur, n);
        if (!strcmp(t[k].name, "tok_emb")) mf->tok_emb16 = cur, mf->tok_emb_dt = dt, mf->tok_emb = NULL;
        else if (!strcmp(t[k].name, "head")) mf->wcls16 = cur, mf->wcls_dt = dt, mf->wcls = NULL;
        else mf_set_w16(mf, i++, dt, cur);
        cur += n;
    }
    free(t);
}

static ModelFile *random_model(Config c, int dt) {
    ModelFile *mf = model_file_random(&c, 0.02f, 1);
    if (dt != DT_F32) hold_16bit(mf, dt);
    return mf;
}

// Account of a LAYERS-layer model from one-layer builds: everything of the one-layer model,
// plus (LAYERS − 1) × (one layer's seven projections + its two norms + one layer's
// activations, the latter the difference between a two- and a one-layer lora build with a
// small vocabulary, as activations do not depend on the method once something trains).
static void predict(const char *method, const MethodCfg *m, Config c, int dt, int B, int T, int layers, int odt) {
    c.n_layers = 1;
    ModelFile *mf = random_model(c, dt);
    Model *M = model_build(mf, m, B, T, 0);
    int *tok = xmalloc((size_t)B * T * sizeof(int));
    for (int i = 0; i < B * T; i++) tok[i] = i % c.vocab_size;
    model_forward(M, tok, B, T, 0); // one step: the transient peaks happen inside it
    model_head(M, tok, NULL, 0, B * T, NULL, NULL, 1, 1.0f / (B * T));
    model_backward(M, tok, B, T);
    free(tok);
    MemAccount a, layer = {0};
    model_memory(M, &a);
    for (int i = 0; i < 7; i++) mem_add(&layer, &M->lin[i]->mem);
    int norms_train = M->rms_att.grad != NULL; // `full`
    size_t act1 = M->act_bytes;
    model_free(M); model_file_free(mf);
    size_t act[2];
    MethodCfg lm;
    method_defaults(&lm, "lora");
    Config small = c;
    small.vocab_size = 64;
    for (int k = 0; k < 2; k++) {
        small.n_layers = k + 1;
        ModelFile *f = random_model(small, dt);
        Model *S = model_build(f, &lm, B, T, 0);
        act[k] = S->act_bytes;
        model_free(S); model_file_free(f);
    }
    size_t more = (size_t)layers - 1, norms = 2 * (size_t)c.dim * sizeof(float);
    a.weight_bytes += more * (layer.weight_bytes + (norms_train ? 0 : norms));
    a.trainable_bytes += more * (layer.trainable_bytes + (norms_train ? norms : 0));
    a.grad_opt_bytes += more * (layer.grad_opt_bytes + (norms_train ? 3 * norms : 0));
    a.saved_bytes += more * (layer.saved_bytes + act[1] - act[0]);
    a.grad_opt_bytes = adamw_grad_opt_bytes(odt, a.trainable_bytes);
    size_t total = mem_step_peak(&a, act1 + more * (act[1] - act[0]));
    printf("{\"method\":\"%s\",\"predicted\":true,\"optim_state\":\"%s\",\"dim\":%d,\"hidden\":%d,\"layers\":%d,\"tokens\":%d,\"batch\":%d,"
           "\"bits\":%d,\"group\":%d,\"rank\":%d,\"weight_dtype\":\"%s\",\"weight_bytes\":%zu,\"trainable_bytes\":%zu,"
           "\"grad_optimizer_bytes\":%zu,\"saved_for_backward_bytes\":%zu,\"peak_transient_bytes\":%zu,\"total_bytes\":%zu}\n",
           method, dtype_name(odt), c.dim, c.hidden_dim, layers, T, B, m->bits, m->group_size, m->rank, dtype_name(dt), a.weight_bytes,
           a.trainable_bytes, a.grad_opt_bytes, a.saved_bytes, a.transient_peak, total);
}

int main(int argc, char **argv) {
    baselines_register();
    env_setup(argv);
    if (argc < 2) { fprintf(stderr, "usage: memtime METHOD [options]\n"); return 2; }
    const char *method = argv[1], *model = NULL;
    Config c = {.dim = 4096, .hidden_dim = 11008, .n_layers = 1, .n_heads = 32, .n_kv_heads = 32,
                .vocab_size = 512, .seq_len = 512, .shared_classifier = 1, .norm_eps = 1e-5f, .rope_theta = 10000};
    int T = 512, B = 1, bits = 4, group = 128, rank = 16, steps = 3, tile = 0, wdt = DT_F32, pred = 0, odt = DT_F32;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i]; int v = atoi(argv[i + 1]);
        if (!strcmp(k, "--model")) model = argv[i + 1];
        else if (!strcmp(k, "--dim")) c.dim = v;
        else if (!strcmp(k, "--hidden")) c.hidden_dim = v;
        else if (!strcmp(k, "--layers")) c.n_layers = v;
        else if (!strcmp(k, "--heads")) c.n_heads = v;
        else if (!strcmp(k, "--kv-heads")) c.n_kv_heads = v;
        else if (!strcmp(k, "--vocab")) c.vocab_size = v;
        else if (!strcmp(k, "--tokens")) T = v;
        else if (!strcmp(k, "--batch")) B = v;
        else if (!strcmp(k, "--bits")) bits = v;
        else if (!strcmp(k, "--group")) group = v;
        else if (!strcmp(k, "--rank")) rank = v;
        else if (!strcmp(k, "--steps")) steps = v;
        else if (!strcmp(k, "--tile")) tile = v;
        else if (!strcmp(k, "--predict")) pred = v;
        else if (!strcmp(k, "--tied")) c.shared_classifier = v != 0;
        else if (!strcmp(k, "--dtype")) {
            if (!strcmp(argv[i + 1], "bf16")) wdt = DT_BF16;
            else if (!strcmp(argv[i + 1], "f16")) wdt = DT_F16;
            else if (strcmp(argv[i + 1], "f32")) die_input("memtime: --dtype must be f32, bf16 or f16");
        }
        else if (!strcmp(k, "--precision")) {
            if (!strcmp(argv[i + 1], "bf16")) bf16mm_enable("memtime --precision bf16");
            else if (strcmp(argv[i + 1], "fp32")) die_input("memtime: --precision must be fp32 or bf16");
        }
        else if (!strcmp(k, "--optim-state")) {
            if (!strcmp(argv[i + 1], "bf16")) odt = DT_BF16;
            else if (strcmp(argv[i + 1], "fp32")) die_input("memtime: --optim-state must be fp32 or bf16");
        }
        else die_input("memtime: unknown option %s", k);
    }
    threads_init(0);
    if (T > c.seq_len) c.seq_len = T;
    MethodCfg m;
    method_defaults(&m, method);
    m.rank = rank; m.alpha = 2.0f * rank; m.bits = bits; m.group_size = group;
    if (tile > 0) m.tile_rows = tile;
    if (pred > 0) { predict(method, &m, c, wdt, B, T, pred, odt); return 0; }
    double tl = now_sec();
    ModelFile *mf = model ? model_file_load(model) : random_model(c, wdt);
    tl = now_sec() - tl;
    Model *M = model_build(mf, &m, B, T, 0);
    Param *ps[MODEL_MAX_PARAMS];
    int np = model_params(M, ps, MODEL_MAX_PARAMS);
    AdamW *opt = adamw_new(ps, np, 0.9f, 0.999f, 1e-8f, 0.0f, odt, 7);
    int *in = xmalloc((size_t)B * T * sizeof(int)), *tg = xmalloc((size_t)B * T * sizeof(int));
    Rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < B * T; i++) { in[i] = (int)(rng_u64(&r) % M->c.vocab_size); tg[i] = (int)(rng_u64(&r) % M->c.vocab_size); }
    // Per-phase times too (forward, head with loss and dlogits, backward + optimizer), so
    // a change can be attributed; each is the median over steps like the total.
    double *dt = xmalloc((size_t)(steps + 1) * 5 * sizeof(double));
    double *pf = dt + steps + 1, *ph = pf + steps + 1, *pb = ph + steps + 1, *fl = pb + steps + 1; // fl: minor page faults
    size_t rss[4] = {0}; // after forward, head, backward, optimizer (the last step's)
    for (int s = 0; s <= steps; s++) {
        long f0 = minor_faults();
        double t0 = now_sec();
        model_zero_grad(M);
        model_forward(M, in, B, T, 0);
        rss[0] = rss_bytes();
        double t1 = now_sec();
        model_head(M, tg, NULL, 0, B * T, NULL, NULL, np > 0, 1.0f / (B * T));
        rss[1] = rss_bytes();
        double t2 = now_sec();
        if (np > 0) {
            model_backward(M, in, B, T);
            rss[2] = rss_bytes();
            adamw_step(opt, ps, np, 1e-5f);
            rss[3] = rss_bytes();
        }
        dt[s] = now_sec() - t0;
        fl[s] = (double)(minor_faults() - f0);
        pf[s] = t1 - t0; ph[s] = t2 - t1; pb[s] = dt[s] - (t2 - t0);
    }
    int k0 = steps > 0, med = k0 + steps / 2; // steps 0: the warm-up step is the measurement
    qsort(dt + k0, steps, sizeof(double), cmp_d);
    qsort(pf + k0, steps, sizeof(double), cmp_d);
    qsort(ph + k0, steps, sizeof(double), cmp_d);
    qsort(pb + k0, steps, sizeof(double), cmp_d);
    qsort(fl + k0, steps, sizeof(double), cmp_d);
    MemAccount a;
    model_memory(M, &a);
    a.grad_opt_bytes = adamw_grad_opt_bytes(odt, a.trainable_bytes);
    printf("{\"method\":\"%s\",\"optim_state\":\"%s\",\"precision\":\"%s\",\"dim\":%d,\"hidden\":%d,\"layers\":%d,\"tokens\":%d,\"batch\":%d,\"bits\":%d,"
           "\"group\":%d,\"rank\":%d,\"step_seconds\":%.4f,\"step_min_s\":%.4f,\"forward_s\":%.4f,\"head_s\":%.4f,\"backward_s\":%.4f,\"tokens_per_s\":%.1f,\"minor_faults_per_step\":%.0f,\"release\":%d,\"peak_rss_bytes\":%zu,"
           "\"rss_after_forward\":%zu,\"rss_after_head\":%zu,\"rss_after_backward\":%zu,\"rss_after_optimizer\":%zu,"
           "\"weight_bytes\":%zu,\"trainable_bytes\":%zu,\"grad_optimizer_bytes\":%zu,\"saved_for_backward_bytes\":%zu,"
           "\"layer_saved_bytes\":%zu,\"peak_transient_bytes\":%zu,\"bf16_packed_bytes\":%zu,\"account_peak_bytes\":%zu,\"load_seconds\":%.1f}\n",
           method, dtype_name(odt), bf16mm_on() ? "bf16" : "fp32", M->c.dim, M->c.hidden_dim, M->c.n_layers, T, B, bits, group, rank, dt[med], dt[k0], pf[med], ph[med], pb[med],
           B * T / dt[med], fl[med], M->release, peak_rss_bytes(), rss[0], rss[1], rss[2], rss[3], a.weight_bytes, a.trainable_bytes, a.grad_opt_bytes,
           a.saved_bytes, a.saved_bytes - (np > 0 ? M->act_bytes : 0), a.transient_peak, a.pack_bytes,
           mem_step_peak(&a, M->act_bytes), tl);
    return 0;
}
