// ppl.h — the perplexity protocol (README "Perplexity protocol"): paragraphs → one BOS-separated token stream →
// windows of seq_len+1 overlapping by one token, batched maxB windows per forward.
#pragma once
#include "model.h"
#include "tokenizer.h"

// Split on blank lines, strip, drop empty; encode each with BOS + dummy prefix; concat.
// `name` is used in error messages (non-UTF-8 input → die_input naming the offset).
int *text_to_stream(const Tokenizer *t, const char *name, const char *text, size_t len, int *n_out);

typedef struct {
    double nll; long predicted, tokens, windows; double seconds;
    // Per window (when asked for): summed NLL of its predicted tokens, their count, and
    // hash64 of the window's token ids — the per-document evidence of a perplexity task.
    double *win_nll; int *win_ntok; uint64_t *win_hash;
} PplResult;
void ppl_result_free(PplResult *r); // the per-window arrays
// Mean NLL = nll / predicted. progress: print a progress line on stderr when non-zero.
// Ms: nrep inference replicas of one model (same file, same maxB), each run by its own
// thread on whole batches (a small model's per-op products are too short to split
// between threads profitably: two single-threaded replicas measured 1.5x faster than one
// two-threaded model on stories260K). The result does not depend on nrep's schedule.
PplResult ppl_stream(Model **Ms, int nrep, const int *toks, long n, int seq_len, int per_window, int progress);
// ppl_stream over one replica per thread built from mf (no method: the file's weights as
// they are), B windows per forward (B <= 0: about 512 rows). To score a Model, pass the
// ModelFile it was built from only if it was built with no method (model_is_file);
// otherwise its deployed snapshot (snapshot.h) — never the file a run started from.
PplResult ppl_replicated(ModelFile *mf, int B, const int *toks, long n, int seq_len, int per_window, int progress);
// The same over a text file streamed from disk (tokstream.h): memory holds one chunk of
// tokens (whole batches for every replica), not the file or its stream. max_tokens > 0
// scores only the stream's first max_tokens tokens. Equals text_to_stream + ppl_stream
// on the file up to the order of the floating-point additions (per-chunk sums).
PplResult ppl_file(Model **Ms, int nrep, const Tokenizer *t, const char *path, long max_tokens, int seq_len,
                   int per_window, int progress);
// The windows per forward ppl_file_replicated uses for `path`: B, or about 512 rows when
// B <= 0, capped at what the file can hold.
int ppl_file_batch(int B, int seq_len, const char *path);
PplResult ppl_file_replicated(ModelFile *mf, int B, const Tokenizer *t, const char *path, long max_tokens, int seq_len,
                              int per_window, int progress);
