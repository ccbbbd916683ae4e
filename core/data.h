// data.h — training/validation data (README "Perplexity protocol", "Training").
//
// text:   the perplexity protocol's paragraphs → one BOS-separated token stream (ppl.c's text_to_stream, so
//         training and `l4q ppl` tokenise identically). Training rows are random windows
//         of T+1 tokens (start uniform over every full window); validation batches are the
//         deterministic perplexity-protocol windows (start k·T, last one possibly shorter).
// alpaca: JSON array of {instruction, input, output}; prompt = the Stanford Alpaca
//         template (with or without the Input section), response = output + EOS.
//         Tokens = encode(prompt + output, BOS) + EOS, truncated to T+1; the first
//         len(encode(prompt, BOS)) tokens are the prompt (Stanford's masking rule). With
//         mask_inputs, targets that predict prompt tokens are −1 (ignored). Training rows
//         are examples drawn uniformly with replacement (so the Rng alone is the sampler
//         state); validation batches are the examples in file order. Rows are right-
//         padded: input 0, target −1. Training examples whose response is entirely cut by
//         the truncation are dropped (warned), since they carry no loss.
//
// All randomness comes from the caller's Rng (plain data: checkpoint it to resume
// bit-identically); a Dataset has no mutable state.
#pragma once
#include "config.h"
#include "tokenizer.h"
#include "util.h"

enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1 };

typedef struct {
    int format;          // DATA_TEXT | DATA_ALPACA
    int seq_len;         // T the dataset was prepared for
    // text
    const int *stream;   // memory-mapped token cache (tokcache.h)
    long ntok;
    // alpaca
    int nex;
    int **ex;            // tokens (≤ T+1 each)
    int *ex_len;
    int *ex_prompt;      // number of prompt tokens at the start of ex[i]
    int mask_inputs;
    long dropped;        // examples dropped because truncation removed the whole response
    // text training data (core/traindocs.h): documents read, and removed because they also
    // occur in the validation data (data.val); −1 when not checked (no data.val)
    long docs, docs_removed;
    char sha256[65];     // a list of files: sha256 of the text tokenized (after removal)
} Dataset;

// The split of the configured data for sequence length seq_len (the resolved one).
// SPLIT_VAL returns NULL for text data without data.val. Alpaca hold-out rules: config.h.
Dataset *data_load(const RunConfig *cfg, const Tokenizer *tok, int seq_len, int split);
Dataset *data_text(const Tokenizer *tok, const char *path);
// The training text of cfg's data.train (one file or a list, core/traindocs.h) with the
// documents that also occur in data.val removed. One text file with nothing removed is
// read as data_text(path): the same tokens and token cache as ever.
Dataset *data_train_text(const RunConfig *cfg, const Tokenizer *tok);
// Examples [first, first+count) of the file (count < 0: to the end).
Dataset *data_alpaca(const Tokenizer *tok, const char *path, int seq_len, int mask_inputs, long first, long count);
// Number of examples in an Alpaca JSON file (validated).
long data_alpaca_count(const char *path);
void data_free(Dataset *d);

// B random training rows of T inputs/targets (T ≤ the dataset's seq_len for alpaca).
void data_batch(const Dataset *d, Rng *rng, int B, int T, int *inputs, int *targets);
// Validation: fixed batches 0..data_val_batches()-1. Returns the number of predicted
// (non −1) targets in the batch.
long data_val_batches(const Dataset *d, int B, int T);
long data_val_batch(const Dataset *d, long idx, int B, int T, int *inputs, int *targets);

// The Alpaca prompt for one example (malloc'd), exactly the Stanford template.
char *alpaca_prompt(const char *instruction, const char *input);
