// ppl.h — SPEC §3 perplexity protocol: paragraphs → one BOS-separated token stream →
// windows of seq_len+1 overlapping by one token, batched B windows per forward.
#pragma once
#include "model.h"
#include "tokenizer.h"

// Split on blank lines, strip, drop empty; encode each with BOS + dummy prefix; concat.
// `name` is used in error messages (non-UTF-8 input → die_input naming the offset).
int *text_to_stream(const Tokenizer *t, const char *name, const char *text, size_t len, int *n_out);

typedef struct { double nll; long predicted, tokens, windows; double seconds; } PplResult;
// Mean NLL = nll / predicted. progress: print a progress line on stderr when non-zero.
PplResult ppl_stream(Model *M, const int *toks, long n, int seq_len, int batch, int progress);
