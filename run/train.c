// train.c — the training loop: data → forward → loss → backward → clip → AdamW, with
// evaluation, HDF5 logging, checkpoints and exact resume. Every method trains here.
#include "train.h"
#include "checkpoint.h"
#include "data.h"
#include "dist.h"
#include "bf16mm.h"
#include "evals/harness.h"
#include "l4qz.h"
#include "methods.h"
#include "model.h"
#include "optim.h"
#include "runlog.h"
#include "snapshot.h"
#include "tokenizer.h"
#include "train_device.h"
#include "trainstate.h"
#include "util.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
    RunConfig *cfg;
    ModelFile *mf;
    Tokenizer *tok;      // owned when loaded from --tokenizer
    Model *M;
    Dataset *train, *val;
    Param *ps[MODEL_MAX_PARAMS];
    int np;
    AdamW *opt;
    TrainDev *dev;       // train.device: cuda (run/train_device.h); NULL on the CPU
    RunLog *log;
    Rng data_rng;
    int T, B;
    int lead;            // rank 0 (or the only process): logs, checkpoints, evaluates, exports
    double wait_s, reduce_s, step_s; // data-parallel: waiting for the slowest rank, summing gradients; all steps
    char dir[4096];
} Trainer;

// Evaluation runs with dropout off and nothing saved for backward.
static void set_training(Model *M, int on) {
    for (int i = 0; i < M->c.n_layers * N_LAYER_PROJ; i++) M->lin[i]->training = on && M->lin[i]->n_params > 0;
    M->head->training = on && M->head->n_params > 0;
}

// Mean validation NLL of M over the fixed validation batches (all, or eval.val_batches).
// docs non-NULL: each batch's summed NLL, target count and token hash (the evidence).
static double val_loss(Trainer *t, Model *M, EvalDocs *docs, long *ntok, long *nbatches) {
    *ntok = *nbatches = 0;
    if (!t->val) return NAN;
    long nb = data_val_batches(t->val, t->B, t->T);
    if (t->cfg->eval.val_batches > 0 && t->cfg->eval.val_batches < nb) nb = t->cfg->eval.val_batches;
    int *in = xmalloc((size_t)t->B * t->T * sizeof(int)), *tg = xmalloc((size_t)t->B * t->T * sizeof(int));
    if (docs) {
        memset(docs, 0, sizeof *docs);
        snprintf(docs->name, sizeof docs->name, "val");
        docs->type = OT_PERPLEXITY; docs->ndocs = (int)nb; docs->maxc = 1;
        docs->nll = xcalloc(nb > 0 ? nb : 1, sizeof(double));
        docs->ntok = xcalloc(nb > 0 ? nb : 1, sizeof(int));
        docs->hash = xcalloc(nb > 0 ? nb : 1, sizeof(uint64_t));
    }
    double nll = 0; long cnt = 0;
    for (long b = 0; b < nb; b++) {
        long c = data_val_batch(t->val, b, t->B, t->T, in, tg);
        cnt += c;
        double x;
        if (t->dev && M == t->M) x = train_dev_step(t->dev, in, tg, t->B, t->T, 0, 1.0f); // the model being trained
        else {
            model_forward(M, in, t->B, t->T, 0);
            x = model_head(M, tg, NULL, 0, t->B * t->T, NULL, NULL, 0, 1.0f);
        }
        nll += x;
        if (docs) {
            docs->nll[b] = x; docs->ntok[b] = (int)c;
            uint64_t h = hash64(in, (size_t)t->B * t->T * sizeof(int), HASH64_INIT);
            docs->hash[b] = hash64(tg, (size_t)t->B * t->T * sizeof(int), h);
        }
    }
    free(in); free(tg);
    *ntok = cnt; *nbatches = nb;
    return cnt ? nll / cnt : NAN;
}

// The final evaluation's options: eval.limit / eval.limits, zero-shot, documents kept.
static void final_eval_options(const RunConfig *cfg, EvalOptions *o) {
    eval_options_default(o);
    o->limit = (int)cfg->eval.limit;
    o->limit_names = (const char *const *)cfg->eval.limit_names;
    o->limit_values = cfg->eval.limit_values;
    o->nlimits = cfg->eval.nlimits;
    o->shots = 0;
    o->keep_docs = 1;
}

