// snapshot.h — the model as it stands, in its deployed form, as an in-memory ModelFile.
//
// The one source of every number a run reports about its final model and of the file it
// exports: train.c evaluates a model built from model_deployed(M) and l4qz_write writes the
// same ModelFile, so a reported number is the exported artifact's number by construction.
// Fast paths that need more copies of "the same model" (per-thread replicas for
// perplexity) build them from such a ModelFile, never from the file the run started from.
#pragma once
#include "model.h"

// Each projection's Deploy (from its method's deploy op), embeddings and norms as they are
// now (trained ones included), the head folded to fp32 when a method changed it (NULL
// wcls when it is still the shared embedding). method/form: labels for the header.
// The ModelFile owns copies of everything but a frozen 16-bit W0 (`lora`, `none` on a
// 16-bit base: DEP_BF16/DEP_F16 forms borrowing M's weights, so M and its ModelFile must
// outlive it); tok is NULL (the caller passes its tokenizer).
ModelFile *model_deployed(Model *M);

// A lower bound on what model_deployed(M) allocates: projections deployed as fp32 (out×in
// floats each), the fp32 embeddings, norms and folded head. Quantized forms count as
// nothing (they are small), 16-bit forms as nothing (they borrow M's frozen W0).
size_t model_deployed_bytes(const Model *M);
