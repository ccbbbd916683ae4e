// memtime.c — memory and time per training step of one method on a model shape
// (stories260K from its file, or random weights of any LLaMA shape, e.g. one decoder block
// of LLaMA-7B). One method per process, so peak RSS belongs to that method alone.
//
//   build/bench/memtime METHOD [--model F | --dim D --hidden H --layers L --heads N
//       --kv-heads K --vocab V] [--tokens T] [--batch B] [--bits n] [--group g] [--rank r]
//       [--steps S] [--tile ROWS]
// Prints one JSON line: step time (median of S steps after one warm-up), peak RSS, and the
// seam's memory account.
#include "baselines/baselines.h"
#include "checkpoint.h"
#include "model.h"
#include "methods.h"
#include "optim.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
    baselines_register();
    env_setup(argv);
    if (argc < 2) { fprintf(stderr, "usage: memtime METHOD [options]\n"); return 2; }
    const char *method = argv[1], *model = NULL;
    Config c = {.dim = 4096, .hidden_dim = 11008, .n_layers = 1, .n_heads = 32, .n_kv_heads = 32,
                .vocab_size = 512, .seq_len = 512, .shared_classifier = 1, .norm_eps = 1e-5f, .rope_theta = 10000};
    int T = 512, B = 1, bits = 4, group = 128, rank = 16, steps = 3, tile = 0;
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
        else die_input("memtime: unknown option %s", k);
    }
    threads_init(0);
    if (T > c.seq_len) c.seq_len = T;
    ModelFile *mf = model ? model_file_load(model) : model_file_random(&c, 0.02f, 1);
    MethodCfg m;
    method_defaults(&m, method);
    m.rank = rank; m.alpha = 2.0f * rank; m.bits = bits; m.group_size = group;
    if (tile > 0) m.tile_rows = tile;
    Model *M = model_build(mf, &m, B, T, 0);
    Param *ps[4096];
    int np = model_params(M, ps, 4096);
    AdamW *opt = adamw_new(ps, np, 0.9f, 0.999f, 1e-8f, 0.0f);
    int *in = xmalloc((size_t)B * T * sizeof(int)), *tg = xmalloc((size_t)B * T * sizeof(int));
    Rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < B * T; i++) { in[i] = (int)(rng_u64(&r) % M->c.vocab_size); tg[i] = (int)(rng_u64(&r) % M->c.vocab_size); }
    // Per-phase times too (forward, head with loss and dlogits, backward + optimizer), so
    // a change can be attributed; each is the median over steps like the total.
    double *dt = xmalloc((size_t)(steps + 1) * 4 * sizeof(double));
    double *pf = dt + steps + 1, *ph = pf + steps + 1, *pb = ph + steps + 1;
    for (int s = 0; s <= steps; s++) {
        double t0 = now_sec();
        model_zero_grad(M);
        model_forward(M, in, B, T, 0);
        double t1 = now_sec();
        model_head(M, tg, NULL, 0, B * T, NULL, NULL, np > 0, 1.0f / (B * T));
        double t2 = now_sec();
        if (np > 0) { model_backward(M, in, B, T); adamw_step(opt, ps, np, 1e-5f); }
        dt[s] = now_sec() - t0;
        pf[s] = t1 - t0; ph[s] = t2 - t1; pb[s] = dt[s] - (t2 - t0);
    }
    qsort(dt + 1, steps, sizeof(double), cmp_d);
    qsort(pf + 1, steps, sizeof(double), cmp_d);
    qsort(ph + 1, steps, sizeof(double), cmp_d);
    qsort(pb + 1, steps, sizeof(double), cmp_d);
    MemAccount a;
    model_memory(M, &a);
    printf("{\"method\":\"%s\",\"dim\":%d,\"hidden\":%d,\"layers\":%d,\"tokens\":%d,\"batch\":%d,\"bits\":%d,"
           "\"group\":%d,\"rank\":%d,\"step_seconds\":%.4f,\"step_min_s\":%.4f,\"forward_s\":%.4f,\"head_s\":%.4f,\"backward_s\":%.4f,\"tokens_per_s\":%.1f,\"peak_rss_bytes\":%zu,"
           "\"weight_bytes\":%zu,\"trainable_bytes\":%zu,\"grad_optimizer_bytes\":%zu,\"saved_for_backward_bytes\":%zu,"
           "\"layer_saved_bytes\":%zu,\"peak_transient_bytes\":%zu}\n",
           method, M->c.dim, M->c.hidden_dim, M->c.n_layers, T, B, bits, group, rank, dt[1 + steps / 2], dt[1], pf[1 + steps / 2], ph[1 + steps / 2], pb[1 + steps / 2],
           B * T / dt[1 + steps / 2], peak_rss_bytes(), a.weight_bytes, a.trainable_bytes, a.grad_opt_bytes,
           a.saved_bytes, a.saved_bytes - (np > 0 ? M->act_bytes : 0), a.transient_peak);
    return 0;
}