// Scores M: validation loss, and at the end the benchmark tasks with their per-document
// evidence (run.h5 group docs/). The final call gets the deployed model (see train_run).
static void evaluate(Trainer *t, Model *M, long step, int final) {
    if (!t->lead) { dist_barrier(); return; } // the other ranks wait, asleep, for rank 0
    set_training(M, 0);
    EvalDocs vdocs;
    long vtok, vb;
    double vl = val_loss(t, M, final ? &vdocs : NULL, &vtok, &vb);
    if (!isnan(vl)) {
        runlog_eval(t->log, step, NULL, "val_loss", vl);
        runlog_eval(t->log, step, NULL, "val_ppl", exp(vl));
        runlog_eval(t->log, step, NULL, "val_tokens", (double)vtok);
        // Named apart from a perplexity task's figure (the report's "TinyStories PPL"): this is
        // data.val in the training windows, on the tokens it says.
        printf("eval step %ld: validation set (data.val, %ld batches, %ld tokens): val_loss %.4f  val_ppl %.3f\n", step, vb,
               vtok, vl, exp(vl));
    }
    long long docs = -1;
    if (final) {
        docs = runlog_group(t->log, "docs");
        if (t->val) { eval_docs_write_h5(docs, &vdocs, t->dir); eval_docs_free(&vdocs); }
    }
    // Benchmark tasks are costly: at the end, and at intermediate evals only if asked.
    if (t->cfg->eval.ntasks > 0 && final) {
        EvalOptions o;
        final_eval_options(t->cfg, &o);
        EvalResult *r = eval_tasks(M, t->tok ? t->tok : t->mf->tok, (const char *const *)t->cfg->eval.tasks,
                                   t->cfg->eval.ntasks, &o);
        for (int i = 0; i < eval_result_count(r); i++) {
            const EvalMetric *m = eval_result_get(r, i);
            runlog_eval(t->log, step, m->task, m->metric, m->value);
            if (m->windows > 0 && !strcmp(m->metric, "ppl")) { // what a perplexity stands on
                runlog_eval(t->log, step, m->task, "windows", (double)m->windows);
                runlog_eval(t->log, step, m->task, "tokens", (double)m->n);
            }
            if (!isnan(m->stderr_)) {
                char nm[48];
                snprintf(nm, sizeof nm, "%s_stderr", m->metric);
                runlog_eval(t->log, step, m->task, nm, m->stderr_);
            }
        }
        for (int i = 0; i < r->ndocs; i++) eval_docs_write_h5(docs, &r->docs[i], t->dir);
        // The console gets the tasks the config names (67 BLiMP paradigms would bury them);
        // every row is in final_eval.md and run.h5.
        char fe[4200];
        snprintf(fe, sizeof fe, "%s/final_eval.md", t->dir);
        FILE *ff = fopen(fe, "w");
        if (!ff) die_input("%s: cannot write (%s)", fe, strerror(errno));
        eval_result_print(r, ff);
        if (fclose(ff) != 0) die_input("%s: write failed (%s)", fe, strerror(errno));
        eval_result_print_only(r, stdout, (const char *const *)t->cfg->eval.tasks, t->cfg->eval.ntasks);
        printf("every task and group: %s\n", fe);
        eval_result_free(r);
    }
    if (docs >= 0) runlog_group_close(docs);
    runlog_flush(t->log);
    set_training(M, 1);
    dist_barrier();
}

