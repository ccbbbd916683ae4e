// score_device.c — see score_device.h.
#include "score_device.h"
#include "train_device.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

struct DevScorer {
    const char *what;
    const DeviceOps *ops;
    DevModel *m;
    DevModelDesc desc;
    Model *M;
    int precision; // PREC_* (config.h), as --precision gave it
};

static void check(const DevScorer *s, int rc, const char *err, const char *call) {
    if (rc) die_input("%s: %s: %s", s->what, call, err && *err ? err : "failed without a message");
}

DevScorer *dev_scorer_open(const char *what, int precision) {
    const DeviceOps *ops = device_open(what);
    char err[512] = "";
    int dp = precision == PREC_BF16 ? DEVPREC_BF16 : DEVPREC_FP32;
    if (!ops->supports("none", dp, err, sizeof err)) // nonzero: implemented (device.h)
        die_input("%s: inference%s is not available on the device%s%s", what, dp == DEVPREC_BF16 ? " in bf16" : "",
                  *err ? ": " : "", err);
    DevScorer *s = xcalloc(1, sizeof *s);
    s->what = what;
    s->ops = ops;
    s->precision = precision;
    return s;
}

static double score(void *ctx, const int *tokens, const int *targets, int B, int T, float *logprob, int *greedy) {
    DevScorer *s = ctx;
    char err[512] = "";
    double nll = 0;
    check(s, s->ops->step(s->m, tokens, targets, NULL, B, T, logprob, greedy, 0, 1.0f, &nll, err, sizeof err), err,
          "forward");
    return nll;
}

void dev_scorer_attach(DevScorer *s, Model *M, int B, int T) {
    // Inference reads no optimizer or training field: a zeroed config has no AdamW.
    RunConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.train.precision = s->precision;
    dev_desc_fill(&s->desc, M, &cfg, B, T);
    s->desc.training = 0;
    char err[512] = "";
    s->m = s->ops->model_new(&s->desc, err, sizeof err);
    if (!s->m) check(s, 1, err, "building the model");
    s->M = M;
    M->scorer.score = score;
    M->scorer.ctx = s;
}

void dev_scorer_next_logits(DevScorer *s, const int *tokens, int T, float *out) {
    int *none = xmalloc((size_t)T * sizeof *none); // no targets: the forward only
    for (int t = 0; t < T; t++) none[t] = -1;
    char err[512] = "";
    double nll = 0;
    check(s, s->ops->step(s->m, tokens, none, NULL, 1, T, NULL, NULL, 0, 1.0f, &nll, err, sizeof err), err, "forward");
    free(none);
    check(s, s->ops->logits_row(s->m, T - 1, out, err, sizeof err), err, "logits");
}

const char *dev_scorer_name(const DevScorer *s) { (void)s; return device_name(); }

void dev_scorer_free(DevScorer *s) {
    if (!s) return;
    if (s->M) memset(&s->M->scorer, 0, sizeof s->M->scorer);
    if (s->m) s->ops->model_free(s->m);
    dev_desc_free(&s->desc);
    free(s);
}
