// harness.h — few-shot benchmark scoring with lm-evaluation-harness semantics (README "Evaluation"),
// callable in-process (trainer, sweep runner) and from `l4q eval`.
//
// Log-likelihood requests (context, continuation) are tokenized as lm-eval does (trailing
// context spaces move to the continuation; continuation tokens = tok(ctx+cont) after
// len(tok(ctx)); an empty context conditions on BOS), left-truncated to the model window,
// and scored in B×T forward passes: all requests of all selected tasks are sorted by
// length and packed into rows, so padding stays small and short requests (BLiMP) fill
// many rows per pass. A document's choices share their context tokens (encoded once).
#pragma once
#include "evals/render.h"
#include "evals/task.h"
#include "model.h"
#include "tokenizer.h"
#include <stdint.h>
#include <stdio.h>

typedef struct {
    int shots;              // few-shot examples; < 0 ⇒ each task's num_fewshot
    int limit;              // first N documents per task; 0 ⇒ all. Not perplexity tasks: their
                            // windows are capped only by a limits entry naming them (below)
    // Per-task overrides of limit: a task takes the value of the first entry naming it or a
    // group it belongs to (e.g. {"tinystories", 0} = every window, {"blimp", 150}).
    const char *const *limit_names; const long *limit_values; int nlimits;
    const char *task_dir;   // searched before the built-in evals/tasks (NULL: none)
    int progress;           // progress line with ETA on stderr when it is a terminal
    int keep_docs;          // keep per-document scores (needed for eval_result_write_h5)
    const char *log_samples; // path: one JSON line per scored document (requests, scores); NULL: none
    int windows;            // perplexity tasks without a limits entry: the first N windows; 0 ⇒ all
    // Optional extra builds of the same weights with other B×T capacities (smaller maxT,
    // larger maxB): short requests then go many rows per pass. The window (left
    // truncation) is always the main model's maxT.
    Model *aux[4];
    int naux;
} EvalOptions;
void eval_options_default(EvalOptions *o);

typedef struct {
    char task[128];         // task or group name (groups: e.g. csqa, mmlu, mmlu_stem)
    char metric[16];        // acc acc_norm perplexity loss ppl
    double value, stderr_;  // stderr_ NaN when undefined (n < 2, perplexity-task loss/ppl)
    long n;                 // documents (predicted tokens for perplexity tasks)
    long windows;           // perplexity tasks: windows scored (0 otherwise)
    int window_len;         // perplexity tasks: tokens per window (the model window)
    int shots;              // −1 for groups
    int is_group;
} EvalMetric;

// Per-document scores of one task (keep_docs), for paired significance tests. A
// perplexity task's documents are its windows: nll, ntok (maxc 1) and hash per window.
typedef struct {
    char name[128];
    OutputType type;
    int ndocs, maxc, shots;
    int *gold, *nchoices;      // [ndocs]
    double *ll;                // [ndocs*maxc] summed continuation log-prob, NaN padded
    unsigned char *greedy;     // [ndocs*maxc] continuation is the greedy decode
    int *ntok;                 // [ndocs*maxc] continuation tokens scored
    unsigned char *acc, *acc_norm; // [ndocs] per-document correctness
    uint64_t *hash;            // [ndocs] hash64 of the document's requests (prompt identity)
    double *nll;               // [ndocs] perplexity tasks: summed NLL of the window
} EvalDocs;
void eval_docs_free(EvalDocs *d);
// One task's documents as HDF5 group loc/<d->name> (the layout of `eval --out`'s tasks/).
void eval_docs_write_h5(long long loc, const EvalDocs *d, const char *file);

typedef struct EvalResult {
    EvalMetric *m; int n;
    EvalDocs *docs; int ndocs;  // one per leaf task when keep_docs
    double seconds;
    long requests, tokens;      // scored requests and forward tokens (incl. padding)
} EvalResult;

// Runs the n tasks named (tasks, groups, or task files by path; evals/task.h). M must be
// built with maxT ≤ its seq_len; its maxT is the window. Bad task names/files → die_input.
EvalResult *eval_tasks(Model *M, const Tokenizer *tok, const char *const *names, int n, const EvalOptions *opt);
// What eval_tasks checks before it scores anything — the names (and opt's per-task
// limits) resolve to tasks — without a model: a run checks its eval.tasks before training.
void eval_tasks_check(const char *const *names, int n, const EvalOptions *opt);
void eval_result_free(EvalResult *r);
// Iterate (task, metric, value, stderr): i in [0, eval_result_count(r)).
int eval_result_count(const EvalResult *r);
const EvalMetric *eval_result_get(const EvalResult *r, int i);
void eval_result_print(const EvalResult *r, FILE *f);     // lm-eval-style table
// The same table restricted to the named tasks and groups (e.g. a run's eval.tasks).
void eval_result_print_only(const EvalResult *r, FILE *f, const char *const *only, int nonly);
char *eval_result_json(const EvalResult *r, const char *model_path, int shots, int limit); // malloc'd
// Per-document HDF5 (+ every metric as attributes). Written to path.tmp, then renamed.
void eval_result_write_h5(const EvalResult *r, const char *path, const char *model_path);

// `eval --render N`: the first N documents' requests of each task as one JSON object
// {"tasks": {name: [{"doc", "gold", "shots", "hash", "requests": [[ctx, cont], ...]}]}}.
// Needs no model.
char *eval_render_json(const char *const *names, int nnames, const EvalOptions *opt, int n);
