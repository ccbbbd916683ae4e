// modelfile.h — the pieces every model-file reader shares (core/modelfile.c): config
// validation, ModelFile assembly, the canonical tensor list, the finiteness check. The
// readers (core/checkpoint.h) build on these; nothing here knows any file format.
#pragma once
#include "model.h"

// Rejects non-positive or implausible sizes and inconsistent head counts, naming the file
// (and `what`, e.g. "llama2.c v0 header") in the message.
void config_validate(const char *path, const char *what, const Config *c);
// A zeroed ModelFile for config c: path, c, and the [L*N_LAYER_PROJ] projection pointer array set.
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
    int rows, cols;
} MfTensor;
int mf_tensors(const ModelFile *mf, MfTensor *out, int max); // returns count (≤ max)
int mf_tensor_count(const Config *c);
// Every fp32 value must be finite and within ±MF_WEIGHT_BOUND: a NaN/Inf weight, or one
// beyond the float16 range (which every published checkpoint fits: they ship in fp16 or
// bf16 and trained LLaMA weights stay below a few hundred), is a corrupt file, not a model.
// die_input naming the tensor and the element.
#define MF_WEIGHT_BOUND 65504.0f
void mf_check_finite(const ModelFile *mf);
