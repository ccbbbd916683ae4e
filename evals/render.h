// render.h — rendering a task's documents into (context, continuation) requests.
#pragma once
#include "evals/pyrandom.h"
#include "evals/taskdata.h"
#include <stdint.h>

// One rendered document: its requests and what the metrics need.
typedef struct {
    int nreq;
    char **ctx, **cont;     // request i = (ctx[i], cont[i]); ctx "" ⇒ condition on BOS only
    int *choice_chars;      // acc_norm length (code points of the bare choice), per request
    int gold;               // index of the right request (−1: loglikelihood tasks)
    int *shots; int nshots; // few-shot pool indices used
    uint64_t hash;          // hash64 over every request's context and continuation
} Rendered;

// Render document `i` of `eval` with `shots` few-shot examples drawn from `pool` (NULL ⇒
// the eval split itself). `rng` is the task's stream, consumed document by document.
void task_render(const TaskDef *t, const DocSet *eval, const DocSet *pool, int i, int shots,
                 PyRandom *rng, Rendered *out);
void rendered_free(Rendered *r);
// Number of UTF-8 code points (Python len()).
int utf8_codepoints(const char *s);