// Provenance: what exactly produced this run (root attributes of run.h5).
static void write_provenance(Trainer *t) {
    const RunConfig *c = t->cfg;
    const char *keys[] = {"sha256_model", "sha256_tokenizer", "sha256_train_data", "sha256_val_data"};
    const char *paths[] = {c->model, c->tokenizer, c->data.train, c->data.val};
    // The inputs as given (what a sweep checks for staleness): a list of training files is
    // its files' hashes in list order, joined by commas (sha256_paths_joined).
    for (int i = 0; i < 4; i++) {
        char hex[65] = "";
        if (i == 2 && c->data.ntrain > 0) {
            const char **ps = xmalloc((size_t)c->data.ntrain * sizeof *ps);
            for (int f = 0; f < c->data.ntrain; f++) ps[f] = c->data.train_files[f].path;
            char *all = sha256_paths_joined(ps, c->data.ntrain, NULL);
            runlog_attr(t->log, keys[i], all);
            free(all);
            free(ps);
            continue;
        }
        if (paths[i] && paths[i][0] && file_exists(paths[i])) sha256_path(paths[i], hex);
        runlog_attr(t->log, keys[i], hex);
    }
    // The text actually tokenized, when it is not one file as is (a list joined, or
    // documents shared with the validation data removed).
    if (t->train->sha256[0]) runlog_attr(t->log, "sha256_train_text", t->train->sha256);
    // Training documents also in the validation data, removed (−1: not checked, no data.val).
    if (c->data.format == DATA_TEXT) {
        runlog_attr_int(t->log, "train_docs", t->train->docs);
        runlog_attr_int(t->log, "train_docs_removed", t->train->docs_removed);
    }
    runlog_attr(t->log, "command_line", command_line());
    if (t->dev) { // CPU runs' run.h5 stay as they were: no attribute means the CPU
        runlog_attr(t->log, "device", train_dev_name(t->dev));
        runlog_attr(t->log, "precision", c->train.precision == PREC_BF16 ? "bf16" : "fp32");
    }
}

static void progress(long step, long total, double loss, double tps, double el, long done_here) {
    double eta = done_here > 0 ? el / done_here * (total - step) : 0;
    if (is_tty(stdout)) {
        printf("\rstep %ld/%ld  loss %.4f  %.0f tok/s  ETA %.0fs   ", step, total, loss, tps, eta);
        fflush(stdout);
    } else {
        printf("step %ld/%ld  loss %.4f  %.0f tok/s  ETA %.0fs\n", step, total, loss, tps, eta);
    }
}

// One optimizer update over accum micro-batches; returns the mean NLL per target token.
// Data-parallel: every rank draws all micro-batches (same data stream, same token count),
// runs forward/backward on its own share, and the gradient and loss sums meet in
// dist_sum_grads/dist_sum_f64.
static double train_step(Trainer *t, int *in, int *tg, long *ntok) {
    int B = t->B, T = t->T, A = t->cfg->train.accum;
    long cnt = 0;
    for (int a = 0; a < A; a++) {
        data_batch(t->train, &t->data_rng, B, T, in + (size_t)a * B * T, tg + (size_t)a * B * T);
        for (int i = 0; i < B * T; i++) cnt += tg[(size_t)a * B * T + i] >= 0;
    }
    if (cnt == 0) die_input("%s: a training batch has no target tokens (all masked?)", t->cfg->data.train);
    double nll = 0;
    if (t->dev) { // one process (train_dev_open refuses ranks): every micro-batch here
        train_dev_zero_grad(t->dev);
        for (int a = 0; a < A; a++)
            nll += train_dev_step(t->dev, in + (size_t)a * B * T, tg + (size_t)a * B * T, B, T, 1, 1.0f / cnt);
        *ntok = (long)A * B * T;
        return nll / cnt;
    }
    model_zero_grad(t->M);
    int lo, hi;
    dist_share(A, &lo, &hi);
    for (int a = lo; a < hi; a++) {
        const int *mi = in + (size_t)a * B * T, *mt = tg + (size_t)a * B * T;
        model_forward(t->M, mi, B, T, 0);
        nll += model_head(t->M, mt, NULL, 0, B * T, NULL, NULL, 1, 1.0f / cnt);
        model_backward(t->M, mi, B, T);
    }
    dist_sum_grads(t->ps, t->np, &t->wait_s, &t->reduce_s);
    dist_sum_f64(&nll, 1);
    *ntok = (long)A * B * T;
    return nll / cnt;
}

static void write_memory(Trainer *t) {
    if (!t->lead) return;
    MemAccount acc;
    model_memory(t->M, &acc);
    acc.grad_opt_bytes = adamw_grad_opt_bytes(t->opt->state_dtype, acc.trainable_bytes);
    runlog_memory(t->log, &acc, peak_rss_bytes());
    printf("memory: weights %.2f MB  trainable %.2f MB  grad+optimizer %.2f MB  saved for backward %.2f MB  "
           "peak transient %.2f MB  peak RSS %.1f MB\n",
           acc.weight_bytes / 1e6, acc.trainable_bytes / 1e6, acc.grad_opt_bytes / 1e6, acc.saved_bytes / 1e6,
           acc.transient_peak / 1e6, peak_rss_bytes() / 1e6);
    if (t->dev) {
        DevMemory dm;
        train_dev_memory(t->dev, &dm);
        runlog_attr_int(t->log, "device_tracked_peak_bytes", (long long)dm.tracked_peak);
        runlog_attr_int(t->log, "device_used_bytes", (long long)dm.device_used);
        printf("device memory (%s): tracked peak %.2f MB  workspace %.2f MB  in use %.2f MB of %.2f MB\n",
               train_dev_name(t->dev), dm.tracked_peak / 1e6, dm.workspace / 1e6, dm.device_used / 1e6, dm.device_total / 1e6);
    }
}

