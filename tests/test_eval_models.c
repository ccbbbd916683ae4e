// test_eval_models.c — a fast path may change how a number is computed, never which model
// computes it. eval_tasks on a model built with a method (RTN 3-bit: nothing trains, like
// every PTQ row) must score that quantized model — equal to its deployed snapshot scored
// through the per-thread replica path, and not the file's fp32 weights — and a model built
// from the file with no method must equal the replica path of that file.
#include "baselines/baselines.h"
#include "checkpoint.h"
#include "evals/harness.h"
#include "methods.h"
#include "model.h"
#include "snapshot.h"
#include "testlib.h"
#include "tokenizer.h"
#include "util.h"
#include <string.h>

static double task_loss(Model *M, const Tokenizer *tok) {
    EvalOptions o;
    eval_options_default(&o);
    o.windows = 6; o.shots = 0; // a perplexity task: --windows, not --limit, caps it
    static const char *const TASKS[] = {"tinystories"};
    EvalResult *r = eval_tasks(M, tok, TASKS, 1, &o);
    double v = NAN;
    for (int i = 0; i < eval_result_count(r); i++)
        if (!strcmp(eval_result_get(r, i)->metric, "loss")) v = eval_result_get(r, i)->value;
    eval_result_free(r);
    return v;
}

int main(void) {
    baselines_register();
    threads_init(2);
    char mp[4096], tp[4096];
    ModelFile *mf = model_file_load(resolve_path("models/stories260K/stories260K.bin", NULL, mp, sizeof mp));
    Tokenizer *tok = tok_load(resolve_path("models/stories260K/tok512.bin", NULL, tp, sizeof tp), mf->c.vocab_size);
    MethodCfg m;
    method_defaults(&m, "rtn");
    m.bits = 3;
    Model *Q = model_build(mf, &m, 4, 64, 0);      // a method model: the serial path
    ModelFile *dep = model_deployed(Q);
    Model *D = model_build(dep, NULL, 4, 64, 0);   // its snapshot: the replica path
    Model *F = model_build(mf, NULL, 4, 64, 0);    // the fp32 file
    double q = task_loss(Q, tok), d = task_loss(D, tok), f = task_loss(F, tok);
    CHECK(!model_is_file(Q) && model_is_file(D) && model_is_file(F), "eval models: which models are their files' weights", "flags %d %d %d", Q->as_file, D->as_file, F->as_file);
    CHECK(fabs(q - d) <= 1e-6 * fabs(d), "eval models: RTN model scored = its deployed snapshot's", "%.9f vs %.9f", q, d);
    CHECK(fabs(q - f) > 1e-3, "eval models: RTN model is not scored as the fp32 file", "rtn %.6f fp32 %.6f", q, f);
    model_free(Q); model_free(D); model_free(F);
    model_file_free(dep);
    tok_free(tok);
    model_file_free(mf);
    T_EXIT();
}
