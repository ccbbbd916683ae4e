// checkpoint.h — pieces shared by the checkpoint readers (checkpoint.c, gguf.c, l4qz.c) and
// the `info` command: config validation, ModelFile assembly, the canonical tensor list.
#pragma once
#include "model.h"

// GGUF v3 (and v2) reader; buf is the whole file, still owned by the caller unless the
// returned mf->hold == buf (F16/BF16 tensors are kept in place; the rest is converted
// into a blob of its own). Bad input → die_input naming the file.
ModelFile *gguf_load(const char *path, const void *buf, size_t len);

// Hugging Face LLaMA/Mistral directory (config.json + safetensors; core/hf_model.c).
int hf_is_dir(const char *path);
ModelFile *hf_load(const char *dir);
// HF row of llama2.c's row r in a q/k projection with heads of size hs (HF's rotate-half
// permutation; core/hf_model.c).
int hf_rope_row(int r, int hs);

// Rejects non-positive or implausible sizes and inconsistent head counts, naming the file
// (and `what`, e.g. "llama2.c v0 header") in the message.
void config_validate(const char *path, const char *what, const Config *c);
// A zeroed ModelFile for config c: path, c, and the [L*7] projection pointer array set.
ModelFile *mf_alloc(const char *path, const Config *c);
// A model of config c with N(0, std²) weights and norms 1 + N(0, (std/2)²) (one blob,
// llama2.c v0 layout) — for tests and benchmarks of shapes we have no checkpoint for.
ModelFile *model_file_random(const Config *c, float std, uint64_t seed);

// The model's tensors in canonical order (tok_emb, rms_att, rms_ffn, rms_final, then
// layers.N.{q,k,v,o,gate,up,down}, then head when unshared). Projections that are
// deployed in quantized form have data == NULL and dep set.
typedef struct {
    char name[48];
    const float *data;
    const Deploy *dep;
    const uint16_t *half;  // 16-bit tensors: data == NULL, dtype DT_F16 | DT_BF16
    int dtype;
    int rows, cols;
} MfTensor;
int mf_tensors(const ModelFile *mf, MfTensor *out, int max); // returns count (≤ max)
int mf_tensor_count(const Config *c);
// Every fp32 value must be finite: a NaN/Inf weight is a corrupt file, not a model.
void mf_check_finite(const ModelFile *mf);