// Data-parallel preconditions, checked by all ranks together before anything is written.
static void dist_check_config(const RunConfig *cfg, const char *out_dir) {
    if (dist_size() == 1) return;
    char *y = run_config_dump(cfg);
    dist_check_same("the run configuration", hash64(y, strlen(y), HASH64_INIT));
    free(y);
    dist_fail_if(cfg->train.accum < dist_size(), "train.accum: %d micro-batches per step cannot be shared by %d ranks "
                 "(every rank needs at least one; raise train.accum or start fewer ranks)", cfg->train.accum, dist_size());
    // Each rank would draw its own dropout masks, so the run would not equal one process.
    dist_fail_if(cfg->method.dropout > 0, "method.dropout: %g is not supported in data-parallel training (set it to 0 or "
                 "train on one rank)", cfg->method.dropout);
    dist_check_shared_dir(out_dir, "the run directory");
}

int train_run(RunConfig *cfg, const char *out_dir, int resume, long stop_at) {
    Trainer t = {0};
    int rc = 0;
    t.cfg = cfg;
    t.lead = dist_rank() == 0;
    snprintf(t.dir, sizeof t.dir, "%s", out_dir);
    dist_check_config(cfg, out_dir);
    // Refused before anything loads or is written: no plugin, no device, a method or
    // precision the device does not run; bf16 on a CPU without bf16 dot products.
    if (cfg->train.device == DEV_CUDA) t.dev = train_dev_open(cfg);
    else if (cfg->train.precision == PREC_BF16) bf16mm_enable("train.precision: bf16"); // the CPU's bf16 products (bf16mm.h)
    if (t.lead) mkdir_p(out_dir);
    char path[4200], ckpt[4200], logp[4200];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.bin", out_dir);
    snprintf(logp, sizeof logp, "%s/run.h5", out_dir);
    if (cfg->train.threads > 0) threads_init(cfg->train.threads);

    t.mf = model_file_load(cfg->model);
    if (cfg->tokenizer[0]) t.tok = tok_load(cfg->tokenizer, t.mf->c.vocab_size);
    else if (!t.mf->tok) die_input("%s: the model has no embedded tokenizer; set tokenizer: in the config", cfg->model);
    Tokenizer *tk = t.tok ? t.tok : t.mf->tok; // t.tok: owned; the model's: the model file's
    t.T = cfg->train.seq_len > 0 ? cfg->train.seq_len : t.mf->c.seq_len;
    if (t.T > t.mf->c.seq_len) die_input("train.seq_len: %d exceeds the model's context %d", t.T, t.mf->c.seq_len);
    t.B = cfg->train.micro_batch;
    t.train = data_load(cfg, tk, t.T, SPLIT_TRAIN);
    if (cfg->data.format == DATA_TEXT && t.train->docs_removed > 0)
        printf("data: %ld of %ld training documents removed: they also occur in the validation data (%s)\n",
               t.train->docs_removed, t.train->docs, cfg->data.val);
    else if (cfg->data.format == DATA_TEXT && t.train->docs_removed == 0)
        printf("data: %ld training documents, none also in the validation data\n", t.train->docs);
    t.val = data_load(cfg, tk, t.T, SPLIT_VAL);
    if (cfg->eval.ntasks > 0) { // a misspelt task must not surface only after the training
        EvalOptions o;
        final_eval_options(cfg, &o);
        eval_tasks_check((const char *const *)cfg->eval.tasks, cfg->eval.ntasks, &o);
    }
    MethodCfg method = cfg->method; // + the model-level pass's records (GPTQ), for the build only
    MethodPrep *prep = method_prepare(t.mf, &method, tk, t.T);
    method.prep = prep;
    t.M = model_build(t.mf, &method, t.B, t.T, cfg->train.seed);
    method_prep_free(prep);
    blas_core_notice(); // the inputs have loaded: the run is about to compute
    // The final evaluation and final.l4qz need the deployed model beside this one: refuse now
    // what could only fail after the whole training (a 16-bit 7B base deploys as 26 GB fp32).
    MemAccount acc;
    model_memory(t.M, &acc);
    size_t dep_bytes = model_deployed_bytes(t.M), limit = mem_limit_bytes();
    if (acc.weight_bytes + dep_bytes > limit)
        die_input("%s: the run's final model (deployed form, written as final.l4qz and evaluated) needs %.1f MB beside the "
                  "%.1f MB of weights held; the limit is %.1f MB (%s). Projections deploy as fp32 under method '%s'; a "
                  "quantizing method (e.g. l4q) deploys small", cfg->model, dep_bytes / 1e6, acc.weight_bytes / 1e6, limit / 1e6,
                  getenv("L4Q_MEM_LIMIT") ? "L4Q_MEM_LIMIT" : "physical memory", cfg->method.name);
    t.np = model_params(t.M, t.ps, MODEL_MAX_PARAMS);
    if (t.np > MODEL_MAX_PARAMS) die_internal("more than %d trainable tensors", MODEL_MAX_PARAMS);
    t.opt = adamw_new(t.ps, t.np, cfg->train.beta1, cfg->train.beta2, cfg->train.eps, cfg->train.weight_decay,
                      cfg->train.optim_state, cfg->train.seed ^ 0xada3bf16ULL);
    rng_seed(&t.data_rng, cfg->train.seed ^ 0x5eedda7aULL);
    if (t.dev) train_dev_attach(t.dev, t.M, t.np, cfg, t.B, t.T); // the trainables as initialized

    long step0 = 0;
    char *yaml = run_config_dump(cfg);
    if (resume && file_exists(ckpt)) {
        step0 = trainstate_load(ckpt, t.ps, t.np, t.opt, &t.data_rng, &t.M->rng);
        if (t.dev) train_dev_upload(t.dev, t.ps, t.np, t.opt);
        // The final evaluation follows the last checkpoint: its rows at that step may be partial.
        if (t.lead) t.log = runlog_open_append(logp, step0, step0 < cfg->train.steps ? step0 : step0 - 1);
        printf("resumed %s at step %ld\n", out_dir, step0);
    } else if (t.lead) {
        snprintf(path, sizeof path, "%s/config.yaml", out_dir);
        write_file_atomic(path, yaml, strlen(yaml));
        t.log = runlog_create(logp, yaml, cfg->method.name, t.M->lin[0]->form);
    }
    free(yaml);
    if (t.lead) {
        runlog_fail_on_die(t.log);
        write_provenance(&t);
        runlog_status(t.log, "running");
    }
    dist_check_same("the trainable tensors at the start", dist_params_hash(t.ps, t.np));

    long steps = cfg->train.steps, warm = run_config_warmup_steps(cfg);
    size_t rows = (size_t)cfg->train.accum * t.B * t.T;
    int *in = xmalloc(rows * sizeof(int)), *tg = xmalloc(rows * sizeof(int));
    printf("train: %s  method %s  %d trainable tensors  %ld steps × %d×%d×%d tokens\n", cfg->model,
           cfg->method.name, t.np, steps, cfg->train.accum, t.B, t.T);
    if (step0 == 0 && cfg->eval.every > 0 && steps > 0) evaluate(&t, t.M, 0, 0);
    double t_start = now_sec();
    for (long s = step0; s < steps; s++) {
        double ts = now_sec();
        long ntok;
        double loss = train_step(&t, in, tg, &ntok);
        double gn = t.dev ? train_dev_clip(t.dev, (float)cfg->train.clip) : grad_clip(t.ps, t.np, (float)cfg->train.clip);
        if (!isfinite(loss) || !isfinite(gn)) {
            if (is_tty(stdout)) printf("\n");
            die_input("step %ld: %s is not finite (%g); the run is marked failed, the last checkpoint (%s) is kept", s + 1,
                      isfinite(loss) ? "gradient norm" : "loss", isfinite(loss) ? gn : loss, ckpt);
        }
        // The quantizer group (method.quant_lr) follows the same schedule from its own base.
        float lr = lr_at(cfg->train.schedule_name, s, steps, (double)warm, (float)cfg->train.lr);
        float lrs[PG_COUNT] = {lr, lr};
        if (cfg->method.quant_lr > 0)
            lrs[PG_QUANT] = lr_at(cfg->train.schedule_name, s, steps, (double)warm, (float)cfg->method.quant_lr);
        if (t.dev) train_dev_adamw(t.dev, lr); // one group on the device: quant_lr is refused there up front
        else adamw_step_groups(t.opt, t.ps, t.np, lrs);
        double el = now_sec() - ts, tps = ntok / el;
        t.step_s += el;
        if (t.lead) runlog_train(t.log, s + 1, loss, lr, gn, tps, rss_bytes());
        if (s == step0) write_memory(&t);
        long every = steps / 20 > 0 ? steps / 20 : 1;
        if (is_tty(stdout) || (s + 1) % every == 0 || s + 1 == steps)
            progress(s + 1, steps, loss, tps, now_sec() - t_start, s + 1 - step0);
        int last = s + 1 == steps;
        if (cfg->eval.every > 0 && (s + 1) % cfg->eval.every == 0 && !last) {
            if (is_tty(stdout)) printf("\n");
            evaluate(&t, t.M, s + 1, 0);
        }
        int stop = stop_at > 0 && s + 1 == stop_at && !last;
        if (t.lead && ((cfg->train.checkpoint_every > 0 && (s + 1) % cfg->train.checkpoint_every == 0) || last || stop)) {
            runlog_flush(t.log); // the log on disk reaches the checkpoint before it exists
            if (t.dev) train_dev_download(t.dev, t.ps, t.np, t.opt);
            trainstate_save(ckpt, s + 1, t.ps, t.np, t.opt, &t.data_rng, &t.M->rng);
        }
        if (stop) {
            dist_barrier(); // the checkpoint is on disk before any rank reports the stop
            if (t.lead) runlog_close(t.log);
            printf("stopped after step %ld (resume with --resume %s)\n", s + 1, out_dir);
            rc = 3; // no final evaluation or export; the normal cleanup below
            goto cleanup;
        }
    }
    if (is_tty(stdout) && steps > step0) printf("\n");
    if (steps == 0) write_memory(&t);
    dist_check_same("the trained tensors (ranks diverged)", dist_params_hash(t.ps, t.np));
    if (dist_size() > 1 && steps > step0)
        printf("data-parallel: %d ranks, step %.1f ms: gradient all-reduce %.1f ms (%.1f%%), waiting for the slowest rank "
               "%.1f ms (%.1f%%)\n", dist_size(), 1e3 * t.step_s / (steps - step0), 1e3 * t.reduce_s / (steps - step0),
               100 * t.reduce_s / t.step_s, 1e3 * t.wait_s / (steps - step0), 100 * t.wait_s / t.step_s);
    // The final numbers are those of the deployed model, the very ModelFile written as
    // final.l4qz: a reported number is the exported artifact's number by construction.
    // Rank 0 alone builds it; the others wait in evaluate.
    if (t.dev) train_dev_download(t.dev, t.ps, t.np, t.opt); // the export and the final evaluation are the CPU's
    model_release_activations(t.M); // the trained model is read from here on, not run
    ModelFile *dep = t.lead ? model_deployed(t.M) : NULL;
    Model *D = dep ? model_build(dep, NULL, t.B, t.T, 0) : NULL;
    evaluate(&t, D, steps, 1);
    if (D) model_free(D);
    write_memory(&t);
    if (t.lead) {
        snprintf(path, sizeof path, "%s/final.l4qz", out_dir);
        l4qz_write(path, dep, t.mf->tok, cfg->method.name, NULL);
        model_file_free(dep);
        runlog_status(t.log, "complete");
        runlog_close(t.log);
    }
    dist_barrier();
    printf("run complete: %s\n", out_dir);
cleanup:
    free(in); free(tg);
    adamw_free(t.opt);
    train_dev_free(t.dev);
    model_free(t.M);
    data_free(t.train); data_free(t.val);
    tok_free(t.tok);
    model_file_free(t.mf);
    return rc;
}
