// cmd_eval.c — `l4q eval`: few-shot benchmark scoring (README "Evaluation") over evals/harness.h.
#include "cli.h"
#include "common.h"
#include "evals/harness.h"
#include "util.h"
#include <stdlib.h>
#include <string.h>

// Bytes of activations one row of T positions costs in a model build (the attention
// probabilities, L·H·T², dominate for long windows).
static double row_bytes(const Config *c, int T) {
    int kv = c->dim / c->n_heads * c->n_kv_heads;
    double per_layer = (double)c->n_heads * T * T + (double)T * (8.0 * c->dim + 2.0 * kv + 3.0 * c->hidden_dim);
    return 4.0 * (c->n_layers * per_layer + 2.0 * T * c->dim);
}

// Rows per forward for a build with maxT = T: within ~256 MiB of activations and at most
// ~16K tokens per pass (beyond that a pass is no more efficient).
static int rows_for(const Config *c, int T) {
    double budget = 256.0 * 1024 * 1024;
    long b = (long)(budget / row_bytes(c, T));
    long cap = 16384 / T;
    if (b > cap) b = cap;
    if (b < 1) b = 1;
    return (int)b;
}

int cmd_eval(int argc, char **argv) {
    Flag fl[] = {
        FLAGV("model"), FLAGV("tokenizer"), FLAGV("tasks"), FLAGV("shots"), FLAGV("limit"), FLAGV("task-dir"),
        FLAGB("json"), FLAGV("out"), FLAGV("batch"), FLAGV("seq-len"), FLAGV("render"), FLAGB("list"), FLAGB("no-progress"), FLAGV("log-samples"), FLAGV("windows"),
        FLAGV("device"), FLAGV("precision"),
    };
    Args a;
    args_parse(&a, fl, sizeof fl / sizeof fl[0], argc, argv, "eval");
    int prec = arg_precision(&a);
    if (a.npos) die_input("eval: unexpected argument '%s'", a.pos[0]);
    EvalOptions opt;
    eval_options_default(&opt);
    opt.shots = arg_int(&a, "shots", -1);
    opt.limit = arg_int(&a, "limit", 0);
    if (arg_flag(&a, "shots") && opt.shots < 0) die_input("--shots: must be >= 0");
    if (opt.limit < 0) die_input("--limit: must be >= 0");
    opt.windows = arg_int(&a, "windows", 0);
    if (opt.windows < 0) die_input("--windows: must be >= 0");
    opt.task_dir = arg_str(&a, "task-dir", NULL);
    if (arg_flag(&a, "list")) {
        const char *dirs[2];
        int nd = 0;
        if (opt.task_dir) dirs[nd++] = opt.task_dir;
        dirs[nd++] = tasks_default_dir();
        TaskRegistry *r = tasks_registry(dirs, nd);
        tasks_print_available(r, stdout);
        tasks_registry_free(r);
        return 0;
    }
    const char *tasks = arg_str(&a, "tasks", NULL);
    if (!tasks) die_input("eval: --tasks is required (e.g. --tasks csqa,mmlu or --tasks my/task.yaml; --list shows them)");
    int ntask;
    char **task = strv_split(tasks, ", ", &ntask); // the names, split once (commas or spaces)
    if (arg_flag(&a, "render")) {
        // Testing aid: the rendered requests of the first N documents, no model needed.
        int n = arg_int(&a, "render", 1);
        if (n < 1) die_input("--render: must be >= 1");
        char *s = eval_render_json((const char *const *)task, ntask, &opt, n);
        puts(s);
        free(s);
        strv_free(task);
        return 0;
    }
    DevScorer *dev = device_flag(&a, "eval", prec);
    ModelFile *mf;
    Tokenizer *tok;
    load_model_tok(arg_str(&a, "model", NULL), arg_str(&a, "tokenizer", NULL), &mf, &tok);
    const Tokenizer *T = tok ? tok : mf->tok;
    const Config *c = &mf->c;
    int W = arg_int(&a, "seq-len", c->seq_len);
    if (W < 2 || W > c->seq_len) die_input("--seq-len: must be in [2, %d] (the model's)", c->seq_len);
    int B = arg_int(&a, "batch", rows_for(c, W));
    if (B < 1) die_input("--batch: must be >= 1");
    Model *M = model_build(mf, NULL, B, W, 0);
    blas_core_notice();
    if (dev) dev_scorer_attach(dev, M, B, W); // every pass on the device: no smaller CPU builds
    // Smaller windows with many more rows, so short requests are not one per row of W.
    for (int Tk = W / 4; Tk >= 16 && opt.naux < 3 && !dev; Tk /= 4) {
        int Bk = rows_for(c, Tk);
        if (Bk <= B) continue;
        opt.aux[opt.naux++] = model_build(mf, NULL, Bk, Tk, 0);
    }
    opt.progress = !arg_flag(&a, "no-progress");
    const char *out = arg_str(&a, "out", NULL);
    opt.keep_docs = out != NULL;
    opt.log_samples = arg_str(&a, "log-samples", NULL);
    EvalResult *r = eval_tasks(M, T, (const char *const *)task, ntask, &opt);
    if (out) eval_result_write_h5(r, out, mf->path);
    if (arg_flag(&a, "json")) {
        char *s = eval_result_json(r, mf->path, opt.shots, opt.limit);
        puts(s);
        free(s);
    } else {
        eval_result_print(r, stdout);
    }
    eval_result_free(r);
    for (int k = 0; k < opt.naux; k++) model_free(opt.aux[k]);
    dev_scorer_free(dev);
    model_free(M);
    free_model_tok(mf, tok);
    strv_free(task);
    return 0;
}
