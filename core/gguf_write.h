// gguf_write.h — GGUF v3 (f32) export.
#pragma once
#include "model.h"
#include "tokenizer.h"

// Writes mf's embeddings/norms/head and the fp32 projection weights w[L*N_LAYER_PROJ] (q,k,v,o,
// gate,up,down order) plus tok's vocabulary (if non-NULL). Temp file + rename.
void gguf_write(const char *path, const ModelFile *mf, float *const *w, const Tokenizer *tok, const char *name);
