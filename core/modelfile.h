// modelfile.h — a model as a file holds it (core/modelfile.c): the LLaMA config, the
// ModelFile (weights as loaded: fp32, 16-bit or deployed forms) and the pieces every
// model-file reader shares: config validation, ModelFile assembly, the canonical tensor
// list, the finiteness check. The readers and model_file_load (core/checkpoint.h) build on
// these; nothing here knows any file format.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "deploy.h"
#include "linear.h"

typedef struct {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int shared_classifier; // head tied to the token embedding
    float norm_eps, rope_theta;
    // Llama-3.1 RoPE frequency scaling (HF rope_scaling type "llama3"); factor 0 = none.
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor, rope_original_max_pos;
} Config;

struct Tokenizer;

// What a checkpoint loader returns. Projection weights are fp32 (w) or deployed
// quantized forms (dep); index [layer*N_LAYER_PROJ + P_*]. Everything is owned by the ModelFile.
typedef struct {
    Config c;
    char path[1024];
    char format[48];        // "llama2c-v0", "llama2c-v1", "gguf-v3 f32", "l4qz", ...
    size_t file_bytes;
    void *blob;             // owned storage the pointers below may point into
    float *tok_emb;         // V×dim
    float *rms_att, *rms_ffn; // L×dim each
    float *rms_final;       // dim
    float **w;              // [L*N_LAYER_PROJ] fp32 out×in, or NULL where dep is set
    Deploy **dep;           // [L*N_LAYER_PROJ] or NULL
    float *wcls;            // V×dim, NULL when shared
    // Tensors stored as f16/bf16 stay 16-bit (half.h): projection i then has w[i] NULL and
    // w16[i] set with dtype w16_dt[i] (both arrays NULL when the file has none); tok_emb /
    // wcls NULL with tok_emb16 / wcls16 set likewise. They point into `hold` (the file as
    // read or mapped) or into blob16.
    const uint16_t **w16;
    uint8_t *w16_dt;
    const uint16_t *tok_emb16, *wcls16;
    int tok_emb_dt, wcls_dt;
    void *hold;                  // released with hold_free(hold) when the ModelFile is freed
    void (*hold_free)(void *);
    uint16_t *blob16;            // owned 16-bit copies (e.g. rows a reader had to reorder)
    void *wide_blob;             // mf_widen's fp32 copies, owned
    struct Tokenizer *tok;  // embedded tokenizer (GGUF, l4qz), or NULL
    char method[32];        // l4qz: the method that produced it; else ""
    char form[32];          // inference form label
    uint8_t *src_type;      // GGUF: each tensor's stored ggml type, mf_tensors order; else NULL
} ModelFile;

void model_file_free(ModelFile *mf);
void model_file_release(void *mf); // model_file_free for hold() (util.h)
// Replaces every 16-bit tensor with an fp32 copy (exact), for code that needs fp32 arrays
// (GPTQ's in-place pass, fp32 export formats).
void mf_widen(ModelFile *mf);
// Sets 16-bit projection i (allocating w16/w16_dt on first use).
void mf_set_w16(ModelFile *mf, int i, int dtype, const uint16_t *p);
int proj_dims(const Config *c, int p, int *out, int *in); // shape of projection p

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
    const uint16_t *half;  // 16-bit tensors: data == NULL, dtype DT_F16 | DT_BF16
    int dtype;
    int rows, cols;
} MfTensor;
int mf_tensors(const ModelFile *mf, MfTensor *out, int max); // returns count (≤ max)
int mf_tensor_count(const Config *c);
// Every fp32 value must be finite and within ±MF_WEIGHT_BOUND: a NaN/Inf weight, or one
// beyond the float16 range (which every published checkpoint fits: they ship in fp16 or
// bf16 and trained LLaMA weights stay below a few hundred), is a corrupt file, not a model.
// 16-bit tensors kept as stored are checked for non-finite values only.
// die_input naming the tensor and the element.
#define MF_WEIGHT_BOUND 65504.0f
void mf_check_finite(const ModelFile *mf);
