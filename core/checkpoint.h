// checkpoint.h — the model-file readers and model_file_load, the one dispatcher that picks
// a reader by the file's content (core/checkpoint.c). The helpers every reader shares live
// in core/modelfile.h; a new format = one reader file + one row in checkpoint.c's table.
#pragma once
#include "modelfile.h"

// Auto-detects the format by content (a directory: a Hugging Face model). Bad input →
// die_input naming the file.
ModelFile *model_file_load(const char *path);

// Each reader gets the whole file in buf (len bytes) and returns a complete ModelFile or
// dies with die_input naming the file. Readers marked "keeps buf" take ownership of it.

// llama2.c v0/v1/v2 (core/llama2c.c); keeps buf (v0/v1 use it in place as mf->blob).
int llama2c_magic(const void *buf, size_t len); // v1/v2 (v0 has no magic)
ModelFile *llama2c_load(const char *path, void *buf, size_t len);
// GGUF v3 (and v2) (core/gguf.c); the weights are converted into a blob of their own.
ModelFile *gguf_load(const char *path, const void *buf, size_t len);
// Hugging Face LLaMA/Mistral directory: config.json + safetensors (core/hf_model.c). A
// directory, not a file, so model_file_load checks for it before reading anything.
int hf_is_dir(const char *path);
ModelFile *hf_load(const char *dir);
// HF row of llama2.c's row r in a q/k projection with heads of size hs (HF's rotate-half
// permutation; core/hf_model.c).
int hf_rope_row(int r, int hs);
// llama.cpp's names of the per-layer projections, blk.N.<name>.weight (reader and writer).
extern const char *const GGUF_PROJ_NAMES[N_LAYER_PROJ];
